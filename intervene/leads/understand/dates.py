"""When a lead wants to start: a timeline as an inclusive date range.

Leads answer "when?" with anything from "ASAP" to "early Q3 or so" to "no
rush". `periods` finds every stretch of calendar named; this module picks the
first, joins "March or April" into one range, and applies its bound word ("by
March" runs from today, "before March" ends in February). Pure functions of
(text, now, zone): the dialogue replays a call deterministically and tests pin
`now`.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Optional
from zoneinfo import ZoneInfo

from intervene.leads.understand.periods import WEEKDAYS, Period, periods
from intervene.leads.understand.spoken import prep
from intervene.nlp.lexicon import MONTHS

__all__ = ["Timeline", "parse_timeline", "describe_timeline"]


@dataclass(frozen=True)
class Timeline:
    """When the lead wants to start, as an inclusive date range (ISO strings)
    relative to the call. start/end are None when the lead said something
    about timing without a date ("no rush", "whenever")."""
    start: Optional[str]
    end: Optional[str]
    words: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _today(now: float, tz: str) -> date:
    return datetime.fromtimestamp(now, ZoneInfo(tz)).date()


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
    t = prep(text)
    today = _today(now, tz)
    found = sorted(periods(t, today, strict), key=lambda f: (f[0], -(f[1] - f[0])))
    # drop periods nested in an earlier, longer one ("next week" inside "by next week")
    kept: list[Period] = []
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


_PROPER = re.compile(r"\b(" + "|".join(list(MONTHS) + list(WEEKDAYS) + ["christmas"]) + r")\b")


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
