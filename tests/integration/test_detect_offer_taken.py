"""Opportunity cards the rep did not need.

Seen on calls from unseen companies (a pilates studio, a dumpster rental):
a suggestion that offers three things ("a free guest pass ..., a duet private
..., and the intro pass") was not picked up by a rep who took up one of them
("she'd count as a first-time visitor, so the guest pass works for her"); a
lead who asked for the offer itself ("Do I get a guest pass? My partner would
love to come.") still got the card; and "Probably 10 days" matched the signal
"just a couple of days". The tests are written from those descriptions
against a KB made up here.
"""
from __future__ import annotations

import pytest
from conftest import jsonl

from intervene.core.detect.phrases import numbers_agree
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.formats.transcript import parse_transcript
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb_text
from intervene.vocab import Category, Intervention

LOFT = """
company: Riverside Yoga Loft
products:
  - id: unlimited
    name: Unlimited Membership
    aliases: [unlimited, unlimited membership]
    price: "$149 a month"
    facts:
      - Unlimited includes every group class and one free guest pass a month for a first-time visitor.
  - id: duet
    name: Duet Private
    aliases: [duet private]
    price: "$120 per session"
    facts:
      - A Duet Private is a one-hour private session for two people.
opportunities:
  - id: bring-someone
    signals: [my friend wants to try, my partner wants to come, my roommate wants to try it]
    say: Unlimited includes one free guest pass a month for a first-time visitor, and a Duet Private for two people is $120.
promotions:
  - id: visitor-pass
    text: Visitor Pass - three days of classes for $39, for people in town for a short stay.
    signals: [just a couple of days, only in town for the weekend]
"""


@pytest.fixture(scope="module")
def loft(embedder) -> KBIndex:
    return KBIndex(load_kb_text(LOFT, source="riverside-loft"), embedder)


def _cards(index: KBIndex, said: str, answer: str) -> list[Intervention]:
    lines = [(0.0, 4.0, "rep", "Thanks for calling Riverside Yoga Loft, this is Sam. How can I help?"),
             (4.5, 8.5, "lead", "Hi, I'm thinking about joining, I've been doing yoga at home for a while."),
             (9.0, 13.0, "rep", "Great, the Unlimited Membership is a hundred and forty-nine a month."),
             (13.5, 17.0, "lead", said),
             (17.5, 22.0, "rep", answer),
             (22.5, 24.0, "lead", "Okay."),
             (24.5, 27.0, "rep", "Anything else I can help with?"),
             (27.5, 29.0, "lead", "No, that's it, thanks.")]
    return _opportunities(index, lines)


def _opportunities(index: KBIndex, lines: list[tuple]) -> list[Intervention]:
    ivs = replay(CallEngine(index, PROFILES["standard"]), parse_transcript(jsonl(lines), "<loft>"))
    return [iv for iv in ivs if iv.category == Category.OPPORTUNITY]


@pytest.mark.parametrize("answer, fires", [
    ("Perfect, she'd count as a first-time visitor, so the guest pass works for her.", False),
    ("Sure. Classes start at seven in the morning and run until nine at night.", True),
])
def test_taking_up_one_of_several_offers_picks_the_point_up(loft, answer: str, fires: bool) -> None:
    assert bool(_cards(loft, "My roommate has been wanting to try it.", answer)) == fires


@pytest.mark.parametrize("said, fires", [
    ("Do I get a guest pass? My partner wants to come.", False),
    ("My partner wants to come.", True),
])
def test_a_lead_who_asks_for_the_offer_has_found_it(loft, said: str, fires: bool) -> None:
    answer = "Classes start at seven in the morning and run until nine at night."
    assert bool(_cards(loft, said, answer)) == fires


@pytest.mark.parametrize("said, fires", [
    ("I'm only in town for just a couple of days, though.", True),
    ("I'm in town for probably ten days, though.", False),
])
def test_a_rough_count_is_a_number_too(loft, said: str, fires: bool) -> None:
    answer = "Classes start at seven in the morning and run until nine at night."
    assert bool([c for c in _cards(loft, said, answer) if c.trigger == "promotion"]) == fires


@pytest.mark.parametrize("phrase, said, agree", [
    ("just a couple of days", "Probably 10 days.", False),
    ("a few days", "3 days", True),
    ("several weeks", "5 weeks", True),
    ("a couple of days", "a couple of days", True),
])
def test_numbers_agree_with_rough_counts(phrase: str, said: str, agree: bool) -> None:
    assert numbers_agree(phrase, said) == agree


def _opening_call(index: KBIndex, third: str) -> list[Intervention]:
    lines = [(0.0, 4.0, "rep", "Thanks for calling Riverside Yoga Loft, this is Sam."),
             (4.5, 9.0, "lead", "Hi, I'm only in town for the weekend and I'd love to try a class or two."),
             (9.5, 12.0, "rep", "Welcome! What kind of yoga do you usually do?"),
             (12.5, 15.0, "lead", "Mostly vinyasa, at home."),
             (15.5, 19.0, "rep", "We have vinyasa every morning at seven and every evening at six."),
             (19.5, 21.0, "lead", "Nice, that works."),
             (21.5, 25.0, "rep", third),
             (25.5, 27.0, "lead", "Okay, great."),
             (27.5, 30.0, "rep", "Anything else I can help with?"),
             (30.5, 32.0, "lead", "No, that's it, thanks.")]
    return [iv for iv in _opportunities(index, lines) if iv.trigger == "promotion"]


@pytest.mark.parametrize("third, fires", [
    ("For a short stay like yours, the Visitor Pass is the one to get.", False),
    ("And the studio is on the second floor, right above the bakery.", True),
])
def test_a_promotion_that_fits_the_opening_waits_for_the_price(loft, third: str, fires: bool) -> None:
    """An offer that fits why the lead called comes up with the price, rarely in
    the first answer: the rep has a few turns, and naming the offer takes it up."""
    assert bool(_opening_call(loft, third)) == fires


CLIMB = """
company: Northwall Climbing
products:
  - id: full
    name: Full Membership
    aliases: [full membership, membership]
    price: "$95 a month"
    facts:
      - The Full Membership gives unlimited climbing on every wall.
opportunities:
  - id: frequent
    signals: [a few times a week, three times a week, climb most days]
    offer: full
    say: At that frequency the Full Membership pays off at $95 a month.
"""


@pytest.fixture(scope="module")
def climb(embedder) -> KBIndex:
    return KBIndex(load_kb_text(CLIMB, source="northwall"), embedder)


@pytest.mark.parametrize("said, fires", [
    ("Honestly, maybe a couple of times a month, if I end up liking it.", False),
    ("Once or twice a month at most, probably.", False),
    ("Honestly, maybe a few times a week, if I end up liking it.", True),
])
def test_a_need_read_in_a_window_of_words_keeps_its_span_of_time(climb, said: str, fires: bool) -> None:
    """A window of the lead's words that names no span of time ("a couple of
    times") is read with its sentence's ("a month"): it is not "a few times a week"."""
    lines = [(0.0, 4.0, "rep", "Thanks for calling Northwall Climbing, this is Ana. Have you climbed before?"),
             (4.5, 8.0, "lead", "A little, at a gym back home."),
             (8.5, 11.0, "rep", "Great. How often do you think you'd come in?"),
             (11.5, 15.0, "lead", said),
             (15.5, 19.0, "rep", "Sure. We're open from six in the morning until eleven at night."),
             (19.5, 21.0, "lead", "Okay."),
             (21.5, 24.0, "rep", "Anything else I can help with?"),
             (24.5, 26.0, "lead", "No, that's it, thanks.")]
    assert bool(_opportunities(climb, lines)) == fires
