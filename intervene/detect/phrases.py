"""Matching KB signals and phrases against what was said, on meaning.

Two ways to hit, because each misses what the other catches: the embedding of
a clause close to the phrase ("we're opening a second branch" ~ "new branch"),
or every content word of the phrase present in the utterance (robust for short
phrases whose embeddings are noisy).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from intervene.kb.index import KBIndex
from intervene.nlp.quantities import content_words, normalize_numbers
from intervene.nlp.text import claim_units


def units_of(text: str) -> list[str]:
    return claim_units(normalize_numbers(text))


def lexical_hit(phrase: str, words: set[str], text: str = "") -> bool:
    """The phrase verbatim, or all its (two or more) content words present."""
    if text and re.search(r"(?<![a-z0-9])" + r"\W+".join(map(re.escape, phrase.lower().split())) + r"(?![a-z0-9])",
                          text.lower()):
        return True
    need = set(content_words(phrase))
    return len(need) >= 2 and need <= words     # one shared word ("site") is not a signal


def match_owners(index: KBIndex, text: str, prefix: str, threshold: float,
                 units: Sequence[str] | None = None) -> dict[str, float]:
    """owner id -> match strength (1.0 for a lexical hit) for owners whose
    phrases were said; e.g. prefix "opportunity:" gives opportunity ids."""
    units = list(units) if units is not None else units_of(text)
    if not units:
        return {}
    vecs = index.embed(units)
    sims = index.phrase_sims(vecs, prefix)
    norm = normalize_numbers(text)
    words = set(content_words(norm))
    out = {k: s for k, s in sims.items() if s >= threshold}
    for ph in index.phrases:
        if ph.owner.startswith(prefix) and lexical_hit(normalize_numbers(ph.text), words, norm):
            out[ph.owner.split(":", 1)[1]] = 1.0
    return out


def prototypes(index: KBIndex, name: str, examples: dict[str, Sequence[str]]) -> "Prototypes":
    return index.shared(f"prototypes:{name}", lambda: Prototypes(index, examples))


class Prototypes:
    """Embedded example sentences per label (frustration, hold-on, ...):
    a tiny nearest-neighbour classifier that needs no training data."""

    def __init__(self, index: KBIndex, examples: dict[str, Sequence[str]]) -> None:
        self.index = index
        self.labels: list[str] = []
        texts: list[str] = []
        for label, exs in examples.items():
            self.labels += [label] * len(exs)
            texts += list(exs)
        from intervene.kb.index import embed_with_cache
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
