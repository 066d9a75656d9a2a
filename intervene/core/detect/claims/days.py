"""Days of the week a service runs on: "we deliver 7 days a week, so a Sunday
drop-off works" where the KB says "Monday through Saturday; there is no Sunday
pickup or delivery". No number in it is wrong, yet the rep promised a day the
company does not work - the lead books it and nobody comes.

Only a fact that frames its days (a range, "only", "every day") has a week
to compare with; one that only names a day ("delivered Friday,
picked up Monday") says when something happens, not when the company works,
and is never read so. Only days the rep names (or all seven) count: "weekday"
and "weekend" in the rep's words are as often a product's name or a price's."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import SIM_QUANTITY
from intervene.core.detect.claims.retrieve import may_apply
from intervene.core.detect.claims.verdict import BASE, confidence, correction
from intervene.core.detect.subjects import Unit
from intervene.vocab import Check, Evidence, Fact, Verdict

WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = r"(mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?s?"
_RANGE = re.compile(rf"\b{_DAY}\s*(?:to|through|thru|till|until|-|–)\s*{_DAY}\b", re.I)
_NAMED = re.compile(r"\b(mon|tues|wednes|thurs|fri|satur|sun)days?\b", re.I)     # ("sat down", "the sun")
_ALL_WEEK = re.compile(r"\b(?:7|seven) days(?: a| per| each| of the)? week\b|\bevery day of the week\b|"
                       r"\b(?:open|run|running|runs|work|working|operate|operating|deliver|delivering)\s+"
                       r"(?:all\s+)?(?:7|seven) days\b|\bany day of the week\b|\bevery day\b", re.I)
# (lower case only: "the Weekend Special" is a promotion's name, not a week)
_PART = re.compile(r"\b(weekday|weekend)s?\b")
_WEEKS = {"weekday": set(WEEK[:5]), "weekend": set(WEEK[5:])}
_FRAME = re.compile(r"\bonly\b")
_INHERITS = re.compile(r"\beverything (?:in|from|on)\b|\ball of\b", re.I)
_NOT = re.compile(r"\b(?:no|not|never|closed|except|excluding|other than)\b|n['’]t\b", re.I)
_AFTER_CUE = ("no", "closed", "except", "excluding", "other than")     # cues whose days follow them
_CLAUSES = re.compile(r"[;.()]|\bbut\b", re.I)
TOPIC_MARGIN = 0.1       # a fact this much less similar than the closest with a week is not the one


def _day(word: str) -> str:
    return next(d for d in WEEK if d.startswith(word.lower()[:3]))


def _named(text: str, parts: bool = True) -> set[str]:
    """Days named, and (with `parts`) "weekdays", "weekends"."""
    named = {_day(m.group(1)) for m in _NAMED.finditer(text)}
    return named.union(*(_WEEKS[m.group(1)] for m in _PART.finditer(text))) if parts else named


def _span(a: str, b: str) -> set[str]:
    """"Sunday to Friday" wraps round the week."""
    i, j = WEEK.index(_day(a)), WEEK.index(_day(b))
    return {WEEK[(i + k) % 7] for k in range((j - i) % 7 + 1)}


@lru_cache(maxsize=4096)
def days_open(text: str) -> Optional[frozenset[str]]:
    """The days a fact says something runs on, or None where it frames no week
    (or allows all seven, or adds to another tier's: "everything in Weekday,
    plus weekends"). Negated days are taken from their own clause ("Monday to
    Saturday, closed on Sundays" - the phone line may still run all week) or,
    said on their own, from the whole ("Friday, weekend and holiday jumping is
    not included")."""
    if _INHERITS.search(text):
        return None
    allowed: set[str] = set()
    barred: set[str] = set()
    framed = False
    for clause in _CLAUSES.split(text):
        neg = _NOT.search(clause)
        window = clause[neg.start():neg.end() + 40] if neg else ""
        rest = clause.replace(window, " ") if window else clause
        days, ranged = _days_in(rest), bool(_RANGE.search(rest))
        # a clause that only takes days away: "no Sunday service", "Friday and weekend jumping
        # is not included" (what "not" denies is the clause's own subject, unless it frames a week)
        if neg and (not days or (neg.group().lower() not in _AFTER_CUE and not ranged)):
            barred |= _days_in(clause)
            continue
        if not days:
            continue
        framed = framed or ranged or bool(_ALL_WEEK.search(rest) or _FRAME.search(clause))
        allowed |= days
    open_days = frozenset(allowed - barred) if framed else frozenset()
    return open_days if open_days and len(open_days) < 7 else None


def _days_in(text: str, parts: bool = True) -> set[str]:
    ranges = [_span(m.group(1), m.group(2)) for m in _RANGE.finditer(text)]
    return set().union(*ranges, _named(text, parts), set(WEEK) if _ALL_WEEK.search(text) else set())


def days_claimed(text: str) -> frozenset[str]:
    """The days the rep says something happens on - named, or all seven - in
    clauses that do not negate them ("we don't do Sundays" claims none)."""
    return frozenset().union(*(_days_in(clause, parts=False) for clause in re.split(r"[;.,]|\bbut\b", text)
                               if not _NOT.search(clause)))


def days_out(book: FactBook, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
    """A day the rep promises outside the week the closest fact that frames
    one allows - unless another fact as close allows it (the office is open on
    Sunday though deliveries are not). Only ever a card: which service the
    day was for is read from meaning."""
    said = days_claimed(u.text)
    if not said:
        return []
    weeks = [(f, s, w) for f, s in cands if s >= SIM_QUANTITY and may_apply(f, u.product, u.named)
             and f.kind != "promotion"        # (an offer's days are who gets it: offer_scope's)
             and (w := days_open(f.text)) is not None]
    if not weeks:
        return []
    top = max(s for _, s, _ in weeks)
    if top < max((s for _, s in cands), default=0.0) - 0.2:
        return []            # the sentence is about something else that has no week
    near = [(f, s, w) for f, s, w in weeks if s >= top - TOPIC_MARGIN]
    if any(said <= w for _, _, w in near):
        return []
    fact, sim, week = max(near, key=lambda x: x[1])
    outside = sorted(said - week, key=WEEK.index)
    conf, why = confidence(book, BASE["policy"], u, fact, sim, ())
    return [Verdict(False, u.text, fact, f"rep said {', '.join(outside)}; KB: {fact.text}",
                    correction=correction(book, fact), score=sim, product=u.product,
                    evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.POLICY)]
