"""Finding the facts a claim unit may be about: the text each unit is looked
up by, which facts a unit may be checked against (its product's, or
company-wide), and how a clause borrows its sentence's candidates. The
embedding search itself is KBIndex's."""
from __future__ import annotations

from typing import Optional, Sequence

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import CLAUSE_PENALTY, PRONOUN_START
from intervene.core.detect.subjects import Unit, u_named
from intervene.nlp.lexicon import normalize_numbers
from intervene.nlp.text import sentences
from intervene.vocab import Fact


def lookup_texts(units: Sequence[Unit], prior: str) -> list[str]:
    """The text each unit is embedded by."""
    # "The first step is a trial lesson. It's 45 minutes one-on-one": a sentence that
    # opens with a pronoun is about the previous sentence's subject, so it is looked
    # up with that sentence in front of it
    sents = {u.sentence: u.text for u in units if u.is_sentence}
    if prior and not u_named(units):
        # "How much is Theory Plus?" - "so it's uh 24.99 a month": the first sentence of
        # a turn that names nothing takes its subject from what was said just before
        sents[-1] = (sentences(normalize_numbers(prior)) or [""])[-1]
    return [f"{sents[u.sentence - 1]} {u.text}" if u.is_sentence and u.sentence - 1 in sents
            and (PRONOUN_START.match(u.text) or (u.sentence == 0 and len(u.text.split()) < 6))
            else u.text for u in units]


def clause_candidates(book: FactBook, cands: list[tuple[Fact, float]],
                      parent: list[tuple[Fact, float]]) -> tuple[list[tuple[Fact, float]], dict[str, float]]:
    """A clause keeps some of its sentence's meaning ("once you sign, | it's 4 to 6
    weeks"): its candidates are its own and its sentence's (those slightly less),
    best first; and what supports it is the best of either, at full similarity."""
    support = best_sims(cands, parent)
    ranked = sorted(best_sims(cands, [(f, s - CLAUSE_PENALTY) for f, s in parent]).items(),
                    key=lambda kv: -kv[1])
    return [(book.by_key[k], s) for k, s in ranked], support


def may_apply(fact: Fact, product: Optional[str], named: Sequence[Optional[str]]) -> bool:
    """Whether a fact may be checked against a unit about `product` (or naming `named`)."""
    if fact.product is None:
        return True
    if product is None and not named:
        return True            # nobody knows which product: any may apply (lenient)
    return fact.product == product or fact.product in named


def best_sims(*lists: list[tuple[Fact, float]]) -> dict[str, float]:
    """Each fact's best similarity over several candidate lists."""
    best: dict[str, float] = {}
    for lst in lists:
        for f, s in lst:
            best[f.key] = max(s, best.get(f.key, -1.0))
    return best
