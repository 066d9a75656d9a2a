"""What a lead's spoken answer means: budget, timeline, yes/no, call control.

The words come from Whisper tiny.en on phone audio, so the same budget arrives
as "fifteen thousand", "15k", "$15,000", "15 grand" or "15 grant", with filler
words and odd punctuation around it. Every parser here first rewrites spoken
numbers as digits (`normalize_numbers`, shared with claim checking) and then
reads English grammar - ranges, bounds, currencies, rate periods, calendar
phrases - never one company's script, because the same qualifier runs for a
solar installer, a SaaS vendor and a gym. Pure functions of (text, now): the
dialogue replays a call deterministically and tests pin `now`.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Optional, Union
from zoneinfo import ZoneInfo

from intervene.nlp.lexicon import CONTENT_STOPWORDS, normalize_numbers

__all__ = ["Budget", "Timeline", "Intent", "Answer", "parse_budget", "parse_timeline",
           "parse_yes_no", "parse_intent", "parse_when", "parse_answer", "declines",
           "clean_text", "describe_budget", "describe_timeline", "describe_when"]


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class Budget:
    """An amount of money the lead means to spend. `amount` is the single number
    to sort and report by: the midpoint of a range, the bound of "up to 5k".
    A plain amount has low == high == amount; "up to" has only `high`,
    "at least" only `low`."""
    amount: float
    low: Optional[float]
    high: Optional[float]
    currency: str
    period: Optional[str]          # None (one-off / unsaid) | day | week | month | quarter | year
    text: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Timeline:
    """When the lead wants to start, as an inclusive date range (ISO strings)
    relative to the call. start/end are None when the lead said something
    about timing without a date ("no rush", "whenever")."""
    start: Optional[str]
    end: Optional[str]
    words: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Intent:
    """Call control the lead asked for, whatever question was pending.
    kind: stop | later | repeat | human | who ("who is this?", "is this a robot?").
    `at` is the callback time (epoch seconds) for "later". `explicit` is False
    for a bare "not now" / "later", which may instead answer a timing question."""
    kind: str
    at: Optional[float] = None
    explicit: bool = True


Value = Union[dict, bool, str, None]


@dataclass(frozen=True)
class Answer:
    """One parsed answer. `clear` False means the dialogue should re-ask once."""
    kind: str
    value: Value
    clear: bool


# ----------------------------------------------------------------- helpers
_APOS = str.maketrans({"’": "'", "‘": "'", "`": "'"})


def _prep(text: str) -> str:
    """Lowercase, digits for number words, one kind of apostrophe, no stray
    punctuation: the form every regex below is written against."""
    t = text.translate(_APOS)
    t = re.sub(r"\bhalf (?:a|an) (million|mil|billion)\b", r"0.5 \1", t, flags=re.I)
    t = re.sub(r"\b(?:a )?half (?:a|an) (hour|day|week|month|year)\b", r"0.5 \1", t, flags=re.I)
    t = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)\s?[kK]\b", r"\1 grand", t)   # keep "15k" marked as money
    t = normalize_numbers(t).lower()
    t = re.sub(r"\b20 ([0-9]{2})\b", r"20\1", t)                 # "twenty twenty seven" -> "20 27"
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)
    t = re.sub(r"[\"“”()\[\]]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


_FILLER_RE = re.compile(r"\b(?:um+|uh+|erm|er|ah+|hmm+|mm+|you know|i mean|like|well|so|okay so|"
                        r"basically|honestly|actually|kind of|sort of)\b[,.]?\s*", re.I)


def clean_text(text: str) -> str:
    """The answer without hesitation fillers and leading yes/no, for the record
    and for the rep's briefing ("um, yeah, so we need faster wifi" -> "we need
    faster wifi")."""
    t = _FILLER_RE.sub("", text.translate(_APOS)).strip(" ,.-")
    t = re.sub(r"^(?:(?:yes|yeah|yep|yup|sure|no|nope|okay|ok|right|alright)\b[,.!]?\s*)+", "", t, flags=re.I)
    t = re.sub(r"\s+", " ", t).strip(" ,.-")
    return t[:1].upper() + t[1:] if t else ""


def _has(pattern: str, t: str) -> Optional[re.Match]:
    return re.search(pattern, t)


# ------------------------------------------------------------------ budget
_SCALE = {"k": 1e3, "kay": 1e3, "grand": 1e3, "grant": 1e3, "grands": 1e3, "thousand": 1e3,
          "thousands": 1e3, "thou": 1e3, "hundred": 1e2, "hundreds": 1e2, "million": 1e6,
          "millions": 1e6, "mil": 1e6, "mill": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9}
_SYMBOL = {"$": "$", "€": "EUR", "£": "GBP", "₹": "INR", "¥": "JPY", "₩": "KRW", "₱": "PHP", "₦": "NGN"}
_SYMBOL_PREFIX = {"us": "USD", "ca": "CAD", "c": "CAD", "au": "AUD", "a": "AUD", "nz": "NZD",
                  "s": "SGD", "hk": "HKD"}
_FAMILY = {"$": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD"), "rupee": ("INR", "PKR", "LKR", "NPR"),
           "pound": ("GBP", "EGP"), "peso": ("MXN", "PHP", "ARS", "COP", "CLP"),
           "krone": ("NOK", "DKK", "SEK")}
_CURRENCY_WORDS = {
    **dict.fromkeys("dollar dollars buck bucks".split(), "$"),
    **dict.fromkeys("euro euros eur".split(), "EUR"),
    **dict.fromkeys("pound pounds quid sterling".split(), "pound"),
    **dict.fromkeys("rupee rupees rs inr".split(), "rupee"),
    **dict.fromkeys("peso pesos".split(), "peso"),
    **dict.fromkeys("krone kroner krona kronor".split(), "krone"),
    "yen": "JPY", "yuan": "CNY", "rmb": "CNY", "renminbi": "CNY", "franc": "CHF", "francs": "CHF",
    "rand": "ZAR", "reais": "BRL", "dirham": "AED", "dirhams": "AED", "riyal": "SAR",
    "riyals": "SAR", "naira": "NGN", "shilling": "KES", "shillings": "KES", "zloty": "PLN",
    "lira": "TRY", "ringgit": "MYR", "baht": "THB", "won": "KRW", "rubles": "RUB", "roubles": "RUB",
}
_CODES = {c.lower(): c for c in ("USD CAD AUD NZD SGD HKD GBP EUR INR JPY CNY CHF ZAR BRL AED SAR "
                                 "NGN KES PLN TRY MYR THB KRW MXN PHP SEK NOK DKK").split()}
_DOLLAR_ADJ = {"us": "USD", "american": "USD", "canadian": "CAD", "australian": "AUD", "aussie": "AUD",
               "kiwi": "NZD", "singapore": "SGD"}
_PERIOD_WORDS = {"day": "day", "daily": "day", "week": "week", "weekly": "week", "wk": "week",
                 "month": "month", "monthly": "month", "mo": "month", "mth": "month",
                 "quarter": "quarter", "quarterly": "quarter", "year": "year", "yearly": "year",
                 "annually": "year", "annual": "year", "annum": "year", "yr": "year"}
_HIGH_BEFORE = ("up to", "under", "below", "less than", "no more than", "not more than", "at most",
                "max of", "maximum of", "max", "maximum", "not over", "no higher than", "capped at",
                "cap of", "cap at", "within", "not above", "not exceeding", "tops", "no more then",
                "less then", "up till", "not to exceed", "at the most", "south of")
_LOW_BEFORE = ("at least", "over", "above", "more than", "upwards of", "minimum of", "minimum",
               "min", "starting at", "starting from", "north of", "no less than", "in excess of",
               "more then", "at the least")
_HIGH_AFTER = ("or less", "or under", "or below", "max", "maximum", "tops", "at most", "at the most",
               "at the max", "or lower")
_LOW_AFTER = ("or more", "plus", "or above", "and up", "and above", "at least", "minimum", "or higher",
              "and upwards", "or over", "+")
_VAGUE = {"couple": 2, "few": 3, "several": 5}
# Words that may follow an amount without making it a count of something ("10 users").
_AMOUNT_OK = set(_SCALE) | set(_CURRENCY_WORDS) | set(_CODES) | set(_PERIOD_WORDS) | set(
    "budget budgets range ballpark total overall tops max maximum ish mark area region upfront "
    "front deposit altogether roughly approximately probably maybe give take max min minimum "
    "spend spending cost costs price per including include plus that's thats would is".split())
_BUDGET_CUES = re.compile(r"\b(?:budget|budgeted|spend|spending|pay|paying|invest|investing|afford|"
                          r"cost|costs|price|set aside|allocated?|looking at|financ\w*)\b")
_UNSURE = re.compile(r"\b(?:not sure|unsure|no idea|don't know|dont know|do not know|dunno|no clue|"
                     r"haven't (?:decided|thought|figured)|not decided|undecided|depends|hard to say|"
                     r"no budget|not yet|tbd|to be determined|can't say|couldn't say)\b")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[$€£₹¥₩₱₦]|[-–+/%]|[.,;:!?]")


@dataclass
class _Amt:
    value: float
    start: int              # token span [start, end)
    end: int
    scaled: bool = False    # a scale word or k was said ("15 grand")
    currency: str = ""      # "$" (dollar family), "pound", ISO code, or ""
    period: Optional[str] = None
    bound: str = ""         # "high" | "low" | ""
    cue: bool = False


def _resolve_currency(c: str, default: str) -> str:
    if not c:
        return default
    fam = _FAMILY.get(c)
    if fam is not None:
        return default if default in fam else fam[0]
    return c


def _phrase_at(toks: list[str], i: int, phrases: tuple[str, ...], before: bool) -> int:
    """Length in tokens of the longest phrase ending just before i (before=True)
    or starting at i, or 0."""
    best = 0
    for p in phrases:
        w = p.split()
        seg = toks[i - len(w):i] if before else toks[i:i + len(w)]
        if seg == w and (not before or i - len(w) >= 0):
            best = max(best, len(w))
    return best


_SKIP_BEFORE = {"like", "maybe", "about", "around", "roughly", "approximately", "probably",
                "somewhere", "say", "i'd", "id", "just", "only", "um", "uh", "of", "is", "be",
                "spend", "the", "a", "an", "really", "anywhere", "perhaps", "ideally", "something"}


def _amounts(toks: list[str]) -> list[_Amt]:
    out: list[_Amt] = []
    n, i = len(toks), 0
    while i < n:
        t = toks[i]
        vague = _VAGUE.get(t) if i + 1 < n else None
        if vague and toks[i + 1] == "of" and i + 2 < n:
            j0 = i + 2
        else:
            j0 = i + 1
        if not (re.fullmatch(r"\d+(?:\.\d+)?", t) or (vague and j0 < n and _SCALE.get(toks[j0], 0) >= 100)):
            i += 1
            continue
        value, j = (float(vague), j0) if vague else (float(t), i + 1)
        a = _Amt(value, i, j)
        if j < n and toks[j] in _SCALE and not (toks[j] == "m" and not _near_money(toks, i, j)):
            a.value *= _SCALE[toks[j]]
            a.scaled, j = True, j + 1
            if j < n and toks[j] in ("thousand", "k", "grand") and a.value < 1e3:   # "3 hundred k"
                a.value *= 1e3
                j += 1
        # currency before: "$", "us$", "usd", "rs"
        k = i - 1
        if k >= 0 and toks[k] in _SYMBOL:
            a.currency = _SYMBOL[toks[k]]
            if a.currency == "$" and k >= 1 and toks[k - 1] in _SYMBOL_PREFIX:
                a.currency = _SYMBOL_PREFIX[toks[k - 1]]
                k -= 1
            a.start = k
        elif k >= 0 and (toks[k] in _CODES or toks[k] in ("rs", "inr")):
            a.currency, a.start = _CODES.get(toks[k], "rupee"), k
        # currency after: "dollars", "canadian dollars", "eur"
        if j < n and toks[j] in _DOLLAR_ADJ and j + 1 < n and toks[j + 1] in ("dollar", "dollars", "bucks"):
            a.currency, j = _DOLLAR_ADJ[toks[j]], j + 2
        elif j < n and (toks[j] in _CURRENCY_WORDS or toks[j] in _CODES):
            if not (toks[j] == "won" and not a.scaled):
                a.currency, j = _CURRENCY_WORDS.get(toks[j]) or _CODES[toks[j]], j + 1
        elif j < n and toks[j] in ("k", "grand") and not a.scaled:
            a.value, a.scaled, j = a.value * 1e3, True, j + 1
        a.end = j
        out.append(a)
        i = j
    return out


def _near_money(toks: list[str], i: int, j: int) -> bool:
    return (i > 0 and toks[i - 1] in _SYMBOL) or (j + 1 <= len(toks) - 1 and toks[j + 1] in _CURRENCY_WORDS)


def _period_after(toks: list[str], j: int, stop: int) -> tuple[Optional[str], int]:
    """A rate period within a few words after an amount: "a month", "per year",
    "monthly", "every week", "/mo", "on it each month"."""
    for k in range(j, min(stop, j + 6)):
        w = toks[k]
        if re.fullmatch(r"\d+(?:\.\d+)?", w) or w in ".;!?":
            break
        if w in ("monthly", "weekly", "yearly", "annually", "quarterly", "daily"):
            return _PERIOD_WORDS[w], k + 1
        if w in ("a", "an", "per", "each", "every", "/", "the") and k + 1 < len(toks) and toks[k + 1] in _PERIOD_WORDS:
            if w == "the" and not (k > 0 and toks[k - 1] == "for"):
                continue
            return _PERIOD_WORDS[toks[k + 1]], k + 2
        if w == "per" and k + 1 < len(toks) and toks[k + 1] == "annum":
            return "year", k + 2
    return None, j


def _is_count(toks: list[str], a: _Amt) -> bool:
    """"5 employees", "2 years", "20%", "3 pm", "in 2027": numbers that are not money."""
    if a.currency or toks[a.end - 1] in ("k", "kay", "grand", "grant", "grands"):
        return False
    nxt = toks[a.end] if a.end < len(toks) else ""
    if nxt in ("%", "percent", "am", "pm", "o'clock", "oclock", ":", "th", "st", "nd", "rd"):
        return True
    if nxt and re.fullmatch(r"[a-z']+", nxt) and nxt not in CONTENT_STOPWORDS and nxt not in _AMOUNT_OK:
        return True
    if not a.scaled and 1900 <= a.value <= 2100 and a.value == int(a.value):
        prev = toks[a.start - 1] if a.start else ""
        if prev in ("in", "by", "since", "until", "till", "of", "from", "before", "after", "early",
                    "late", "mid") or calendar.month_name[1:].count(prev.capitalize()):
            return True
    return False


def _apply_range_scale(a: _Amt, b: _Amt) -> None:
    """"between 10 and 15000" (said "ten and fifteen thousand") and "10 to 15 k":
    the first end takes the second's scale when that keeps it below the second."""
    if a.scaled or a.value >= b.value:
        if a.scaled and not b.scaled and b.value < a.value:       # "10k to 15"
            for s in (1e9, 1e6, 1e3):
                if a.value >= s and a.value % s == 0 and b.value * s > a.value:
                    b.value, b.scaled = b.value * s, True
                    break
        return
    if a.value >= 1000:
        return
    for s in (1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2):      # the largest scale that stays below b
        if b.value >= s and a.value * s < b.value and (b.value / s) * 10 % 1 == 0:
            if a.value * s * 20 >= b.value:
                a.value, a.scaled = a.value * s, True
            return


_UNIT_WORDS = "one two three four five six seven eight nine".split()
_TEEN_WORDS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_HUNDREDS_SAID = re.compile(r"\b(" + "|".join(_UNIT_WORDS + _TEEN_WORDS) + r")[ -](" + "|".join(_TENS_WORDS) +
                            r")(?:[ -](" + "|".join(_UNIT_WORDS) + r"))?\b(?![ -](?:hundred|thousand|million|k\b|grand))",
                            re.I)
_AND_A_HALF = re.compile(r"\b(a|one|\d+|" + "|".join(_UNIT_WORDS + _TEEN_WORDS + _TENS_WORDS) +
                         r") (million|thousand|grand|hundred|k) and a half\b", re.I)


def _spoken_money(text: str) -> str:
    """Prices said the way people say them: "one fifty" (150), "twelve fifty"
    (1,250), "a million and a half" (1.5 million). Only for budgets: in a
    call-back time "two thirty" is 2:30."""
    def hundreds(m: re.Match) -> str:
        first = (_UNIT_WORDS + _TEEN_WORDS).index(m.group(1).lower()) + 1
        rest = (_TENS_WORDS.index(m.group(2).lower()) + 2) * 10
        rest += _UNIT_WORDS.index(m.group(3).lower()) + 1 if m.group(3) else 0
        return str(first * 100 + rest)

    def half(m: re.Match) -> str:
        n = m.group(1).lower()
        words = _UNIT_WORDS + _TEEN_WORDS
        v = 1 if n in ("a", "one") else int(n) if n.isdigit() else (
            words.index(n) + 1 if n in words else (_TENS_WORDS.index(n) + 2) * 10)
        return f"{v}.5 {m.group(2)}"
    return _HUNDREDS_SAID.sub(hundreds, _AND_A_HALF.sub(half, text))


def parse_budget(text: str, default_currency: str = "USD", strict: bool = False) -> Optional[Budget]:
    """The budget in an answer, or None when none was said ("not sure yet").
    `strict` accepts only amounts marked as money (currency, "k"/"grand",
    a period, or a budget word nearby): used to catch a budget volunteered
    while answering another question without mistaking "2 weeks" or "3 sites"."""
    t = _prep(_spoken_money(text))
    toks = _TOKEN.findall(t)
    amts = [a for a in _amounts(toks) if not _is_count(toks, a)]
    if not amts:
        return None
    for a in amts:
        stop = next((b.start for b in amts if b.start > a.start), len(toks))
        a.period, _ = _period_after(toks, a.end, stop)
        lo = a.start
        while lo > 0 and toks[lo - 1] in _SKIP_BEFORE and a.start - lo < 3:
            lo -= 1
        if _phrase_at(toks, lo, _HIGH_BEFORE, True) or _phrase_at(toks, a.start, _HIGH_BEFORE, True):
            a.bound = "high"
        elif _phrase_at(toks, lo, _LOW_BEFORE, True) or _phrase_at(toks, a.start, _LOW_BEFORE, True):
            a.bound = "low"
        elif _phrase_at(toks, a.end, _HIGH_AFTER, False):
            a.bound = "high"
        elif _phrase_at(toks, a.end, _LOW_AFTER, False):
            a.bound = "low"
        a.cue = bool(_BUDGET_CUES.search(" ".join(toks[max(0, a.start - 8):a.end + 4])))
    # ranges: "between A and B", "A to B", "A - B", "A or B", "A, B grand"
    best: Optional[tuple[_Amt, Optional[_Amt]]] = None
    best_score = -1
    k = 0
    while k < len(amts):
        a = amts[k]
        b = amts[k + 1] if k + 1 < len(amts) else None
        pair = None
        if b is not None:
            gap = [w for w in toks[a.end:b.start] if w not in ("$", "€", "£", "maybe", "like", "about", "say")]
            between = any(w in ("between", "from") for w in toks[max(0, a.start - 3):a.start])
            if gap in (["to"], ["-"], ["–"], ["or"], ["through"], ["till"], ["up", "to"], ["or", "so", "to"],
                       [","], ["and"] if between else ["to"], ["to", "like"], ["-", "to"]):
                _apply_range_scale(a, b)
                if b.value > a.value:
                    pair = b
        score = _score(a) + (_score(pair) if pair else 0)
        if score > best_score:
            best, best_score = (a, pair), score
        k += 2 if pair else 1
    assert best is not None
    a, b = best
    if strict and best_score < 2:
        return None
    cur = _resolve_currency(a.currency or (b.currency if b else ""), default_currency)
    period = a.period or (b.period if b else None) or _period_anywhere(toks)
    words = re.sub(r"\s+", " ", text).strip()
    if b is not None:
        return Budget((a.value + b.value) / 2, a.value, b.value, cur, period, words)
    if a.bound == "high":
        return Budget(a.value, None, a.value, cur, period, words)
    if a.bound == "low":
        return Budget(a.value, a.value, None, cur, period, words)
    return Budget(a.value, a.value, a.value, cur, period, words)


def _score(a: Optional[_Amt]) -> int:
    if a is None:
        return 0
    return 3 * bool(a.currency) + 2 * a.scaled + 2 * bool(a.period) + 2 * a.cue + bool(a.bound)


def _period_anywhere(toks: list[str]) -> Optional[str]:
    """"our monthly budget is about 2k": the period named away from the number."""
    s = " ".join(toks)
    m = re.search(r"\b(monthly|weekly|yearly|annual|annually|quarterly) (?:budget|spend|cost|payment)", s) or \
        re.search(r"\b(?:per|a|each|every) (month|year|week|quarter)\b", s)
    return _PERIOD_WORDS.get(m.group(1)) if m else None


_CURRENCY_NAMES = {"USD": "dollars", "EUR": "euros", "GBP": "pounds", "INR": "rupees", "JPY": "yen",
                   "CAD": "Canadian dollars", "AUD": "Australian dollars", "NZD": "New Zealand dollars",
                   "CNY": "yuan", "CHF": "Swiss francs", "ZAR": "rand", "MXN": "pesos"}


def _money(v: float) -> str:
    if v >= 1e6 and (v / 1e6) * 10 % 1 == 0:
        return f"{v / 1e6:g} million"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"


def describe_budget(b: Budget, home_currency: str = "") -> str:
    """"about 15,000 dollars a month", "10,000 to 15,000 euros", "up to 500 pounds"."""
    cur = _CURRENCY_NAMES.get(b.currency, b.currency)
    if b.currency in ("CAD", "AUD", "NZD") and b.currency == home_currency:
        cur = "dollars"
    per = f" a {b.period}" if b.period else ""
    if b.low is not None and b.high is not None and b.low != b.high:
        s = f"{_money(b.low)} to {_money(b.high)}"
    elif b.low is None and b.high is not None:
        s = f"up to {_money(b.high)}"
    elif b.high is None and b.low is not None:
        s = f"at least {_money(b.low)}"
    else:
        s = f"about {_money(b.amount)}"
    return f"{s} {cur}{per}"


# ---------------------------------------------------------------- timeline
_MONTHS = {m.lower(): k for k, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): k for k, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = {d.lower(): k for k, d in enumerate(calendar.day_name)}
_UNIT_RE = r"(day|week|fortnight|month|year)s?"
_QTY_RE = r"(\d+(?:\.\d+)?|a couple of|a couple|couple of|a few|few|several|an|a|one)"
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
        "last": 4, "final": 4}


def _qty(s: str) -> float:
    s = s.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    for k, v in _VAGUE.items():
        if k in s:
            return float(v)
    return 1.0


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _add(d: date, q: float, unit: str) -> date:
    if unit == "day":
        return d + timedelta(days=round(q))
    if unit == "week":
        return d + timedelta(days=round(7 * q))
    if unit == "fortnight":
        return d + timedelta(days=round(14 * q))
    months = q * (12 if unit == "year" else 1)
    whole = int(months)
    out = _add_months(d, whole)
    return out + timedelta(days=round((months - whole) * 30.44))


def _month_span(y: int, m: int) -> tuple[date, date]:
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def _part(span: tuple[date, date], part: str) -> tuple[date, date]:
    """early / mid / late third of a span ("early March", "late next year")."""
    a, b = span
    days = (b - a).days + 1
    if part in ("early", "beginning", "start", "first part"):
        return a, a + timedelta(days=days // 3 - 1)
    if part in ("mid", "middle"):
        return a + timedelta(days=days // 3), a + timedelta(days=2 * days // 3 - 1)
    if part in ("late", "end", "tail end"):
        return a + timedelta(days=2 * days // 3), b
    return span


def _next_month_named(today: date, m: int, year: Optional[int]) -> tuple[date, date]:
    y = year or (today.year if m >= today.month else today.year + 1)
    return _month_span(y, m)


def _season(today: date, name: str, nxt: bool, year: Optional[int]) -> tuple[date, date]:
    first, last = _SEASONS[name]
    y = year or today.year
    if name == "winter":
        start = date(y, 12, 1)
        if not year and today.month <= 2:
            start = date(y - 1, 12, 1)
        end = _month_span(start.year + 1, 2)[1]
    else:
        start, end = date(y, first, 1), _month_span(y, last)[1]
    if not year and (end < today or (nxt and start <= today) or (start <= today and (end - today).days < 30)):
        return _season(today, name, False, start.year + 1)
    return start, end


def _quarter(y: int, q: int) -> tuple[date, date]:
    return date(y, 3 * q - 2, 1), _month_span(y, 3 * q)[1]


def _year_of(s: Optional[str], today: date) -> Optional[int]:
    if not s:
        return None
    s = s.strip()
    if s in ("next year", "of next year"):
        return today.year + 1
    if s in ("this year", "of this year"):
        return today.year
    m = re.search(r"(19|20)\d\d", s)
    return int(m.group(0)) if m else None


_PART_RE = r"(?:(early|mid|middle of|late|end of|the end of|beginning of|the beginning of|start of|" \
           r"the start of|the middle of|the tail end of)\s*-?\s*(?:the\s+)?)?"
_YEAR_RE = r"(?:\s*,?\s*(?:of\s+)?(next year|this year|(?:19|20)\d\d))?"
_BOUND_RE = r"(?:(by|before|until|till|no later than|not later than|prior to|after|sometime after|" \
            r"within|in|around|about|for|on|this|over|during)\s+(?:the\s+)?)?"


def _today(now: float, tz: str) -> date:
    return datetime.fromtimestamp(now, ZoneInfo(tz)).date()


def _periods(t: str, today: date, strict: bool = False) -> list[tuple[int, int, date, date, str]]:
    """Every time period mentioned: (start char, end char, first day, last day, bound word)."""
    found: list[tuple[int, int, date, date, str]] = []

    def add(m: re.Match, a: date, b: date, bound: str = "") -> None:
        found.append((m.start(), m.end(), a, b, (bound or "").strip()))

    for m in re.finditer(r"\b(?:between|from)?\s*(\d+(?:\.\d+)?|a|one)\s*(?:to|-|–|or|and)\s*"
                         r"(\d+(?:\.\d+)?)\s*" + _UNIT_RE + r"(?:\s+from now)?", t):
        q1, q2, unit = _qty(m.group(1)), _qty(m.group(2)), m.group(3)
        add(m, _add(today, q1, unit), _add(today, q2, unit))
    for m in re.finditer(r"\b(?:in|within|over)?\s*(?:the next\s+)?" + _QTY_RE + r"\s+" + _UNIT_RE +
                         r"\s+or\s+(?:so|two|2|three|3)\b", t):
        unit = m.group(2)
        q = _qty(m.group(1))
        if m.group(0).endswith("so"):
            add(m, _add(today, q * 0.75, unit), _add(today, q * 1.25, unit))
        else:
            q2 = float(re.sub(r"two", "2", re.sub(r"three", "3", m.group(0).split()[-1])))
            add(m, _add(today, q, unit), _add(today, q2, unit))
    for m in re.finditer(r"\b(within|in the next|over the next|the next|next|in the coming|the coming|"
                         r"in under|in less than|less than|under|before|by)\s+" + _QTY_RE + r"\s+" + _UNIT_RE, t):
        add(m, today, _add(today, _qty(m.group(2)), m.group(3)), "within")
    for m in re.finditer(r"\b(in|after|about|around|maybe|probably)\s+(?:about\s+|around\s+|like\s+|another\s+)?"
                         + _QTY_RE + r"\s+" + _UNIT_RE + r"(?:'s)?(?:\s+time)?|\b" + _QTY_RE + r"\s+" + _UNIT_RE +
                         r"\s+from (?:now|today)", t):
        q = m.group(2) or m.group(4)
        unit = m.group(3) or m.group(5)
        start = _add(today, _qty(q), unit)
        span = 0 if unit == "day" else 6 if unit in ("week", "fortnight") else 30
        add(m, start, start + timedelta(days=span))
    for m in re.finditer(r"\b(asap|a s a p|as soon as (?:possible|we can|i can|you can)|right away|straight away|"
                         r"immediately|right now|urgent(?:ly)?|yesterday|the sooner the better|sooner rather than "
                         r"later|soon as possible|ready to go now|(?<!for )(?<!just )now)\b", t):
        if re.search(r"\b(?:not|no|isn't|wasn't)\s+(?:so\s+|that\s+)?$", t[:m.start()]):
            continue                                          # "not right now", "not immediately"
        if m.group(1) == "now" and (strict or re.search(r"(?:day|week|month|year)s?\s+$", t[:m.start()])):
            continue                                          # "3 years now", or said in passing
        add(m, today, today + timedelta(days=7))
    for m in re.finditer(r"\b(today|tonight)\b", t):
        add(m, today, today)
    for m in re.finditer(r"\b(?:the )?day after tomorrow\b|\btomorrow\b", t):
        d = today + timedelta(days=2 if "after" in m.group(0) else 1)
        add(m, d, d)
    sunday = today + timedelta(days=6 - today.weekday())
    for m in re.finditer(_BOUND_RE + r"(this|next|the following) (week|weekend)\b", t):
        if m.group(3) == "week":
            a, b = (today, sunday) if m.group(2) == "this" else (sunday + timedelta(days=1), sunday + timedelta(days=7))
        else:
            sat = sunday - timedelta(days=1)
            a, b = (sat, sunday) if m.group(2) == "this" else (sat + timedelta(days=7), sunday + timedelta(days=7))
            a = max(a, today)
        add(m, a, b, m.group(1))
    for m in re.finditer(r"\b(?:the )?end of (?:the|this) week\b", t):
        add(m, today, sunday)
    for m in re.finditer(_BOUND_RE + _PART_RE + r"(this|next|the following|the) month\b", t):
        if m.group(3) == "the" and not m.group(2):
            continue                                          # "a month" / "the month" alone says nothing
        base = today if m.group(3) in ("this", "the") else _add_months(today.replace(day=1), 1)
        a, b = _part(_month_span(base.year, base.month), _norm_part(m.group(2)))
        add(m, max(a, today), b, m.group(1))
    for m in re.finditer(_BOUND_RE + _PART_RE + r"(this|next|the following|the) (?:calendar |fiscal )?year\b", t):
        y = today.year + (m.group(3) in ("next", "the following"))
        a, b = _part((date(y, 1, 1), date(y, 12, 31)), _norm_part(m.group(2)))
        add(m, max(a, today), b, m.group(1))
    for m in re.finditer(r"\b(?:by |before )?(?:the )?(year[- ]end|end of year|eoy|new year'?s?|after the holidays|"
                         r"after christmas|after new year'?s?|before christmas|before the holidays|christmas|"
                         r"the holidays)\b", t):
        w = m.group(1)
        if w.startswith(("year", "end", "eoy")):
            a, b = date(today.year, 12, 1), date(today.year, 12, 31)
            add(m, max(a, today), b, "by" if m.group(0).startswith(("by", "before")) else "")
        elif w.startswith("after") or w.startswith("new year"):
            y = today.year + 1 if today.month >= 2 else today.year
            add(m, date(y, 1, 2), date(y, 1, 31))
        else:
            y = today.year if today <= date(today.year, 12, 25) else today.year + 1
            add(m, today if w.startswith("before") else max(today, date(y, 12, 1)), date(y, 12, 24))
    for m in re.finditer(_BOUND_RE + _PART_RE + r"(?:(this|next|the following|the) )?(?:q|cue|queue)\s?-?([1-4])"
                         + _YEAR_RE + r"\b", t):
        _add_quarter(add, m, today, int(m.group(4)), m.group(3), m.group(5))
    for m in re.finditer(_BOUND_RE + _PART_RE + r"(?:(this|next|the following|the) )?(first|1st|second|2nd|third|3rd|"
                         r"fourth|4th|last|final)? ?quarter" + _YEAR_RE + r"\b", t):
        if m.group(4):
            _add_quarter(add, m, today, _ORD[m.group(4)], m.group(3), m.group(5))
        elif m.group(3) in ("this", "next", "the following"):
            q = (today.month - 1) // 3 + 1 + (m.group(3) != "this")
            y = today.year + (q - 1) // 4
            a, b = _part(_quarter(y, (q - 1) % 4 + 1), _norm_part(m.group(2)))
            add(m, max(a, today), b, m.group(1))
    for m in re.finditer(_BOUND_RE + _PART_RE + r"(?:(this|next|the following|the) )?(spring|summer|fall|autumn|"
                         r"winter)(?:time)?" + _YEAR_RE + r"\b", t):
        a, b = _season(today, m.group(4), m.group(3) in ("next", "the following"), _year_of(m.group(5), today))
        a, b = _part((a, b), _norm_part(m.group(2)))
        add(m, max(a, today), b, m.group(1))
    for m in re.finditer(_BOUND_RE + _PART_RE + r"(?:(this|next|the following) )?\b(" + _MONTH_RE + r")\b\.?"
                         r"(?:\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\b)?" + _YEAR_RE, t):
        mon = _MONTHS[m.group(4)]
        if m.group(4) == "may" and not (m.group(1) or m.group(2) or m.group(3) or m.group(5) or m.group(6)) and \
                not re.search(r"\b(?:" + _MONTH_RE + r")\s*(?:,|or|to|and|-|through)\s*$", t[:m.start()]):
            continue                                          # "we may start" is not a month
        if m.group(4) in ("mar", "jan", "jun", "jul", "aug", "oct", "nov", "dec", "feb", "apr", "sep", "sept") \
                and not (m.group(1) or m.group(5) or m.group(6)):
            continue                                          # short forms only in date-like use
        y = _year_of(m.group(6), today)
        if m.group(3) in ("next", "the following") and not y:
            y = today.year + 1 if mon <= today.month else today.year
        span = _next_month_named(today, mon, y)
        if m.group(5) and 1 <= int(m.group(5)) <= 31:
            d = span[0].replace(day=min(int(m.group(5)), span[1].day))
            span = (d, d)
        span = _part(span, _norm_part(m.group(2)))
        add(m, max(span[0], today) if span[0] <= today <= span[1] else span[0], span[1], m.group(1))
    for m in re.finditer(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+of\s+(" + _MONTH_RE + r")\b" + _YEAR_RE, t):
        mon, day_ = _MONTHS[m.group(2)], int(m.group(1))
        span = _next_month_named(today, mon, _year_of(m.group(3), today))
        if 1 <= day_ <= span[1].day:
            d = span[0].replace(day=day_)
            if d < today and not m.group(3):
                d = d.replace(year=d.year + 1)
            add(m, d, d)
    for m in re.finditer(_BOUND_RE + r"(?:(this|next|the following) )?(" + "|".join(_WEEKDAYS) + r")\b", t):
        wd = _WEEKDAYS[m.group(3)]
        ahead = (wd - today.weekday()) % 7 or 7
        if m.group(2) in ("next", "the following") and ahead < 7 and wd > today.weekday():
            ahead += 7 if today.weekday() >= 4 else 0
        d = today + timedelta(days=ahead)
        add(m, d, d, m.group(1))
    for m in re.finditer(_BOUND_RE + _PART_RE + r"((?:19|20)\d\d)\b", t):
        y = int(m.group(3))
        if today.year <= y <= today.year + 10 and not _has(r"^\s*(?:dollars|bucks|euros|k\b)", t[m.end():]):
            a, b = _part((date(y, 1, 1), date(y, 12, 31)), _norm_part(m.group(2)))
            add(m, max(a, today), b, m.group(1))
    for m in re.finditer(r"\b(?:in |over )?the (?:next|coming) (?:few|couple of|couple) (days|weeks|months)\b|"
                         r"\b(?:in )?(?:a|the) (?:few|couple of|couple) (days|weeks|months)\b", t):
        unit = (m.group(1) or m.group(2))[:-1]
        q = 2 if "couple" in m.group(0) else 3
        if "next" in m.group(0) or "coming" in m.group(0):
            add(m, today, _add(today, q + 1, unit))
        else:
            add(m, _add(today, q - 1, unit), _add(today, q + 1, unit))
    for m in re.finditer(r"\b(?:on |by |around )?the (\d{1,2})(?:st|nd|rd|th)\b(?! of)", t):
        day_ = int(m.group(1))
        month = today if day_ >= today.day else _add_months(today.replace(day=1), 1)
        if 1 <= day_ <= calendar.monthrange(month.year, month.month)[1]:
            d = month.replace(day=day_)
            add(m, d, d, "by" if m.group(0).startswith("by") else "")
    if not strict:
        for m in re.finditer(r"^(?:um |uh |maybe |probably |like |i'd say |i think )*" + _QTY_RE + r"\s+" + _UNIT_RE +
                             r"\b", t):
            start = _add(today, _qty(m.group(1)), m.group(2))
            add(m, start, start + timedelta(days=0 if m.group(2) == "day" else 6 if m.group(2) == "week" else 30))
    for m in re.finditer(r"\blater (?:this|in the) (year|month)\b", t):
        if m.group(1) == "year":
            add(m, min(_add_months(today, 1), date(today.year, 12, 31)), date(today.year, 12, 31))
        else:
            add(m, today, _month_span(today.year, today.month)[1])
    return found


def _add_quarter(add, m: re.Match, today: date, q: int, which: Optional[str], year_s: Optional[str]) -> None:
    y = _year_of(year_s, today) or today.year
    if which in ("next", "the following") and not year_s:
        y = today.year + 1 if q <= (today.month - 1) // 3 + 1 else today.year
    a, b = _quarter(y, q)
    if b < today and not year_s:
        a, b = _quarter(y + 1, q)
    a, b = _part((a, b), _norm_part(m.group(2)))
    add(m, max(a, today), b, m.group(1))


def _norm_part(p: Optional[str]) -> str:
    if not p:
        return ""
    p = p.replace("the ", "").replace(" of", "").strip()
    return {"middle": "mid", "tail end": "end"}.get(p, p)


_NO_DATE = re.compile(r"\b(no rush|no hurry|not in a (?:rush|hurry)|whenever|flexible|no deadline|"
                      r"just (?:looking|browsing|researching|getting (?:quotes|prices|an idea))|"
                      r"some ?day|eventually|down the (?:road|line)|not anytime soon|in the future)\b")


def parse_timeline(text: str, now: float, tz: str = "UTC", strict: bool = False) -> Optional[Timeline]:
    """When the lead wants to start, relative to `now` in the lead's time zone.
    The first period said wins; "March or April" / "between spring and summer"
    join into one range. `strict` drops a bare "couple of months" (fine as an
    answer to "when?", not when said in passing). "by March" runs from today to the end of March;
    "before March" to the end of February. None when nothing about timing was
    said or the lead does not know; words-only for "no rush" / "whenever"."""
    t = _prep(text)
    today = _today(now, tz)
    found = sorted(_periods(t, today, strict), key=lambda f: (f[0], -(f[1] - f[0])))
    # drop periods nested in an earlier, longer one ("next week" inside "by next week")
    kept: list[tuple[int, int, date, date, str]] = []
    for f in found:
        if kept and f[0] < kept[-1][1]:
            continue
        kept.append(f)
    if not kept:
        m = _NO_DATE.search(t)
        return Timeline(None, None, m.group(1)) if m else None
    s, e, a, b, bound = kept[0]
    if len(kept) > 1:
        s2, e2, a2, b2, _ = kept[1]
        gap = t[e:s2].strip(" ,")
        if re.fullmatch(r"(?:or|to|and|-|–|through|or maybe|maybe|or even|into|or so|or possibly)", gap) or (
                gap == "" and s2 - e <= 2):
            e, b = e2, max(b, b2)
            a = min(a, a2)
    if bound == "before" and re.match(r"before (?:the )?end", t[s:e]):
        bound = "by"                                          # "before the end of March" = by then
    if bound in ("by", "until", "till", "no later than", "not later than", "within"):
        a = today
    elif bound in ("before", "prior to"):
        a, b = today, max(today, a - timedelta(days=1))
    elif bound in ("after", "sometime after"):
        a, b = b + timedelta(days=1), b + timedelta(days=31)
    a = max(a, today)
    if b < a:
        b = a
    return Timeline(a.isoformat(), b.isoformat(), _pretty(t[s:e]))


_PROPER = re.compile(r"\b(" + "|".join(list(_MONTHS) + list(_WEEKDAYS) + ["christmas"]) + r")\b")


def _pretty(words: str) -> str:
    """"in march" -> "in March", "q3" -> "Q3", "asap" -> "ASAP": words fit to read to a rep."""
    w = _PROPER.sub(lambda m: m.group(1).capitalize(), words.strip(" ,."))
    w = re.sub(r"\b(?:q|cue|queue)\s?-?([1-4])\b", r"Q\1", w)
    return re.sub(r"\basap\b|\ba s a p\b", "ASAP", w)


def describe_timeline(tl: Timeline) -> str:
    if tl.start and tl.end:
        span = tl.start if tl.start == tl.end else f"{tl.start} to {tl.end}"
        return f"{tl.words} ({span})"
    return tl.words


# ------------------------------------------------------------------ yes/no
def _words(text: str) -> str:
    t = text.translate(_APOS).lower()
    t = re.sub(r"\b(?:um+|uh+|erm|hmm+)\b(?![-\s]huh)", " ", t)
    t = re.sub(r"[^a-z0-9' ,.!?;-]", " ", t)
    t = re.sub(r"\bi m\b", "i'm", re.sub(r"\bim\b", "i'm", t))
    t = re.sub(r"\b(don|doesn|didn|isn|aren|wasn|won|can|wouldn|haven)t\b", r"\1't", t)
    return re.sub(r"\s+", " ", t).strip()


_NEG_STRONG = re.compile(
    r"\b(?:not (?:really |at all |very |that |too |)interested|no longer (?:interested|need\w*|looking)|"
    r"not anymore|no thanks?|no thank you|nah thanks|not for me|not for us|don't need (?:it|this|that|one|"
    r"anything)|(?:we|i) (?:already|just) (?:bought|found|got|signed|went|have (?:one|someone|a provider))|"
    r"changed (?:my|our) minds?|didn't (?:sign up|fill|ask|request)|never (?:signed up|filled|asked|requested)|"
    r"(?:i'm|we're|i am|we are) not (?:looking|interested|in the market)|(?:i'm|we're) all set|"
    r"(?:i'm|we're) good,? thanks?|wrong number|yeah,? no\b)")
_UNCLEAR = re.compile(r"\b(?:not sure|unsure|don't know|do not know|dunno|no idea|maybe|possibly|perhaps|"
                      r"it depends|depends|hard to say|kind of|sort of|not certain|i guess not really)\b")
_YES_PHRASES = re.compile(
    r"\b(?:no problem|no worries|not a problem|no problem at all|why not|of course(?! not)|i think so|"
    r"i guess so|i believe so|for sure|you bet|go ahead|go for it|sounds good|sounds great|fire away|"
    r"that's (?:right|correct|true|fine|ok|okay)|that is (?:right|correct)|you got it|please do|"
    r"i am|i do|we are|we do|i have|we have|i would|we would|i will|it is|i'm interested|we're interested|"
    r"still interested|still looking|very much|definitely|absolutely|certainly|exactly|indeed|totally|"
    r"affirmative|correct|yes|yeah|yea|yep|yup|ya|yah|yes please|sure|right|ok|okay|alright|all right|"
    r"uh-huh|uh huh|mm-hmm|mhm|mm hmm|please|i'd love to|love to|i can|we can|good|great|perfect|fine|"
    r"sounds about right|it does|i did|we did|that works|works for me)\b")
_NO_PHRASES = re.compile(
    r"\b(?:absolutely not|definitely not|certainly not|of course not|not really|not at all|i don't think so|"
    r"i do not|i don't|we don't|we do not|i'm not|we're not|i am not|we are not|it's not|it isn't|it is not|"
    r"i wasn't|we weren't|i haven't|we haven't|i can't|we can't|i won't|i wouldn't|not right now|not now|"
    r"not today|not at the moment|not at this time|nope|nah|no|never|negative|not)\b")


def parse_yes_no(text: str) -> Optional[bool]:
    """Yes, no, or None when the answer does not say. The first clause decides
    ("yes, but not now" is a yes - the "not now" is a separate call-control
    intent); strong refusals anywhere ("not interested", "no thanks") win;
    hedges ("maybe", "not sure") with no clear marker give None."""
    t = _words(text)
    if not t:
        return None
    if _NEG_STRONG.search(t):
        return False
    clauses = [c.strip() for c in re.split(r"[,.;!?]|\s-\s|\bbut\b|\bthough\b|\balthough\b", t) if c.strip()]
    for c in clauses:
        marks: list[tuple[int, bool]] = []
        for m in _YES_PHRASES.finditer(c):
            marks.append((m.start(), True))
        no_spans = []
        for m in _NO_PHRASES.finditer(c):
            no_spans.append((m.start(), m.end()))
        # a yes phrase inside a no phrase ("i don't" contains "i do") does not count
        marks = [(p, v) for p, v in marks if not any(a <= p < b for a, b in no_spans)]
        yes_spans = [m.span() for m in _YES_PHRASES.finditer(c)]
        for a, _b in no_spans:
            if not any(ya <= a < yb for ya, yb in yes_spans if c[ya:yb] in ("no problem", "no worries",
                                                                            "not a problem", "no problem at all")):
                marks.append((a, False))
        if marks:
            if _UNCLEAR.search(c) and not re.match(r"(?:yes|yeah|yep|no|nope|sure|definitely|absolutely)\b", c):
                return None
            marks.sort()
            return marks[-1][1] if len(marks) > 1 and marks[0][1] and not marks[-1][1] and \
                c.startswith(("yeah no", "yes no")) else marks[0][1]
        if _UNCLEAR.search(c):
            return None
    return None


def declines(text: str) -> bool:
    """An outright "not interested" / "we already bought one", whatever was asked."""
    return bool(_NEG_STRONG.search(_words(text)))


# ------------------------------------------------------------------ intents
_STOP = re.compile(
    r"\b(?:stop (?:calling|call|contacting|texting|bothering)|don't (?:ever )?(?:call|contact|ring) (?:me|us|this number)"
    r"(?: (?:again|anymore|any more|back))?|do not (?:call|contact)|never call|take (?:me|us|my number|this number) "
    r"off|remove (?:me|us|my number|my name|this number|my details)|delete (?:my|our) (?:number|details|data|info)|"
    r"unsubscribe|opt(?:ing)? out|do-not-call|lose (?:my|this) number|leave me alone|quit calling|"
    r"put me on (?:the|your) (?:do not call|dnc)|wrong number|how did you get (?:my|this) number)")
_LATER_STRONG = re.compile(
    r"\b(?:call (?:me|us)\b|call (?:me |us )?(?:back|later|again|another time|tomorrow|tonight|this (?:afternoon|"
    r"evening)|in |on |at |next)|ring (?:me )?(?:back|later|tomorrow)|give me a call|try (?:me |us )?(?:again |back )?"
    r"(?:later|tomorrow|another time|next)|(?:i'm|i am|we're|im) (?:busy|driving|in a meeting|at work|"
    r"with a (?:client|customer|patient)|in the car|on (?:the|another) (?:road|call|phone)|out|about to|"
    r"just about to|working|at the gym|with my kids|eating|heading)|can't (?:talk|speak)|cannot (?:talk|speak)|"
    r"(?:not|isn't|is not) a (?:good|great) (?:time|moment)|bad (?:time|moment)|another time|some other time|"
    r"(?:can|could) (?:we|you) (?:do this|talk|speak|chat) (?:later|tomorrow|another)|talk (?:later|tomorrow)|"
    r"(?:in|during) a meeting|driving right now|i'll be free|better time would be|(?:not|no) good time)")
_LATER_WEAK = re.compile(r"\b(?:not (?:right )?now|not at the moment|not today|later|maybe later|busy|"
                         r"in (?:an|a|half an|\d+|a few|a couple of) (?:hour|hr|minute|min)s?)\b")
_REPEAT = re.compile(
    r"\b(?:(?:can|could|would) you (?:please )?(?:repeat|say (?:that|it) again|say that|come again)|repeat (?:that|"
    r"the question|it|yourself)|say (?:that|it) again|come again|pardon(?: me)?|didn't (?:catch|hear|get|understand)|"
    r"did not (?:catch|hear)|what was (?:that|the question)|what did you (?:say|ask)|you're breaking up|"
    r"(?:i )?(?:can't|couldn't) hear you|one more time|(?:you )?(?:cut|cutting|broke|breaking) (?:out|up)|bad (?:line|"
    r"connection)|repeat (?:please|again)|what's the question|what was that again)")
_REPEAT_BARE = re.compile(r"^(?:(?:okay|ok|oh|um|uh|sorry|hello|yeah)[,.]? )?(?:sorry|what|repeat|repeat please|huh|hmm|eh|excuse me|pardon|say again|again|hello|you what|"
                          r"sorry what|i'm sorry|what's that)[\s?.!,]*$")
_HUMAN = re.compile(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an |the |some |your )?(?:real |actual |live |human |sales )?"
    r"(?:person|human|someone|somebody|agent|rep|representative|people|salesperson|manager|operator|"
    r"specialist|guy|man|woman|being|team member)|real person|actual person|live person|human being|"
    r"live agent|(?:person|human|someone|somebody|rep|representative|agent) (?:i|we) (?:can|could) (?:talk|speak)|"
    r"(?:transfer|connect|put) me (?:through|to|with)|get me (?:a|an|someone|somebody)|"
    r"i want (?:a|an) (?:person|human|agent)|operator|(?:can|could) (?:i|we) (?:get|have) (?:a|an) (?:person|"
    r"human|agent|representative))")
_HUMAN_BARE = re.compile(r"^(?:(?:an? )?(?:agent|operator|representative|human|person|real person)"
                         r"(?: please)?[\s?.!,]*)+$")
_WHO = re.compile(
    r"\b(?:(?:are|is) (?:you|this|that) (?:a |an )?(?:robot|bot|machine|computer|ai|a\.i|recording|real|automated|"
    r"human|person)|who(?: is|'s| are) (?:this|calling|you|speaking)|what(?: is|'s) this (?:about|regarding|call)|"
    r"why are you calling|where are you calling from|who do you work for|what company)")


def parse_intent(text: str, now: float, tz: str = "UTC") -> Optional[Intent]:
    """Call control in an utterance, or None. Order matters: "don't call me
    again" is a stop even though it says "call"; "can you call me back
    tomorrow at 3" is a later with its time; "sorry?" alone is a repeat but
    "sorry, no" is an answer."""
    t = _words(text)
    if not t:
        return None
    if _STOP.search(t) and not re.search(r"\bdon't stop\b", t):
        return Intent("stop")
    if (_HUMAN.search(t) or _HUMAN_BARE.match(t)) and not re.search(r"\b(?:don't|do not) (?:need|want) to (?:talk|speak)", t):
        return Intent("human")
    if _LATER_STRONG.search(t):
        return Intent("later", parse_when(text, now, tz) or now + 7200)
    if re.search(r"\b(?:can|could|shall|should) (?:we|you|i) (?:talk|speak|chat|do this|do it|connect|catch up)\b", t):
        when = parse_when(text, now, tz)
        if when is not None:
            return Intent("later", when)
    if _REPEAT.search(t) or _REPEAT_BARE.match(t):
        return Intent("repeat")
    if _WHO.search(t):
        return Intent("who")
    if _LATER_WEAK.search(t):
        return Intent("later", parse_when(text, now, tz) or now + 7200, explicit=False)
    return None


# --------------------------------------------------------------- call-back time
_DAYPART = {"morning": (10, 0, True), "first thing": (9, 0, True), "noon": (12, 0, True),
            "midday": (12, 0, True), "lunchtime": (12, 30, True), "lunch": (12, 30, True),
            "afternoon": (14, 0, True), "evening": (18, 0, True), "tonight": (19, 0, True),
            "end of the day": (17, 0, True), "end of day": (17, 0, True), "after work": (17, 30, True),
            "close of business": (17, 0, True)}


def parse_when(text: str, now: float, tz: str = "UTC") -> Optional[float]:
    """A call-back time said by the lead, as epoch seconds, or None when none
    was said. "in an hour", "tomorrow at 3" (3 PM: calls happen in the day),
    "Monday morning", "after 5", "next week" (Monday, same time of day)."""
    zone = ZoneInfo(tz)
    t = _prep(text)
    cur = datetime.fromtimestamp(now, zone)
    m = re.search(r"\b(?:in|after|give me)\s+(?:about\s+|another\s+|like\s+)?(\d+(?:\.\d+)?|an|a|a couple of|a couple|"
                  r"couple of|a few|few|half an|half a|0\.5)\s*(minute|min|hour|hr)s?\b", t)
    if m:
        q = 0.5 if m.group(1).startswith("half") else _qty(m.group(1))
        if m.group(1) in ("a few", "few") and m.group(2).startswith("min"):
            q = 15
        return now + q * (60 if m.group(2).startswith("min") else 3600)
    day: Optional[date] = None
    today = cur.date()
    if re.search(r"\bday after tomorrow\b", t):
        day = today + timedelta(days=2)
    elif re.search(r"\btomorrow\b", t):
        day = today + timedelta(days=1)
    elif re.search(r"\b(?:today|this (?:morning|afternoon|evening)|tonight|later today)\b", t):
        day = today
    elif m := re.search(r"\b(?:(next) )?(" + "|".join(_WEEKDAYS) + r")\b", t):
        wd = _WEEKDAYS[m.group(2)]
        day = today + timedelta(days=(wd - today.weekday()) % 7 or 7)
    elif re.search(r"\bnext week\b", t):
        day = today + timedelta(days=7 - today.weekday())
    elif m := re.search(r"\bin (\d+|a couple of|a few|a|two) days?\b", t):
        day = today + timedelta(days=int(_qty(m.group(1))))
    elif (tl := parse_timeline(text, now, tz)) is not None and tl.start and tl.start > today.isoformat():
        day = date.fromisoformat(tl.start)
    hm = _clock(t)
    if hm is None:
        for k, v in _DAYPART.items():
            if re.search(r"\b" + k + r"\b", t):
                hm = v
                break
    if day is None and hm is None:
        if re.search(r"\b(?:later|later on|in a bit|in a while|a bit later)\b", t):
            return now + 7200
        return None
    if hm is None:                               # a day without a time: same time of day, in hours
        hm = (cur.hour, cur.minute, True) if 9 <= cur.hour < 18 else (10, 0, True)
    h, mi, fixed = hm
    cands = [(h, mi)] if h >= 12 or h == 0 or fixed else []
    if not cands:
        cands = [c for c in ((h, mi), (h + 12, mi)) if 8 <= c[0] < 21] or [(h, mi)]
    days = [day] if day else [today, today + timedelta(days=1)]
    for d in days:
        for hh, mm in cands:
            at = datetime(d.year, d.month, d.day, hh % 24, mm, tzinfo=zone).timestamp()
            if at > now + 60 or day is not None:
                return at
    return None


def _clock(t: str) -> Optional[tuple[int, int, bool]]:
    """(hour, minute) of "at 3", "3pm", "10:30", "3 30", "half past 2", "quarter to 4",
    "after 5", "around noon". Hours 1-11 without am/pm come back as said; the
    caller picks AM or PM by what falls inside calling hours (fixed=False)."""
    m = re.search(r"\b(half|quarter) (past|after|to) (\d{1,2})\b", t)
    if m:
        h = int(m.group(3))
        mi = 30 if m.group(1) == "half" else 15
        return (h, mi, False) if m.group(2) != "to" else (h - 1, 60 - mi, False)
    m = re.search(r"\b(\d{1,2})(?::|\s)?(\d{2})?\s*(a\.?m\.?|p\.?m\.?)(?!\w)", t)
    if m:
        h, mi = int(m.group(1)), int(m.group(2) or 0)
        pm = m.group(3).startswith("p")
        if h <= 12 and mi < 60:
            return ((h % 12) + (12 if pm else 0), mi, True)
    m = re.search(r"\b(?:at|around|after|by|about|say|from|before)\s+(?:about\s+)?(\d{1,2})(?::(\d{2})|\s(\d{2}))?"
                  r"(?:\s*o'?clock)?\b(?!\s*(?:minute|min|hour|hr|day|week|month|year|%|percent|dollars|k\b))", t)
    if m:
        h, mi = int(m.group(1)), int(m.group(2) or m.group(3) or 0)
        if h <= 23 and mi < 60:
            return (h, mi, False)
    m = re.search(r"\b(\d{1,2})\s*o'?clock\b", t)
    if m and int(m.group(1)) <= 12:
        return (int(m.group(1)), 0, False)
    return None


def describe_when(at: float, now: float, tz: str = "UTC") -> str:
    """A call-back time as the lead should hear it: "in about an hour",
    "today at 3 PM", "tomorrow at 10:30 AM", "on Monday at 9 AM", "on December 3 at 2 PM"."""
    zone = ZoneInfo(tz)
    a, n = datetime.fromtimestamp(at, zone), datetime.fromtimestamp(now, zone)
    mins = (at - now) / 60
    if 0 < mins < 100:
        if mins < 50:
            return f"in about {round(mins / 5) * 5 or 5} minutes"
        return "in about an hour"
    h = a.hour % 12 or 12
    clock = "noon" if (a.hour, a.minute) == (12, 0) else f"{h}{':%02d' % a.minute if a.minute else ''} " \
                                                          f"{'AM' if a.hour < 12 else 'PM'}"
    days = (a.date() - n.date()).days
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if 1 < days < 7:
        return f"on {calendar.day_name[a.weekday()]} at {clock}"
    return f"on {calendar.month_name[a.month]} {a.day} at {clock}"


# ------------------------------------------------------------------ answers
def _content(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", _words(text))
            if w not in CONTENT_STOPWORDS and len(w) > 1 and w not in _HOLLOW]


_HOLLOW = set("um uh hmm mm yeah yes no nope okay ok sure know dunno idea guess think maybe sorry "
              "what huh hello hi don't can't i'm it's that's well".split())


def parse_answer(kind: str, text: str, now: float, currency: str = "USD", tz: str = "UTC") -> Answer:
    """One answer to a question of `kind` (budget | timeline | yesno | text).
    value is JSON-ready: a Budget/Timeline dict, a bool, or the cleaned text.
    A hedge with no content ("not sure", "um") is not clear, so the dialogue
    can re-ask once with a rephrase that offers options."""
    if kind == "budget":
        b = parse_budget(text, currency)
        return Answer(kind, b.to_json() if b else None, b is not None)
    if kind == "timeline":
        tl = parse_timeline(text, now, tz)
        return Answer(kind, tl.to_json() if tl else None, tl is not None)
    if kind == "yesno":
        yn = parse_yes_no(text)
        return Answer(kind, yn, yn is not None)
    cleaned = clean_text(text)
    clear = bool(_content(cleaned)) and not _UNSURE.fullmatch(_words(cleaned).strip(" .!?"))
    return Answer(kind, cleaned if clear else None, clear)
