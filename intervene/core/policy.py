"""Sensitivity profiles and the policy that turns triggers into interventions.

Detectors say what they noticed; the policy decides whether the rep should be
interrupted by it: the profile's categories and severities, cooldowns, one
correction per fact, no interventions stacked on top of each other, accuracy
first, and the delivery mode configured for this rep/team and category.

The profile also carries every detector's sensitivity threshold, so one
place - `[profiles.X]` in the config file, or `intervene tune --set` - reaches
all of them; the engine builds each call's detectors from the call's profile.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Optional, TypeVar

from intervene.vocab import Category, Intervention, Mode, Severity, Trigger

C = Category
S = Severity
_T = TypeVar("_T", int, float)


def _bounded(default: _T, lo: float, hi: float = math.inf) -> _T:
    """A threshold outside [lo, hi] is a typo or a misunderstanding (70 for a
    similarity of 0.70), and the config file says so rather than silently
    switching a detector off. Unmarked fields are numbers of 0 or more."""
    return field(default=default, metadata={"range": (lo, hi)})


def _share(default: float) -> float:
    """A similarity, probability or fraction: 0 to 1."""
    return _bounded(default, 0.0, 1.0)


def _signed(default: float) -> float:
    """A sentiment score or a shift of similarities: -1 to 1."""
    return _bounded(default, -1.0, 1.0)


def _count(default: int, lo: int = 1) -> int:
    """A whole number of turns, replies or words."""
    return _bounded(default, lo)


@dataclass(frozen=True)
class Profile:
    name: str
    # lowest severity that fires, per category; a category absent here never fires
    min_severity: Mapping[Category, Severity]
    dead_air_s: float = 6.0                 # both parties silent this long = dead air
    productive_pause_factor: float = 3.0    # "let me pull that up" stretches the allowance
    emotion_shift: float = _signed(0.0)     # added to emotion thresholds: <0 more sensitive
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
    # ... and a number the rules doubted but the judge is sure of ("judge-agrees") is a card too
    # if the rules' own confidence is at least this (1 = never, the default: on the blind call
    # sets such cards were right 9 times in 14, below the other cards' 4 in 5; 0.3 shows them)
    accuracy_judged_min: float = _share(1.0)

    # --- turn-taking (engine)
    backchannel_s: float = 0.6              # a lead talking this long has taken the floor; shorter is "mm-hm"
    # --- accuracy: what speech recognition may have misheard (audio only), and the rep's turn
    asr_number_sure: float = _share(0.5)    # a number's word probability below which it was a guess
    asr_teen_ty_sure: float = _share(0.7)   # ... for "fourteen"/"forty" pairs, the classic confusion
    asr_garbled: float = _share(0.6)        # mean word probability below which the line is likely misheard
    asr_unsure_share: float = _share(1 / 3)  # ... or more than this share of words under asr_number_sure
    noisy_line_db: float = 25.0             # rep's speech over the line's noise floor below which none is spoken
    continues_s: float = 1.0                # longest pause inside one sentence split across two utterances
    claim_context_turns: int = _count(3)    # utterances before a claim read for who "they" are
    # --- emotion: closeness to each label's examples that counts (emotion_shift is added)
    emotion_escalation_sim: float = _share(0.60)
    emotion_frustration_sim: float = _share(0.60)
    emotion_confusion_sim: float = _share(0.66)
    arousal_bonus: float = _share(0.06)     # how far an agitated voice lowers escalation/frustration
    arousal_louder_db: float = 4.0          # louder than the lead's own median by this = agitated
    arousal_pitch_rise: float = 0.15        # higher than the lead's own median by this share = agitated
    emotion_kind_sentiment: float = _signed(0.3)         # words that sound upset, said this warmly, are not
    emotion_aimed_sentiment: float = _signed(-0.5)       # a reply this negative, with a part aimed at the rep ...
    emotion_aimed_part_sentiment: float = _signed(-0.3)  # ... that part this negative: frustration
    repeated_question_sim: float = _share(0.75)  # a rep question this close to an earlier one asks it again
    overheard_overlap: float = _share(0.5)  # a lead utterance this much over the rep is listening, not a reply
    disengaged_replies: int = _count(3)     # this many short replies in a row ...
    disengaged_words: int = _count(3, 0)    # ... of at most this many words ...
    engaged_replies: int = _count(2)        # ... after at least this many earlier replies ...
    engaged_words: float = 6.0              # ... of this many words on average ...
    cooling_margin: float = _signed(0.05)   # ... with sentiment no warmer than before by more than this
    # --- momentum
    hold_sim: float = _share(0.55)          # rep words this close to "let me pull that up" announce a pause
    stall_turns: int = _count(4)            # this many turns in a row ...
    stall_words: int = _count(3, 0)         # ... with at most this many content words: the talk has stalled
    # --- opportunities, promotions, competitors
    signal_sim: float = _share(0.70)        # lead's words this close to an opportunity/promotion signal
    signal_window_gate: float = _share(0.50)  # below this for every sentence, word windows are not tried
    signal_partial_sim: float = _share(0.55)  # a window this close sharing 2/3 of the signal's words hits
    signal_topic_margin: float = _signed(0.05)  # ... and on meaning, this much closer than to what is sold
    signal_window_short: int = _count(4)    # word windows of the lead's statements: the short size ...
    signal_window_long: int = _count(6)     # ... the long size ...
    signal_window_stride: int = _count(2)   # ... and the step between them
    pickup_sim: float = _share(0.55)        # a rep reply this close to the suggested words picked it up
    opportunity_turns: int = _count(1)      # rep turns to pick an opportunity up before its card
    opening_promotion_turns: int = _count(3)  # ... and a promotion that fits why the lead called
    competitor_turns: int = _count(1)       # ... and a competitor mention
    competitor_wait_s: float = 10.0         # ... or this long while the rep is silent
    competitor_generic_sim: float = _share(0.62)  # close to "another company quoted me less"
    # --- compliance and required phrases
    forbidden_sim: float = _share(0.70)     # rep's words this close to a forbidden statement
    forbidden_assured_sim: float = _share(0.38)    # ... when the rep explicitly promises something
    forbidden_reassured_sim: float = _share(0.55)  # ... or reassures ("no need to worry about damage")
    kb_promise_sim: float = _share(0.55)    # a KB guarantee this close is the company's, not an over-promise
    required_sim: float = _share(0.70)      # rep's words this close to a required phrase cover it

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
            t, graded = self._grade(t, mode)
            if graded is None:
                return None
            mode = graded
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
        if "judge-agrees" in t.doubts and self.profile.accuracy_judged_min <= conf < self.profile.accuracy_card_min:
            conf = self.profile.accuracy_card_min       # the judge's certainty: a card, never the voice
        if conf >= self.profile.accuracy_voice_min:
            return t, mode
        if conf >= self.profile.accuracy_card_min:
            check = replace(t, trigger=f"{t.trigger.split('-')[0]}-check", severity=S.MEDIUM,
                            detected=f"Check this - {t.detected}")
            return check, (Mode.SILENT if mode == Mode.VOICE else mode)
        if all(h.key != t.key for h in self.held_back):
            self.held_back.append(t)
        return t, None


def tuned(profile: Profile, **overrides: Any) -> Profile:
    """A profile with some thresholds changed (from the config file)."""
    return replace(profile, **overrides)


# ---------------------------------------------------------------- settings

PER_CATEGORY = ("min_severity", "cooldown_s")
# every setting a config file or `tune --set` may change, by name: the rest are one number each
SETTINGS = tuple(f.name for f in fields(Profile) if f.name not in ("name", "gap_exempt"))
WHOLE = frozenset(f.name for f in fields(Profile) if f.type in ("int", int))


def setting_range(name: str) -> tuple[float, float]:
    """The values a numeric setting may take (inclusive)."""
    f = next(f for f in fields(Profile) if f.name == name)
    lo, hi = f.metadata.get("range", (0.0, math.inf))
    return float(lo), float(hi)


def out_of_range(name: str, value: float) -> str:
    """What the setting must be if `value` is not allowed ("a number from 0
    to 1"), else "": one rule for the config file and `tune --set`."""
    lo, hi = setting_range(name)
    whole = name in WHOLE
    if math.isfinite(value) and lo <= value <= hi and (not whole or float(value).is_integer()):
        return ""
    kind = "a whole number" if whole else "a number"
    return f"{kind} of {lo:g} or more" if hi == math.inf else f"{kind} from {lo:g} to {hi:g}"
