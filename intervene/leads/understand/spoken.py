"""A lead's words in the two forms the answer parsers read them in.

The words come from Whisper tiny.en on phone audio, so the same budget arrives
as "fifteen thousand", "15k", "$15,000", "15 grand" or "15 grant", with filler
words and odd punctuation around it. Budgets, timelines and call-back times
are read from `prep` (spoken numbers rewritten as digits by
`normalize_numbers`, shared with claim checking); yes/no and call control from
`words` (number words left as said: "no one" is not "no 1"). Each parser then
reads English grammar, never one company's script, because the same qualifier
runs for a solar installer, a SaaS vendor and a gym.
"""
from __future__ import annotations

import re

from intervene.nlp.lexicon import normalize_numbers

__all__ = ["VAGUE", "prep", "words", "qty", "clean_text"]

_APOS = str.maketrans({"’": "'", "‘": "'", "`": "'"})
# How many a vague count means: "a couple of weeks", "a few grand".
VAGUE = {"couple": 2, "few": 3, "several": 5}


def prep(text: str) -> str:
    """Lowercase, digits for number words, one kind of apostrophe, no stray
    punctuation: the form the budget and date patterns are written against."""
    t = text.translate(_APOS)
    t = re.sub(r"\bhalf (?:a|an) (million|mil|billion)\b", r"0.5 \1", t, flags=re.I)
    t = re.sub(r"\b(?:a )?half (?:a|an) (hour|day|week|month|year)\b", r"0.5 \1", t, flags=re.I)
    t = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)\s?[kK]\b", r"\1 grand", t)   # keep "15k" marked as money
    t = normalize_numbers(t).lower()
    t = re.sub(r"\b20 ([0-9]{2})\b", r"20\1", t)                 # "twenty twenty seven" -> "20 27"
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)
    t = re.sub(r"[\"“”()\[\]]", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def words(text: str) -> str:
    """Lowercase words with hesitations dropped and apostrophes restored ("dont" ->
    "don't", "im" -> "i'm"): the form the yes/no and call-control patterns match."""
    t = text.translate(_APOS).lower()
    t = re.sub(r"\b(?:um+|uh+|erm|hmm+)\b(?![-\s]huh)", " ", t)
    t = re.sub(r"[^a-z0-9' ,.!?;-]", " ", t)
    t = re.sub(r"\bi m\b", "i'm", re.sub(r"\bim\b", "i'm", t))
    t = re.sub(r"\b(don|doesn|didn|isn|aren|wasn|won|can|wouldn|haven)t\b", r"\1't", t)
    return re.sub(r"\s+", " ", t).strip()


def qty(s: str) -> float:
    """A count as said before a unit: "3", "a couple of", "a few"; "a"/"an"/"one" is 1."""
    s = s.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    for k, v in VAGUE.items():
        if k in s:
            return float(v)
    return 1.0


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
