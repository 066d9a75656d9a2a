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


SWEEP = """
company: Hearthside Chimney Care
products:
  - id: sweep
    name: Chimney sweep
    aliases: [sweep, cleaning]
    price: "$189 per chimney"
    facts:
      - Includes a camera inspection of the flue.
facts:
  - id: inspection-fee
    text: A repair inspection costs $149, which is credited toward the repair if you book it within 21 days.
  - id: cap
    text: Chimney caps are installed for $265.
"""


@pytest.fixture(scope="module")
def sweep(embedder) -> ClaimChecker:
    return checker_of(SWEEP, "hearthside", embedder)


@pytest.mark.parametrize("text", [
    "The $149 inspection gets credited toward the repair if you book within 60 days.",
    "The inspection is $149, and if you book the repair within 60 days, that $149 goes toward it.",
])
def test_the_terms_of_a_credit_said_wrong_are_shown(sweep, text) -> None:
    """A credit is an exemption like a waiver: the rep who says the credit and
    its window states the window, even with the fee's own amount beside it."""
    got = shown(errors(sweep, text))
    assert got and "21 days" in (got[0].correction or ""), errors(sweep, text)


@pytest.mark.parametrize("text", [
    "Book the repair within 21 days and the $149 comes off the repair.",
    "The inspection is $149 if you'd rather not book the repair at all.",
])
def test_the_fee_with_its_credit_said_right_is_no_error(sweep, text) -> None:
    assert not shown(errors(sweep, text)), errors(sweep, text)


GUTTERS = """
company: Clearline Gutters
products:
  - id: guards
    name: Gutter guards
    aliases: [guards, gutter guard]
    price: "$9 per foot installed"
    facts:
      - Guards carry a 20-year clog-free warranty.
facts:
  - id: call-out
    text: Jobs carry a $120 call-out fee, waived on jobs over 200 linear feet of gutter.
  - id: area
    text: We work within 35 miles of our Dayton shop.
"""


@pytest.fixture(scope="module")
def gutters(embedder) -> ClaimChecker:
    return checker_of(GUTTERS, "clearline", embedder)


def _lead(i: int, start: float, end: float, text: str) -> Utterance:
    return Utterance(i, Speaker.LEAD, start, end, text)


def _shown_after(det: AccuracyDetector, call: CallState, *utts: Utterance) -> list:
    return [t for t in _run(det, call, *utts) if t.confidence is not None and t.confidence >= CARD]


def test_the_customers_own_measure_said_earlier_is_not_a_claim(gutters) -> None:
    """The lead gives the length of their gutters, asks something else, and the
    rep comes back to the length to work out a price: the length is theirs."""
    det, call = AccuracyDetector(gutters), CallState()
    out = _shown_after(det, call, _lead(0, 0.0, 3.0, "the house has about a hundred and fifty feet of gutter"),
                       _rep(1, 3.5, 5.0, "okay great"),
                       _lead(2, 5.5, 7.0, "and what do the guards cost"),
                       _rep(3, 7.5, 11.0, "a hundred and fifty linear feet of guards comes to thirteen fifty"))
    assert not out, out


def test_a_number_of_another_unit_is_not_the_customers_measure(gutters) -> None:
    """The lead's 150 feet of gutter does not excuse 150 miles."""
    det, call = AccuracyDetector(gutters), CallState()
    out = _shown_after(det, call, _lead(0, 0.0, 3.0, "the house has about a hundred and fifty feet of gutter"),
                       _rep(1, 3.5, 5.0, "okay great"),
                       _lead(2, 5.5, 7.0, "and do you come out this far"),
                       _rep(3, 7.5, 11.0, "we go a hundred and fifty miles out from our Dayton shop"))
    assert out and "35 miles" in (out[0].say or ""), out


DATA = """
company: Northfield Mobile
products:
  - id: unlimited
    name: Unlimited plan
    aliases: [unlimited]
    price: "$40 per line per month"
    facts:
      - The Unlimited plan has unlimited data, with the first 60 GB each month at full speed.
      - The Unlimited plan includes 20 GB of mobile hotspot a month.
"""


@pytest.fixture(scope="module")
def data_plan(embedder) -> ClaimChecker:
    return checker_of(DATA, "northfield", embedder)


@pytest.mark.parametrize("text", [
    "Every line gets the unlimited features, so 20 GB of hotspot a month per line.",
    "On Unlimited you get twenty gigs of hotspot every month.",
    "The Unlimited plan gives you 20 GB of hotspot.",
])
def test_an_amount_said_with_or_without_its_month_is_the_fact_that_states_it(data_plan, text) -> None:
    """The same amount of the same unit as a fact about as close, with a period
    on only one side, is that fact - not proof against another fact's amount
    per month ("60 GB each month at full speed")."""
    assert not shown(errors(data_plan, text)), errors(data_plan, text)


def test_an_amount_of_something_per_month_said_wrong_is_shown(data_plan) -> None:
    got = shown(errors(data_plan, "The Unlimited plan gives you 35 GB of hotspot a month."))
    assert got and "20 GB" in (got[0].correction or ""), got


FURNACE = """
company: Ridgeline Heating
products:
  - id: tune-up
    name: Furnace tune-up
    aliases: [tune-up]
    price: "$129"
facts:
  - id: diagnostic
    text: The diagnostic fee for a service call is $89 for non-members; Comfort Club members pay no diagnostic fee.
promotions:
  - id: winter
    text: Boilers installed by January 31 get $500 off and the first year of Comfort Club free; the $500 discount does not apply to repairs.
"""


@pytest.fixture(scope="module")
def furnace(embedder) -> ClaimChecker:
    return checker_of(FURNACE, "ridgeline-heating", embedder)


@pytest.mark.parametrize("text", ["The diagnostic fee is $65.", "a diagnostic visit is sixty nine dollars"])
def test_an_amount_said_is_checked_against_the_fee_not_against_its_no_fee(furnace, text) -> None:
    """"$89 for non-members; members pay no fee": an amount said is about the $89,
    never about the members' "no fee" (which only polarity reads)."""
    got = errors(furnace, text)
    assert got and "$89" in got[0].reason, got


def test_the_fee_itself_said_right_is_no_error(furnace) -> None:
    assert not errors(furnace, "The diagnostic fee is eighty-nine dollars if you're not a member.")


@pytest.mark.parametrize("text", [
    "Boilers installed by February 28 get five hundred dollars off.",
    "If the boiler goes in by the end of February you get $500 off.",
])
def test_an_offers_deadline_said_beside_its_discount_is_checked(furnace, text) -> None:
    """The deadline before "... $500 off and the first year free" is the offer's
    own term, not a term of the free year: said wrong beside the discount said
    right, it is still wrong."""
    got = errors(furnace, text)
    assert got and "January 31" in (got[0].correction or ""), got
