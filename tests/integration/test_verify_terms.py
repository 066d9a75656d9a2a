"""The verification stage, continued: numbers that are not terms of the offer,
fees on other terms, surcharges, and sentences split across two utterances.

Each kind was seen as false corrections on calls from unseen companies; the
tests are written from the kind's description against a KB made up here.
"""
from __future__ import annotations

import pytest
from verdictkit import CARD, checker_of, errors, shown, spoken

from intervene.core.detect.accuracy import AccuracyDetector
from intervene.core.detect.claims import ClaimChecker
from intervene.core.detect.state import CallState
from intervene.vocab import Speaker, Utterance

KB = """
company: Brightpath Swim School
products:
  - id: casual
    name: Casual swim lesson
    aliases: [casual lesson, single lesson, drop-in lesson]
    price: "$38 per lesson"
    facts:
      - Private lessons cost $15 more per lesson than group lessons.
  - id: term-pass
    name: Term pass
    aliases: [term pass, ten-week pass, ten-pack]
    price: "$320 for 10 lessons"
    facts:
      - Unused lessons expire at the end of the term.
  - id: squad
    name: Squad membership
    aliases: [squad, squad membership]
    price: "$89 per month"
    facts:
      - Includes three squad sessions a week.
      - Video stroke analysis is included at no extra charge.
  - id: video
    name: Video stroke analysis
    aliases: [video analysis, stroke analysis]
    price: "$9.50 per month"
    facts:
      - Included free with Squad membership; an add-on for everyone else.
facts:
  - id: enrolment
    text: The enrolment fee is $60, and it is waived with any 12-month membership.
  - id: early-exit
    text: Memberships run for 12 months; cancelling early costs 50% of the remaining monthly fees.
  - id: weekend
    text: Weekend lessons cost $6 extra per lesson.
"""

@pytest.fixture(scope="module")
def swim(embedder) -> ClaimChecker:
    return checker_of(KB, "brightpath", embedder)


@pytest.mark.parametrize("text", [
    "And you've got what, four lessons left on your term pass?",
    "So that's six lessons remaining on the ten-pack.",
    "you've got three lessons to go on your term pass",
])
def test_the_customers_own_balance_is_not_a_term_of_the_offer(swim, text) -> None:
    assert not shown(errors(swim, text, "term-pass")), errors(swim, text, "term-pass")


@pytest.mark.parametrize("text", [
    "Private is $15 more per lesson, so $53 for a casual lesson.",
    "A private one is fifteen dollars more, which makes it fifty-three dollars for a single lesson.",
    "Weekends are $6 extra, so that comes to $44 for a casual lesson.",
])
def test_the_reps_arithmetic_on_a_kb_price_is_no_error(swim, text) -> None:
    assert not shown(errors(swim, text, "casual")), errors(swim, text, "casual")


@pytest.mark.parametrize("text", [
    "Private is $15 more per lesson. A casual lesson is $58 on its own.",
    "Casual lessons are fifty-eight dollars each.",
])
def test_a_wrong_price_is_not_excused_by_a_number_said_after_it(swim, text) -> None:
    assert shown(errors(swim, text, "casual")), errors(swim, text, "casual")


@pytest.mark.parametrize("text", [
    "On squad you'd add video analysis, that's nine fifty a month extra.",
    "With the squad membership it's $9.50 a month on top for the video analysis.",
])
def test_a_surcharge_is_never_read_as_the_plans_price(swim, text) -> None:
    got = [v for v in errors(swim, text, "squad") if "$89" in (v.correction or "")]
    assert not shown(got), got


@pytest.mark.parametrize("text", [
    "On a 12-month membership the $60 enrolment fee is waived.",
    "Sign up for twelve months and we waive enrolment.",
])
def test_a_waiver_is_not_leaving_the_thing_out(swim, text) -> None:
    assert not shown(errors(swim, text)), errors(swim, text)


@pytest.mark.parametrize("text", [
    "On a month-to-month membership the enrolment fee is sixty dollars.",
    "On the 6-month membership enrolment is $60.",
])
def test_the_fee_on_other_terms_said_right_is_no_error(swim, text) -> None:
    assert not shown(errors(swim, text)), errors(swim, text)


@pytest.mark.parametrize("text", [
    "The enrolment fee is $60, and it's waived on any 6-month membership.",
    "Enrolment is free with a 6-month membership.",
])
def test_the_terms_of_the_waiver_said_wrong_are_still_shown(swim, text) -> None:
    assert shown(errors(swim, text)), errors(swim, text)


@pytest.mark.parametrize("text", [
    "Private lessons are the same six dollars extra per lesson.",
])
def test_a_surcharge_the_kb_has_for_something_else_is_never_spoken(swim, text) -> None:
    assert not spoken(errors(swim, text, "casual")), errors(swim, text, "casual")


@pytest.mark.parametrize("text", [
    "Once your twelve months are up there's no cancellation fee.",
    "At the end of the term you can leave with no cancellation fee.",
])
def test_no_exit_fee_after_the_term_is_no_error(swim, text) -> None:
    got = [v for v in errors(swim, text, "squad") if "50%" in (v.correction or "")]
    assert not shown(got), got


def _rep(i: int, start: float, end: float, text: str) -> Utterance:
    return Utterance(i, Speaker.REP, start, end, text)


def _run(det: AccuracyDetector, call: CallState, *utts: Utterance) -> list:
    for u in utts:
        call.utterances.append(u)
        det.on_utterance(u, call, u.end)
    return det.turn_ended(utts[-1].end + 2)


def test_a_sentence_split_across_two_utterances_is_read_whole(swim) -> None:
    det, call = AccuracyDetector(swim), CallState()
    out = _run(det, call, _rep(0, 0.0, 3.0, "the term pass is four hundred and twenty dollars for"),
               _rep(1, 3.3, 5.0, "ten lessons so it's good value"))
    assert [t.utterance for t in out] == [1], out


def test_the_second_half_can_take_back_what_the_first_seemed_to_say(swim) -> None:
    det, call = AccuracyDetector(swim), CallState()
    out = _run(det, call, _rep(0, 0.0, 3.0, "the squad membership is eighty-nine a month plus"),
               _rep(1, 3.3, 5.0, "nine fifty extra if you want the video analysis on top"))
    assert not [t for t in out if t.confidence is not None and t.confidence >= CARD], out


def test_utterances_far_apart_are_not_joined(swim) -> None:
    det, call = AccuracyDetector(swim), CallState()
    out = _run(det, call, _rep(0, 0.0, 3.0, "the term pass is four hundred and twenty dollars for ten lessons"),
               _rep(1, 6.0, 8.0, "and honestly people love it"))
    assert [t.utterance for t in out] == [0], out


def test_an_amount_the_kb_has_for_something_else_is_never_spoken(swim) -> None:
    """"It's $60 a month" while the squad is discussed: $60 is the enrolment fee -
    a slip between two of our prices is possible, proof of one is not. Said of
    the named plan, the same number is a tier's price swapped and keeps its voice."""
    unnamed = errors(swim, "It's $60 a month.", "squad")
    assert unnamed and not spoken(unnamed), unnamed
    named = errors(swim, "Squad is $60 a month.", "squad")
    assert spoken(named), named
