"""The claim checker: is what the rep just said consistent with the KB?

Facts are free text, so checking is retrieve-then-compare:
1. split the utterance into claim units (sentences, and clauses of long ones);
2. retrieve the nearest KB facts by embedding, keeping only facts about the
   product under discussion (or company-wide facts);
3. compare what the unit says with what the fact says, on three axes that
   cover most real sales errors:
   - quantities: prices, durations, counts, percentages, dates, with units
     ("fourteen days" vs "within 30 days"; "up to 50 devices" vs "up to 100");
   - polarity: the fact excludes what the rep includes, or the other way round
     ("Standard includes on-site installation" vs "Does not include ...");
   - which product: the fact names one tier, the rep another
     ("each site gets the Premium features" vs "... the Standard package features").
A conflict is only reported when no equally relevant fact supports the claim
(a promotion can make "free installation on Standard" true), and the
correction is always a KB sentence, never generated facts.

This module only orchestrates: each check lives in the module of its topic,
and reads the facts through the one `FactBook` compiled at start-up.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Optional, Sequence

from intervene.core.detect.claims.days import days_out
from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import PRONOUN_START, UNIVERSAL
from intervene.core.detect.claims.polarity import polarity
from intervene.core.detect.claims.policy import made_free, offer_scope, policy_terms, stacked, widened
from intervene.core.detect.claims.products import ownership, put_inside, which_product
from intervene.core.detect.claims.quantities import quantities
from intervene.core.detect.claims.retrieve import best_sims, clause_candidates, lookup_texts
from intervene.core.detect.claims.verdict import collapse, correction, judged_text, second_opinion, spoken
from intervene.core.detect.numbers import REPAIR
from intervene.kb.index import KBIndex
from intervene.nlp.lexicon import Quantity
from intervene.vocab import Fact, Verdict


@dataclass
class UtteranceCheck:
    verdicts: list[Verdict] = field(default_factory=list)
    product_after: Optional[str] = None


class ClaimChecker:
    """Stateless apart from caches of per-fact analysis; safe to share across calls."""

    def __init__(self, index: KBIndex) -> None:
        self.index = index
        self.verify_ms: deque[float] = deque(maxlen=10000)   # per check, model time excluded (bench)
        self.book = FactBook(index)
        self.reader = self.book.reader

    def understood(self, fact: Fact) -> dict[str, object]:
        """How the checker reads a fact (see FactBook.understood)."""
        return self.book.understood(fact)

    def lint(self, fact: Fact) -> list[str]:
        """What the checker cannot read unambiguously in a fact (see FactBook.lint)."""
        return self.book.lint(fact)

    def quantities_of(self, fact: Fact) -> list[Quantity]:
        """The fact's quantities, as extracted once at start-up."""
        return self.book.quantities_of(fact)

    def judged_text(self, fact: Optional[Fact]) -> str:
        """A fact as the judge was trained to read it (scripts/train_judge.py builds its data with this)."""
        return judged_text(self.book, fact)

    def correction(self, fact: Fact) -> str:
        """A KB sentence, turned to be spoken (see verdict.correction)."""
        return correction(self.book, fact)

    def spoken(self, fact: Fact) -> str:
        """The fact as a sentence that names its product (see verdict.spoken)."""
        return spoken(self.book, fact)

    # ------------------------------------------------------------------ check
    def check(self, text: str, context: Optional[str] = None,
              echoed: Sequence[Quantity] = (), prior: str = "",
              measures: Sequence[Quantity] = ()) -> UtteranceCheck:
        """Verdicts for one rep utterance. `context` is the product under
        discussion before it; `echoed` are numbers the lead just said (a rep
        repeating the lead's own count is not making a KB claim); `prior` is
        the utterance before it (whose subject may carry over); `measures` are
        the lead's own counts with their units from earlier in the call ("the
        back line is about 120 feet"), which the rep may come back to."""
        t0 = time.perf_counter()
        book = self.book
        units, after = self.reader.units(text, context, prior)
        if not units or not self.index.facts:
            return UtteranceCheck([], after)
        looked_up = lookup_texts(units, prior)
        # "its a 6 month agreement" on a call about the cleaning plan: a turn that opens with a
        # pronoun and names nothing is about the product under discussion, and is looked up so
        # (not a later sentence: "they stack. So that's $420" is about what was just said)
        looked_up = [f"{book.name(u.product)}: {t}" if u.product and u.is_sentence and u.sentence == 0
                     and not u.sent_named and PRONOUN_START.match(u.text)
                     and not self.index.mentioned_products(t) else t
                     for u, t in zip(units, looked_up)]
        t1 = time.perf_counter()
        vecs = self.index.embed(looked_up)
        split = {u.sentence for u in units if not u.is_sentence}
        verdicts: list[tuple[int, Verdict]] = []
        found = self.index.search_many(vecs, k=10, floor=0.3)
        t0 += time.perf_counter() - t1          # embedding and retrieval are not the verifier's time
        sent_found = {u.sentence: f for u, f in zip(units, found) if u.is_sentence}
        for u, cands in zip(units, found):
            if u.is_sentence and u.sentence in split:
                if not (u.question or u.hypothetical or u.theirs) and not self.index.mentioned_competitors(u.text):
                    # a feature can span clauses ("water backup's included, | so a sump pump failure is covered"),
                    # and so do policies and conditions ("cancel any time, | no notice needed")
                    # (but where the sentence is about two products, each clause's feature is its
                    # own: "the seat is a $450 add-on on the straight model, | it's only included
                    # on the curved one")
                    about = {pid for _, pid in self.reader.subject_mentions(u.text)}
                    spans = [v for v in polarity(book, u, cands, best_sims(cands))
                             if v.fact is None or len(about - book.fact_named[v.fact.key]) < 2]
                    for pv in spans + policy_terms(book, u, cands) + stacked(book, u, cands, prior) \
                            + widened(book, u, cands) + made_free(book, u, cands) + put_inside(book, u) \
                            + offer_scope(book, u, cands) + days_out(book, u, cands):
                        verdicts.append((u.sentence, pv))
                continue          # otherwise its clauses are checked one by one
            if u.question or u.hypothetical or u.theirs:
                continue          # "so maybe ten devices tops?" asks, it doesn't claim; "let's say" supposes;
                                  # "they're at 110 a quarter" is the competitor's price
            if self.index.mentioned_competitors(u.text):
                continue          # "NetCo charges a setup fee" is about them, not a claim about our KB
            own = best_sims(cands)       # what this unit itself is closest to
            if not u.is_sentence:
                # a clause keeps some of its sentence's meaning ("once you sign, | it's 4 to 6 weeks")
                cands, support = clause_candidates(book, cands, sent_found[u.sentence])
            else:
                support = own
            whole = u.is_sentence         # policies and conditions are read from whole sentences
            for v in (quantities(book, u, cands, echoed, own, measures) + polarity(book, u, cands, support)
                      + (policy_terms(book, u, cands) + stacked(book, u, cands, prior) + made_free(book, u, cands)
                         + put_inside(book, u)
                         + offer_scope(book, u, cands) + days_out(book, u, cands) if whole else [])
                      # ("the visit is free for everybody, | new or returning": the clause says it)
                      + (widened(book, u, cands) if whole or UNIVERSAL.search(u.text + u.rest) else [])
                      + which_product(book, u, cands) + ownership(book, u, cands, support)):
                verdicts.append((u.sentence, v))
        self.verify_ms.append((time.perf_counter() - t0) * 1000)
        # "At 24 squares it's a two-day job. Sorry, no, one day.": a sentence that opens
        # with a repair takes the one before it back
        repaired = {u.sentence - 1 for u in units if u.is_sentence and u.sentence > 0
                    and (m := REPAIR.search(u.text[:30])) is not None and m.start() <= 6}
        verdicts = [(si, v) for si, v in verdicts if v.ok or si not in repaired]
        t0 = time.perf_counter()
        judged = second_opinion(book, collapse(verdicts))
        self.verify_ms[-1] += (time.perf_counter() - t0) * 1000
        return UtteranceCheck(judged, after)
