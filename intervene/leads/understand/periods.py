"""Every stretch of calendar a lead's words name: "in 3 weeks", "early March", "Q3", "after Christmas".

One table of rows, each an English pattern and what it means as a first and
last day relative to today. `periods` tries the rows in order, over the text
already put in digits (`spoken.prep`), and keeps every match: choosing among
overlapping readings ("next week" inside "by next week") is the timeline's
job. Equal matches keep the table's order, so the order of the rows is part
of the meaning.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Optional

from intervene.leads.understand.spoken import qty
from intervene.nlp.lexicon import MONTHS

__all__ = ["WEEKDAYS", "Period", "periods"]

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
WEEKDAYS = {d.lower(): k for k, d in enumerate(calendar.day_name)}
_UNIT_RE = r"(day|week|fortnight|month|year)s?"
_QTY_RE = r"(\d+(?:\.\d+)?|a couple of|a couple|couple of|a few|few|several|an|a|one)"
_SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}
_ORD = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
        "last": 4, "final": 4}
_PART_RE = r"(?:(early|mid|middle of|late|end of|the end of|beginning of|the beginning of|start of|" \
           r"the start of|the middle of|the tail end of)\s*-?\s*(?:the\s+)?)?"
_YEAR_RE = r"(?:\s*,?\s*(?:of\s+)?(next year|this year|(?:19|20)\d\d))?"
_BOUND_RE = r"(?:(by|before|until|till|no later than|not later than|prior to|after|sometime after|" \
            r"within|in|around|about|for|on|this|over|during)\s+(?:the\s+)?)?"

Period = tuple[int, int, date, date, str]
"""(start char, end char, first day, last day, bound word such as "by" or "within", or "")."""


# -------------------------------------------------------------- calendar sums
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


def _norm_part(p: Optional[str]) -> str:
    if not p:
        return ""
    p = p.replace("the ", "").replace(" of", "").strip()
    return {"middle": "mid", "tail end": "end"}.get(p, p)


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


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class _Said:
    """What a row's meaning may look at besides its own match."""
    text: str
    today: date
    strict: bool            # said in passing, not as the answer to "when?"

    @property
    def sunday(self) -> date:
        return self.today + timedelta(days=6 - self.today.weekday())


_Span = Optional[tuple[date, date, Optional[str]]]      # first day, last day, bound word; None: not a period
_Meaning = Callable[[re.Match[str], _Said], _Span]
_ROWS: list[tuple[re.Pattern[str], _Meaning]] = []


def _row(pattern: str) -> Callable[[_Meaning], _Meaning]:
    """Append (pattern, the function below it) to the table, in source order."""
    def add(meaning: _Meaning) -> _Meaning:
        _ROWS.append((re.compile(pattern), meaning))
        return meaning
    return add


@_row(r"\b(?:between|from)?\s*(\d+(?:\.\d+)?|a|one)\s*(?:to|-|–|or|and)\s*(\d+(?:\.\d+)?)\s*" + _UNIT_RE +
      r"(?:\s+from now)?")
def _range(m: re.Match[str], s: _Said) -> _Span:
    """"3 to 5 weeks", "between 2 and 4 months from now"."""
    q1, q2, unit = qty(m.group(1)), qty(m.group(2)), m.group(3)
    return _add(s.today, q1, unit), _add(s.today, q2, unit), ""


@_row(r"\b(?:in|within|over)?\s*(?:the next\s+)?" + _QTY_RE + r"\s+" + _UNIT_RE + r"\s+or\s+(?:so|two|2|three|3)\b")
def _or_so(m: re.Match[str], s: _Said) -> _Span:
    """"a month or so", "a week or two"."""
    unit = m.group(2)
    q = qty(m.group(1))
    if m.group(0).endswith("so"):
        return _add(s.today, q * 0.75, unit), _add(s.today, q * 1.25, unit), ""
    q2 = float(re.sub(r"two", "2", re.sub(r"three", "3", m.group(0).split()[-1])))
    return _add(s.today, q, unit), _add(s.today, q2, unit), ""


@_row(r"\b(within|in the next|over the next|the next|next|in the coming|the coming|in under|in less than|"
      r"less than|under|before|by)\s+" + _QTY_RE + r"\s+" + _UNIT_RE)
def _within(m: re.Match[str], s: _Said) -> _Span:
    return s.today, _add(s.today, qty(m.group(2)), m.group(3)), "within"


@_row(r"\b(in|after|about|around|maybe|probably)\s+(?:about\s+|around\s+|like\s+|another\s+)?" + _QTY_RE + r"\s+"
      + _UNIT_RE + r"(?:'s)?(?:\s+time)?|\b" + _QTY_RE + r"\s+" + _UNIT_RE + r"\s+from (?:now|today)")
def _in(m: re.Match[str], s: _Said) -> _Span:
    """"in 3 weeks", "2 months from now": a week or a month from that day."""
    unit = m.group(3) or m.group(5)
    start = _add(s.today, qty(m.group(2) or m.group(4)), unit)
    return start, start + timedelta(days=0 if unit == "day" else 6 if unit in ("week", "fortnight") else 30), ""


@_row(r"\b(asap|a s a p|as soon as (?:possible|we can|i can|you can)|right away|straight away|immediately|"
      r"right now|urgent(?:ly)?|yesterday|the sooner the better|sooner rather than later|soon as possible|"
      r"ready to go now|(?<!for )(?<!just )now)\b")
def _asap(m: re.Match[str], s: _Said) -> _Span:
    if re.search(r"\b(?:not|no|isn't|wasn't)\s+(?:so\s+|that\s+)?$", s.text[:m.start()]):
        return None                                           # "not right now", "not immediately"
    if m.group(1) == "now" and (s.strict or re.search(r"(?:day|week|month|year)s?\s+$", s.text[:m.start()])):
        return None                                           # "3 years now", or said in passing
    return s.today, s.today + timedelta(days=7), ""


@_row(r"\b(today|tonight)\b")
def _today_said(m: re.Match[str], s: _Said) -> _Span:
    return s.today, s.today, ""


@_row(r"\b(?:the )?day after tomorrow\b|\btomorrow\b")
def _tomorrow(m: re.Match[str], s: _Said) -> _Span:
    d = s.today + timedelta(days=2 if "after" in m.group(0) else 1)
    return d, d, ""


@_row(_BOUND_RE + r"(this|next|the following) (week|weekend)\b")
def _week(m: re.Match[str], s: _Said) -> _Span:
    sunday = s.sunday
    if m.group(3) == "week":
        a, b = (s.today, sunday) if m.group(2) == "this" else (sunday + timedelta(days=1), sunday + timedelta(days=7))
    else:
        sat = sunday - timedelta(days=1)
        a, b = (sat, sunday) if m.group(2) == "this" else (sat + timedelta(days=7), sunday + timedelta(days=7))
        a = max(a, s.today)
    return a, b, m.group(1)


@_row(r"\b(?:the )?end of (?:the|this) week\b")
def _week_end(m: re.Match[str], s: _Said) -> _Span:
    return s.today, s.sunday, ""


@_row(_BOUND_RE + _PART_RE + r"(this|next|the following|the) month\b")
def _month(m: re.Match[str], s: _Said) -> _Span:
    if m.group(3) == "the" and not m.group(2):
        return None                                           # "a month" / "the month" alone says nothing
    base = s.today if m.group(3) in ("this", "the") else _add_months(s.today.replace(day=1), 1)
    a, b = _part(_month_span(base.year, base.month), _norm_part(m.group(2)))
    return max(a, s.today), b, m.group(1)


@_row(_BOUND_RE + _PART_RE + r"(this|next|the following|the) (?:calendar |fiscal )?year\b")
def _year(m: re.Match[str], s: _Said) -> _Span:
    y = s.today.year + (m.group(3) in ("next", "the following"))
    a, b = _part((date(y, 1, 1), date(y, 12, 31)), _norm_part(m.group(2)))
    return max(a, s.today), b, m.group(1)


@_row(r"\b(?:by |before )?(?:the )?(year[- ]end|end of year|eoy|new year'?s?|after the holidays|after christmas|"
      r"after new year'?s?|before christmas|before the holidays|christmas|the holidays)\b")
def _holidays(m: re.Match[str], s: _Said) -> _Span:
    w, today = m.group(1), s.today
    if w.startswith(("year", "end", "eoy")):
        a, b = date(today.year, 12, 1), date(today.year, 12, 31)
        return max(a, today), b, "by" if m.group(0).startswith(("by", "before")) else ""
    if w.startswith("after") or w.startswith("new year"):
        y = today.year + 1 if today.month >= 2 else today.year
        return date(y, 1, 2), date(y, 1, 31), ""
    y = today.year if today <= date(today.year, 12, 25) else today.year + 1
    return today if w.startswith("before") else max(today, date(y, 12, 1)), date(y, 12, 24), ""


def _in_quarter(m: re.Match[str], today: date, q: int, which: Optional[str], year_s: Optional[str]) -> _Span:
    y = _year_of(year_s, today) or today.year
    if which in ("next", "the following") and not year_s:
        y = today.year + 1 if q <= (today.month - 1) // 3 + 1 else today.year
    a, b = _quarter(y, q)
    if b < today and not year_s:
        a, b = _quarter(y + 1, q)
    a, b = _part((a, b), _norm_part(m.group(2)))
    return max(a, today), b, m.group(1)


@_row(_BOUND_RE + _PART_RE + r"(?:(this|next|the following|the) )?(?:q|cue|queue)\s?-?([1-4])" + _YEAR_RE + r"\b")
def _q(m: re.Match[str], s: _Said) -> _Span:
    """"Q3", "next q1", "q2 2027" (and Whisper's "cue 3")."""
    return _in_quarter(m, s.today, int(m.group(4)), m.group(3), m.group(5))


@_row(_BOUND_RE + _PART_RE + r"(?:(this|next|the following|the) )?(first|1st|second|2nd|third|3rd|fourth|4th|last|"
      r"final)? ?quarter" + _YEAR_RE + r"\b")
def _quarter_said(m: re.Match[str], s: _Said) -> _Span:
    """"the third quarter", "next quarter"."""
    if m.group(4):
        return _in_quarter(m, s.today, _ORD[m.group(4)], m.group(3), m.group(5))
    if m.group(3) in ("this", "next", "the following"):
        q = (s.today.month - 1) // 3 + 1 + (m.group(3) != "this")
        y = s.today.year + (q - 1) // 4
        a, b = _part(_quarter(y, (q - 1) % 4 + 1), _norm_part(m.group(2)))
        return max(a, s.today), b, m.group(1)
    return None


@_row(_BOUND_RE + _PART_RE + r"(?:(this|next|the following|the) )?(spring|summer|fall|autumn|winter)(?:time)?"
      + _YEAR_RE + r"\b")
def _season_said(m: re.Match[str], s: _Said) -> _Span:
    a, b = _season(s.today, m.group(4), m.group(3) in ("next", "the following"), _year_of(m.group(5), s.today))
    a, b = _part((a, b), _norm_part(m.group(2)))
    return max(a, s.today), b, m.group(1)


@_row(_BOUND_RE + _PART_RE + r"(?:(this|next|the following) )?\b(" + _MONTH_RE + r")\b\.?"
      r"(?:\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\b)?" + _YEAR_RE)
def _month_named(m: re.Match[str], s: _Said) -> _Span:
    """"March", "early next April", "by June 15th", "Dec 2027"."""
    today, mon = s.today, MONTHS[m.group(4)]
    if m.group(4) == "may" and not (m.group(1) or m.group(2) or m.group(3) or m.group(5) or m.group(6)) and \
            not re.search(r"\b(?:" + _MONTH_RE + r")\s*(?:,|or|to|and|-|through)\s*$", s.text[:m.start()]):
        return None                                           # "we may start" is not a month
    if m.group(4) in ("mar", "jan", "jun", "jul", "aug", "oct", "nov", "dec", "feb", "apr", "sep", "sept") \
            and not (m.group(1) or m.group(5) or m.group(6)):
        return None                                           # short forms only in date-like use
    y = _year_of(m.group(6), today)
    if m.group(3) in ("next", "the following") and not y:
        y = today.year + 1 if mon <= today.month else today.year
    span = _next_month_named(today, mon, y)
    if m.group(5) and 1 <= int(m.group(5)) <= 31:
        d = span[0].replace(day=min(int(m.group(5)), span[1].day))
        span = (d, d)
    span = _part(span, _norm_part(m.group(2)))
    return max(span[0], today) if span[0] <= today <= span[1] else span[0], span[1], m.group(1)


@_row(r"\b(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+of\s+(" + _MONTH_RE + r")\b" + _YEAR_RE)
def _day_of_month(m: re.Match[str], s: _Said) -> _Span:
    """"the 15th of March"."""
    mon, day_ = MONTHS[m.group(2)], int(m.group(1))
    span = _next_month_named(s.today, mon, _year_of(m.group(3), s.today))
    if not 1 <= day_ <= span[1].day:
        return None
    d = span[0].replace(day=day_)
    if d < s.today and not m.group(3):
        d = d.replace(year=d.year + 1)
    return d, d, ""


@_row(_BOUND_RE + r"(?:(this|next|the following) )?(" + "|".join(WEEKDAYS) + r")\b")
def _weekday(m: re.Match[str], s: _Said) -> _Span:
    today, wd = s.today, WEEKDAYS[m.group(3)]
    ahead = (wd - today.weekday()) % 7 or 7
    if m.group(2) in ("next", "the following") and ahead < 7 and wd > today.weekday():
        ahead += 7 if today.weekday() >= 4 else 0
    d = today + timedelta(days=ahead)
    return d, d, m.group(1)


@_row(_BOUND_RE + _PART_RE + r"((?:19|20)\d\d)\b")
def _year_said(m: re.Match[str], s: _Said) -> _Span:
    """"in 2027", "late 2027"; not "2000 dollars"."""
    y = int(m.group(3))
    if not (s.today.year <= y <= s.today.year + 10) or re.search(r"^\s*(?:dollars|bucks|euros|k\b)",
                                                                  s.text[m.end():]):
        return None
    a, b = _part((date(y, 1, 1), date(y, 12, 31)), _norm_part(m.group(2)))
    return max(a, s.today), b, m.group(1)


@_row(r"\b(?:in |over )?the (?:next|coming) (?:few|couple of|couple) (days|weeks|months)\b|"
      r"\b(?:in )?(?:a|the) (?:few|couple of|couple) (days|weeks|months)\b")
def _few(m: re.Match[str], s: _Said) -> _Span:
    unit = (m.group(1) or m.group(2))[:-1]
    q = 2 if "couple" in m.group(0) else 3
    if "next" in m.group(0) or "coming" in m.group(0):
        return s.today, _add(s.today, q + 1, unit), ""
    return _add(s.today, q - 1, unit), _add(s.today, q + 1, unit), ""


@_row(r"\b(?:on |by |around )?the (\d{1,2})(?:st|nd|rd|th)\b(?! of)")
def _the_nth(m: re.Match[str], s: _Said) -> _Span:
    """"by the 15th": of this month, or the next when the day has passed."""
    day_, today = int(m.group(1)), s.today
    month = today if day_ >= today.day else _add_months(today.replace(day=1), 1)
    if not 1 <= day_ <= calendar.monthrange(month.year, month.month)[1]:
        return None
    d = month.replace(day=day_)
    return d, d, "by" if m.group(0).startswith("by") else ""


@_row(r"^(?:um |uh |maybe |probably |like |i'd say |i think )*" + _QTY_RE + r"\s+" + _UNIT_RE + r"\b")
def _bare(m: re.Match[str], s: _Said) -> _Span:
    """A bare "couple of months" answering "when?"; said in passing it may be anything."""
    if s.strict:
        return None
    start = _add(s.today, qty(m.group(1)), m.group(2))
    return start, start + timedelta(days=0 if m.group(2) == "day" else 6 if m.group(2) == "week" else 30), ""


@_row(r"\blater (?:this|in the) (year|month)\b")
def _later_this(m: re.Match[str], s: _Said) -> _Span:
    today = s.today
    if m.group(1) == "year":
        return min(_add_months(today, 1), date(today.year, 12, 31)), date(today.year, 12, 31), ""
    return today, _month_span(today.year, today.month)[1], ""


def periods(t: str, today: date, strict: bool = False) -> list[Period]:
    """Every time period mentioned in `t` (as `spoken.prep` wrote it), row by row of the table."""
    said, found = _Said(t, today, strict), []
    for pattern, meaning in _ROWS:
        for m in pattern.finditer(t):
            span = meaning(m, said)
            if span is not None:
                a, b, bound = span
                found.append((m.start(), m.end(), a, b, (bound or "").strip()))
    return found
