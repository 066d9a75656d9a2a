"""Matching KB signals and phrases against what was said, on meaning.

Two ways to hit, because each misses what the other catches: the embedding of
a clause close to the phrase ("we're opening a second branch" ~ "new branch"),
or every content word of the phrase present in the utterance (robust for short
phrases whose embeddings are noisy).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping, Optional, Sequence

import numpy as np

from intervene.kb.index import KBIndex, embed_with_cache
from intervene.nlp.lexicon import content_words, normalize_numbers, weekdays_named
from intervene.nlp.text import claim_units, negation_scopes, sentences


def units_of(text: str) -> list[str]:
    return claim_units(normalize_numbers(text))


# what a rep says before getting to the question: "great, so what are you looking to store?"
_OPENER = re.compile(r"^(?:(?:ok(?:ay)?|great|perfect|right|alright|all right|sure|cool|awesome|wonderful|"
                     r"excellent|lovely|got it|gotcha|wow|oh|ah|um+|uh+|hm+|yeah|yes|yep|well|and|so|now|"
                     r"then|thanks|thank you)\b[\s,.!-]*)+", re.I)


def without_opener(units: Sequence[str]) -> list[str]:
    """Each of a rep's units again without the acknowledgement it opens with (only
    those that had one): a required question said after "great, so" is diluted by
    it ("great so what are you looking to store with us" is 0.66 from "what are
    you storing", the question alone 0.80)."""
    bare = [b for u in units if (b := _OPENER.sub("", u)) and b != u and len(b.split()) >= 2]
    return [b for b in dict.fromkeys(bare) if b not in units]


_WH = {"what": "what", "which": "what", "who": "who", "whom": "who", "when": "when", "where": "where",
       "why": "why", "how": "how"}


def asks_same(phrase: str, text: str) -> bool:
    """A rep's question that asks a required one in other words: the same
    question word ("what" and "which" alike; "how" with its next word) followed,
    in one sentence, by every content word of the phrase - "what languages are
    the documents in" asks "which languages", "which car are you driving" asks
    "what car is it". Short questions differ most on meaning from their
    paraphrases; a phrase that is no question keeps its meaning match only."""
    words = re.findall(r"[a-z']+", phrase.lower())
    frame = _WH.get(words[0]) if words else None
    need = set(content_words(phrase))
    if frame is None or not need:
        return False
    for sent in re.split(r"[.?!;]+", normalize_numbers(text).lower()):
        toks = re.findall(r"[a-z0-9']+", sent)
        for i, t in enumerate(toks):
            if _WH.get(t) == frame and (frame != "how" or toks[i + 1:i + 2] == words[1:2]) \
                    and need <= set(content_words(" ".join(toks[i + 1:]))):
                return True
    return False


_TIME_WORDS = frozenset(content_words("""minute minutes hour hours day days week weeks month months quarter
 year years today tonight tomorrow now weekend weekends morning afternoon evening next soon away asap later
 upcoming time times"""))


# Phrases are written about one example person ("he won't get sick"); the rep says
# them about theirs ("she won't get sick")
_PRONOUNS = ("he", "she", "they", "it", "him", "her", "them", "his", "hers", "their", "its")


@lru_cache(maxsize=4096)
def verbatim(phrase: str) -> re.Pattern[str]:
    """The phrase's words in order, whatever the punctuation between them;
    a third-person pronoun stands for any other, and an apostrophe may be
    missing, as speech recognisers write "cant" and "youll"."""
    parts = []
    for w in phrase.lower().split():
        if w in _PRONOUNS:
            parts.append("(?:" + "|".join(_PRONOUNS) + ")")
        else:
            parts.append(re.sub(r"['’]", lambda _: "['’]?", re.escape(w)))
    return re.compile(r"(?<![a-z0-9])" + r"\W+".join(parts) + r"(?![a-z0-9])")


def lexical_hit(phrase: str, words: set[str], text: str = "", need: bool = False) -> bool:
    """The phrase verbatim, or all its (two or more) content words present. A
    phrase whose only content is a time ("this month", "right away", "in the
    next few weeks") names no need: said in words it is still only a time
    ("maybe the week after next", "we'll review it next week"), so only its
    meaning can match it. For a lead's `need` (an opportunity's signal), a
    time beside one other word is one shared word too: "start this week" is
    not in "I start a new job in 6 weeks", nor "work all week" in "I work
    from home so I can get out mid week" (a rep's required question, "how
    many days a week", is its time)."""
    content = set(content_words(phrase))
    if not content - _TIME_WORDS:
        return False
    if text and verbatim(phrase).search(text.lower()):
        return True
    counted = content - _TIME_WORDS if need else content
    if len(counted) < 2 or not content <= words:      # one shared word ("site") is not a signal
        return False
    if text and not _close_together(content, content_words(text)):
        return False          # "any new stain in the next 12 months we'll come back" has the words of
                              # "any stain comes out", far apart: another thing said
    # a number counts the word after it: "away for 2 weeks" has the words of "we have two
    # dogs", not its two dogs
    low = text.lower()
    return not text or all(re.search(rf"\b{n}[\s-]+(?:[\w']+[\s-]+)?{re.escape(w[:4])}", low)
                           for n, w in re.findall(r"\b(\d+)[\s-]+([a-z]+)", phrase.lower()))


def _close_together(need: set[str], said: list[str]) -> bool:
    """All of a phrase's words within a few words of each other in what was said
    (a phrase of a few words, said in other words, keeps them near)."""
    at = [i for i, w in enumerate(said) if w in need]
    reach = len(need) + 1
    for k, a in enumerate(at):
        seen: set[str] = set()
        for b in at[k:]:
            if b - a > reach:
                break
            seen.add(said[b])
            if seen >= need:
                return True
    return False


@lru_cache(maxsize=8192)
def _numbers(text: str) -> frozenset[str]:
    # (a rough count stands for the numbers it may be: "just a couple of days" is not "10 days")
    rough = [_ROUGH[(m.group(1) or m.group(2)).lower()] for m in _ROUGH_RE.finditer(text)]
    return frozenset(re.findall(r"\d+(?:\.\d+)?", normalize_numbers(text))).union(*rough)


_ROUGH = {"couple": frozenset("23"), "few": frozenset("234"), "several": frozenset("34567")}
_ROUGH_RE = re.compile(r"\ba\s+(couple|few)\b|\b(?:a\s+)?(several)\b", re.I)


@lru_cache(maxsize=8192)
def _spans(text: str) -> frozenset[str]:
    return frozenset(m.lower().rstrip("s") for m in _SPAN.findall(text))


_SPAN = re.compile(r"\b(?:night|day|week|month|year|quarter|season|weekend)s?\b", re.I)


def numbers_agree(phrase: str, said: str) -> bool:
    """A signal with a number and words with another are different needs:
    "3 days a week" is close to "five days a week" in meaning, not in fact."""
    a, b = _numbers(phrase), _numbers(said)
    return not (a and b and not a & b)


def days_agree(phrase: str, said: str) -> bool:
    """And a need on other days of the week: "Saturday the fourteenth, early
    afternoon" is close to "wednesday afternoon" in meaning, not in fact (read
    on the whole utterance: the day and the time may be two sentences)."""
    c, d = weekdays_named(phrase), weekdays_named(said)
    return not (c and d and not c & d)


def spans_agree(phrase: str, said: str) -> bool:
    """So is a need with a span of time and words with another: "a month or
    more" is not "a week in June". (A window of words that names no span is
    read with its utterance's: "a couple of times" from "a couple of times a
    month" is not "a few times a week".)"""
    c, d = _spans(phrase), _spans(said)
    return not (c and d and not c & d)


@lru_cache(maxsize=8192)
def says_no(text: str) -> bool:
    """Whether a text negates anything (phrases are read on every utterance: once each)."""
    return bool(negation_scopes(text))


OUTRIGHT = 1.0       # match_owners' strength for a signal said in its own words


def _inside(unit: str, text: str, scopes: list[tuple[int, int]]) -> bool:
    """A word window cut from inside a negation: "a second location and" from
    "we don't have a second location, and no plans for one" is denied there."""
    if not scopes or not unit.split():
        return False
    m = re.search(r"[^\w'$%.-]+".join(map(re.escape, unit.split())), text, re.I)   # (windows drop punctuation)
    return m is not None and _in_scope(m.start(), scopes)


def said_as_is(phrase: str, text: str, denies: bool, scopes: list[tuple[int, int]]) -> bool:
    """The phrase word for word in a text that negates something else ("I
    don't know, I think I need a new phone" says "need a new phone"). A phrase
    that affirms, said inside a negation (`scopes`, the text's negation_scopes),
    is denied: "no hotspot is fine" does not ask for a "hotspot"."""
    found = [m.start() for m in verbatim(phrase).finditer(text.lower())]
    if denies or not found:
        return bool(found)
    return any(not _in_scope(at, scopes) for at in found)


def _in_scope(at: int, scopes: list[tuple[int, int]]) -> bool:
    return any(a <= at < b for a, b in scopes)


def match_owners(index: KBIndex, text: str, prefix: str, threshold: float,
                 units: Sequence[str] | None = None, partial_sim: Optional[float] = None,
                 topic_margin: Optional[float] = None) -> dict[str, float]:
    """owner id -> match strength (OUTRIGHT for a lexical hit) for owners whose
    phrases were said; e.g. prefix "opportunity:" gives opportunity ids.
    With `partial_sim` (the profile's signal_partial_sim), a signal of three or
    more content words also hits when two thirds of them were said and the
    meaning is at least that close: "my son jake wants to do spanish too" is
    "my son also wants lessons", though a window of it scores under the
    threshold; and a meaning match must name the same span of time, if both
    name one (needs, unlike forbidden promises, are often only a span: "a
    month or more").
    With `topic_margin` (the profile's signal_topic_margin), words matched on
    meaning must be closer to the signal than to anything the company sells
    (any fact or product name) by that much: "just calling about botox
    pricing" is near "I get botox regularly" only because both name the
    product, and nearer still to the product itself - it is the subject of
    the call, not a need."""
    partial = partial_sim is not None
    units = list(units) if units is not None else units_of(text)
    rows = [i for i, ph in enumerate(index.phrases) if ph.owner.startswith(prefix)]
    if not units or not rows:
        return {}
    vecs = index.embed(units)
    norm = normalize_numbers(text)
    words = set(content_words(norm))
    out: dict[str, float] = {}
    sims = index.phrase_vecs[rows] @ vecs.T                 # (phrases, units)
    near = sims.max(axis=1)
    scopes = negation_scopes(norm)
    unit_denies = [says_no(u) or _inside(u, norm, scopes) for u in units]
    text_denies = bool(scopes)
    floor = np.full(len(units), -1.0, np.float32)       # what a unit must beat to count on meaning
    lowest = min(threshold, partial_sim if partial_sim is not None else threshold)
    if topic_margin is not None and (sims >= lowest).any():
        close = (sims >= lowest).any(axis=0)
        floor[close] = index.topic_sims(vecs[close]) + topic_margin
        near = np.where(sims >= floor, sims, -1.0).max(axis=1)
    for n, i in enumerate(rows):
        ph, ph_norm = index.phrases[i], index.phrase_norm[i]
        days_ok = days_agree(ph_norm, norm)     # (the whole utterance's days, not each unit's)
        owner = ph.owner.split(":", 1)[1]
        denies = says_no(ph_norm)
        # a phrase and what was said must say it the same way round: on meaning, "don't want
        # to own a boat anymore" is close to "we just bought a boat"; in words, "you need
        # your own insurance" has every word of "you don't need your own insurance"
        agree = [float(x) for x, d, u, f in zip(sims[n], unit_denies, units, floor) if d == denies and x >= f
                 and numbers_agree(ph_norm, u) and days_ok
                 and (not partial or spans_agree(ph_norm, u if _spans(u) else norm))]
        if agree and max(agree) >= threshold:
            out[owner] = max(out.get(owner, 0.0), max(agree))
        # (a need said inside a negation is denied; a forbidden or required phrase keeps its own
        # reading of negations, in the detectors)
        if lexical_hit(ph_norm, words, norm, need=partial) and (
                denies == text_denies or (said_as_is(ph_norm, norm, denies, scopes) if partial
                                          else verbatim(ph_norm).search(norm.lower()))):
            out[owner] = OUTRIGHT
        elif (partial_sim is not None and float(near[n]) >= partial_sim and denies == text_denies
              and numbers_agree(ph_norm, norm) and days_ok):
            need = set(content_words(ph_norm))
            if len(need) >= 3 and len(need & words) >= max(2, -(-2 * len(need) // 3)):
                out[owner] = max(out.get(owner, 0.0), threshold)
    return out


def prototypes(index: KBIndex, name: str, examples: Mapping[str, Sequence[str]]) -> "Prototypes":
    return index.shared(f"prototypes:{name}", lambda: Prototypes(index, examples))


def told(text: str) -> list[str]:
    """The sentences of what a lead tells, questions left out: asking what a plan
    includes is not a need. A question the recogniser wrote without its mark
    ("a year ok how long do springs last") ends the statement where it starts."""
    out = []
    for sent in sentences(text):
        if not sent.rstrip().endswith("?"):
            sent = _ASKS.split(sent, maxsplit=1)[0].strip()
            if sent:
                out.append(sent)
    return out


def only_asks(text: str) -> bool:
    """A turn that asks and tells nothing ("Fun! How many students, and how old are
    they?"): a question to qualify a need, not an answer to it."""
    asks = "?" in text or bool(_ASKS.search(text))
    return asks and len(content_words(" ".join(told(text)))) < 4


def signal_units(text: str, sizes: tuple[int, ...], stride: int) -> list[str]:
    """Short word windows of the lead's statements (`told`), of each of `sizes`
    words, `stride` words apart (the profile's signal_window_*). KB signals are
    short noun phrases ("power outages"); a whole sentence dilutes them, a
    window of a few words ("grid went down last winter") carries them."""
    out: list[str] = []
    for sent in told(normalize_numbers(text)):
        w = re.findall(r"[\w'$%.-]+", sent)
        if len(w) <= sizes[0]:
            out.append(" ".join(w))
            continue
        for k in sizes:
            out += [" ".join(w[i:i + k]) for i in range(0, max(1, len(w) - k + 1), stride)]
    return list(dict.fromkeys(x for x in out if x))


_ASKS = re.compile(r"\b(?:how (?:\w+ )?(?:long|much|many|often|does|do|is|are|would|will)|what (?:is|are|does|do|about|if)|"
                   r"do you|does (?:it|that|this)|can you|could you|is there|are there|would (?:it|that|you))\b"
                   r"(?!['’]\w)", re.I)   # "the thing is there's a big oak" tells, it does not ask


class Prototypes:
    """Embedded example sentences per label (frustration, hold-on, ...):
    a tiny nearest-neighbour classifier that needs no training data."""

    def __init__(self, index: KBIndex, examples: Mapping[str, Sequence[str]]) -> None:
        self.index = index
        self.labels: list[str] = []
        texts: list[str] = []
        for label, exs in examples.items():
            self.labels += [label] * len(exs)
            texts += list(exs)
        self.texts = texts
        self.vecs = embed_with_cache(index.embedder, texts, index.cache)

    def scores(self, units: Sequence[str]) -> dict[str, tuple[float, str]]:
        """label -> (best similarity, the example it was closest to)."""
        if not units:
            return {}
        sims = self.vecs @ self.index.embed(list(units)).T     # (examples, units)
        best = sims.max(axis=1)
        out: dict[str, tuple[float, str]] = {}
        for label, s, ex in zip(self.labels, best, self.texts):
            if float(s) > out.get(label, (-1.0, ""))[0]:
                out[label] = (float(s), ex)
        return out
