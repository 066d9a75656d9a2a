"""Tests for intervene.core.policy: which triggers a profile lets through, and how the
per-call Policy dedupes, spaces, orders and delivers them. Pure: no model."""
from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from intervene.core.policy import (
    DEFAULT_MODES,
    PER_CATEGORY,
    PROFILES,
    SETTINGS,
    WHOLE,
    Policy,
    Profile,
    out_of_range,
    priority,
    tuned,
)
from intervene.vocab import Category, Evidence, Intervention, Mode, Severity, Trigger

C, S = Category, Severity
_n = itertools.count()


def trig(category: Category, severity: Severity = S.HIGH, key: str | None = None,
         utterance: int = 0, at: float = 0.0, trigger: str = "t", say: str = "say it",
         evidence: tuple[Evidence, ...] = ()) -> Trigger:
    """A trigger with a fresh, unique dedupe key unless one is given."""
    return Trigger(category, trigger, severity, utterance, at, f"noticed {category.value}", say,
                   evidence, key if key is not None else f"k{next(_n)}")


def fired(policy: Policy, triggers: list[Trigger], now: float) -> list[Category]:
    return [iv.category for iv in policy.decide(triggers, now)]


# ------------------------------------------------------------------ profiles

def test_minimal_fires_only_accuracy_and_severe_emotion() -> None:
    p = PROFILES["minimal"]
    for sev in S:
        assert p.fires(C.ACCURACY, sev), sev
    assert p.fires(C.EMOTION, S.HIGH)
    assert not p.fires(C.EMOTION, S.MEDIUM)
    assert not p.fires(C.EMOTION, S.LOW)
    for cat in (C.MOMENTUM, C.OPPORTUNITY, C.COMPETITIVE, C.COMPLIANCE, C.PROCESS):
        for sev in S:
            assert not p.fires(cat, sev), (cat, sev)


def test_standard_fires_everything_but_process_and_low_coaching() -> None:
    p = PROFILES["standard"]
    for cat in (C.ACCURACY, C.EMOTION, C.MOMENTUM, C.OPPORTUNITY, C.COMPETITIVE, C.COMPLIANCE):
        assert p.fires(cat, S.HIGH) and p.fires(cat, S.MEDIUM), cat
    for sev in S:
        assert not p.fires(C.PROCESS, sev), sev
    # accuracy and compliance fire at any severity; coaching categories need medium+
    assert p.fires(C.ACCURACY, S.LOW) and p.fires(C.COMPLIANCE, S.LOW)
    for cat in (C.EMOTION, C.MOMENTUM, C.OPPORTUNITY, C.COMPETITIVE):
        assert not p.fires(cat, S.LOW), cat


def test_training_fires_everything_including_low_severity() -> None:
    p = PROFILES["training"]
    for cat in Category:
        for sev in S:
            assert p.fires(cat, sev), (cat, sev)


def test_profiles_order_thresholds_by_sensitivity() -> None:
    m, s, t = PROFILES["minimal"], PROFILES["standard"], PROFILES["training"]
    assert m.dead_air_s > s.dead_air_s > t.dead_air_s
    assert m.emotion_shift > s.emotion_shift > t.emotion_shift   # training is more sensitive
    assert set(PROFILES) == {"minimal", "standard", "training"}


def test_profile_without_a_category_never_fires_it() -> None:
    p = Profile("x", {C.EMOTION: S.MEDIUM})
    assert not p.fires(C.ACCURACY, S.HIGH)
    assert p.fires(C.EMOTION, S.HIGH) and not p.fires(C.EMOTION, S.LOW)


def test_tuned_changes_only_what_is_asked_and_keeps_builtin() -> None:
    base = PROFILES["standard"]
    t = tuned(base, dead_air_s=9.0)
    assert t.dead_air_s == 9.0 and t.min_severity == base.min_severity
    assert PROFILES["standard"].dead_air_s == 6.0


def test_every_builtin_setting_is_within_its_range() -> None:
    for p in PROFILES.values():
        for name in SETTINGS:
            if name not in PER_CATEGORY:
                assert out_of_range(name, getattr(p, name)) == "", (p.name, name)
                assert isinstance(getattr(p, name), int if name in WHOLE else float), (p.name, name)


def test_detector_thresholds_are_the_same_in_every_builtin_profile() -> None:
    """The profiles differ in what fires, how often and emotion_shift; the
    detectors' own thresholds are calibrated once, so a profile only differs
    there when a config file says so."""
    differ = {"name", "min_severity", "dead_air_s", "emotion_shift", "min_gap_s"}
    for name in set(SETTINGS) - differ:
        assert len({repr(getattr(p, name)) for p in PROFILES.values()}) == 1, name


@pytest.mark.parametrize("name, value, need", [
    ("signal_sim", 0.7, ""),
    ("signal_sim", 70, "a number from 0 to 1"),
    ("emotion_shift", -0.05, ""),
    ("emotion_shift", -2, "a number from -1 to 1"),
    ("stall_turns", 4, ""),
    ("stall_turns", 4.5, "a whole number of 1 or more"),
    ("stall_words", 0, ""),
    ("dead_air_s", -1, "a number of 0 or more"),
    ("dead_air_s", float("nan"), "a number of 0 or more"),
])
def test_out_of_range_says_what_a_setting_must_be(name: str, value: float, need: str) -> None:
    assert out_of_range(name, value) == need


# -------------------------------------------------------------- the policy

def test_intervention_carries_trigger_content_and_decision_time() -> None:
    ev = (Evidence("standard", "Includes three years of support."),)
    pol = Policy(PROFILES["standard"])
    t = Trigger(C.ACCURACY, "kb-mismatch", S.HIGH, 4, 21.0, "said two years",
                "Actually three years.", ev, "standard#1")
    [iv] = pol.decide([t], now=22.5)
    assert iv == Intervention(22.5, 4, C.ACCURACY, S.HIGH, Mode.VOICE, "kb-mismatch",
                              "said two years", "Actually three years.", ev)
    assert pol.history == [iv]


def test_profile_filter_applies_in_decide() -> None:
    pol = Policy(PROFILES["minimal"])
    assert fired(pol, [trig(C.OPPORTUNITY)], 10) == []
    assert fired(pol, [trig(C.EMOTION, S.MEDIUM)], 20) == []
    assert fired(pol, [trig(C.COMPLIANCE)], 30) == []
    assert fired(pol, [trig(C.ACCURACY, S.LOW)], 40) == [C.ACCURACY]
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.PROCESS)], 10) == []
    pol = Policy(PROFILES["training"])
    assert fired(pol, [trig(C.PROCESS, S.LOW)], 10) == [C.PROCESS]


def test_same_key_never_fires_twice_even_much_later() -> None:
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.ACCURACY, key="standard#1")], 10) == [C.ACCURACY]
    assert fired(pol, [trig(C.ACCURACY, key="standard#1")], 11) == []
    assert fired(pol, [trig(C.ACCURACY, key="standard#1")], 500) == []
    # a different correction still gets through
    assert fired(pol, [trig(C.ACCURACY, key="refund")], 501) == [C.ACCURACY]


def test_same_key_twice_in_one_batch_fires_once() -> None:
    pol = Policy(PROFILES["training"])
    out = pol.decide([trig(C.ACCURACY, key="x"), trig(C.ACCURACY, key="x")], 10)
    assert len(out) == 1


def test_dedupe_is_per_call() -> None:
    a, b = Policy(PROFILES["standard"]), Policy(PROFILES["standard"])
    assert fired(a, [trig(C.ACCURACY, key="k")], 1) == [C.ACCURACY]
    assert fired(b, [trig(C.ACCURACY, key="k")], 1) == [C.ACCURACY]


def test_rejected_trigger_does_not_burn_its_key() -> None:
    """A trigger held back by the gap may come again and then fire."""
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.EMOTION, S.HIGH)], 10) == [C.EMOTION]
    assert fired(pol, [trig(C.OPPORTUNITY, S.MEDIUM, key="multi-site")], 11) == []
    assert fired(pol, [trig(C.OPPORTUNITY, S.MEDIUM, key="multi-site")], 14) == [C.OPPORTUNITY]


def test_unkeyed_triggers_are_not_deduped() -> None:
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.ACCURACY, key="")], 10) == [C.ACCURACY]
    assert fired(pol, [trig(C.ACCURACY, key="")], 11) == [C.ACCURACY]


@pytest.mark.parametrize("category,cooldown", [(C.EMOTION, 20.0), (C.MOMENTUM, 30.0),
                                               (C.OPPORTUNITY, 8.0), (C.COMPETITIVE, 8.0)])
def test_per_category_cooldown(category: Category, cooldown: float) -> None:
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(category)], 100) == [category]
    assert fired(pol, [trig(category)], 100 + cooldown - 0.5) == []
    assert fired(pol, [trig(category)], 100 + cooldown + 0.5) == [category]


def test_cooldown_is_per_category_not_global() -> None:
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.EMOTION)], 100) == [C.EMOTION]
    # emotion is cooling down, but a different category after the gap may fire
    assert fired(pol, [trig(C.COMPETITIVE)], 104) == [C.COMPETITIVE]
    assert fired(pol, [trig(C.EMOTION)], 110) == []


def test_cooldown_override_from_profile() -> None:
    prof = tuned(PROFILES["standard"], cooldown_s={C.EMOTION: 2.0})
    pol = Policy(prof)
    assert fired(pol, [trig(C.EMOTION)], 10) == [C.EMOTION]
    assert fired(pol, [trig(C.EMOTION)], 13.5) == [C.EMOTION]


def test_min_gap_between_interventions() -> None:
    pol = Policy(PROFILES["standard"])           # min_gap_s = 3
    assert fired(pol, [trig(C.EMOTION)], 10) == [C.EMOTION]
    assert fired(pol, [trig(C.OPPORTUNITY)], 12.0) == []
    assert fired(pol, [trig(C.COMPETITIVE)], 12.9) == []
    assert fired(pol, [trig(C.COMPETITIVE)], 13.1) == [C.COMPETITIVE]


def test_minimal_has_a_longer_gap_than_training() -> None:
    assert PROFILES["minimal"].min_gap_s > PROFILES["standard"].min_gap_s > PROFILES["training"].min_gap_s
    pol = Policy(PROFILES["training"])           # min_gap_s = 2
    assert fired(pol, [trig(C.EMOTION)], 10) == [C.EMOTION]
    assert fired(pol, [trig(C.PROCESS)], 12.5) == [C.PROCESS]


@pytest.mark.parametrize("exempt", [C.ACCURACY, C.COMPLIANCE])
def test_accuracy_and_compliance_are_exempt_from_the_gap(exempt: Category) -> None:
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.EMOTION)], 10) == [C.EMOTION]
    assert fired(pol, [trig(exempt)], 10.2) == [exempt]
    assert fired(pol, [trig(exempt)], 10.4) == [exempt]        # no cooldown either


def test_exempt_intervention_still_counts_for_the_gap() -> None:
    pol = Policy(PROFILES["standard"])
    assert fired(pol, [trig(C.ACCURACY)], 10) == [C.ACCURACY]
    assert fired(pol, [trig(C.OPPORTUNITY)], 11) == []


def test_accuracy_first_when_several_arrive_at_once() -> None:
    pol = Policy(PROFILES["training"])
    batch = [trig(C.MOMENTUM), trig(C.OPPORTUNITY), trig(C.COMPLIANCE), trig(C.ACCURACY, S.LOW)]
    out = fired(pol, batch, 50)
    assert out[0] == C.ACCURACY
    assert out[1] == C.COMPLIANCE
    # the rest would stack on the correction: the gap holds them back
    assert out == [C.ACCURACY, C.COMPLIANCE]


def test_most_important_coaching_wins_a_simultaneous_batch() -> None:
    pol = Policy(PROFILES["standard"])
    out = pol.decide([trig(C.MOMENTUM), trig(C.OPPORTUNITY), trig(C.EMOTION, S.MEDIUM)], 50)
    assert [iv.category for iv in out] == [C.EMOTION]


def test_higher_severity_first_within_a_category() -> None:
    pol = Policy(PROFILES["standard"])
    low = trig(C.EMOTION, S.MEDIUM, trigger="sigh")
    high = trig(C.EMOTION, S.HIGH, trigger="escalation")
    out = pol.decide([low, high], 5)
    assert [iv.trigger for iv in out] == ["escalation"]


def test_priority_puts_accuracy_first() -> None:
    assert priority(C.ACCURACY) == 0
    assert all(priority(C.ACCURACY) < priority(c) for c in Category if c != C.ACCURACY)
    assert priority(C.COMPLIANCE) < priority(C.EMOTION)
    assert sorted(Category, key=priority)[0] is C.ACCURACY


# ------------------------------------------------------------------- modes

def test_default_modes_voice_for_accuracy_only() -> None:
    assert DEFAULT_MODES[C.ACCURACY] is Mode.VOICE
    assert all(DEFAULT_MODES[c] is Mode.SILENT for c in Category if c != C.ACCURACY)
    pol = Policy(PROFILES["training"])
    got = {}
    for i, cat in enumerate(Category):
        [iv] = pol.decide([trig(cat)], 100.0 * (i + 1))
        got[cat] = iv.mode
    assert got == {c: (Mode.VOICE if c is C.ACCURACY else Mode.SILENT) for c in Category}


def test_mode_overrides() -> None:
    pol = Policy(PROFILES["standard"], {C.EMOTION: Mode.VOICE, C.ACCURACY: Mode.SILENT})
    [a] = pol.decide([trig(C.ACCURACY)], 10)
    [e] = pol.decide([trig(C.EMOTION)], 20)
    [o] = pol.decide([trig(C.OPPORTUNITY)], 30)
    assert (a.mode, e.mode, o.mode) == (Mode.SILENT, Mode.VOICE, Mode.SILENT)


def test_mode_overrides_do_not_leak_into_defaults() -> None:
    Policy(PROFILES["standard"], {C.ACCURACY: Mode.SILENT})
    assert DEFAULT_MODES[C.ACCURACY] is Mode.VOICE
    [iv] = Policy(PROFILES["standard"]).decide([trig(C.ACCURACY)], 1)
    assert iv.mode is Mode.VOICE


@pytest.mark.parametrize("judged_min, confidence, doubts, mode", [
    (1.0, 0.35, ("product-unknown", "judge-agrees"), None),          # the default holds it back
    (0.3, 0.35, ("product-unknown", "judge-agrees"), Mode.SILENT),   # a profile may show it as a card
    (0.3, 0.2, ("slot", "product-unknown", "judge-agrees"), None),   # too doubtful even there
    (0.3, 0.35, ("product-unknown",), None),                         # the judge was not sure
    (0.3, 0.85, ("judge-agrees",), Mode.SILENT),                     # never lifted to the voice
])
def test_a_doubted_number_the_judge_is_sure_of_is_a_card_only_where_the_profile_says(
        judged_min: float, confidence: float, doubts: tuple[str, ...], mode: Mode | None) -> None:
    pol = Policy(tuned(PROFILES["standard"], accuracy_judged_min=judged_min))
    t = replace(trig(C.ACCURACY, S.HIGH), confidence=confidence, doubts=doubts)
    out = pol.decide([t], 10.0)
    assert [iv.mode for iv in out] == ([mode] if mode else []), out
    assert bool(pol.held_back) == (mode is None)
