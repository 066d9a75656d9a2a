"""Numbers in what a rep says and in knowledge-base facts, made comparable.

A rep says "forty-nine bucks a month"; the KB says "$49 per month". Claim
checking needs both as the same `Quantity(49, "money", "USD", per="month")` so
a mismatch ("thirty-nine a month") is a value difference, not a wording one.
Plain regexes and dictionaries, standard library only: this runs on every
utterance inside the latency budget, and must hold for any industry, so it
knows English number grammar and common units, never product vocabulary.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TypeGuard

from intervene.nlp import currency

__all__ = ["Quantity", "CONTENT_STOPWORDS", "UNITS", "TEENS", "TENS", "MONTHS", "days", "content_words",
           "parse_number_words", "normalize_numbers", "extract_quantities", "listed_periods", "same_quantity", "comparable",
           "rate_after", "weekdays_named"]


@dataclass(frozen=True)
class Quantity:
    """One number with what it measures. `kind` decides which other quantities
    it may contradict; `context` says what it is about (the caller matches it
    against a fact's words so "3 years of support" never meets "3 users")."""
    value: float
    kind: str                 # money | duration | percent | count | date | bare
    unit: str                 # currency code, duration unit, "%", counted noun, month, or ""
    per: str = ""             # rate period(s) joined with "/": "month", "site/month"
    bound: str = ""           # "max" | "min" | ""
    start: int = 0            # char span in the original text
    end: int = 0
    context: tuple[str, ...] = ()


# ------------------------------------------------------------------ vocabulary
def _seq(words: str, first: int, step: int = 1) -> dict[str, int]:
    return {w: first + k * step for k, w in enumerate(words.split())}


UNITS = _seq("zero one two three four five six seven eight nine", 0)
TEENS = _seq("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen", 10)
TENS = _seq("twenty thirty forty fifty sixty seventy eighty ninety", 20, 10)
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_ORD_UNITS = _seq("first second third fourth fifth sixth seventh eighth ninth", 1)
_ORD_TEENS = _seq("tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth "
                  "eighteenth nineteenth", 10)
_ORD_TENS = _seq("twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth", 20, 10)
_NUMBER_WORDS = frozenset([*UNITS, *TEENS, *TENS, *_SCALES, "hundred", "dozen", "half"])
_NUMBER_START = _NUMBER_WORDS | set(_ORD_UNITS) | set(_ORD_TEENS) | set(_ORD_TENS) | {"a", "an"}

_MONTH_NAMES = tuple("january february march april may june july august september october november "
                     "december".split())
# Month names and their short forms -> month number (1-12): "march", "mar", "sept".
MONTHS: dict[str, int] = {**{m: k for k, m in enumerate(_MONTH_NAMES, 1)},
                          **{m[:3]: k for k, m in enumerate(_MONTH_NAMES, 1)}, "sept": 9}
_MONTHS = {w: _MONTH_NAMES[k - 1] for w, k in MONTHS.items()}
_AMBIGUOUS_MONTHS = {"may", "march", "mar"}        # also verbs: need a capital unless "of May"
_MONTH_DAYS = dict(zip("january february march april may june july august september october november "
                       "december".split(), (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)))
_YEAR_DAY = {m: sum(list(_MONTH_DAYS.values())[:k]) for k, m in enumerate(_MONTH_DAYS)}
_DATE_BEFORE = frozenset("by before until till through thru after on since from".split())
# words that make a date a deadline ("sign before March 31", "runs through the end of June")
_DEADLINE = re.compile(r"\b(?:by|before|until|till|til|through|thru|ends?|ending|expires?|no later than|"
                       r"up to|runs? to|valid to|deadline)\s+(?:the\s+)?$", re.I)

# Currencies come from the shared table, each name read as its usual code ("$" is USD,
# "pound" GBP): a KB fact and a rep's sentence name one market. Names that are also
# everyday English ("won", "try") are not read as money here: a rep's sentence has
# no "budget" question around it to say they are.
_CURRENCY_SYM = {s: codes[0] for s, codes in currency.SYMBOLS.items()}
_CURRENCY_CODES = {w: c for w, c in currency.CODES.items() if w not in currency.HOMOGRAPHS}
_CURRENCY_BEFORE = {**_CURRENCY_CODES, **{w: currency.WORDS[w][0] for w in currency.WRITTEN_BEFORE}}
_MONEY_WORDS = {**{w: codes[0] for w, codes in currency.WORDS.items() if w not in currency.HOMOGRAPHS},
                "grand": "", "cent": "", "cents": "", "¢": "", **_CURRENCY_CODES}
_CURRENCY_ADJ = currency.DOLLAR_ADJECTIVES
_DURATIONS = {"second": "second", "sec": "second", "minute": "minute", "min": "minute",
              "hour": "hour", "hr": "hour", "day": "day", "week": "week", "wk": "week",
              "month": "month", "mo": "month", "mth": "month", "quarter": "quarter", "qtr": "quarter",
              "year": "year", "yr": "year"}
_DURATIONS.update({k + "s": v for k, v in list(_DURATIONS.items())})
_PERIOD_ADVERBS = {"monthly": "month", "annually": "year", "yearly": "year", "weekly": "week", "quarterly": "quarter",
                   "daily": "day", "hourly": "hour", "annum": "year"}
_DAYS = {"second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0,
         "month": 30.44, "quarter": 91.31, "year": 365.25}
_FEE_WORDS = {"fee", "fees", "cost", "costs", "charge", "charges", "price", "prices"}
# Words that may sit between a number and its unit: "30 business days", "2 more users".
_LEAD_SKIP = {"more", "extra", "additional", "other", "new", "full", "separate", "total",
              "business", "working", "calendar", "straight", "consecutive", "whole"}
# a lone scale word after these is one of it: "the first hundred feet", "per thousand words"
_LONE_SCALE_AFTER = {"the", "first", "per", "every", "each", "other", "next", "that", "this", "our", "your", "my", "their",
                     "is", "was", "just", "only", "about", "around", "over", "under", "for", "at", "it's", "that's",
                     "it’s", "that’s", "costs", "cost", "pay", "charge", "be"}
_ONE_UNIT_MONEY = {"dollar", "buck", "euro", "quid"}
_DOLLAR_WORDS = {"dollar", "dollars", "buck", "bucks", "euro", "euros"}
_DETERMINERS = {"the", "this", "that", "which", "no", "any", "every", "each", "another", "one",
                "only", "same", "other", "last", "next", "what", "whichever"}


def _phrases(spec: str) -> dict[tuple[str, ...], str]:
    """ "max: up to, at most; min: at least" -> {("up", "to"): "max", ...}: readable tables."""
    out: dict[tuple[str, ...], str] = {}
    for part in spec.split(";"):
        bound, _, items = part.partition(":")
        out.update({tuple(p.split()): bound.strip() for p in items.split(",")})
    return out


_BOUND_BEFORE = _phrases(
    "max: up to, at most, maximum, maximum of, max, max of, tops out at, top out at, maxes out at, "
    "no more than, not more than, as many as, limit of, limited to, capped at, caps at, within, under, "
    "less than, fewer than, below; min: at least, minimum, minimum of, min, starting at, starting from, from, "
    "starts at, as low as, no less than, more than, upwards of, over, anything over, anything above, above")
_BOUND_AFTER = _phrases(
    "min: or more, or above, or higher, or greater, and up, and above, plus, minimum, min, at least; "
    "max: or less, or fewer, or under, max, maximum, tops, at most, at the most")
_FILLERS = frozenset("um uh er ah hmm like just really pretty basically actually literally so yeah "
                     "okay ok well".split())
CONTENT_STOPWORDS: frozenset[str] = _FILLERS | frozenset((
    "a an the and or but if then than as of at by for from in into on onto off out over up down to "
    "with without about above below between through during before after again further once here "
    "there when where why how all any both each few more most other some such no nor not only own "
    "same too very can will should now i me my myself we our ours us you your yours he him his she "
    "her it its they them their what which who whom whose this that these those am is are was were "
    "be been being have has had having do does did doing would could might must may shall let lets "
    "get gets got getting go goes going gone also yes yep sure right totally kind sort mean know "
    "gonna wanna gotta hey hi hello thanks thank please anyway s t ll re ve d m don didn doesn isn "
    "aren wasn weren won wouldn couldn shouldn cannot one ones someone anyone everyone something "
    "anything everything nothing thing things stuff lot lots bit much many every per via etc "
    "including include includes").split())
_NOT_NOUN = CONTENT_STOPWORDS | _NUMBER_START | set(_MONTHS) | set(_PERIOD_ADVERBS) | {"am", "pm"}
_IRREGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman", "feet": "foot"}

_TOKEN_RE = re.compile(r"(\d{1,2}:\d{2})|(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
                       r"|([^\W\d_]+(?:['’][^\W\d_]+)*)|([" + re.escape("".join(_CURRENCY_SYM)) + r"¢%/+])"
                       r"|([.,;:!?])|([-–])")
# phone numbers, and names with a number in them
_NOT_A_QUANTITY = re.compile(r"\+?\(?\b\d{3}\)?[-. ]\d{3}[-. ]\d{4}\b|\b\d{3}[-.]\d{4}\b"
                       # a name with a number in it is no quantity: "the I-494 loop", "W-2s", "K-12"
                       r"|\b[A-Z]{1,3}-\d+\b")
_WORD_RE = re.compile(r"[^\W_]+")
_POSSESSIVE_RE = re.compile(r"['’]s\b")
_SENT_END = {".", "!", "?", ";"}


class _Tok:
    """A token with its span: kind is t(ime) n(um) w(ord) s(ym) p(unct); `att` = no space
    before it ("3rd", "24x7"), `hy` = joined to the previous token by a hyphen ("3-year")."""
    __slots__ = ("text", "low", "start", "end", "kind", "att", "hy", "skip")

    def __init__(self, text: str, start: int, kind: str, att: bool, hy: bool, skip: bool) -> None:
        self.text, self.low, self.start, self.end = text, text.lower(), start, start + len(text)
        self.kind, self.att, self.hy, self.skip = kind, att, hy, skip


def _tokenize(text: str) -> list[_Tok]:
    phones = [m.span() for m in _NOT_A_QUANTITY.finditer(text)] if any(c.isdigit() for c in text) else []
    toks: list[_Tok] = []
    prev_end, hyphen = -1, False
    for m in _TOKEN_RE.finditer(text):
        assert m.lastindex is not None           # every alternative is a group
        s, kind = m.start(), "tnwsph"[m.lastindex - 1]
        if kind == "h":       # "3-year": hyphen glues; " - " is a dash
            hyphen = s == prev_end and text[s + 1:s + 2].isalnum()
            if not hyphen:
                toks.append(_Tok(m.group(), s, "p", False, False, False))
            prev_end = m.end()
            continue
        skip = any(a <= s < b for a, b in phones)
        toks.append(_Tok(m.group(), s, kind, s == prev_end, hyphen, skip))
        prev_end, hyphen = m.end(), False
    return toks


# --------------------------------------------------------------- word numbers
def _parse(words: list[str], hy: list[bool], i: int = 0, date: bool = False
           ) -> tuple[float, int, bool] | None:
    """English number grammar from words[i]: (value, words used, is_ordinal). A state
    machine over the last word's class, so "twenty four seven" stops at 24 and
    "one two" stops at 1. "second" joins a compound only when hyphenated or in a
    date ("twenty second" is more often 20 seconds than the 22nd)."""
    total = cur = 0.0
    last, j, end, n = "", i, i, len(words)
    while j < n:
        w, nxt = words[j], words[j + 1] if j + 1 < n else ""
        if not last and w in ("a", "an"):
            if nxt in _SCALES or nxt in ("hundred", "dozen"):
                cur, last, j = 1.0, "a", j + 1
                continue
            if nxt in _ONE_UNIT_MONEY:
                return 1.0, 1, False        # "a dollar a day", "a buck fifty"
            return (0.5, j + 2 - i, False) if nxt == "half" else None
        if w == "and" and last:
            if nxt == "half" or (nxt in ("a", "an") and j + 2 < n and words[j + 2] == "half"):
                return total + cur + 0.5, j + (2 if nxt == "half" else 3) - i, False
            if last in ("hundred", "scale") and (nxt in UNITS or nxt in TEENS or nxt in TENS):
                j += 1
                continue
            break
        if not last and w in ("half", "zero"):
            return (0.5 if w == "half" else 0.0), j + 1 - i, False
        if w in UNITS and w != "zero" and last == "scale" and (nxt in TENS or nxt in TEENS):
            cur, last = UNITS[w] * 100, "hundred"     # "seven thousand nine ninety-five": 7,995
        elif w in UNITS and w != "zero" and last in ("", "tens", "hundred", "scale"):
            cur, last = cur + UNITS[w], "unit"
        elif w in TEENS and last in ("", "hundred", "scale"):
            cur, last = cur + TEENS[w], "teen"
        elif w in TENS and last in ("", "hundred", "scale"):
            cur, last = cur + TENS[w], "tens"
        elif w == "hundred" and last in ("unit", "teen", "a") and cur < 100:
            cur, last = cur * 100, "hundred"
        elif w == "dozen" and last in ("unit", "a"):
            return total + cur * 12, j + 1 - i, False
        elif w in _SCALES and last in ("unit", "teen", "tens", "hundred", "a"):
            total, cur, last = total + cur * _SCALES[w], 0.0, "scale"
        else:
            v = _ORD_UNITS.get(w) if last in ("", "tens", "hundred", "scale") else None
            if v is None and last in ("", "hundred", "scale"):
                v = _ORD_TEENS.get(w, _ORD_TENS.get(w))
            if v is None or (w == "second" and last and not (hy[j] or date)):
                break
            return total + cur + v, j + 1 - i, True
        j += 1
        end = j
    return (total + cur, end - i, False) if end > i else None


def parse_number_words(tokens: list[str]) -> tuple[float, int] | None:
    """Parse a spoken number starting at tokens[0]; return (value, tokens consumed).
    Hyphenated tokens ("forty-nine") count as one token; a token whose leading part
    is a number ("two-year") counts as consumed. None when tokens[0] starts no number."""
    split = [(piece, k, p > 0) for k, tok in enumerate(tokens)
             for p, piece in enumerate(tok.lower().split("-")) if piece]
    got = _parse([w for w, _, _ in split], [h for _, _, h in split]) if split else None
    return None if got is None else (got[0], split[got[1] - 1][1] + 1)


@dataclass(slots=True)
class _Num:
    value: float
    start: int              # token range [start, end)
    end: int
    ordinal: bool = False
    words: bool = False
    time: bool = False


def _not_a_number(toks: list[_Tok], i: int) -> bool:
    """Digits and number words that name something rather than count it:
    "one-on-one", "1:1", "3-D", "4K", "a ten by ten" (a unit size), "one second" (wait)."""
    t, nxt, prev = toks[i], _tok(toks, i + 1), _tok(toks, i - 1)
    if t.low in ("one", "1"):
        if nxt is not None and nxt.hy and nxt.low in ("on", "to"):
            return True                  # one-on-one, one-to-one
        if t.hy and prev is not None and prev.low in ("on", "to"):
            return True
    if t.kind == "n" and nxt is not None and nxt.kind == "w" and len(nxt.low) == 1 and nxt.low not in "kx" and (
            nxt.hy or nxt.att):
        return True                      # 3-D, 4K is kept as thousands
    return False


def _dimension(toks: list[_Tok], num: "_Num") -> int:
    """End of "10 by 10", "5x10", "ten by twenty" (a size, not a quantity), else 0."""
    j = num.end
    if j < len(toks) and toks[j].low in ("by", "x"):
        other = _number_at(toks, j + 1) if j + 1 < len(toks) else None
        if other is not None and not other.time and not (num.value == 24 and other.value == 7):   # 24x7
            return other.end
    return 0


def _number_at(toks: list[_Tok], i: int, date: bool = False) -> _Num | None:
    """The number (digits, words, or both: "2 million", "3 and a half") at token i."""
    t, n = toks[i], len(toks)
    if t.skip or _not_a_number(toks, i):
        return None
    if t.kind == "t":
        h, mnt = t.text.split(":")
        pm = i + 1 < n and toks[i + 1].low == "pm"
        return _Num(int(h) + (12 if pm and int(h) < 12 else 0) + int(mnt) / 60, i, i + 1 + pm, time=True)
    if t.kind == "n":
        raw = t.text.replace(",", "")
        if len(raw.split(".")[0]) > 7 and "," not in t.text:       # ids, card or phone numbers
            return None
        num, j = _Num(float(raw), i, i + 1), i + 1
        suffix = toks[j].low if j < n and toks[j].kind == "w" else ""
        if suffix in ("st", "nd", "rd", "th") and toks[j].att:
            num.ordinal, j = True, j + 1
        elif suffix == "k" and toks[j].att:
            num.value, j = num.value * 1000, j + 1
        elif suffix in ("am", "pm"):
            num.value += 12 if suffix == "pm" and num.value < 12 else 0
            num.time, j = True, j + 1
        elif suffix == "hundred" or suffix in _SCALES:
            num.value, j = num.value * _SCALES.get(suffix, 100.0), j + 1
        if not (num.ordinal or num.time) and j + 1 < n and toks[j].low == "and":
            if toks[j + 1].low == "half" or (toks[j + 1].low == "a" and j + 2 < n and toks[j + 2].low == "half"):
                num.value, j = num.value + 0.5, j + (2 if toks[j + 1].low == "half" else 3)
        num.end = j
        return num
    if t.kind != "w" or t.low not in _NUMBER_START:
        return None
    k = i
    while k < n and k - i < 12 and toks[k].kind == "w" and not (k > i and _not_a_number(toks, k)):
        k += 1
    words, hy = [x.low for x in toks[i:k]], [x.hy for x in toks[i:k]]
    # "the hundred and fifty dollar fee", "our thousand dollar deposit", "per hundred": a scale
    # with no number before it is one of it (where a count comes before, "a few hundred", it is not)
    lone = t.low in ("hundred", "thousand") and (i == 0 or toks[i - 1].kind == "p" or toks[i - 1].low in _LONE_SCALE_AFTER)
    got = _parse(["a", *words], [False, *hy], 0, date) if lone else _parse(words, hy, 0, date)
    if got is None:
        return None
    said = got[1] - 1 if lone else got[1]      # (the "a" put before a lone scale was not said)
    num = _Num(got[0], i, i + said, got[2], True)
    j = num.end
    if not num.ordinal and j + 1 < n and toks[j].low == "point" and toks[j + 1].low in UNITS:
        k, digits = j + 1, ""
        while k < n and toks[k].low in UNITS:
            digits, k = digits + str(UNITS[toks[k].low]), k + 1
        num.value, num.end = float(f"{int(num.value)}.{digits}"), k
    return num


def _month(t: _Tok | None, strict: bool = True) -> str:
    if t is None or t.kind != "w":
        return ""
    m = _MONTHS.get(t.low, "")
    return "" if m and strict and t.low in _AMBIGUOUS_MONTHS and not t.text[0].isupper() else m


def _tok(toks: list[_Tok], k: int) -> _Tok | None:
    return toks[k] if 0 <= k < len(toks) else None


def _skip_word_number(toks: list[_Tok], num: _Num) -> bool:
    """True for words that look like numbers but are not quantities: "the basic one",
    "no one", "one of", "one-time", a bare "half"."""
    first, nxt = toks[num.start].low, _tok(toks, num.end)
    if num.end - num.start != 1 or first not in ("one", "half"):
        return False
    if first == "half" or nxt is None or nxt.kind != "w":
        return True
    if nxt.hy and nxt.low in ("time", "off", "on", "way", "stop", "size"):
        return True
    after = _tok(toks, num.end + 1)
    if nxt.low in _MONEY_WORDS or nxt.low in _DURATIONS or nxt.low == "percent" or (
            nxt.low in ("to", "or") and after is not None and _number_at(toks, num.end + 1)):
        return False
    prev = _tok(toks, num.start - 1)
    return nxt.low in CONTENT_STOPWORDS or (prev is not None and prev.low in _DETERMINERS)


def _spoken_cents(toks: list[_Tok], num: _Num) -> _Num | None:
    """The "ninety-nine" of "nine ninety-nine a month" ($9.99): a spoken 10-99 right
    after a spoken number, when money or a rate follows ("a month", "a serving")."""
    j = num.end
    if not num.words or num.ordinal or j >= len(toks) or toks[j].kind != "w":
        return None
    c = _number_at(toks, j)
    if not c or not c.words or c.ordinal or not 10 <= c.value < 100 or c.value != int(c.value):
        return None
    after = _tok(toks, c.end)
    return c if after is not None and (after.low in _MONEY_WORDS or _rate(toks, c.end, money=True)[0]) else None


def _cents_after_unit(toks: list[_Tok], num: _Num) -> _Num | None:
    """The "fifty" of "a dollar fifty a foot", "two dollars twenty-five each": a
    spoken 1-99 right after a whole number of dollars is its cents, unless a
    noun of its own follows ("five dollars, twenty minutes" is two amounts)."""
    unit, j = _tok(toks, num.end), num.end + 1
    if num.ordinal or num.value != int(num.value) or unit is None or unit.low not in _DOLLAR_WORDS \
            or j >= len(toks) or toks[j].kind != "w" or toks[j].start - unit.end > 1:
        return None
    c = _number_at(toks, j)
    if not c or not c.words or c.ordinal or not 1 <= c.value < 100 or c.value != int(c.value):
        return None
    after = _tok(toks, c.end)
    return None if _unit_word(after) or (after is not None and after.low in ("percent", "and", "or", "to")) else c


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else f"{v:.6f}".rstrip("0").rstrip(".")


def _suffix(v: int) -> str:
    return "th" if 10 <= v % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(v % 10, "th")


# Whisper sometimes writes "eighty-nine" as "8,9": a comma with no space and
# fewer than three digits after it is not a thousands separator or a list.
_ASR_SPLIT_NUMBER = re.compile(r"(?<![\d,.])(\d{1,2}),(\d{1,2})(?![\d,])")


# a year said in pairs after a preposition or article: "for a twenty twenty-six wedding", "by twenty
# twenty-five" (2010-2039; said otherwise, "twenty twenty-five" is a price or a restart)
_YEAR_LATER = ("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty "
               "twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven "
               "twenty-eight twenty-nine thirty thirty-one thirty-two thirty-three thirty-four thirty-five "
               "thirty-six thirty-seven thirty-eight thirty-nine").split()
_SPOKEN_YEAR = re.compile(r"\b((?:in|for|by|of|since|until|through|during|a|the|fall|spring|summer|winter)\s+)"
                          r"twenty[\s-]+(" + "|".join(w.replace("-", r"[\s-]") for w in sorted(_YEAR_LATER, key=len,
                                                                                         reverse=True)) + r")(?![\w-])"
                          r"(?!\s+(?:one|two|three|four|five|six|seven|eight|nine|seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|dollars?|bucks|"
                          r"percent|cents?|per|a|an|each|apiece)\b)",
                          re.I)


# a price read out digit by digit round a zero: "core is two oh nine a month" is $209 (not after
# "at", "by": "at seven oh five" is a time)
_DIGIT = "|".join(w for w, v in UNITS.items() if v)
_SPOKEN_OH = re.compile(rf"(?<!\bat )(?<!\bby )(?<!\buntil )\b({_DIGIT})[\s-]+oh[\s-]+({_DIGIT})\b", re.I)


def _oh(m: re.Match[str]) -> str:
    return f"{UNITS[m.group(1).lower()]}0{UNITS[m.group(2).lower()]}"


def _year(m: re.Match[str]) -> str:
    later = re.sub(r"[\s-]+", "-", m.group(2).lower())
    return f"{m.group(1)}{2010 + _YEAR_LATER.index(later)}"


@lru_cache(maxsize=4096)        # pure, and every detector asks for the same sentences
def normalize_numbers(text: str) -> str:
    """Rewrite spoken numbers as digits ("forty-nine" -> "49", "twenty-four seven" ->
    "24/7", "December thirty-first" -> "December 31", "19,800" -> "19800") so
    embeddings and regexes see one form. Pronoun "one", lone ordinals ("first, ...")
    and a bare "half" are left alone; everything else is copied unchanged."""
    text = _SPOKEN_OH.sub(_oh, _SPOKEN_YEAR.sub(_year, _ASR_SPLIT_NUMBER.sub(r"\1\2", text)))
    toks, out, pos, i = _tokenize(text), [], 0, 0
    while i < len(toks):
        month_before = bool(_month(_tok(toks, i - 1)) or (
            i > 1 and toks[i - 1].low == "the" and _month(toks[i - 2])))
        num = _number_at(toks, i, date=month_before)
        if num is None or num.time:
            i += 1
            continue
        end, after, rep = num.end, _tok(toks, num.end), None
        month_after = bool(_month(after) or (after is not None and after.low == "of"
                                             and _month(_tok(toks, num.end + 1), strict=False)))
        if not num.words:
            if "," in toks[i].text or end - i > 1 + num.ordinal:
                rep = _fmt(num.value) + (_suffix(int(num.value)) if num.ordinal else "")
        elif num.ordinal:
            if month_before:         # ("June 16th week" keeps its "th": without it "16 week" is a length)
                rep = _fmt(num.value) + (_suffix(int(num.value)) if _unit_word(after) else "")
            elif month_after or end - i > 1:
                rep = _fmt(num.value) + _suffix(int(num.value))
        elif not _skip_word_number(toks, num):
            cents = _spoken_cents(toks, num)
            rep, end = (f"{num.value + cents.value / 100:.2f}", cents.end) if cents else (_fmt(num.value), end)
            if num.value == 24 and after is not None and after.low == "seven":
                rep, end = "24/7", end + 1
        cents = _cents_after_unit(toks, num)
        if cents is not None:
            rep, end = f"{num.value + cents.value / 100:.2f} {toks[num.end].text}", cents.end
        if rep is not None:
            out += [text[pos:toks[i].start], rep]
            pos = toks[end - 1].end
        i = end
    return "".join(out) + text[pos:]


# ---------------------------------------------------------------- extraction
def _stem(w: str) -> str:
    w = _singular(w)
    if w not in _NUMBER_WORDS:
        for suf in ("ation", "ing", "ed"):
            if w.endswith(suf) and len(w) - len(suf) >= 4:
                w = w[:-len(suf)]
                # the consonant doubled for the ending goes with it ("cancelled" and "cancel",
                # "shipped" and "ship"), not a double the word has ("billed", "missed", "staffed")
                if suf != "ation" and (w[-2:] in _DOUBLED or len(w) >= 6 and w.endswith("ell")):
                    w = w[:-1]
                elif suf != "ation" and _LOST_E.search(w):
                    w += "e"      # ... and the e it dropped comes back: "freezing" is "freeze", "charged" "charge"
                return w
    return w


_DOUBLED = {"pp", "tt", "nn", "mm", "gg", "dd", "bb", "rr"}
# the stems whose word ended in a silent e ("freez", "charg", "pric", "remov", "valu"), but not
# "hang", "bring", "buzz"
_LOST_E = re.compile(r"(?:[cvu]|[^z]z|[^ng]g)$")


def _singular(w: str) -> str:
    """Plural -> singular, cheaply. "licenses" keeps its e (only "sses" and
    x/ch/sh/zz + "es" drop "es"), so singular and plural stem the same."""
    w = _POSSESSIVE_RE.sub("", w)
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_WORDS = re.compile(r"\b(?:(mon|tues|wednes|thurs|fri|satur|sun)days?|(weekdays?|"
                            r"mid-?week|during the week|work ?days?)|(week-?ends?))\b", re.I)


@lru_cache(maxsize=8192)
def weekdays_named(text: str) -> frozenset[str]:
    """The days of the week a text names ("on a Saturday evening": saturday;
    "during the week": monday to friday; "weekends": saturday and sunday) - a
    need for a weekday slot is not a need for a Saturday one."""
    out: set[str] = set()
    for m in _WEEKDAY_WORDS.finditer(text):
        if m.group(1):
            out.add(next(d for d in _WEEKDAYS if d.startswith(m.group(1).lower()[:3])))
        else:
            out.update(_WEEKDAYS[:5] if m.group(2) else _WEEKDAYS[5:])
    return frozenset(out)


def content_words(text: str) -> list[str]:
    """Lowercase stemmed content words, for lexical overlap between a claim and a
    fact: "on-site installation" and "on site install" both give ["site", "install"]."""
    out = []
    for w in _WORD_RE.findall(_POSSESSIVE_RE.sub("", text.lower())):
        if w not in CONTENT_STOPWORDS:
            s = _stem(w)
            if s not in CONTENT_STOPWORDS:
                out.append(s)
    return out


def _context(toks: list[_Tok], lo: int, hi: int, width: int = 4) -> tuple[str, ...]:
    """Content words within `width` words (fillers not counted) either side of [lo, hi)."""
    words: list[str] = []
    for step, k in ((-1, lo - 1), (1, hi)):
        seen, side = 0, []
        while 0 <= k < len(toks) and seen < width and toks[k].text not in _SENT_END:
            if toks[k].kind == "w":
                side.append(toks[k].low)
                seen += toks[k].low not in _FILLERS
            k += step
        words += side[::-1] if step < 0 else side
    return tuple(dict.fromkeys(content_words(" ".join(w for w in words if w not in _NUMBER_START))))


def _bound_before(toks: list[_Tok], k: int) -> tuple[str, int]:
    """("max"|"min"|"", index of the bound's first token) for the words before token k."""
    words: list[tuple[str, int]] = []
    k -= 1
    while k >= 0 and len(words) < 3 and toks[k].kind == "w":
        if toks[k].low not in _FILLERS:
            words.insert(0, (toks[k].low, k))
        k -= 1
    for size in (3, 2, 1):
        if len(words) >= size and (b := _BOUND_BEFORE.get(tuple(w for w, _ in words[-size:]))):
            return b, words[-size][1]
    return "", -1


def _bound_after(toks: list[_Tok], k: int) -> tuple[str, int]:
    if k < len(toks) and toks[k].text == "+" and toks[k].att:
        return "min", k + 1
    words = tuple(t.low for t in toks[k:k + 3])
    for size in (3, 2, 1):
        b = _BOUND_AFTER.get(words[:size]) if len(words) >= size else None
        nxt = _tok(toks, k + size)
        if b and not (size == 1 and nxt is not None and nxt.kind == "n"):   # "$49, minimum 2 sites"
            return b, k + size
    return "", k


# words that qualify a unit of measure: what a rate is per is the unit they qualify
# ("per linear foot" = per foot), or that unit's area or volume ("square", "cubic")
_MEASURE_WORDS = {"linear": "", "lineal": "", "running": "", "square": "square", "cubic": "cubic"}


def _rate(toks: list[_Tok], j: int, money: bool = False) -> tuple[str, int]:
    """Rate after a quantity: "per month", "a year", "/mo", "monthly", "per site per month";
    after money also "a seat" ("12 euros a seat" is a price per seat)."""
    parts, n = [], len(toks)
    while j < n:
        w, nx = toks[j].low, toks[j + 1] if j + 1 < n else None
        if w in _PERIOD_ADVERBS:
            parts.append(_PERIOD_ADVERBS[w])
            j += 1
        elif nx is not None and w in ("per", "a", "an", "each", "every", "/") and nx.low in _DURATIONS:
            parts.append(_DURATIONS[nx.low])
            j += 2
        elif nx is not None and (w in ("per", "/") or (money and w in ("a", "an"))) and (
                nx.kind == "w" and nx.low not in _NOT_NOUN):
            unit = toks[j + 2] if j + 2 < n and toks[j + 2].kind == "w" else None
            if nx.low in _MEASURE_WORDS and unit is not None:
                # "per linear foot" is a rate per foot; "per square foot" per area, not per foot
                kind = _MEASURE_WORDS[nx.low]
                parts.append(f"{kind} {_singular(unit.low)}" if kind else _singular(unit.low))
                j += 3
                continue
            if nx.low in _LEAD_SKIP and unit is not None and unit.low not in _NOT_NOUN:
                parts.append(_singular(unit.low))          # "per extra guest" is per guest
                j += 3
                continue
            parts.append(_PERIOD_ADVERBS.get(nx.low) or _singular(nx.low))
            j += 2
        else:
            break
    return "/".join(parts), j


# common adjectives without an adjective's ending: "one deep clean", "one free month"
_ADJECTIVES = frozenset("""deep free extra full new big small large short long quick single private
 group basic standard first second third last next same other whole half double spare old young""".split())


_COST_VERBS = frozenset("costs cost is are runs run at be".split())


def _each_before(toks: list[_Tok], lo: int) -> str:
    """The thing a price is for, said before it: "each step beyond 5 costs $10",
    "every additional hour is $50" - a price per step, per hour (as "$10 a step")."""
    if lo < 2 or toks[lo - 1].low not in _COST_VERBS:
        return ""
    for k in range(lo - 2, max(-1, lo - 8), -1):
        t = toks[k]
        if t.kind != "w" and not t.low[:1].isdigit():
            return ""                         # a clause ends between them
        if t.low in ("each", "every", "per"):
            j = k + 1 + (k + 2 < lo and toks[k + 1].low in _LEAD_SKIP)
            if j < lo - 1 and toks[j].kind == "w" and toks[j].low not in _NOT_NOUN:
                return _DURATIONS.get(toks[j].low) or _singular(toks[j].low)
            return ""
    return ""


def rate_after(text: str, end: int) -> str:
    """The rate said right after a number read as money ("a night", "per lesson"), for a
    caller that knows the number is a price where the lexicon alone cannot: "159 a night"
    is a price at a campground and a count elsewhere."""
    return _rate(_tokenize(text[end:]), 0, money=True)[0]


def _noun(toks: list[_Tok], j: int, value: float) -> int:
    """Index of the noun a number counts ("two coffee shops" -> shops), or -1:
    up to three content words, the first plural one wins (singular: first non-adjective)."""
    run: list[int] = []
    k = j
    while k < len(toks) and len(run) < 3 and toks[k].kind == "w":
        w = toks[k].low
        if not run and k == j and (w in _LEAD_SKIP or (
                w.endswith("ed") and len(w) > 4 and k + 1 < len(toks) and toks[k + 1].kind == "w"
                and toks[k + 1].low not in _NOT_NOUN)):
            k += 1            # "5,000 finished square feet", "three unused visits": the noun is after
            continue
        if w in _NOT_NOUN or w.endswith("ly") or (w.endswith("ed") and len(w) > 4):
            break
        run.append(k)
        k += 1
    if not run:
        return -1
    if value != 1:
        return next((r for r in run if _singular(toks[r].low) != toks[r].low), run[0])
    first = toks[run[0]].low
    adj = first.endswith(("al", "ful", "ous", "ive", "ic", "able", "ible")) or first in _ADJECTIVES
    return run[1] if adj and len(run) > 1 else run[0]


def _fee_ahead(toks: list[_Tok], j: int) -> bool:
    """ "no setup fee", "zero hidden charges": a fee word within three content words."""
    for t in toks[j:j + 3]:
        if t.kind != "w" or t.low in CONTENT_STOPWORDS:
            return False
        if t.low in _FEE_WORDS:
            return True
    return False


def _make(toks: list[_Tok], kind: str, value: float, unit: str, lo: int, hi: int,
          per: str = "", bound: str = "", ctx_lo: int = -1) -> Quantity:
    """Quantity over tokens [lo, hi); context skips them and a bound phrase from ctx_lo."""
    ctx = _context(toks, min(lo, ctx_lo) if ctx_lo >= 0 else lo, hi)
    return Quantity(float(value), kind, unit, per, bound, toks[lo].start, toks[hi - 1].end, ctx)


def _deadline(toks: list[_Tok], i: int) -> str:
    """"max" for a date said as a deadline ("before March 31", "through the end of
    June"): two deadlines for one offer contradict each other whatever the month."""
    lo = max(0, i - 4)
    before = " ".join(t.low for t in toks[lo:i] if t.kind == "w") + " "
    return "max" if _DEADLINE.search(before) else ""


def year_day(q: Quantity) -> int:
    """A date as the day of the year (a leap year, so "February 29" exists)."""
    return _YEAR_DAY[q.unit] + int(q.value)


def _date_end(toks: list[_Tok], k: int) -> int:
    """Skip an optional ", 2024" after a date; returns the next token index."""
    y = k + (k < len(toks) and toks[k].text == ",")
    t = _tok(toks, y)
    return y + 1 if t is not None and t.kind == "n" and t.text.isdigit() and 1900 <= int(t.text) <= 2100 else k


def _is_day(num: _Num | None) -> TypeGuard[_Num]:
    return num is not None and not num.time and 1 <= num.value <= 31 and num.value == int(num.value)


def _unit_word(t: _Tok | None) -> bool:
    """A unit or plural noun follows, so "May 5 users" is not a date."""
    return t is not None and (t.text == "%" or t.low in _DURATIONS or t.low in _MONEY_WORDS or (
        t.kind == "w" and t.low not in _NOT_NOUN and _singular(t.low) != t.low))


def _at(toks: list[_Tok], i: int) -> tuple[list[Quantity], int]:
    """Quantities starting at token i, and the token index to continue from."""
    n, t = len(toks), toks[i]
    month = _month(t, strict=not (i and toks[i - 1].low in _DATE_BEFORE))   # "before may 15" is a date
    if month:                                   # "December 31", "Dec. the thirty-first"
        j = i + 1 + (i + 1 < n and toks[i + 1].text == ".")
        j += j < n and toks[j].low == "the"
        num = _number_at(toks, j, date=True) if j < n else None
        if _is_day(num) and (num.ordinal or not _unit_word(_tok(toks, num.end))):   # ("June 16th week")
            end = _date_end(toks, num.end)
            return [_make(toks, "date", num.value, month, i, end, bound=_deadline(toks, i))], end
        return [], i + 1
    if t.low == "end" and i + 2 < n and toks[i + 1].low == "of" and (month := _month(toks[i + 2], strict=False)):
        # "sign by the end of April": the month's last day
        return [_make(toks, "date", _MONTH_DAYS[month] - (month == "february"), month, i, i + 3,
                      bound=_deadline(toks, i))], i + 3
    num = _number_at(toks, i)
    if num is None:
        if t.low == "no" and _fee_ahead(toks, i + 1):   # "no setup fee": a price of zero
            return [_make(toks, "money", 0, "", i, i + 1)], i + 1
        return [], i + 1
    dim = _dimension(toks, num)
    if dim:
        return [], dim
    if num.value == 1 and num.end < len(toks) and toks[num.end].low in ("second", "sec", "moment", "minute") and (
            num.end + 1 >= len(toks) or toks[num.end + 1].kind == "p"):
        return [], num.end + 1                  # "one second", "give me a minute": a wait, not a term
    if num is None:
        return [], i + 1
    j, v = num.end, num.value
    of = j + (j < n and toks[j].low == "of")
    month = _month(_tok(toks, of), strict=of == j) if num.ordinal or of == j else ""
    if month and _is_day(num):                  # "31st of December", "31 December"
        end = _date_end(toks, of + 1)
        return [_make(toks, "date", v, month, i, end, bound=_deadline(toks, i))], end
    if num.ordinal or (num.words and _skip_word_number(toks, num)):
        if t.low == "half" and j + 1 < n and toks[j].low in ("a", "an") and toks[j + 1].low in _DURATIONS:
            return [_make(toks, "duration", 0.5, _DURATIONS[toks[j + 1].low], i, j + 2)], j + 2
        return [], j
    cents = _spoken_cents(toks, num)
    if cents:
        v, j = v + cents.value / 100, cents.end
    plus = j < n and toks[j].text == "+" and toks[j].att      # "25+ users"
    j += plus
    nxt, nxt2 = _tok(toks, j), _tok(toks, j + 1)
    if v == 24 and nxt is not None and ((num.words and nxt.low == "seven") or (
            nxt.text == "/" or (nxt.low == "x" and nxt.att)) and nxt2 is not None and nxt2.text == "7"):
        end = j + (1 if nxt.low == "seven" else 2)     # 24/7 = 24 hours a day, 7 days a week
        return [_make(toks, "duration", 24, "hour", i, end, per="day"),
                _make(toks, "duration", 7, "day", i, end, per="week")], end
    lo, kind, unit, last = i, "", "", j       # last: end of number + unit tokens
    prev = _tok(toks, i - 1)
    if prev is not None and (prev.text in _CURRENCY_SYM or prev.low in _CURRENCY_BEFORE):
        lo, kind, unit = i - 1, "money", _CURRENCY_SYM.get(prev.text) or _CURRENCY_BEFORE[prev.low]
        pre = _tok(toks, i - 2)
        if prev.text == "$" and prev.att and pre is not None and pre.low in currency.SYMBOL_PREFIXES:
            lo, unit = i - 2, currency.SYMBOL_PREFIXES[pre.low]          # "C$49", "US$49"
    elif num.time:
        kind = "bare"
    elif nxt is not None:
        w = nxt.low
        if w in _CURRENCY_ADJ and nxt2 is not None and nxt2.low in ("dollar", "dollars"):
            kind, unit, last = "money", _CURRENCY_ADJ[w], j + 2
        elif w in _MONEY_WORDS:
            kind, unit, last = "money", _MONEY_WORDS[w], j + 1
            v = v / 100 if w.startswith("cent") or w == "¢" else v * 1000 if w == "grand" else v
            cents = _number_at(toks, j + 2) if w.startswith("dollar") and nxt2 and nxt2.low == "and" else None
            if cents and cents.end < n and toks[cents.end].low in ("cent", "cents"):
                v, last = v + cents.value / 100, cents.end + 1      # "49 dollars and 99 cents"
        elif w in ("%", "percent", "pct") or (w == "per" and nxt2 is not None and nxt2.low == "cent"):
            kind, unit, last = "percent", "%", j + (2 if w == "per" else 1)
        elif (d := j + (w in _LEAD_SKIP)) < n and toks[d].low in _DURATIONS:
            kind, unit, last = "duration", _DURATIONS[toks[d].low], d + 1
    adv, k = _tok(toks, last), last + 1
    # (the noun may come after a name or an adjective: "3 monthly Unlimited memberships")
    while k < min(n - 1, last + 3) and toks[k].kind == "w" and toks[k].low not in _NOT_NOUN \
            and _singular(toks[k].low) == toks[k].low:
        k += 1
    noun = _tok(toks, k)
    if not kind and adv is not None and adv.low in _PERIOD_ADVERBS and noun is not None and noun.kind == "w" \
            and noun.low not in _NOT_NOUN and _singular(noun.low) != noun.low:
        # "3 monthly payments", "2 annual visits": a count of the noun, at that rate
        return [_make(toks, "count", v, _singular(noun.low), lo, k + 1, per=_PERIOD_ADVERBS[adv.low])], k + 1
    cents_written = not kind and re.fullmatch(r"\d+\.\d\d", toks[i].text) is not None
    per, after = _rate(toks, last, kind == "money" or cents_written)
    if kind == "money" and not per:
        per = _each_before(toks, lo)
    if not kind and per:
        kind = "money"                          # "forty-nine a month", "11.49 a serving": a price, currency unknown
    elif not kind and v == 0 and _fee_ahead(toks, j):
        kind = "money"                          # "zero setup fee"
    elif not kind:
        k = _noun(toks, j, v)
        kind = "count" if k >= 0 else "bare"
        if k >= 0:
            unit, last = _singular(toks[k].low), k + 1
            per, after = _rate(toks, last)
            if not per and last + 2 < n and toks[last].low == "of":
                # "10 GB of storage per user", "15 GB of mobile hotspot a month"
                for o in range(last + 1, min(n, last + 4)):
                    if toks[o].kind != "w" or toks[o].low in _NOT_NOUN:
                        break
                    if per := _rate(toks, o + 1)[0]:
                        break
    bound, b_lo = _bound_before(toks, lo)
    b_after, after = _bound_after(toks, after)
    bound = bound or ("min" if plus else b_after)
    return [_make(toks, kind, v, unit, lo, after, per, bound, b_lo)], after


# "45 or more days": the bound said between the number and its unit, read as "45 days or more"
# (the same characters in another order, so every position stays where it was)
_BOUND_INSIDE = re.compile(r"\b(\d[\d,.]*) (or (?:more|fewer|less|longer|shorter)) (minutes?|hours?|days?|nights?|"
                           r"weeks?|months?|years?)\b", re.I)


def extract_quantities(text: str) -> list[Quantity]:
    """Every quantity in `text`, in order, from digits or words. A range ("3-5 days",
    "3 to 5 days", "between 2 and 4 users") gives the bare end the other end's unit."""
    moved = [(m.start(), m.end()) for m in _BOUND_INSIDE.finditer(text)]
    if moved:
        found = _extract(_BOUND_INSIDE.sub(r"\1 \3 \2", text))
        found = [replace(q, end=next((b for a, b in moved if a == q.start), q.end)) for q in found]
    else:
        found = _extract(text)
    return [q for q in found if not labels_item(text, q)]


# the nouns a number names an item after, rather than counting anything: "Level 2", "tier 3", "Zone 1"
ITEM_NOUNS = "level|tier|zone|stage|phase|step|band|option"
ITEM_LABEL = re.compile(rf"\b(?:{ITEM_NOUNS})\s+$", re.I)


def labels_item(text: str, q: Quantity) -> bool:
    """"Level 2 is $1,200": the 2 is the item's name, not an amount to check."""
    return q.kind in ("bare", "count") and q.value == int(q.value) and 0 < q.value <= 20 \
        and bool(ITEM_LABEL.search(text[max(0, q.start - 12):q.start]))


def _extract(text: str) -> list[Quantity]:
    toks, found, i = _tokenize(text), [], 0
    spans: list[tuple[int, int]] = []           # first/last token of each quantity
    while i < len(toks):
        got, nxt = _at(toks, i)
        for q in got:
            found.append(q)
            spans.append((i, nxt))
        i = max(nxt, i + 1)
    for a in range(len(found) - 1):
        q1, q2, k = found[a], found[a + 1], spans[a][1]
        gap = [t.low for t in toks[k:spans[a + 1][0]] if t.text not in _CURRENCY_SYM]
        if q1.kind == q2.kind == "money" and q1.per and not q2.per and 3 <= len(gap) <= 6 \
                and gap[0] == "for" and gap[-1] in ("and", "or") and all(w.isalpha() for w in gap):
            found[a + 1] = replace(q2, per=q1.per)     # "$10 for an upright and $18 for a grand" (a step)
            continue
        between = spans[a][0] > 0 and toks[spans[a][0] - 1].low == "between" and gap == ["and"]
        if not (gap in (["to"], ["or"], ["-"], ["–"]) or between or (not gap and k < len(toks) and toks[k].hy)):
            continue
        if q1.kind == "bare" and q2.kind != "bare":
            q1 = replace(q1, kind=q2.kind, unit=q2.unit, per=q2.per)
        elif q2.kind == "bare" and q1.kind == "money":
            q2 = replace(q2, kind="money", unit=q1.unit, per=q1.per)
        if q1.kind == q2.kind == "money":            # "$49 to 99 a month"
            q1, q2 = replace(q1, per=q1.per or q2.per), replace(q2, unit=q2.unit or q1.unit)
        if q1.kind == q2.kind != "bare" and gap != ["or"]:
            q1, q2 = replace(q1, bound=q1.bound or "min"), replace(q2, bound=q2.bound or "max")
        found[a], found[a + 1] = q1, q2
    return found


_LISTED = re.compile(r"\s*(?:and|or)\s+(?:(?:a|an|the|each|every)\s+)?[a-z][\w-]*(?:\s+[a-z][\w-]*){0,2}"
                     r"\s+(?:is|are|costs?|runs?)\s+$", re.I)


# ... and items named by number, listed with commas: "Level 1 is $600, Level 2 is $1,200, Level 3 is
# $1,900 per month"
_LABEL_IS = rf"({ITEM_NOUNS})\s+\d{{1,2}}\s+(?:is|are|costs?|runs?)\s+$"
_LISTED_LABEL = re.compile(r"\s*,?\s*(?:(?:and|or)\s+)?" + _LABEL_IS, re.I)
_LABEL_BEFORE = re.compile(r"\b" + _LABEL_IS, re.I)


def listed_periods(text: str, qs: list[Quantity]) -> list[Quantity]:
    """A KB line that lists prices in parallel and says the period once, at the end
    ("rental shoes are $6 and a harness is $4 per visit"): every price in the list is
    per visit, so a rep's "$6 a visit" is the shoes' price, not against the $4. Only
    for KB text: a rep's "setup is $99 and the plan is $29 a month" is not a list."""
    out = list(qs)
    for a in range(len(out) - 2, -1, -1):
        q1, q2 = out[a], out[a + 1]
        if q1.kind == q2.kind == "money" and not q1.per and q2.per and (
                _LISTED.fullmatch(text[q1.end:q2.start]) or _same_label_list(text, q1, q2)):
            out[a] = replace(q1, per=q2.per)
    return out


def _same_label_list(text: str, q1: Quantity, q2: Quantity) -> bool:
    """Two prices of items named alike by number ("Level 1 is $600, Level 2 is $1,200")."""
    m = _LISTED_LABEL.fullmatch(text[q1.end:q2.start])
    before = _LABEL_BEFORE.search(text[max(0, q1.start - 30):q1.start])
    return bool(m and before and m.group(1).lower() == before.group(1).lower())


# ---------------------------------------------------------------- comparison
def _unit_ok(a: str, b: str) -> bool:
    return not a or not b or a == b


def _per_ok(a: Quantity, b: Quantity) -> bool:
    """Rates agree unless both name different non-period things ("per site" vs "per user");
    different periods are converted instead (month vs year)."""
    na = set(a.per.split("/")) - set(_DAYS) - {""}
    nb = set(b.per.split("/")) - set(_DAYS) - {""}
    return not (na and nb and na != nb)


def days(q: Quantity) -> float:
    """A duration in days (month = 30.44, quarter = 91.31, year = 365.25)."""
    return q.value * _DAYS.get(q.unit, 1.0)


def _period(q: Quantity) -> str:
    return next((p for p in q.per.split("/") if p in _DAYS), "")


def _rounded(said: float, exact: float) -> bool:
    """"Forty-five a month" for $44.99: cents rounded away in speech."""
    return said == round(said) and exact != round(exact) and abs(said - exact) < 0.5


def same_amount(a: float, b: float) -> bool:
    """The same number, to the cent as speech rounds it: within half a cent
    (a worked-out $4.495 is said "$4.50"), or for amounts under a dollar
    (13.4 cents a kWh) within half a percent: 13.9 cents is not 13.4 cents.
    Every check that asks "is this the same amount" asks it here."""
    top = max(abs(a), abs(b))
    return abs(a - b) <= (0.005 if top >= 1 else 0.005 * top) + 1e-9


def about_same(a: float, b: float, share: float = 0.01) -> bool:
    """Within `share` of b, taken of at least a dollar (amounts under a dollar
    as what they are): a total multiplied out from a per-user price is
    rounded when said ("about six hundred a month")."""
    scale = abs(b) if 0 < abs(b) < 1 else max(1.0, abs(b))
    return abs(a - b) < share * scale


def same_quantity(a: Quantity, b: Quantity) -> bool:
    """Do a and b state the same amount? Durations convert through days (month = 30.44,
    year = 365.25) and match within 2%, so 24 months == 2 years but 12 weeks != 3
    months. Other rates must agree when both are given. Money needs compatible currencies ("" matches any) and rates: $49/month
    equals $588/year (within 1%), and a whole amount equals the same amount with cents
    rounded away ($45 for $44.99). Bounds are ignored: "up to 25" states 25."""
    if a.kind != b.kind:
        return {a.kind, b.kind} in ({"bare", "money"}, {"bare", "count"}) and abs(a.value - b.value) < 1e-9
    if a.kind != "money" and a.per and b.per and a.per != b.per:
        return False                            # 2 visits a year != 2 visits a month
    if a.kind == "duration":
        x, y = a.value * _DAYS[a.unit], b.value * _DAYS[b.unit]
        return abs(x - y) <= 0.02 * max(abs(x), abs(y)) or x == y
    if a.kind == "money":
        if not (_unit_ok(a.unit, b.unit) and _per_ok(a, b)):
            return False
        pa, pb = _period(a), _period(b)
        if pa and pb and pa != pb:
            x, y = a.value / _DAYS[pa], b.value / _DAYS[pb]
            return abs(x - y) <= 0.01 * max(abs(x), abs(y))
        return same_amount(a.value, b.value) or _rounded(a.value, b.value) \
            or _rounded(b.value, a.value)
    if a.kind == "date" and a.unit in _YEAR_DAY and b.unit in _YEAR_DAY:
        return abs(year_day(a) - year_day(b)) <= 1      # "before April 1" is "by March 31"
    if a.kind in ("count", "date") and not _unit_ok(a.unit, b.unit):
        return False
    return abs(a.value - b.value) < 1e-9


def comparable(a: Quantity, b: Quantity) -> bool:
    """Would a different value between a and b be a contradiction? Only when both
    measure the same sort of thing: money in compatible currencies (prices per month
    and per year are both prices; "per site" vs "per user" are not), percents, dates
    of one month, counts of one noun, durations with the same rate ("24 hours a day"
    is coverage, "within 4 hours" a length) and similar scale (hours or minutes meet
    days or longer only when they add up to a day or more: "48 hours" vs "3 days" is a
    contradiction, "4-hour response" vs "30-day trial" is two different terms). A bare number may be a price said without currency, or a count said
    without its noun, so it is comparable to a rated price or a count; two bare
    numbers say too little to contradict each other."""
    if a.kind != b.kind:
        kinds = {a.kind, b.kind}
        if kinds == {"bare", "count"}:
            return True
        return kinds == {"bare", "money"} and bool((a if a.kind == "money" else b).per)
    if a.kind == "bare":
        return False
    if a.kind == "money":
        return _unit_ok(a.unit, b.unit) and _per_ok(a, b)
    if a.kind == "duration":
        if a.per != b.per:
            return False
        sub_a, sub_b = _DAYS[a.unit] < 1, _DAYS[b.unit] < 1
        if sub_a == sub_b:
            return True
        short = a if sub_a else b
        return short.value * _DAYS[short.unit] >= 1
    if a.kind == "date":
        return a.unit == b.unit or a.bound == b.bound == "max"    # two deadlines, or one month's days
    return _unit_ok(a.unit, b.unit)
