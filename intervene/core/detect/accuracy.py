"""Factual errors by the rep, decided at the end of the rep's turn.

Checking runs as soon as an utterance is final (that is the expensive part),
but the verdict is held until the rep's turn ends - the lead starts talking,
or the rep has been quiet for `hold_s` - because reps often correct themselves
in the next sentence ("sorry, scratch that, it's five years"), and correcting
a rep who already fixed it destroys their trust in the tool. The cost is
`hold_s` of latency (1 s by default) or less when the lead answers sooner;
the profile's `accuracy_max_hold_s` bounds it during a long monologue (checked as each of the
rep's utterances becomes final, so a correction in that utterance still counts).

Lead misstatements are not the rep's error and are not flagged: the rep
usually corrects them in the next breath (which is what we want to see).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from intervene.core.detect.claims import ClaimChecker, doubted
from intervene.core.detect.state import CallState
from intervene.core.policy import PROFILES, Profile
from intervene.nlp.lexicon import Quantity, comparable, extract_quantities, normalize_numbers, same_quantity
from intervene.nlp.text import SELF_REPAIR, ends_sentence, sentences
from intervene.vocab import Category, Severity, Speaker, Trigger, Utterance, Verdict


def _digits(value: float) -> str:
    return re.sub(r"\D", "", f"{value:g}")


def _restates(wrong: Verdict, right: Verdict) -> bool:
    """Does the later, correct statement restate what was wrong? "24 panels"
    then "400 watts each" touches the same fact but does not fix the count;
    "20 panels, sorry" does. Claims without numbers: any correct restatement."""
    bad = extract_quantities(normalize_numbers(wrong.claim))
    if not bad:
        return True
    good = extract_quantities(normalize_numbers(right.claim))
    return any(comparable(b, g) for b in bad for g in good)


def sounds_alike(said: str, kb: str) -> bool:
    """Numbers speech recognition confuses: one's digits a part of the
    other's ("9"/"49", "8.99"/"89"), a -teen/-ty pair ("15"/"50"), or a round
    number with a digit-like word fused on ("153"/"150")."""
    if not said or not kb:
        return False
    if said in kb or kb in said:         # includes a slipped decimal point: "8.9" for 89
        return True
    if said.isdigit() and kb.isdigit() and int(kb) >= 20 and int(kb) % 10 == 0 \
            and int(said) - int(kb) in (1, 2, 3, 4, 8):
        return True                      # "a hundred and fifty free miles" heard as "153 miles": the word
                                         # after a round number sounds like a digit (one, to, free, for, ate)
    return _teen_ty(said, kb)


def _teen_ty(a: str, b: str) -> bool:
    teen_ty = {f"1{d}": f"{d}0" for d in "3456789"}
    return teen_ty.get(a) == b or teen_ty.get(b) == a


@dataclass
class _Held:
    utterance: Utterance
    verdict: Verdict


@dataclass
class AccuracyDetector:
    """Thresholds (how sure Whisper must be, the line's SNR, the holds) are the profile's."""
    checker: ClaimChecker
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])
    held: list[_Held] = field(default_factory=list)
    later_ok: set[str] = field(default_factory=set)    # facts the rep got right after a held error
    lead_measures: dict[int, list[Quantity]] = field(default_factory=dict)   # read once per lead utterance

    def product_named(self, text: str) -> Optional[str]:
        """The product a sentence is about, if it names one ("Moderate has everything in
        Mild plus ..." is about Moderate, not the Mild it is measured against)."""
        mentioned = self.checker.reader.subject_mentions(text)
        return mentioned[-1][1] if mentioned else None

    def on_interim(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        """The finished sentences of an utterance still being spoken. Errors
        found are held like final ones; the final transcript replaces them."""
        done = sentences(u.text)
        if not ends_sentence(u.text):
            done = done[:-1]          # the last sentence is still being said
        if not done:
            return self._expired(now)
        result = self.checker.check(" ".join(done), call.product, self._echoed(u, call), self._prior(u, call),
                                    self._measures(u, call))
        wrong = {self._key(v): v for v in result.verdicts if not v.ok}
        mine = [h for h in self.held if not h.utterance.final and h.utterance.index == u.index]
        kept = [h for h in mine if self._key(h.verdict) in wrong]     # keep when it was first heard
        self.held = [h for h in self.held if h not in mine] + kept
        known = {self._key(h.verdict) for h in kept}
        self.held += [_Held(u, v) for k, v in wrong.items() if k not in known]
        return self._expired(now)

    @staticmethod
    def _key(v: Verdict) -> str:
        return v.fact.key if v.fact else v.claim

    @staticmethod
    def _echoed(u: Utterance, call: CallState) -> list[Quantity]:
        """Numbers the lead said just before: the rep repeating them is not a KB claim."""
        lead_before = [x for x in call.utterances if x.speaker == Speaker.LEAD and x.end <= u.start]
        return extract_quantities(normalize_numbers(lead_before[-1].text)) if lead_before else []

    def _measures(self, u: Utterance, call: CallState) -> list[Quantity]:
        """The customer's own measures said earlier in the call (a count of something
        with its unit: their fence, roof or team), whenever the rep comes back to
        them. Their prices and durations are echoes only just after they said them:
        "your ad said $99" taken up much later is the rep's own claim."""
        out: list[Quantity] = []
        for x in call.utterances:
            if x.speaker == Speaker.LEAD and x.end <= u.start and x.final:
                if x.index not in self.lead_measures:
                    self.lead_measures[x.index] = [q for q in extract_quantities(normalize_numbers(x.text))
                                                   if q.kind == "count" and q.unit]
                out += self.lead_measures[x.index]
        return out

    def _prior(self, u: Utterance, call: CallState) -> str:
        """What was said just before (either party): a competitor named there is
        who "they" and "their" in the rep's words most likely are."""
        turns = self.profile.claim_context_turns
        return " ".join(x.text for x in [x for x in call.utterances if x.index < u.index][-turns:])

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        """Check a final utterance; returns errors only when a hold expired."""
        if u.speaker != Speaker.REP:
            return []
        # what interim transcripts of this utterance found is superseded by the final text
        self.held = [h for h in self.held if h.utterance.final or h.utterance.index != u.index]
        text = u.text
        prev = call.continued(u, self.profile.continues_s)
        if prev is not None:
            # "... includes a 30 minute warm-up lesson right before" | "the test.": the sentence
            # is read whole, and what its first half alone seemed to say is decided again
            text = f"{prev.text} {u.text}"
            self.held = [h for h in self.held if h.utterance.index != prev.index]
        result = self.checker.check(text, call.product, self._echoed(u, call), self._prior(u, call),
                                    self._measures(u, call))
        if self.held and SELF_REPAIR.search(u.text):
            self._repairs(u.text)
        for v in result.verdicts:
            if not v.ok and u.words:
                # from audio: the claim's numbers that differ from the fact's, read once for both checks
                wrong = self._wrong_numbers(v)
                if self._misheard(u, wrong):
                    continue
                v = self._heard_doubt(u, v, wrong)
            if v.ok:
                key = v.fact.key if v.fact else None
                if key is not None and any(h.verdict.fact and h.verdict.fact.key == key
                                           and _restates(h.verdict, v) for h in self.held):
                    self.later_ok.add(key)
            else:
                self.held.append(_Held(u, v))
        return self._expired(now)

    def _misheard(self, u: Utterance, wrong: list[tuple[Quantity, Quantity]]) -> bool:
        """From audio: every number that contradicts the KB was a low-confidence
        guess that sounds like the KB's own ("for 9" / 49, "fifteen" / 50).
        Correcting the rep for our mishearing is the worst false alarm there
        is, so such a claim is left unchecked rather than called wrong."""
        if not wrong:
            return False
        for q, fq in wrong:
            said, kb = _digits(q.value), _digits(fq.value)
            if said == kb:                  # "8.9 a month" for 89: a slipped decimal point, not a claim
                continue
            heard = [w.probability for w in u.words
                     if said and said in re.sub(r"\D", "", normalize_numbers(w.text))]
            sure = self.profile.asr_teen_ty_sure if _teen_ty(said, kb) else self.profile.asr_number_sure
            if not (heard and min(heard) < sure and sounds_alike(said, kb)):
                return False
        return True

    def _wrong_numbers(self, v: Verdict) -> list[tuple[Quantity, Quantity]]:
        """(said, KB) pairs of the claim's numbers that differ from the fact's."""
        if v.fact is None:
            return []
        kb_q = self.checker.quantities_of(v.fact)
        return [(q, fq) for q in extract_quantities(normalize_numbers(v.claim)) for fq in kb_q
                if comparable(q, fq) and not same_quantity(q, fq)]

    def _heard_doubt(self, u: Utterance, v: Verdict, wrong: list[tuple[Quantity, Quantity]]) -> Verdict:
        """From audio: a claim resting on words Whisper was unsure of, or on a
        garbled stretch, is never spoken - the error may be ours. Nor is one
        heard over a noisy line: word probabilities are Whisper's own view of
        its guess, the line's SNR an independent one that does not depend on
        Whisper knowing it struggled; the rep still gets the card.

        Nor is a number that sounds like the KB's own ("forty days" for 14,
        "eighty months" for 18), however sure Whisper was: on the tuning calls'
        audio it wrote such pairs wrongly at word probabilities of 0.6-0.8, and
        a rep's slip and our mishearing look the same from here."""
        p = self.profile
        probs = [w.probability for w in u.words]
        numbers = [w.probability for w in u.words if re.search(r"\d", normalize_numbers(w.text))]
        doubts = []
        if numbers and min(numbers) < p.asr_number_sure:
            doubts.append("asr-number")
        elif (sum(probs) / len(probs) < p.asr_garbled
              or sum(x < p.asr_number_sure for x in probs) > len(probs) * p.asr_unsure_share):
            doubts.append("asr")
        if u.cues is not None and u.cues.snr_db is not None and u.cues.snr_db < p.noisy_line_db:
            doubts.append("noisy-line")
        if any(sounds_alike(_digits(q.value), _digits(fq.value)) for q, fq in wrong):
            doubts.append("sounds-alike")
        return doubted(v, *doubts) if doubts else v

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
        """Release held errors the rep did not fix themselves: one per utterance, the
        surest (two facts "contradicted" by one sentence are one slip read two ways far
        more often than two slips, and the rep reads one card per thing they said)."""
        out = []
        open_ = [h for h in self.held if not (h.verdict.fact and h.verdict.fact.key in self.later_ok)]
        surest: dict[int, _Held] = {}
        for h in open_:
            best = surest.get(h.utterance.index)
            if best is None or h.verdict.confidence > best.verdict.confidence:
                surest[h.utterance.index] = h
        for h in open_:
            v = h.verdict
            if surest[h.utterance.index] is not h:
                continue
            out.append(Trigger(Category.ACCURACY, "kb-mismatch", Severity.HIGH, h.utterance.index, now,
                               f"Rep said \"{v.claim}\" - {v.reason.rstrip('.')}.", v.correction, v.evidence,
                               key=f"accuracy:{v.fact.key if v.fact else v.claim}", confidence=v.confidence,
                               doubts=v.doubts))
        self.held.clear()
        self.later_ok.clear()
        return out

    def _expired(self, now: float) -> list[Trigger]:
        if self.held and now >= self.held[0].utterance.end + self.profile.accuracy_max_hold_s:
            return self.turn_ended(now)
        return []
