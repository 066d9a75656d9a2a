"""The decision half of a call: what was said in, interventions out.

    speech events + final utterances ──> detectors ──> triggers ──> policy ──> interventions

The engine is driven by three calls - speech_started, utterance, advance(now) -
and never reads a clock itself: replay feeds it a simulated clock, the live
service the real one, so time-based decisions (dead air, deadlines, the end
of the rep's turn) happen at the same call time in both.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Optional

from intervene.core.detect.accuracy import AccuracyDetector
from intervene.core.detect.claims import ClaimChecker
from intervene.core.detect.emotion import EmotionDetector
from intervene.core.detect.momentum import MomentumDetector
from intervene.core.detect.signals import CompetitorDetector, ComplianceDetector, OpportunityDetector, RequiredDetector
from intervene.core.detect.state import CallState
from intervene.core.policy import Policy, Profile
from intervene.kb.index import KBIndex
from intervene.nlp.text import is_backchannel
from intervene.vocab import Category, Intervention, Mode, Speaker, Trigger, Utterance


class CallEngine:
    def __init__(self, index: KBIndex, profile: Profile,
                 modes: Optional[Mapping[Category, Mode]] = None,
                 checker: Optional[ClaimChecker] = None,
                 detectors: Optional["Detectors"] = None) -> None:
        self.index = index
        self.profile = profile
        self.policy = Policy(profile, modes)
        self.call = CallState()
        d = detectors or Detectors.build(index, profile, checker)
        self.d = d
        # a detector whose category this profile never fires costs time and decides nothing
        # (required phrases are always tracked: dead-air suggestions name the next open step)
        fires = set(profile.min_severity) | {Category.PROCESS}
        self.active = [det for cat, det in ((Category.ACCURACY, d.accuracy), (Category.COMPLIANCE, d.compliance),
                                             (Category.EMOTION, d.emotion), (Category.COMPETITIVE, d.competitor),
                                             (Category.OPPORTUNITY, d.opportunity), (Category.PROCESS, d.required),
                                             (Category.MOMENTUM, d.momentum)) if cat in fires]
        self.rep_turn_open = False
        self.last_rep_end = 0.0
        self.last_backchannel_end = 0.0
        self.decision_ms: list[float] = []       # per final utterance, for the benchmark

    # --------------------------------------------------------------- events
    def speech_started(self, speaker: Speaker, now: float) -> list[Intervention]:
        """Someone started talking (VAD). The lead taking the floor ends the
        rep's turn - once it is clear it is not just "mm-hm" (the profile's
        backchannel_s: a rep pausing for "mm-hm" has not finished their turn)."""
        out = self.advance(now)
        self.call.speaking[speaker] = now
        return out

    def speech_ended(self, speaker: Speaker, end: float, now: float) -> list[Intervention]:
        """Someone stopped making sound that turned out not to be words (a
        cough, noise, or text Whisper's guards dropped): they are no longer
        talking, and the silence after it is measured from `end`."""
        self.call.speaking.pop(speaker, None)
        self.call.last_voice = max(self.call.last_voice, end)
        return self.advance(now)

    def interim(self, u: Utterance, now: float) -> list[Intervention]:
        """Text so far of an utterance still being spoken. Only the claim
        checker reads it: a factual error mid-monologue is found (and the
        embedding work done) before the rep stops, and released at the
        end of their turn or after the accuracy detector's maximum hold."""
        out = self.advance(now)
        if Category.ACCURACY not in self.profile.min_severity or u.speaker != Speaker.REP:
            return out
        return out + self.policy.decide(self.d.accuracy.on_interim(u, self.call, now), now)

    def utterance(self, u: Utterance, now: Optional[float] = None) -> list[Intervention]:
        now = u.end if now is None else now
        out = self.advance(now)
        t0 = time.perf_counter()
        self.call.speaking.pop(u.speaker, None)
        self.call.utterances.append(u)
        d = self.d
        triggers: list[Trigger] = []
        for det in self.active:
            triggers += det.on_utterance(u, self.call, now)
        self.call.product = d.accuracy.product_named(u.text) or self.call.product
        if u.speaker == Speaker.REP:
            self.rep_turn_open = True
            self.last_rep_end = u.end
        elif u.speaker == Speaker.LEAD and self.rep_turn_open:
            if is_backchannel(u.text):
                self.last_backchannel_end = u.end      # "okay" while the rep pauses: still the rep's turn
            else:
                triggers += self._end_rep_turn(now)
        d.momentum.next_step = next(iter(d.required.open_steps()), "")
        out += self.policy.decide(triggers, now)
        self.decision_ms.append((time.perf_counter() - t0) * 1000)
        return out

    def next_deadline(self) -> Optional[float]:
        """The earliest call time at which something may fire without new speech."""
        d = self.d
        due = [x for x in (d.momentum.next_deadline(self.call),
                           d.opportunity.next_deadline(self.call), d.competitor.next_deadline(self.call),
                           d.required.next_deadline(self.call))
               if x is not None]
        turn = self._rep_turn_due()
        if turn is not None:
            due.append(turn)
        retry = self.policy.next_retry()
        if retry is not None:
            due.append(retry)
        return min(due, default=None)

    def advance(self, now: float) -> list[Intervention]:
        """Fire everything due up to `now`, each at the time it fell due."""
        out: list[Intervention] = []
        for _ in range(1000):
            due = self.next_deadline()
            if due is None or due > now:
                break
            out += self._tick(max(due, 0.0))
        return out

    def end(self, now: float) -> list[Intervention]:
        """The call is over: release what is held, then nothing more fires."""
        out = self.advance(now)
        triggers = self._end_rep_turn(now) if self.rep_turn_open else []
        triggers += self.d.accuracy.turn_ended(now)
        self.call.ended = True
        return out + self.policy.decide(triggers, now)

    # -------------------------------------------------------------- internals
    def _tick(self, now: float) -> list[Intervention]:
        d = self.d
        triggers: list[Trigger] = []
        turn = self._rep_turn_due()
        if turn is not None and now >= turn:
            triggers += self._end_rep_turn(now)
        triggers += d.required.on_tick(self.call, now)
        triggers += d.opportunity.on_tick(self.call, now)
        triggers += d.competitor.on_tick(self.call, now)
        triggers += d.momentum.on_tick(self.call, now)
        return self.policy.decide(triggers, now)

    def _rep_turn_due(self) -> Optional[float]:
        """When the rep's turn counts as over: the lead has held the floor for
        backchannel_s, or the rep has been quiet for accuracy_hold_s (a lead's
        "mm-hm" restarts that wait) - whichever comes first."""
        if not self.rep_turn_open or Speaker.REP in self.call.speaking:
            return None
        quiet = max(self.last_rep_end, self.last_backchannel_end) + self.profile.accuracy_hold_s
        if Speaker.LEAD in self.call.speaking:
            return min(quiet, self.call.speaking[Speaker.LEAD] + self.profile.backchannel_s)
        return quiet

    def _end_rep_turn(self, now: float) -> list[Trigger]:
        self.rep_turn_open = False
        holding = self.d.momentum.holding       # "one sec, let me pull that up": the answer is to come
        return (self.d.accuracy.turn_ended(now) + self.d.opportunity.rep_turn_ended(now, holding)
                + self.d.competitor.rep_turn_ended(now, holding))


@dataclass
class Detectors:
    accuracy: AccuracyDetector
    compliance: ComplianceDetector
    emotion: EmotionDetector
    competitor: CompetitorDetector
    opportunity: OpportunityDetector
    required: RequiredDetector
    momentum: MomentumDetector

    @classmethod
    def build(cls, index: KBIndex, profile: Profile, checker: Optional[ClaimChecker] = None) -> "Detectors":
        """Every detector reads its thresholds from the call's profile."""
        return cls(
            accuracy=AccuracyDetector(checker or index.shared("claims", lambda: ClaimChecker(index)), profile),
            compliance=ComplianceDetector(index, profile),
            emotion=EmotionDetector(index, profile),
            competitor=CompetitorDetector(index, profile),
            opportunity=OpportunityDetector(index, profile),
            required=RequiredDetector(index, profile),
            momentum=MomentumDetector(index, profile),
        )
