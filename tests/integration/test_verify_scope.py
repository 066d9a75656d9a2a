"""The verification stage, eighth round: what a negation reaches in unpunctuated
speech, an add-on sold at its own price, "no fee" where the KB waives it, a
policy the KB states both ways, a discount on the fact's own condition said in
other words, and a price said without "dollars".

Each kind was seen on calls from companies the checker had never seen (as
false corrections, or as real errors it missed); the tests are written from
the kind's description against a KB made up here.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown, spoken

from intervene.core.detect.claims import ClaimChecker
from intervene.nlp.lexicon import extract_quantities
from intervene.nlp.text import split_by_scope

KB = """
company: Riverbend Kayak Hire
products:
  - id: touring
    name: Touring kayak
    aliases: [touring, the touring one, tourer]
    price: "$65 per day"
    facts:
      - The Touring kayak has a rotomoulded hull with a lifetime hull warranty.
      - Includes 40 free shuttle kilometres per day; extra kilometres are $0.30 each.
      - The hull carries a 10-year performance warranty.
      - Workmanship is covered by a 3-year warranty.
      - Unused Touring ride credits roll over for up to 3 months, then expire.
  - id: explorer
    name: Explorer tandem
    aliases: [explorer, the tandem, two-seater]
    price: "$95 per day"
    facts:
      - Unused Explorer ride credits roll over for up to 6 months, then expire.
  - id: guide
    name: Guided trip
    aliases: [guided trip, guided tour]
    price: "$140 for a half day"
    facts:
      - Each additional instructor hour is $35.
facts:
  - id: paddle-kit
    text: The Paddle Kit (a dry bag, a bilge pump and a padded seat) is sold separately for $25 per hire and is not included with any kayak.
  - id: one-way
    text: One-way hires between our Millford and Eastbank landings carry a $40 one-way fee, which is waived on hires of 5 days or more.
  - id: forfeit
    text: Unused ride credits are forfeited when a membership is cancelled, and credits have no cash value.
  - id: annual
    text: Annual memberships paid upfront get 10% off the monthly price.
  - id: logbook
    text: The logbook service digitises up to 12 months of paper trip logs within 30 days.
  - id: early-bird
    text: Summer hires booked by March 31 get 12% off the daily rate.
  - id: winter
    text: Winter hires of 10 days or more get 20% off the daily rate.
  - id: lessons-promo
    text: New paddlers who buy a lesson package before June 30 get 20% off the package price.
  - id: launch-fee
    text: A $15 launch fee applies to every hire, waived for club members and returning customers.
  - id: cleaning
    text: A cleaning fee of $30 applies to every hire returned with mud in the hull.
"""

@pytest.fixture(scope="module")
def kayak(embedder) -> ClaimChecker:
    return checker_of(KB, "riverbend", embedder)


@pytest.mark.parametrize("text, negated, affirmed", [
    ("honestly itll never leak on you its got a lifetime hull warranty", "leak", "warranty"),
    ("there is no booking fee it is included in the day rate", "booking", "included"),
    ("no you dont get a seat with it", "seat", ""),
    ("I don't think it has a warranty", "warranty", ""),
])
def test_a_negation_stops_where_a_new_clause_starts(text, negated, affirmed) -> None:
    neg, pos = split_by_scope(text)
    assert negated in neg
    if affirmed:
        assert affirmed in pos and affirmed not in neg


@pytest.mark.parametrize("text", [
    "sure the touring one honestly itll never leak on you its got a lifetime hull warranty",
    "it won't crack on you, it's got a lifetime warranty on the hull",
])
def test_a_denial_of_something_else_does_not_take_the_feature_away(kayak, text) -> None:
    assert not shown(errors(kayak, text, "touring")), errors(kayak, text, "touring")


@pytest.mark.parametrize("text", [
    "oh then you want the paddle kit it's got a dry bag a bilge pump and a padded seat and it's twenty five for the whole hire",
    "The paddle kit has the dry bag, the pump and the seat, and it's $25 per hire on top.",
])
def test_an_add_on_sold_at_its_own_price_is_not_included_for_free(kayak, text) -> None:
    assert not shown(errors(kayak, text, "touring")), errors(kayak, text, "touring")


@pytest.mark.parametrize("text", [
    "Then you want the paddle kit, it's got a dry bag, a bilge pump and a padded seat.",
    "the paddle kit has a padded seat and a dry bag in it",
])
def test_what_an_add_on_holds_is_not_the_add_on_given_away(kayak, text) -> None:
    assert not shown(errors(kayak, text)), errors(kayak, text)


@pytest.mark.parametrize("text", [
    "Millford round trip, easy, so no one-way fee.",
    "you're out for a week so there's no one way fee at all",
])
def test_no_fee_where_the_kb_waives_it_is_not_leaving_something_out(kayak, text) -> None:
    assert not shown(errors(kayak, text)), errors(kayak, text)


@pytest.mark.parametrize("text", [
    "Unused Touring credit rolls over for up to 3 months.",
    "on the touring one your unused credits carry over for three months",
])
def test_a_policy_the_kb_states_both_ways_is_a_condition(kayak, text) -> None:
    got = [v for v in errors(kayak, text, "touring") if v.fact and v.fact.kb_id == "forfeit"]
    assert not got, got


def test_the_wrong_term_of_a_policy_is_still_corrected(kayak) -> None:
    got = shown(errors(kayak, "On the Touring kayak, unused credit rolls over for up to 6 months.", "touring"))
    assert got and all("forfeit" not in (v.fact.kb_id if v.fact else "") for v in got), got
    assert any("3 months" in (v.correction or "") for v in got), got


@pytest.mark.parametrize("text", [
    "If you pay for a membership a year up front, you get 15% off.",
    "pay for the whole year up front and it's fifteen percent off",
])
def test_a_wrong_discount_on_the_facts_condition_in_other_words_is_shown(kayak, text) -> None:
    got = shown(errors(kayak, text))
    assert any(v.fact and v.fact.kb_id == "annual" for v in got), errors(kayak, text)


@pytest.mark.parametrize("text", [
    "If you prepay the year, you get 10% off.",
    "pay for the whole year up front and it's ten percent off",
])
def test_the_right_discount_in_other_words_is_no_error(kayak, text) -> None:
    assert not shown(errors(kayak, text)), errors(kayak, text)


@pytest.mark.parametrize("text, bound", [
    ("cancel 45 or more days before the trip", "min"),
    ("groups of 6 or fewer hours", "max"),
])
def test_a_bound_between_a_number_and_its_unit_keeps_the_unit(text, bound) -> None:
    q = extract_quantities(text)[0]
    assert q.kind == "duration" and q.bound == bound and text[q.start:q.end].split()[-1] in ("days", "hours")


def test_a_price_said_without_dollars_is_checked_on_the_facts_own_noun(kayak) -> None:
    assert shown(errors(kayak, "On the guided trip each extra instructor hour is fifty five.", "guide"))
    assert not errors(kayak, "On the guided trip each extra instructor hour is thirty five.", "guide")
    # a number on another noun is not the price
    assert not shown(errors(kayak, "On the guided trip each instructor takes about eight people.", "guide"))


@pytest.mark.parametrize("text", [
    "So for 3 days that's 120 shuttle kilometres included.",
    "three days on the touring one, so a hundred and twenty free shuttle kilometres",
])
def test_the_reps_arithmetic_on_a_per_day_amount_is_no_error(kayak, text) -> None:
    assert not shown(errors(kayak, text, "touring")), errors(kayak, text, "touring")


def test_a_wrong_per_day_amount_is_still_shown(kayak) -> None:
    assert shown(errors(kayak, "The touring one includes 60 free shuttle kilometres per day.", "touring"))


def test_an_amount_within_the_facts_limit_is_a_case_not_the_limit(kayak) -> None:
    assert not shown(errors(kayak, "For the 10 months of paper trip logs."))
    assert shown(errors(kayak, "The logbook service digitises up to 10 months of paper trip logs."))


def test_a_value_a_fact_about_as_close_states_is_not_proven_wrong(kayak) -> None:
    # the clause names neither offer's condition: 12% is one of them, said right
    assert not shown(errors(kayak, "and you get 12% off the daily rate"))
    assert shown(errors(kayak, "and you get 25% off the daily rate"))


@pytest.mark.parametrize("text", [
    "Yep, the 20% is for everyone, new or returning paddlers, as long as it's before June 30.",
    "if you book today I can waive the fifteen dollar launch fee, we waive it for everybody this month",
])
def test_a_benefit_made_universal_is_shown_whatever_the_reps_own_if(kayak, text) -> None:
    assert shown(errors(kayak, text)), errors(kayak, text)


@pytest.mark.parametrize("text", [
    "New paddlers get 20% off the lesson package if they buy before June 30.",
    "if you're a returning customer we waive the launch fee",
])
def test_the_benefit_on_its_own_condition_is_no_error(kayak, text) -> None:
    assert not shown(errors(kayak, text)), errors(kayak, text)


def test_a_discount_another_offer_gives_is_that_offer_unless_the_rep_names_this_one(kayak) -> None:
    # "12% off" is the summer offer's: said of no offer in particular, it is not proven wrong
    assert not shown(errors(kayak, "So you'd get 12% off the daily rate."))
    # said of the winter offer by its own terms, it is the winter offer misstated
    assert shown(errors(kayak, "Winter hires of ten days or more get 12% off the daily rate."))


def test_a_value_another_noun_has_does_not_excuse_it_nor_prove_it(kayak) -> None:
    # the 10 years are the hull's performance warranty: workmanship said as 10 years stays an error,
    # doubted (a slip between two of our terms is possible), never spoken
    text = "Yeah, so that one comes with a 10 year workmanship warranty, and if a fitting ever fails we fix it free."
    got = errors(kayak, text, "touring")
    assert any("value-elsewhere" in v.doubts for v in got) and not spoken(got), got
