"""Factual errors by the rep, decided at the end of the rep's turn.

Checking runs as soon as an utterance is final (that is the expensive part),
but the verdict is held until the rep's turn ends - the lead starts talking,
or the rep has been quiet for `hold_s` - because reps often correct themselves
in the next sentence ("sorry, scratch that, it's five years"), and correcting
a rep who already fixed it destroys their trust in the tool. The cost is
`hold_s` of latency (1 s by default) or less when the lead answers sooner;
`max_hold_s` bounds it during a long monologue (checked as each of the
rep's utterances becomes final, so a correction in that utterance still counts).

Lead misstatements are not the rep's error and are not flagged: the rep
usually corrects them in the next breath (which is what we want to see).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from intervene.detect.claims import ClaimChecker
from intervene.detect.state import CallState
from intervene.nlp.quantities import comparable, extract_quantities, normalize_numbers, same_quantity
from intervene.nlp.text import SELF_REPAIR
from intervene.vocab import Category, Severity, Speaker, Trigger, Utterance, Verdict


@dataclass
class _Held:
    utterance: Utterance
    verdict: Verdict


@dataclass
class AccuracyDetector:
    checker: ClaimChecker
    max_hold_s: float = 8.0
    held: list[_Held] = field(default_factory=list)
    later_ok: set[str] = field(default_factory=set)    # facts the rep got right after a held error

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        """Check a final utterance; returns errors only when a hold expired."""
        if u.speaker != Speaker.REP:
            return []
        lead_before = [x for x in call.utterances if x.speaker == Speaker.LEAD and x.end <= u.start]
        echoed = tuple(q.value for q in extract_quantities(lead_before[-1].text)) if lead_before else ()
        result = self.checker.check(u.text, call.product, echoed)
        if self.held and SELF_REPAIR.search(u.text):
            self._repairs(u.text)
        for v in result.verdicts:
            if v.ok:
                if any(h.verdict.fact and h.verdict.fact.key == v.fact.key for h in self.held):
                    self.later_ok.add(v.fact.key)
            else:
                self.held.append(_Held(u, v))
        return self._expired(now)

    def _repairs(self, text: str) -> None:
        """"Scratch that, it's three years": a repair marker plus the KB's own
        number for a held error counts as the rep's own correction, even when
        the short repair is too vague to retrieve the fact by itself."""
        said = extract_quantities(normalize_numbers(text))
        for h in self.held:
            fact = h.verdict.fact
            if fact is None:
                continue
            if any(comparable(q, fq) and same_quantity(q, fq) for q in said for fq in self.checker.quantities_of(fact)):
                self.later_ok.add(fact.key)

    def turn_ended(self, now: float) -> list[Trigger]:
        """Release held errors the rep did not fix themselves."""
        out = []
        for h in self.held:
            v = h.verdict
            if v.fact and v.fact.key in self.later_ok:
                continue
            out.append(Trigger(Category.ACCURACY, "kb-mismatch", Severity.HIGH, h.utterance.index, now,
                               f"Rep said \"{v.claim}\" - {v.reason.rstrip('.')}.", v.correction, v.evidence,
                               key=f"accuracy:{v.fact.key if v.fact else v.claim}"))
        self.held.clear()
        self.later_ok.clear()
        return out

    def _expired(self, now: float) -> list[Trigger]:
        if self.held and now >= self.held[0].utterance.end + self.max_hold_s:
            return self.turn_ended(now)
        return []
