"""When to call a lead back: "in an hour", "tomorrow at 3", "Monday morning", "after 5".

A call-back time is a moment, not a range, inside calling hours: an hour said
without AM or PM is the one that falls in the working day, a day without a
time keeps the time of the call. Pure functions of (text, now, zone).
"""
from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from intervene.leads.understand.dates import parse_timeline
from intervene.leads.understand.periods import WEEKDAYS
from intervene.leads.understand.spoken import prep, qty

__all__ = ["parse_when", "describe_when"]


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
    t = prep(text)
    cur = datetime.fromtimestamp(now, zone)
    m = re.search(r"\b(?:in|after|give me)\s+(?:about\s+|another\s+|like\s+)?(\d+(?:\.\d+)?|an|a|a couple of|a couple|"
                  r"couple of|a few|few|half an|half a|0\.5)\s*(minute|min|hour|hr)s?\b", t)
    if m:
        q = 0.5 if m.group(1).startswith("half") else qty(m.group(1))
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
    elif m := re.search(r"\b(?:(next) )?(" + "|".join(WEEKDAYS) + r")\b", t):
        wd = WEEKDAYS[m.group(2)]
        day = today + timedelta(days=(wd - today.weekday()) % 7 or 7)
    elif re.search(r"\bnext week\b", t):
        day = today + timedelta(days=7 - today.weekday())
    elif m := re.search(r"\bin (\d+|a couple of|a few|a|two) days?\b", t):
        day = today + timedelta(days=int(qty(m.group(1))))
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
