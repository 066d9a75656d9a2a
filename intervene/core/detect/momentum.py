"""Stalled conversation: dead air and low-content exchanges.

Dead air is measured from both parties' activity (who is speaking, when the
last one stopped), and fires at the moment the silence crosses the
threshold - not when the next person finally speaks. A productive pause
("let me pull that up, one sec") stretches the allowance instead.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from intervene.core.detect.phrases import Prototypes, prototypes, units_of
from intervene.core.detect.state import CallState
from intervene.core.policy import PROFILES, Profile
from intervene.kb.index import KBIndex
from intervene.nlp.lexicon import content_words
from intervene.vocab import Category, Severity, Speaker, Trigger, Utterance

HOLD_ON = {"hold": [
    "Let me pull that up for you.",
    "One second, let me check.",
    "Give me a moment.",
    "Bear with me while I look that up.",
    "Hold on a sec.",
    "Let me check the coverage for your address.",
    "I'm just looking at your account now.",
]}
# the short fixed expressions people use for "I'm working on it, stay with me"
HOLD_WORDS = re.compile(
    r"\b(?:one|a|just a) (?:sec|second|moment|minute|mo)\b|\bbear with me\b|\bhold on\b|\bhang on\b|"
    r"\blet me (?:just )?(?:pull|check|look|see|find|bring|grab|get|open|run|calculate|work)\b|"
    r"\bgive me a (?:sec|second|moment|minute)\b|\bi'?m (?:just )?(?:pulling|checking|looking|loading)\b", re.I)
_COUNTS = ("One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten")
_FILLER = {"um", "uh", "yeah", "okay", "ok", "so", "well", "sure", "right", "hmm", "mm", "question",
           "really", "guess", "fine", "alright", "yes", "no", "not", "thing", "anything", "else"}


@dataclass
class MomentumDetector:
    """The profile says how long a silence is dead air (dead_air_s, times
    productive_pause_factor after "one sec"), and how little talk is a stall."""
    index: KBIndex
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])
    next_step: str = ""          # a process phrase not yet covered, filled in by the engine
    _fired_for: Optional[float] = None   # silence (by its start time) already reported
    _holding: bool = False
    protos: Prototypes = field(init=False)

    def __post_init__(self) -> None:
        self.protos = prototypes(self.index, "hold", HOLD_ON)

    @property
    def holding(self) -> bool:
        """The rep's last words announced a pause ("let me pull that up, one sec")."""
        return self._holding

    def allowance(self) -> float:
        p = self.profile
        return p.dead_air_s * (p.productive_pause_factor if self._holding else 1.0)

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        self._holding = u.speaker == Speaker.REP and (
            bool(HOLD_WORDS.search(u.text))
            or self.protos.scores(units_of(u.text)).get("hold", (0.0, ""))[0] >= self.profile.hold_sim)
        return self._stall(call, now)

    def next_deadline(self, call: CallState) -> Optional[float]:
        since = call.silent_since()
        if since is None or not call.utterances or self._fired_for == since or call.ended:
            return None
        return since + self.allowance()

    def on_tick(self, call: CallState, now: float) -> list[Trigger]:
        due = self.next_deadline(call)
        if due is None or now < due:
            return []
        since = call.silent_since()
        if since is None:
            return []
        self._fired_for = since
        last = call.last
        gap = now - since
        if last and last.speaker == Speaker.LEAD and last.text.rstrip().endswith("?"):
            say = f"The lead asked: \"{last.text}\" - answer it, then ask what matters most to them."
        elif self.next_step:
            say = f"Keep it moving - ask: \"{self.next_step}?\""
        else:
            say = "Keep it moving: summarise what they need and propose a next step, " \
                  "e.g. \"Shall I put a quote together for you now?\""
        return [Trigger(Category.MOMENTUM, "dead-air", Severity.MEDIUM, last.index if last else 0, now,
                        f"{gap:.0f} s of silence after \"{last.text if last else ''}\"", say,
                        key=f"dead-air:{since:.2f}")]

    def _stall(self, call: CallState, now: float) -> list[Trigger]:
        """A few turns in a row (four by default) that carry almost nothing: the talk has stalled."""
        n = self.profile.stall_turns
        turns = call.turns()[-n:]
        if len(turns) < n:
            return []
        window = [u for t in turns for u in t]
        words = [w for u in window for w in content_words(u.text) if w not in _FILLER]
        if len(words) > self.profile.stall_words:
            return []
        count = _COUNTS[n - 1] if n <= len(_COUNTS) else str(n)
        said = " / ".join(" ".join(x.text for x in t) for t in turns)
        return [Trigger(Category.MOMENTUM, "low-content", Severity.LOW, window[-1].index, now,
                        f"{count} low-content turns in a row: {said}",
                        "Ask an open question about their situation, e.g. \"What's the one thing "
                        "you'd most like to fix about your current setup?\"",
                        key=f"stall:{window[0].index}")]
