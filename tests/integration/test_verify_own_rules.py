"""The verification stage: a person's age, a product's own rule, "combined" as a total.

Each kind was seen on calls from unseen companies (an escape room venue, piano
movers): "a ten year old puzzle fan" and "the eleven year old has the adult
in the room" read as claims of 10 and 11 years against the KB's
"14- to 17-year-olds"; "you can get a refund within fourteen days as long as
you haven't used it" on a call about the annual pass compared with the general
7-day cancellation rule, though the pass's own fact says 14 days; and "that's
7 steps combined" read as combining offers the KB keeps apart. The tests are
written from those descriptions against a KB made up here, in several
phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown

from intervene.core.detect.claims import ClaimChecker

PADDLE = """
company: Lakeside Paddle Co
products:
  - id: season-pass
    name: Season Pass
    aliases: [season pass, the pass, paddle pass]
    price: "$249 per year"
    facts:
      - The Season Pass renews every year and can be cancelled any time before renewal; it is refundable only within 10 days of purchase and only if it has not been used.
      - Season Pass holders get 15% off every Guided Tour booking.
  - id: tour
    name: Guided Tour
    aliases: [guided tour, the tour, sunset tour]
    price: "$65 per person"
    facts:
      - A Guided Tour lasts 2 hours and takes 4 to 12 paddlers; each extra kayak carried to the launch is $15.
facts:
  - id: ages
    text: The minimum age is 6 on every tour. Paddlers aged 6 to 12 must have a paying adult (18 or over) in the kayak with them, at least one adult for every 2 children; groups of 13- to 16-year-olds may paddle without an adult.
  - id: cancellation
    text: Bookings cancelled at least 3 days before the tour get a full refund; cancellations within 3 days get no refund, only credit valid for 6 months.
promotions:
  - id: sunrise
    text: Sunrise Special - 20% off Guided Tours that start before 8 am; it cannot be combined with the Season Pass discount.
"""


@pytest.fixture(scope="module")
def paddle(embedder) -> ClaimChecker:
    return checker_of(PADDLE, "lakeside-paddle", embedder)


@pytest.mark.parametrize("text", [
    "Yes, the minimum age is six, so the nine year old can come, and she shares a kayak with you.",
    "Oh, a 10 year old paddler, perfect, kids that age share a kayak with a paying adult.",
    "and uh the minimum age is six so your eleven year old is fine he just paddles with dad",
    "Two 8-year-olds and a 14 year old, got it, the minimum age is 6.",
])
def test_a_person_the_rep_describes_is_not_an_age_claimed(paddle, text: str) -> None:
    assert not shown(errors(paddle, text, "tour")), errors(paddle, text, "tour")


@pytest.mark.parametrize("text", [
    "You can get a refund within 10 days as long as you haven't used it.",
    "If you change your mind, it's refundable within ten days, provided it's unused.",
])
def test_a_products_own_rule_is_not_proof_against_a_general_one(paddle, text: str) -> None:
    """On a call about the Season Pass, its own "refundable only within 10 days"
    states the figure; the general 3-day cancellation rule is about tours."""
    assert not shown(errors(paddle, text, "season-pass")), errors(paddle, text, "season-pass")


@pytest.mark.parametrize("text", [
    "With the season pass that's 2 tours combined, so about four hours on the water.",
    "For season pass holders, the sunrise and sunset tours combined make a full day on the water.",
])
def test_combined_as_a_total_is_no_stacking(paddle, text: str) -> None:
    assert not shown(errors(paddle, text, "tour")), errors(paddle, text, "tour")


@pytest.mark.parametrize("text", [
    "The Sunrise Special can be combined with your Season Pass discount.",
    "Sure, you can combine the sunrise twenty percent with the pass discount.",
])
def test_combining_offers_the_kb_keeps_apart_is_still_an_error(paddle, text: str) -> None:
    got = errors(paddle, text, "tour")
    assert any(v.fact and v.fact.kb_id == "sunrise" for v in got), got
