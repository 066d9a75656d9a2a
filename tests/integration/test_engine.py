"""CallEngine: accuracy decided at the end of the rep's turn (self-corrections
win), one correction per fact per call, time order, and the format-4 output."""
from __future__ import annotations

import json

import pytest

from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import events
from intervene.formats.transcript import parse_transcript
from intervene.vocab import Category, Intervention, Mode, Speaker, Utterance

C = Category
HOLD = PROFILES["standard"].accuracy_hold_s
BACKCHANNEL_S = PROFILES["standard"].backchannel_s
WRONG = "The Standard package includes two years of support."
CORRECTION = "Quick clarification - the Standard package includes three years of support."

OPENING = [
    (0.0, 3.0, "rep", "Hi, this is Mark from Acme."),
    (3.4, 6.0, "lead", "Hi. What support comes with the Standard package?"),
]


def accuracy(ivs: list[Intervention]) -> list[Intervention]:
    return [iv for iv in ivs if iv.category == C.ACCURACY]


def dump(ivs: list[Intervention]) -> str:
    return "\n".join(f"  {iv.at} u{iv.utterance} {iv.category.value}/{iv.trigger} {iv.say[:80]!r}"
                     for iv in ivs) or "  (none)"


# ---------------------------------------------------------- self-correction

@pytest.mark.parametrize("turn", [
    pytest.param([(6.4, 9.0, "rep", WRONG), (9.3, 11.0, "rep", "Sorry, my mistake, it's three years of support.")],
                 id="next-utterance-my-mistake"),
    pytest.param([(6.4, 9.0, "rep", WRONG), (9.3, 11.0, "rep", "Sorry, I mean three years of support.")],
                 id="next-utterance-i-mean"),
    pytest.param([(6.4, 9.0, "rep", WRONG), (9.5, 11.0, "rep", "Wait, no, it's three years.")],
                 id="next-utterance-wait-no"),
    pytest.param([(6.4, 9.0, "rep", WRONG), (9.5, 11.0, "rep", "Scratch that, it's three years.")],
                 id="next-utterance-scratch-that"),
    pytest.param([(6.4, 12.0, "rep", WRONG + " Sorry, I mean three years of support.")],
                 id="same-utterance"),
])
def test_self_correction_in_the_same_turn_is_not_corrected(run_call, turn) -> None:
    _, ivs = run_call("acme", "standard", OPENING + turn + [(turn[-1][1] + 0.5, 14.0, "lead", "Okay, good.")])
    assert not accuracy(ivs), dump(ivs)


def test_correction_in_the_next_turn_is_too_late(run_call) -> None:
    """The lead spoke in between: the rep's turn ended with the error standing."""
    lines = OPENING + [(6.4, 9.0, "rep", WRONG), (9.4, 10.5, "lead", "Two years, okay."),
                       (11.0, 13.0, "rep", "Sorry, my mistake, it's three years of support."),
                       (13.5, 15.0, "lead", "Okay, good.")]
    _, ivs = run_call("acme", "standard", lines)
    acc = accuracy(ivs)
    assert len(acc) == 1, dump(ivs)
    assert acc[0].at == pytest.approx(min(9.4 + BACKCHANNEL_S, 9.0 + HOLD))


@pytest.mark.parametrize("profile", ["minimal", "standard", "training"])
def test_error_decided_when_the_lead_speaks(run_call, profile: str) -> None:
    lines = OPENING + [(6.4, 9.0, "rep", WRONG), (9.5, 11.0, "lead", "Okay, good."),
                       (11.5, 14.0, "rep", "Anything else I can help with?")]
    us, ivs = run_call("acme", profile, lines)
    acc = accuracy(ivs)
    assert len(acc) == 1, dump(ivs)
    iv = acc[0]
    # the lead taking the floor (start + BACKCHANNEL_S) or the hold, whichever is first
    assert iv.at == pytest.approx(min(us[3].start + BACKCHANNEL_S, us[2].end + PROFILES[profile].accuracy_hold_s))
    assert iv.at - us[2].end <= PROFILES[profile].accuracy_hold_s
    assert iv.utterance == 2
    assert iv.trigger == "kb-mismatch"
    assert iv.say == CORRECTION
    assert iv.mode == Mode.VOICE
    assert [e.kb_id for e in iv.evidence] == ["standard"]


@pytest.mark.parametrize("profile", ["minimal", "standard", "training"])
def test_error_decided_after_the_hold_when_nobody_speaks(run_call, profile: str) -> None:
    lines = OPENING + [(6.4, 9.0, "rep", WRONG), (12.0, 14.0, "lead", "Okay, good.")]
    us, ivs = run_call("acme", profile, lines)
    acc = accuracy(ivs)
    assert len(acc) == 1, dump(ivs)
    assert acc[0].at == pytest.approx(us[2].end + PROFILES[profile].accuracy_hold_s)   # 10.0
    assert acc[0].at < us[3].start
    assert acc[0].utterance == 2


def test_rep_pause_shorter_than_the_hold_keeps_the_turn_open(run_call) -> None:
    """The rep pauses 0.6 s (< hold) and goes on: the error waits for the
    turn's end, after the second utterance."""
    lines = OPENING + [(6.4, 9.0, "rep", WRONG), (9.6, 12.0, "rep", "It's really good value."),
                       (14.0, 15.0, "lead", "Okay.")]
    us, ivs = run_call("acme", "standard", lines)
    acc = accuracy(ivs)
    assert len(acc) == 1, dump(ivs)
    assert acc[0].at == pytest.approx(us[3].end + HOLD)       # 13.0, not 10.0
    assert acc[0].utterance == 2


def test_same_correction_never_fires_twice(run_call) -> None:
    lines = OPENING + [
        (6.4, 9.0, "rep", WRONG),
        (9.5, 11.0, "lead", "Two years, okay."),
        (11.5, 14.0, "rep", "Yes, two years of support on Standard."),
        (14.5, 16.0, "lead", "Fine."),
        (16.5, 19.0, "rep", "Like I said, that plan has two years of support."),
        (19.5, 21.0, "lead", "Got it."),
    ]
    for profile in ("minimal", "standard", "training"):
        _, ivs = run_call("acme", profile, lines)
        acc = accuracy(ivs)
        assert len(acc) == 1, dump(ivs)
        assert acc[0].utterance == 2


def test_different_errors_each_fire_once(run_call) -> None:
    lines = OPENING + [
        (6.4, 9.0, "rep", WRONG),
        (9.5, 11.0, "lead", "And how many devices?"),
        (11.5, 14.0, "rep", "Standard covers up to fifty devices."),
        (14.5, 16.0, "lead", "Fine."),
    ]
    _, ivs = run_call("acme", "standard", lines)
    acc = accuracy(ivs)
    assert [iv.utterance for iv in acc] == [2, 4], dump(ivs)
    assert "25 devices" in acc[1].say
    assert acc[1].at == pytest.approx(min(14.5 + BACKCHANNEL_S, 14.0 + HOLD))


# ---------------------------------------------------------------- time order

MIXED = [
    (0.0, 3.0, "rep", "Hi, this is Mark from Acme."),
    (3.4, 8.0, "lead", "Hi. We're opening a second location soon and NetCo already quoted me."),
    (8.4, 12.0, "rep", "Great. The Standard package includes two years of support."),
    (12.4, 14.0, "lead", "Okay."),
    (14.4, 18.0, "rep", "And with us you get guaranteed savings."),
    (18.4, 20.0, "lead", "Hmm."),
    (30.0, 33.0, "rep", "Anyway, any questions?"),
    (33.5, 36.0, "lead", "I already told you, I need it for two sites."),
]


def test_interventions_come_out_in_time_order(kb_index) -> None:
    """Driven event by event (no sorting afterwards), the engine emits
    interventions in non-decreasing `at`, each no later than the event that
    released it."""
    us = parse_transcript("\n".join(json.dumps(dict(zip(("start", "end", "speaker", "text"), line)))
                                     for line in MIXED))
    engine = CallEngine(kb_index("acme"), PROFILES["standard"])
    out: list[Intervention] = []
    for e in events(us):
        got = (engine.speech_started(e.utterance.speaker, e.t) if e.kind == "start"
               else engine.utterance(e.utterance, now=e.t))
        assert all(iv.at <= e.t for iv in got)
        out += got
    out += engine.end(max(u.end for u in us))
    ats = [iv.at for iv in out]
    assert ats == sorted(ats), dump(out)
    cats = {iv.category for iv in out}
    assert {C.ACCURACY, C.COMPETITIVE, C.OPPORTUNITY, C.COMPLIANCE, C.MOMENTUM, C.EMOTION} <= cats, dump(out)
    assert len(out) >= 6
    for iv in out:
        assert 0 <= iv.utterance < len(us)


def test_replay_matches_event_driving(run_call) -> None:
    _, ivs = run_call("acme", "standard", MIXED)
    ats = [iv.at for iv in ivs]
    assert ats == sorted(ats)
    by_cat = {iv.category: iv for iv in ivs}
    assert by_cat[C.ACCURACY].at == pytest.approx(min(12.4 + BACKCHANNEL_S, 12.0 + HOLD))
    assert by_cat[C.MOMENTUM].at == pytest.approx(20.0 + PROFILES["standard"].dead_air_s)


# ------------------------------------------------------------------- format 4

FORMAT4_KEYS = {"at", "utterance", "category", "severity", "mode", "trigger", "detected", "say", "evidence"}


def test_to_json_has_exactly_the_format4_keys(run_call) -> None:
    _, ivs = run_call("acme", "standard", MIXED)
    assert ivs
    for iv in ivs:
        obj = iv.to_json()
        # format 4, plus the verifier's confidence on factual corrections (a reader may ignore it)
        extra = {"confidence"} if iv.category == C.ACCURACY else set()
        assert set(obj) == FORMAT4_KEYS | extra, sorted(obj)
        if extra:
            assert 0.0 <= obj["confidence"] <= 1.0
        assert isinstance(obj["at"], float) and obj["at"] == round(obj["at"], 2)
        assert isinstance(obj["utterance"], int) and not isinstance(obj["utterance"], bool)
        assert obj["category"] in {c.value for c in Category}
        assert obj["severity"] in {"low", "medium", "high"}
        assert obj["mode"] in {"voice", "silent"}
        assert obj["mode"] == ("voice" if iv.category == C.ACCURACY else "silent")
        for k in ("trigger", "detected", "say"):
            assert isinstance(obj[k], str) and obj[k], k
        assert isinstance(obj["evidence"], list)
        for e in obj["evidence"]:
            assert set(e) == {"kb_id", "text"}
            assert isinstance(e["kb_id"], str) and isinstance(e["text"], str)
        if iv.category in (C.ACCURACY, C.COMPETITIVE, C.OPPORTUNITY, C.COMPLIANCE):
            assert obj["evidence"], obj
        line = json.dumps(obj)
        assert "\n" not in line
        assert json.loads(line) == obj


def test_to_json_example_from_the_spec(run_call) -> None:
    _, ivs = run_call("acme", "standard", OPENING + [(6.4, 9.0, "rep", WRONG), (9.5, 11.0, "lead", "Okay.")])
    (iv,) = ivs
    assert iv.to_json() == {
        "at": 10.0, "utterance": 2, "category": "accuracy", "severity": "high", "mode": "voice",
        "trigger": "kb-mismatch", "detected": iv.detected,
        "say": CORRECTION,
        "evidence": [{"kb_id": "standard", "text": "Includes three years of support."}],
        "confidence": 0.95,
    }


def test_backchannel_does_not_end_the_rep_turn(run_call) -> None:
    """'Mm-hm' between a wrong claim and the rep's own correction: the rep's
    turn goes on, so the correction still counts and nothing fires."""
    lines = OPENING + [(6.4, 9.0, "rep", WRONG), (9.3, 9.7, "lead", "Mm-hm."),
                       (10.0, 12.0, "rep", "Sorry, I mean three years of support."),
                       (12.5, 14.0, "lead", "Okay, good to know.")]
    _, ivs = run_call("acme", "standard", lines)
    assert not accuracy(ivs), dump(ivs)


def test_audio_split_turns_are_still_one_turn(acme_index) -> None:
    """Audio cuts a turn at every pause: a forbidden promise repeated in the
    next piece of the same turn is one intervention; a lead's "mm-hm" said
    over the rep is listening, not a cold short reply."""
    from intervene.vocab import Cues
    engine = CallEngine(acme_index, PROFILES["standard"])
    out = []
    for i, (who, s, e, text) in enumerate([
            (Speaker.REP, 0.0, 2.0, "It's risk-free, honestly."),
            (Speaker.REP, 2.4, 4.0, "You get guaranteed savings."),
            (Speaker.LEAD, 5.0, 7.0, "Okay, good to know.")]):
        out += engine.speech_started(who, s)
        out += engine.utterance(Utterance(i, who, s, e, text), e)
    out += engine.end(12.0)
    assert len([iv for iv in out if iv.category == Category.COMPLIANCE]) == 1

    from intervene.core.detect.emotion import _replies
    from intervene.core.detect.state import CallState
    call = CallState()
    rows = [(Speaker.LEAD, "We run three cafes and the wifi keeps dropping at the busiest time."),
            (Speaker.REP, "Got it."), (Speaker.LEAD, "Mm-hm."), (Speaker.LEAD, "And the router is old.")]
    for i, (who, text) in enumerate(rows):
        over = Cues(overlap_s=0.5) if text == "Mm-hm." else None
        call.utterances.append(Utterance(i, who, i * 2.0, i * 2.0 + 1.0, text, cues=over))
    assert _replies(call, PROFILES["standard"].overheard_overlap) == [rows[0][1], "And the router is old."]
    # ("mm-hm" over the rep for half its length; counted as a reply if only more overlap is listening)
    assert _replies(call, 0.6) == [rows[0][1], "Mm-hm. And the router is old."]
