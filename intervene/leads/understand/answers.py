"""What a lead's answer to one qualifying question means.

The readings live by topic: `budget` (money), `dates` and `periods`
(timelines), `clock` (call-back times), `intent` (yes/no and call control),
`spoken` (the text forms they all read). This module turns one answer to a
question of a given kind into the JSON-ready `Answer` the dialogue records,
and says whether it was clear enough to move on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from intervene.leads.understand.budget import parse_budget
from intervene.leads.understand.dates import parse_timeline
from intervene.leads.understand.intent import parse_yes_no
from intervene.leads.understand.spoken import clean_text, words
from intervene.nlp.lexicon import CONTENT_STOPWORDS

__all__ = ["Answer", "parse_answer"]


@dataclass(frozen=True)
class Answer:
    """One parsed answer. `clear` False means the dialogue should re-ask once.
    `value` is a Budget or Timeline as a dict, a bool or the cleaned text, by
    `kind`; typed Any because readers tell them apart by `kind`, which a type
    checker cannot follow."""
    kind: str
    value: Any
    clear: bool


_UNSURE = re.compile(r"\b(?:not sure|unsure|no idea|don't know|dont know|do not know|dunno|no clue|"
                     r"haven't (?:decided|thought|figured)|not decided|undecided|depends|hard to say|"
                     r"no budget|not yet|tbd|to be determined|can't say|couldn't say)\b")
_HOLLOW = set("um uh hmm mm yeah yes no nope okay ok sure know dunno idea guess think maybe sorry "
              "what huh hello hi don't can't i'm it's that's well".split())


def _content(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9']+", words(text))
            if w not in CONTENT_STOPWORDS and len(w) > 1 and w not in _HOLLOW]


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
    clear = bool(_content(cleaned)) and not _UNSURE.fullmatch(words(cleaned).strip(" .!?"))
    return Answer(kind, cleaned if clear else None, clear)
