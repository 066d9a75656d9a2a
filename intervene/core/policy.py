"""Sensitivity profiles and the policy that turns triggers into interventions.

Detectors say what they noticed; the policy decides whether the rep should be
interrupted by it: the profile's categories and severities, cooldowns, one
correction per fact, no interventions stacked on top of each other, accuracy
first, and the delivery mode configured for this rep/team and category.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional

from intervene.vocab import Category, Intervention, Mode, Severity, Trigger

C = Category
S = Severity


@dataclass(frozen=True)
class Profile:
    name: str
    # lowest severity that fires, per category; a category absent here never fires
    min_severity: Mapping[Category, Severity]
    dead_air_s: float = 6.0                 # both parties silent this long = dead air
    productive_pause_factor: float = 3.0    # "let me pull that up" stretches the allowance
    emotion_shift: float = 0.0              # added to emotion thresholds: <0 more sensitive
    cooldown_s: Mapping[Category, float] = field(default_factory=dict)
    min_gap_s: float = 3.0                  # no two interventions closer than this ...
    gap_exempt: frozenset[Category] = frozenset({C.ACCURACY, C.COMPLIANCE})  # ... except these
    defer_max_s: float = 8.0                # a trigger held back by min_gap may wait this long
    accuracy_hold_s: float = 1.0            # wait this long after the rep stops before correcting
    accuracy_max_hold_s: float = 8.0        # ... but never longer than this after the claim
    opportunity_wait_s: float = 20.0        # the rep's chance to pick a signal up themselves
    # graded delivery of factual corrections, by the verifier's confidence: at or above
    # voice_min it goes as configured (by voice by default); at or above card_min only as a
    # silent "check this" card; below, it is held back (counted, never shown)
    accuracy_voice_min: float = 0.9          # 0.95 is a contradiction with no doubt at all
    accuracy_card_min: float = 0.6

    def fires(self, category: Category, severity: Severity) -> bool:
        need = self.min_severity.get(category)
        return need is not None and severity.rank >= need.rank


_COOLDOWN = {C.EMOTION: 20.0, C.MOMENTUM: 30.0, C.OPPORTUNITY: 8.0, C.COMPETITIVE: 8.0}

PROFILES: dict[str, Profile] = {
    "minimal": Profile(
        "minimal", {C.ACCURACY: S.LOW, C.EMOTION: S.HIGH},
        dead_air_s=12.0, emotion_shift=0.05, cooldown_s=_COOLDOWN, min_gap_s=5.0),
    "standard": Profile(
        "standard", {C.ACCURACY: S.LOW, C.EMOTION: S.MEDIUM, C.MOMENTUM: S.MEDIUM,
                     C.OPPORTUNITY: S.MEDIUM, C.COMPETITIVE: S.MEDIUM, C.COMPLIANCE: S.LOW},
        dead_air_s=6.0, cooldown_s=_COOLDOWN),
    "training": Profile(
        "training", {C.ACCURACY: S.LOW, C.EMOTION: S.LOW, C.MOMENTUM: S.LOW,
                     C.OPPORTUNITY: S.LOW, C.COMPETITIVE: S.LOW, C.COMPLIANCE: S.LOW,
                     C.PROCESS: S.LOW},
        dead_air_s=4.0, emotion_shift=-0.04, cooldown_s=_COOLDOWN, min_gap_s=2.0),
}

# Factual corrections help the lead hear the right fact; coaching is for the rep only.
DEFAULT_MODES: dict[Category, Mode] = {c: Mode.SILENT for c in Category} | {C.ACCURACY: Mode.VOICE}

_PRIORITY = [C.ACCURACY, C.COMPLIANCE, C.EMOTION, C.COMPETITIVE, C.OPPORTUNITY, C.PROCESS, C.MOMENTUM]


def priority(category: Category) -> int:
    """Lower is more important; accuracy outranks everything."""
    return _PRIORITY.index(category)


class Policy:
    """Per-call gatekeeper. Keeps the call's history; pure otherwise (time is an argument)."""

    def __init__(self, profile: Profile, modes: Optional[Mapping[Category, Mode]] = None) -> None:
        self.profile = profile
        self.modes = dict(DEFAULT_MODES) | dict(modes or {})
        self.fired_keys: set[str] = set()
        self.last_at: dict[Category, float] = {}
        self.last_any: Optional[float] = None
        self.history: list[Intervention] = []
        self.deferred: list[Trigger] = []     # waiting for the gap after the previous one
        self.held_back: list[Trigger] = []    # corrections the verifier could not prove enough

    def decide(self, triggers: list[Trigger], now: float) -> list[Intervention]:
        """Admit the triggers that are due now, most important first; one that
        would crowd the previous intervention waits for the gap instead."""
        waiting, self.deferred = [t for t in self.deferred if now - t.at <= self.profile.defer_max_s], []
        out: list[Intervention] = []
        for t in sorted(waiting + triggers, key=lambda t: (priority(t.category), -t.severity.rank)):
            iv = self._admit(t, now)
            if iv:
                out.append(iv)
        return out

    def next_retry(self) -> Optional[float]:
        """When a deferred trigger may go out (the engine ticks then)."""
        if not self.deferred or self.last_any is None:
            return None
        return self.last_any + self.profile.min_gap_s

    def _admit(self, t: Trigger, now: float) -> Optional[Intervention]:
        p = self.profile
        if not p.fires(t.category, t.severity):
            return None
        mode = self.modes.get(t.category, Mode.SILENT)
        if t.confidence is not None:
            t, mode = self._grade(t, mode)
            if mode is None:
                return None
        if t.key and t.key in self.fired_keys:
            return None                                   # never the same correction twice
        last = self.last_at.get(t.category)
        if last is not None and now - last < p.cooldown_s.get(t.category, 0.0):
            return None
        if (t.category not in p.gap_exempt and self.last_any is not None
                and now - self.last_any < p.min_gap_s):
            if all(d.key != t.key or not t.key for d in self.deferred):
                self.deferred.append(t)                   # don't stack: wait for the gap
            return None
        iv = Intervention(at=now, utterance=t.utterance, category=t.category, severity=t.severity,
                          mode=mode, trigger=t.trigger, detected=t.detected, say=t.say,
                          evidence=t.evidence, confidence=t.confidence)
        if t.key:
            self.fired_keys.add(t.key)
        self.last_at[t.category] = now
        self.last_any = now
        self.history.append(iv)
        return iv


    def _grade(self, t: Trigger, mode: Mode) -> tuple[Trigger, Optional[Mode]]:
        """Only a proven contradiction may be spoken; a likely one is a silent card
        for the rep to check; anything less is held back. A wrong correction said
        to a lead costs more than a missed one."""
        conf = t.confidence or 0.0
        if conf >= self.profile.accuracy_voice_min:
            return t, mode
        if conf >= self.profile.accuracy_card_min:
            check = replace(t, trigger=f"{t.trigger.split('-')[0]}-check", severity=S.MEDIUM,
                            detected=f"Check this - {t.detected}")
            return check, (Mode.SILENT if mode == Mode.VOICE else mode)
        if all(h.key != t.key for h in self.held_back):
            self.held_back.append(t)
        return t, None


def tuned(profile: Profile, **overrides) -> Profile:
    """A profile with some thresholds changed (from the config file)."""
    return replace(profile, **overrides)
