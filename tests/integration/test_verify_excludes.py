"""The verification stage: what a fact excludes, and a price said without its period.

Each kind was seen on calls from unseen companies (a campervan rental, a
carpet cleaner, a pet-wellness plan, a coding bootcamp, a trampoline park):
"The Camp Kit (two chairs, a table, a grill and a lantern) is sold
separately" read as excluding the chairs and not the kit, because the comma
inside the brackets looked like the start of the clause; "dental X-rays
... are charged separately" beside "the included dental cleaning" taken as a
fact that says both sides, because one word of the feature ("dental") was on
each; "is available as a paid add-on" not read as excluding anything; and
"Monthly Unlimited is $49.99" (monthly price $44.99) compared only with the
one-off $449 of the annual plan, since a price said without a period is not
compared with a periodic one, so the card cited the wrong fact. The tests
are written from those descriptions against a KB made up here, in several
phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown, spoken

from intervene.core.detect.claims import ClaimChecker
from intervene.nlp.text import split_by_scope

GYM = """
company: Pinecrest Climbing Gym
products:
  - id: crux
    name: Crux Membership
    aliases: [crux, crux membership]
    price: "$79 per month, or $790 per year paid up front"
    facts:
      - Crux monthly has no minimum term; the annual Crux plan is $790 paid up front and is refundable only within 14 days of purchase.
  - id: intro
    name: Intro Course
    aliases: [intro course, the intro, beginner course]
    price: "$120"
    facts:
      - The included orientation covers belay basics and gym rules; lead climbing lessons and private coaching are charged separately, at the member rate.
facts:
  - id: gear-kit
    text: The Gear Kit (a harness, climbing shoes and a chalk bag) is sold separately for $35 per course and is not included with any membership or course.
  - id: yoga
    text: Yoga classes are available as a paid add-on for $15 a month.
"""


@pytest.fixture(scope="module")
def gym(embedder) -> ClaimChecker:
    return checker_of(GYM, "pinecrest-gym", embedder)


@pytest.mark.parametrize("fact, excluded", [
    ("The Gear Kit (a harness, climbing shoes and a chalk bag) is sold separately.", "Gear Kit"),
    ("Brake pads (front, rear and the wear sensors) are not covered.", "Brake pads"),
    ("Yoga classes are available as a paid add-on for $15 a month.", "Yoga classes"),
    ("Private coaching is an optional add-on.", "Private coaching"),
])
def test_the_thing_a_fact_excludes_is_its_subject(fact: str, excluded: str) -> None:
    """An aside in brackets is inside the clause; "is a paid add-on" excludes
    what it is said of, like "is sold separately"."""
    neg, _ = split_by_scope(fact)
    assert excluded in neg, (neg, fact)


@pytest.mark.parametrize("text", [
    "The Gear Kit is included with the Intro Course.",
    "and the intro course comes with the gear kit so harness shoes chalk bag all in",
    "Yes, the Crux membership includes the Gear Kit.",
])
def test_the_thing_a_fact_defines_said_to_be_included_is_an_error(gym, text: str) -> None:
    got = errors(gym, text)
    assert any(v.fact and v.fact.kb_id == "gear-kit" for v in got), got


@pytest.mark.parametrize("text", [
    "Lead climbing lessons are included with the Intro Course.",
    "and lead climbing lessons are part of the intro course too",
])
def test_one_word_on_each_side_is_not_a_fact_that_says_both(gym, text: str) -> None:
    """"lead climbing lessons ... charged separately" beside "the included
    orientation": "included" there is the orientation's, not the lessons'."""
    got = errors(gym, text)
    assert any(v.fact and v.fact.kb_id == "intro" for v in got), got


@pytest.mark.parametrize("text", [
    "The Gear Kit is thirty-five dollars for the course.",
    "The Gear Kit has a harness, climbing shoes and a chalk bag.",
    "The orientation is included, it covers belay basics and the gym rules.",
    "Private coaching is extra, at the member rate.",
])
def test_what_a_fact_says_right_is_no_error(gym, text: str) -> None:
    assert not shown(errors(gym, text)), errors(gym, text)


@pytest.mark.parametrize("text", [
    "Crux is $89.",
    "Monthly Crux is $89.99.",
    "the crux membership is eighty nine dollars",
])
def test_a_price_said_without_its_period_is_the_periodic_price_near_it(gym, text: str) -> None:
    """Compared with the monthly $79, not with the annual $790 ten times its
    size; a card at most, since which price was meant is read, not heard."""
    got = errors(gym, text, "crux")
    assert got and "$79" in (got[0].correction or "") and shown(got), got
    assert not spoken(got)


@pytest.mark.parametrize("text", [
    "Crux is $79.",
    "Crux is seventy-nine.",
    "The annual Crux is $790.",
    "Crux is seventy-nine a month or seven ninety for the year.",
])
def test_the_periodic_price_said_without_its_period_is_no_error(gym, text: str) -> None:
    assert not shown(errors(gym, text, "crux")), errors(gym, text, "crux")
