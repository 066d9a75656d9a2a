"""Personal data out of what is stored, shown, sent and logged.

`redact` takes payment cards, card security codes and expiry dates, US Social
Security numbers and bank account numbers out of what someone said, leaving a
tag (`[card number]`) in their place. It runs where speech becomes text, so
the original is never written anywhere.

Why it is built this way: this product checks the prices reps say, and a
price taken for a card number breaks that check. So a digit string is only
redacted with evidence - a card number passes the Luhn check (or follows
"card number"), a short code or date follows its own words ("security code",
"expires") after a card, an SSN has the 3-2-4 dashes or follows "social
security" - and never when money or a unit is said with it ("$", "dollars",
"a month"). The digits are read as Whisper writes them: "4111 1111 ...",
"4111-1111-...", "four one one one, one one ...", "oh" for 0, "double five",
"twenty seven", or mixtures of these. `previous` (the same speaker's last
utterance) carries context over, so a card read out in two breaths is caught.

`mask_phone` is for log lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from intervene.vocab import REDACT_ALL, Redact

_DIGIT = re.compile(r"\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LONG_NUMBER = re.compile(r"\+?\d(?:[\s().-]{0,2}\d){6,}")      # 7+ digits: a phone (or a long id)


def mask_phone(value: object) -> str:
    """A phone number (or a dialplan argument holding one) for a log line:
    every digit but the last two replaced, so a line still tells two leads
    apart without holding the number."""
    s = "" if value is None else str(value)
    digits = [m.start() for m in _DIGIT.finditer(s)]
    keep = set(digits[-2:])
    return "".join("*" if i in digits and i not in keep else c for i, c in enumerate(s))


def mask_contacts(text: Optional[str]) -> str:
    """Someone else's message (a CRM's error reply, which may echo what it
    was sent) made fit for a log line or a screen: one line, anything that
    looks like an email or a phone number masked."""
    if not text:
        return ""
    return _LONG_NUMBER.sub("[number]", _EMAIL.sub("[email]", " ".join(str(text).split())))


# ----------------------------------------------------------------- reading digits

_TOKEN = re.compile(r"""
   (?P<tag>\[(?:card\ number|security\ code|expiry\ date|ssn|bank\ account)\])
  |(?P<qty>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|\d+\.\d+|\d+[A-Za-z]\w*)   # 1,000  49.99  31st  4k
  |(?P<dig>\d+)
  |(?P<word>[A-Za-z]+(?:['’][A-Za-z]+)*)
  |(?P<punct>[^\sA-Za-z\d])
""", re.X)

_UNITS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
          "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_TEENS = {"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14", "fifteen": "15",
          "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19"}
_TENS = {"twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7",
         "eighty": "8", "ninety": "9"}
_TIMES = {"double": 2, "triple": 3}
_SOFT_PUNCT = {",", "-", "–", "—", ".", "/"}
_SOFT_WORDS = {"dash", "hyphen", "slash", "uh", "um", "umm", "uhm", "er", "erm", "ah", "hmm"}
_SENTENCE_END = {".", "?", "!"}
_CURRENCY = {"$", "£", "€"}
# said right after a number, these make it an amount or a quantity, never personal data
_AMOUNT_WORDS = {"dollars", "dollar", "bucks", "buck", "cents", "cent", "percent", "pounds", "pound", "euros",
                 "euro", "grand", "k", "per", "months", "month", "years", "year", "yr", "yrs", "days", "day",
                 "weeks", "week", "hours", "hour", "minutes", "minute", "seconds", "users", "user", "seats",
                 "seat", "licenses", "licences", "lines", "gigs", "gb", "mb", "tb", "mbps", "gbps", "times",
                 "hundred", "thousand", "million", "billion", "point"}
_PER_WORDS = {"month", "year", "week", "day", "seat", "user", "line", "license", "head"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
           "nov", "dec"}


@dataclass(frozen=True)
class _Tok:
    kind: str            # tag | qty | dig | word | punct
    text: str
    low: str
    start: int
    end: int


@dataclass(frozen=True)
class _Piece:
    digits: str
    start: int
    end: int
    first: int           # token index of its first token
    last: int            # ... and of its last
    sep: str             # what came before it inside a run: "" | "dash" | "other"


def _tokens(text: str) -> list[_Tok]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "punct"
        out.append(_Tok(kind, m.group(), m.group().lower(), m.start(), m.end()))
    return out


def _joined(text: str, a: _Tok, b: _Tok) -> bool:
    """b follows a with only blanks or one hyphen between ("twenty-seven", "twenty seven")."""
    return text[a.end:b.start].strip() in ("", "-")


def _piece(text: str, toks: list[_Tok], i: int) -> Optional[tuple[str, int]]:
    """The digits spoken or written at token i and the index after them, or None."""
    t = toks[i]
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    if t.kind == "dig":
        return t.text, i + 1
    if t.kind != "word":
        return None
    if t.low in _UNITS:
        return _UNITS[t.low], i + 1
    if t.low in _TEENS:
        return _TEENS[t.low], i + 1
    if t.low in _TENS:
        if nxt is not None and nxt.low in _UNITS and _UNITS[nxt.low] != "0" and _joined(text, t, nxt):
            return _TENS[t.low] + _UNITS[nxt.low], i + 2
        if nxt is not None and nxt.kind == "punct" and nxt.text == "-" and i + 2 < len(toks) \
                and toks[i + 2].low in _UNITS and _UNITS[toks[i + 2].low] != "0" and _joined(text, t, toks[i + 2]):
            return _TENS[t.low] + _UNITS[toks[i + 2].low], i + 3
        return _TENS[t.low] + "0", i + 1
    if t.low in _TIMES and nxt is not None:
        if nxt.low in _UNITS:
            return _UNITS[nxt.low] * _TIMES[t.low], i + 2
        if nxt.kind == "dig" and len(nxt.text) == 1:
            return nxt.text * _TIMES[t.low], i + 2
    return None


def _soft(t: _Tok) -> bool:
    return (t.kind == "punct" and t.text in _SOFT_PUNCT) or (t.kind == "word" and t.low in _SOFT_WORDS)


def _runs(text: str, toks: list[_Tok]) -> list[list[_Piece]]:
    """Maximal stretches of digits with only separators between them (", - dash uh")."""
    runs: list[list[_Piece]] = []
    i = 0
    while i < len(toks):
        got = _piece(text, toks, i)
        if got is None:
            i += 1
            continue
        run = [_Piece(got[0], toks[i].start, toks[got[1] - 1].end, i, got[1] - 1, "")]
        j = got[1]
        while True:
            k, sep = j, ""
            while k < len(toks) and _soft(toks[k]):
                if toks[k].text == "-" or toks[k].low in ("dash", "hyphen"):
                    sep = "dash"
                elif not sep:
                    sep = "other"
                k += 1
            nxt = _piece(text, toks, k) if k < len(toks) else None
            if nxt is None:
                break
            run.append(_Piece(nxt[0], toks[k].start, toks[nxt[1] - 1].end, k, nxt[1] - 1, sep))
            j = nxt[1]
        runs.append(run)
        i = j
    return runs


# ----------------------------------------------------------------- context words

_CONTEXT: dict[tuple[str, ...], str] = {}
for _words, _kind in (
        (("card", "number"), "card#"), (("card", "no"), "card#"), (("card", "num"), "card#"),
        (("card", "numbers"), "card#"), (("number", "on", "the", "card"), "card#"),
        (("number", "on", "my", "card"), "card#"), (("number", "on", "your", "card"), "card#"),
        (("card", "is"), "card#"), (("card's",), "card#"), (("long", "number"), "card#"),
        (("card",), "card"), (("visa",), "card"), (("mastercard",), "card"), (("master", "card"), "card"),
        (("amex",), "card"), (("american", "express"), "card"), (("discover",), "card"),
        (("cvv",), "cvv"), (("cvc",), "cvv"), (("cvv2",), "cvv"), (("cv2",), "cvv"), (("csc",), "cvv"),
        (("c", "v", "v"), "cvv"), (("c", "v", "c"), "cvv"), (("security", "code"), "cvv"),
        (("verification", "code"), "cvv"), (("card", "code"), "cvv"), (("security", "number"), "cvv"),
        (("code",), "code"), (("back",), "code"), (("digits",), "code"),
        (("expires",), "exp"), (("expiry",), "exp"), (("expiration",), "exp"), (("exp",), "exp"),
        (("expire",), "exp"), (("expiring",), "exp"), (("valid", "thru"), "exp"), (("valid", "through"), "exp"),
        (("valid", "until"), "exp"), (("good", "thru"), "exp"), (("good", "through"), "exp"),
        (("social", "security"), "ssn"), (("ssn",), "ssn"), (("s", "s", "n"), "ssn"), (("social",), "ssn"),
        (("socials",), "ssn"), (("last", "four"), "last4"), (("last", "4"), "last4"),
        (("account", "number"), "bank"), (("account", "no"), "bank"), (("account", "num"), "bank"),
        (("acct",), "bank"), (("routing",), "bank"), (("aba",), "bank"), (("sort", "code"), "bank"),
        (("iban",), "bank"), (("bank", "account"), "bank"), (("checking", "account"), "bank"),
        (("savings", "account"), "bank"), (("account", "is"), "bank"), (("bsb",), "bank")):
    _CONTEXT[_words] = _kind
_LONGEST = max(len(w) for w in _CONTEXT)
_TAG_CONTEXT = {"[card number]": "card#", "[bank account]": "bank", "[ssn]": "ssn"}
_TOPICS = {"card#", "cvv", "exp", "ssn", "bank"}
WINDOW = 6          # words between a context word and its digits, at most


@dataclass
class _Context:
    kind: str
    end: int             # token index of its last word
    used: bool = False


def _contexts(toks: list[_Tok]) -> list[_Context]:
    out: list[_Context] = []
    words = [(i, t.low) for i, t in enumerate(toks) if t.kind in ("word", "tag") or t.text == "4"]
    n = 0
    while n < len(words):
        i, low = words[n]
        if toks[i].kind == "tag":
            if low in _TAG_CONTEXT:
                out.append(_Context(_TAG_CONTEXT[low], i))
            n += 1
            continue
        for size in range(min(_LONGEST, len(words) - n), 0, -1):
            seq = tuple(w for _, w in words[n:n + size])
            if seq in _CONTEXT and _adjacent(toks, [j for j, _ in words[n:n + size]]):
                out.append(_Context(_CONTEXT[seq], words[n + size - 1][0]))
                n += size
                break
        else:
            n += 1
    return out


def _adjacent(toks: list[_Tok], idx: list[int]) -> bool:
    """A phrase's words follow each other (at most a hyphen or an apostrophe between)."""
    return all(b - a == 1 or (b - a == 2 and toks[a + 1].text in "-'’") for a, b in zip(idx, idx[1:]))


# ----------------------------------------------------------------- the checks

def luhn(digits: str) -> bool:
    """The check digit every payment card number carries."""
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch)
        if k % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_within(run: list[_Piece]) -> Optional[tuple[int, int]]:
    """The longest stretch of whole pieces that is a card number by itself:
    13-19 digits, a card's first digit (2-6), the Luhn check."""
    best: Optional[tuple[int, int]] = None
    for i in range(len(run)):
        digits = ""
        for j in range(i, len(run)):
            digits += run[j].digits
            if len(digits) > 19:
                break
            if len(digits) >= 13 and digits[0] in "23456" and luhn(digits):
                if best is None or (j - i) > (best[1] - best[0]):
                    best = (i, j + 1)
    return best


def _ssn_dashed(run: list[_Piece]) -> bool:
    """123-45-6789 (or said with "dash"): three groups of 3, 2 and 4 digits,
    a number the SSA could have issued."""
    groups = [""]
    for p in run:
        if p.sep == "dash":
            groups.append("")
        elif p.sep == "other":
            return False
        groups[-1] += p.digits
    if [len(g) for g in groups] != [3, 2, 4]:
        return False
    area, group, serial = groups
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _expiry(digits: str) -> bool:
    """MMYY, MYY, MMYYYY, MYYYY: a month, then a year."""
    for m in (1, 2):
        month, year = digits[:m], digits[m:]
        if month and month.isdigit() and 1 <= int(month) <= 12 and (m == 2 or month != "0") \
                and (len(year) == 2 or (len(year) == 4 and year.startswith("20"))):
            return True
    return False


# ----------------------------------------------------------------- redact

@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: Redact


class _Scan:
    """One pass over a text: which runs of digits are which kind of data."""

    def __init__(self, text: str, kinds: frozenset[Redact]) -> None:
        self.text = text
        self.kinds = kinds
        self.toks = _tokens(text)
        self.contexts = _contexts(self.toks)
        self.spans: list[_Span] = []
        # token index of the first card number (or its security code or expiry), said or tagged
        self.card_at = next((i for i, t in enumerate(self.toks) if t.kind == "tag" and t.low in (
            "[card number]", "[security code]", "[expiry date]")), len(self.toks))

    def run(self) -> list[_Span]:
        for run in _runs(self.text, self.toks):
            self._classify(run)
        return self.spans

    def _card_before(self, tok: int) -> bool:
        return self.card_at < tok

    def _amount(self, run: list[_Piece]) -> bool:
        """Money or a quantity: "$49", "4999 a month", "24 months"."""
        first, last = run[0].first, run[-1].last
        if first > 0 and self.toks[first - 1].text in _CURRENCY:
            return True
        after = self.toks[last + 1:last + 3]
        if after and (after[0].text == "%" or after[0].low in _AMOUNT_WORDS):
            return True
        return len(after) == 2 and after[0].low in ("a", "an", "per", "each") and after[1].low.rstrip("s") in _PER_WORDS

    def _near(self, run: list[_Piece]) -> list[_Context]:
        """The unused context words before this run, nearest first, within WINDOW words."""
        start = run[0].first
        out = []
        for c in reversed(self.contexts):
            if c.used or c.end >= start:
                continue
            between = self.toks[c.end + 1:start]
            if sum(1 for t in between if t.kind in ("word", "dig", "qty")) > WINDOW:
                break
            out.append(c)
        return out

    def _same_sentence(self, c: _Context, run: list[_Piece]) -> bool:
        return not any(t.text in _SENTENCE_END for t in self.toks[c.end + 1:run[0].first])

    def _add(self, run: list[_Piece], kind: Redact, start: Optional[int] = None) -> None:
        self.spans.append(_Span(run[0].start if start is None else start, run[-1].end, kind))
        if kind in (Redact.CARD, Redact.SECURITY_CODE, Redact.EXPIRY):
            self.card_at = min(self.card_at, run[0].first)

    def _classify(self, run: list[_Piece]) -> None:
        if not run or self._amount(run):
            return
        digits = "".join(p.digits for p in run)
        n = len(digits)
        near = self._near(run)
        kinds = {c.kind for c in near}
        for c in near:
            kind = self._by_context(c, run, digits, kinds)
            if kind is not None:
                c.used = True
                start = self._month_before(run) if kind is Redact.EXPIRY else None
                if kind is Redact.CARD and n > 19:
                    found = _card_within(run)
                    if found:
                        self._split(run, found, kind)
                        return
                self._add(run, kind, start)
                return
            if c.kind in _TOPICS:           # the nearest topic decides: "card ... social is N" is not a card
                break
        if Redact.SSN in self.kinds and _ssn_dashed(run):
            self._add(run, Redact.SSN)
            return
        if Redact.CARD in self.kinds:
            found = _card_within(run)
            if found:
                self._split(run, found, Redact.CARD)
                return

    def _split(self, run: list[_Piece], found: tuple[int, int], kind: Redact) -> None:
        i, j = found
        self._add(run[i:j], kind)
        self._classify(run[:i])
        self._classify(run[j:])

    def _by_context(self, c: _Context, run: list[_Piece], digits: str, kinds: set[str]) -> Optional[Redact]:
        n = len(digits)
        same = self._same_sentence(c, run)
        card = self._card_before(run[0].first)
        k = c.kind
        if k == "card#" and Redact.CARD in self.kinds and (12 <= n or (n >= 4 and same)):
            return Redact.CARD
        if k == "card" and Redact.CARD in self.kinds and 12 <= n <= 19:
            return Redact.CARD
        if k == "cvv" and Redact.SECURITY_CODE in self.kinds and n in (3, 4) and same:
            return Redact.SECURITY_CODE
        if k == "code" and Redact.SECURITY_CODE in self.kinds and n in (3, 4) and same and card:
            return Redact.SECURITY_CODE
        if k == "exp" and Redact.EXPIRY in self.kinds and card and same:
            if _expiry(digits) or (self._month_before(run) is not None and n in (2, 4)):
                return Redact.EXPIRY
        if k == "ssn" and Redact.SSN in self.kinds and (n == 9 or (n == 4 and "last4" in kinds and same)):
            return Redact.SSN
        if k == "last4" and Redact.SSN in self.kinds and n == 4 and "ssn" in kinds and same:
            return Redact.SSN
        if k == "bank" and Redact.BANK_ACCOUNT in self.kinds and n >= 6 and (n >= 12 or same):
            return Redact.BANK_ACCOUNT
        return None

    def _month_before(self, run: list[_Piece]) -> Optional[int]:
        """Where "April" starts in "expires April twenty seven" (None: no month name there)."""
        i = run[0].first - 1
        while i >= 0 and _soft(self.toks[i]):
            i -= 1
        if i >= 0 and self.toks[i].low in _MONTHS:
            return self.toks[i].start
        return None


# an IBAN as written: country, check digits, then groups; the mod-97 check decides
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")


def _iban_ok(s: str) -> bool:
    s = s.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _ibans(text: str) -> list[_Span]:
    return [_Span(m.start(), m.end(), Redact.BANK_ACCOUNT) for m in _IBAN.finditer(text) if _iban_ok(m.group())]


def spans(text: str, kinds: frozenset[Redact] = REDACT_ALL, previous: str = "") -> list[tuple[int, int, Redact]]:
    """Where in `text` the personal data is: (start, end, kind), in order, not overlapping."""
    if not kinds or not any(ch.isdigit() or ch.isalpha() for ch in text):
        return []
    joined = f"{previous}\n{text}" if previous else text
    offset = len(joined) - len(text)
    found = _ibans(joined) if Redact.BANK_ACCOUNT in kinds else []
    scan = _Scan(joined, kinds)
    found += scan.run()
    merged: list[list[int]] = []          # [start, end, kind index] in `joined`
    order = list(Redact)
    for s in sorted(found, key=lambda s: (s.start, -s.end)):
        start = max(s.start, offset)
        while start < s.end and joined[start].isspace():
            start += 1
        if start >= s.end:
            continue                          # all of it in `previous`
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], s.end)
            continue
        merged.append([start, s.end, order.index(s.kind)])
    return [(a - offset, b - offset, order[k]) for a, b, k in merged]


def redact(text: str, kinds: frozenset[Redact] = REDACT_ALL, previous: str = "") -> str:
    """`text` with every card number, security code and expiry date after a
    card, SSN and bank account number replaced by its tag ([card number]).
    `previous` is the same speaker's utterance before this one (as stored:
    redacted already is fine): a number begun there and finished here is
    caught. Pure; the same input always gives the same output."""
    out = text
    for start, end, kind in reversed(spans(text, kinds, previous)):
        out = out[:start] + kind.tag + out[end:]
    return out


def redact_lines(texts: Iterable[tuple[str, str]], kinds: frozenset[Redact] = REDACT_ALL) -> list[str]:
    """A whole transcript's texts, each with the previous line of its speaker
    as context: [(speaker, text)] -> the texts, redacted."""
    last: dict[str, str] = {}
    out = []
    for speaker, text in texts:
        red = redact(text, kinds, last.get(speaker, ""))
        last[speaker] = red
        out.append(red)
    return out
