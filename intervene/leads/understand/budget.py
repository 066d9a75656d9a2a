"""A budget in a lead's answer: amount, range or bound, currency and rate period.

People say budgets every way at once: "fifteen thousand", "15k", "$15,000",
"15 grand" (or Whisper's "15 grant"), "ten to fifteen", "one fifty a month",
"up to 500 quid". The amount is read from digits (`spoken.prep`), the currency
from the table the claim checker reads too (`intervene.nlp.currency`), and a
name several countries share ("dollars", "pounds") resolves to the lead's own
currency when it may mean it.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import asdict, dataclass
from typing import Any, Optional

from intervene.leads.understand.spoken import VAGUE, prep
from intervene.nlp import currency
from intervene.nlp.lexicon import CONTENT_STOPWORDS, TEENS, TENS, UNITS

__all__ = ["Budget", "parse_budget", "describe_budget"]


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# Scale words as leads say them, and as Whisper mishears them ("15 grant").
_SCALE = {"k": 1e3, "kay": 1e3, "grand": 1e3, "grant": 1e3, "grands": 1e3, "thousand": 1e3,
          "thousands": 1e3, "thou": 1e3, "hundred": 1e2, "hundreds": 1e2, "million": 1e6,
          "millions": 1e6, "mil": 1e6, "mill": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9}
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
# Words that may follow an amount without making it a count of something ("10 users").
_AMOUNT_OK = set(_SCALE) | set(currency.WORDS) | set(currency.CODES) | set(_PERIOD_WORDS) | set(
    "budget budgets range ballpark total overall tops max maximum ish mark area region upfront "
    "front deposit altogether roughly approximately probably maybe give take max min minimum "
    "spend spending cost costs price per including include plus that's thats would is".split())
_BUDGET_CUES = re.compile(r"\b(?:budget|budgeted|spend|spending|pay|paying|invest|investing|afford|"
                          r"cost|costs|price|set aside|allocated?|looking at|financ\w*)\b")
# "US$", "C$", "A$": a prefix only where the letters touch the "$" ("a $5,000 budget" is dollars);
# read as the currency's code, which the tokens below then take as written before the amount.
_PREFIXED = re.compile(r"(?<![a-z])(" + "|".join(sorted(currency.SYMBOL_PREFIXES, key=len, reverse=True))
                       + r")\$", re.I)
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+(?:'[a-z]+)?|[" + re.escape("".join(currency.SYMBOLS)) + r"]|[-–+/%]"
                    r"|[.,;:!?]")


@dataclass
class _Amt:
    value: float
    start: int              # token span [start, end)
    end: int
    scaled: bool = False    # a scale word or k was said ("15 grand")
    currency: tuple[str, ...] = ()      # the ISO codes the named currency may mean
    period: Optional[str] = None
    bound: str = ""         # "high" | "low" | ""
    cue: bool = False


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
        vague = VAGUE.get(t) if i + 1 < n else None
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
        if k >= 0 and toks[k] in currency.SYMBOLS:
            a.currency = currency.SYMBOLS[toks[k]]
            a.start = k
        elif k >= 0 and (toks[k] in currency.CODES or toks[k] in currency.WRITTEN_BEFORE):
            code = currency.CODES.get(toks[k])
            a.currency, a.start = (code,) if code else currency.WORDS[toks[k]], k
        # currency after: "dollars", "canadian dollars", "eur"
        if j < n and toks[j] in currency.DOLLAR_ADJECTIVES and j + 1 < n and toks[j + 1] in (
                "dollar", "dollars", "bucks"):
            a.currency, j = (currency.DOLLAR_ADJECTIVES[toks[j]],), j + 2
        elif j < n and (toks[j] in currency.WORDS or toks[j] in currency.CODES):
            if not (toks[j] == "won" and not a.scaled):            # "we won", unless "5 million won"
                a.currency, j = currency.WORDS.get(toks[j]) or (currency.CODES[toks[j]],), j + 1
        elif j < n and toks[j] in ("k", "grand") and not a.scaled:
            a.value, a.scaled, j = a.value * 1e3, True, j + 1
        a.end = j
        out.append(a)
        i = j
    return out


def _near_money(toks: list[str], i: int, j: int) -> bool:
    return (i > 0 and toks[i - 1] in currency.SYMBOLS) or (j + 1 <= len(toks) - 1 and toks[j + 1] in currency.WORDS)


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


# number words as the claim checker reads them: value of "one".."nine", "ten".."nineteen", "twenty".."ninety"
_SAID = {w: v for w, v in {**UNITS, **TEENS, **TENS}.items() if v}
_UNIT_WORDS = [w for w in UNITS if UNITS[w]]
_TEEN_WORDS, _TENS_WORDS = list(TEENS), list(TENS)
_HUNDREDS_SAID = re.compile(r"\b(" + "|".join(_UNIT_WORDS + _TEEN_WORDS) + r")[ -](" + "|".join(_TENS_WORDS) +
                            r")(?:[ -](" + "|".join(_UNIT_WORDS) + r"))?\b(?![ -](?:hundred|thousand|million|k\b|grand))",
                            re.I)
_AND_A_HALF = re.compile(r"\b(a|one|\d+|" + "|".join(_UNIT_WORDS + _TEEN_WORDS + _TENS_WORDS) +
                         r") (million|thousand|grand|hundred|k) and a half\b", re.I)


def _spoken_money(text: str) -> str:
    """Prices said the way people say them: "one fifty" (150), "twelve fifty"
    (1,250), "a million and a half" (1.5 million). Only for budgets: in a
    call-back time "two thirty" is 2:30."""
    def hundreds(m: re.Match[str]) -> str:
        rest = _SAID[m.group(2).lower()] + (_SAID[m.group(3).lower()] if m.group(3) else 0)
        return str(_SAID[m.group(1).lower()] * 100 + rest)

    def half(m: re.Match[str]) -> str:
        n = m.group(1).lower()
        v = 1 if n in ("a", "one") else int(n) if n.isdigit() else _SAID[n]
        return f"{v}.5 {m.group(2)}"
    return _HUNDREDS_SAID.sub(hundreds, _AND_A_HALF.sub(half, text))


def parse_budget(text: str, default_currency: str = "USD", strict: bool = False) -> Optional[Budget]:
    """The budget in an answer, or None when none was said ("not sure yet").
    `strict` accepts only amounts marked as money (currency, "k"/"grand",
    a period, or a budget word nearby): used to catch a budget volunteered
    while answering another question without mistaking "2 weeks" or "3 sites"."""
    t = _PREFIXED.sub(lambda m: f" {currency.SYMBOL_PREFIXES[m.group(1).lower()].lower()} ", prep(_spoken_money(text)))
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
    cur = currency.resolve(a.currency or (b.currency if b else ()), default_currency)
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


def _money(v: float) -> str:
    if v >= 1e6 and (v / 1e6) * 10 % 1 == 0:
        return f"{v / 1e6:g} million"
    return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"


def describe_budget(b: Budget, home_currency: str = "") -> str:
    """"about 15,000 dollars a month", "10,000 to 15,000 euros", "up to 500 pounds"."""
    cur = currency.SPOKEN_NAMES.get(b.currency, b.currency)
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
