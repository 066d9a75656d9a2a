"""Detectors on words that resemble a KB entry and say something else.

Seen on calls from unseen companies (an escape room venue, piano movers, a
home inspector): "everybody has to sign the waiver" matched the forbidden
"the waiver is optional" at 0.81 on meaning; "Saturday the fourteenth ...
early afternoon" matched the weekday deal's "wednesday afternoon"; and a rep
who said "I'd really think about a sewer scope" still got the sewer-scope
card, because that opportunity offers no product to be named. The tests are
written from those descriptions against a KB made up here.
"""
from __future__ import annotations

import pytest
from conftest import jsonl

from intervene.core.detect.claims.patterns import PERSON_AGE, PERSON_BEFORE, STACK_SAID
from intervene.core.detect.phrases import days_agree
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.formats.transcript import parse_transcript
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb_text
from intervene.nlp.lexicon import extract_quantities, weekdays_named
from intervene.vocab import Category, Intervention

ROPES = """
company: Highline Ropes Park
products:
  - id: day-pass
    name: Day Pass
    aliases: [day pass]
    price: "$39 per climber"
    facts:
      - A Day Pass gives 3 hours on every course; climbers must be at least 7.
facts:
  - id: harness-check
    text: Every climber gets a harness check from a guide before the first course.
opportunities:
  - id: photo-package
    signals: [first time climbing, her first time up high, want pictures of the kids]
    say: Since it's a first climb - a photo package is $25 and a guide takes pictures on every course.
promotions:
  - id: midweek
    text: Midweek Deal - 20% off Day Passes on Tuesdays and Wednesdays before 3 pm.
    signals: [tuesday afternoon, wednesday afternoon, on a weekday, during the week]
compliance:
  forbidden:
    - id: skip-waiver
      phrases: [the waiver is optional, skip the waiver, no need for the waiver]
      say: Every climber has to sign the safety waiver before climbing.
"""


@pytest.fixture(scope="module")
def ropes(embedder) -> KBIndex:
    return KBIndex(load_kb_text(ROPES, source="highline-ropes"), embedder)


def run(index: KBIndex, lines) -> list[Intervention]:
    return replay(CallEngine(index, PROFILES["standard"]), parse_transcript(jsonl(lines), "<ropes>"))


def of(ivs: list[Intervention], category: Category) -> list[Intervention]:
    return [iv for iv in ivs if iv.category == category]


@pytest.mark.parametrize("said, fires", [
    ("Everybody has to sign the waiver, and a parent signs for anyone under 18.", False),
    ("The waiver is a must, everyone signs it before climbing.", False),
    ("Honestly the waiver is optional, most people skip it.", True),
])
def test_an_obligation_is_not_the_forbidden_dispensation(ropes, said: str, fires: bool) -> None:
    lines = [(0.0, 4.0, "rep", "Thanks for calling Highline, this is Jo."),
             (4.5, 7.0, "lead", "Hi. Do we all have to fill in paperwork?"),
             (7.5, 12.0, "rep", said),
             (12.5, 14.0, "lead", "Okay.")]
    assert bool(of(run(ropes, lines), Category.COMPLIANCE)) == fires


def test_an_obligation_split_across_two_utterances_is_one_sentence(ropes) -> None:
    lines = [(0.0, 4.0, "rep", "Thanks for calling Highline, this is Jo."),
             (4.5, 7.0, "lead", "Hi. Do the teens need anything?"),
             (7.5, 10.8, "rep", "yeah teens can climb on their own they just need a parent to sign the"),
             (11.0, 12.5, "rep", "the waiver for each of them"),
             (13.0, 14.0, "lead", "Okay.")]
    assert not of(run(ropes, lines), Category.COMPLIANCE)


def _need_call(need: str, answer: str) -> list[tuple]:
    return [(0.0, 4.0, "rep", "Thanks for calling Highline, this is Jo. How can I help?"),
            (4.5, 8.0, "lead", "Hi, I'm looking at booking a day out at the park for my family next month."),
            (8.5, 11.0, "rep", "Great, when were you thinking?"),
            (11.5, 15.0, "lead", need),
            (15.5, 20.0, "rep", answer),
            (20.5, 22.0, "lead", "Okay."),
            (22.5, 25.0, "rep", "Anything else I can help with?"),
            (25.5, 27.0, "lead", "No, thanks.")]


@pytest.mark.parametrize("need, fires", [
    ("Saturday the fourteenth, if you have it. Early afternoon.", False),
    ("A Wednesday afternoon would suit us best.", True),
])
def test_a_need_on_another_day_is_not_the_weekday_deal(ropes, need: str, fires: bool) -> None:
    ivs = run(ropes, _need_call(need, "Sure, the Day Pass is thirty-nine dollars per climber."))
    assert bool([iv for iv in of(ivs, Category.OPPORTUNITY) if iv.trigger == "promotion"]) == fires


@pytest.mark.parametrize("answer, fires", [
    ("Lovely. I'd really think about a photo package then.", False),
    ("Lovely. We open at nine and the last climb starts at five.", True),
])
def test_an_opportunity_without_a_product_is_picked_up_by_its_name(ropes, answer: str, fires: bool) -> None:
    ivs = run(ropes, _need_call("It's my daughter's first time climbing, so we want pictures of the kids.", answer))
    assert bool([iv for iv in of(ivs, Category.OPPORTUNITY) if iv.trigger == "opportunity"]) == fires


@pytest.mark.parametrize("text, days", [
    ("Saturday the fourteenth", {"saturday"}),
    ("during the week", {"monday", "tuesday", "wednesday", "thursday", "friday"}),
    ("weekends are busy", {"saturday", "sunday"}),
    ("I sat down in the sun", set()),
])
def test_weekdays_named(text: str, days: set[str]) -> None:
    assert weekdays_named(text) == days


@pytest.mark.parametrize("phrase, said, agree", [
    ("wednesday afternoon", "Saturday the fourteenth. Early afternoon.", False),
    ("on a weekday", "a Thursday morning", True),
    ("wednesday afternoon", "early afternoon", True),
])
def test_days_agree(phrase: str, said: str, agree: bool) -> None:
    assert days_agree(phrase, said) == agree


@pytest.mark.parametrize("text, stacks", [
    ("That's 7 steps combined, so 2 over the 5 we include.", False),
    ("Both floors combined come to about 900 square feet.", False),
    ("The spring deal can be combined with the member discount.", True),
    ("You can combine them.", True),
    ("It's combined with the loyalty credit.", True),
])
def test_combined_stacks_only_as_a_verb(text: str, stacks: bool) -> None:
    assert bool(STACK_SAID.search(text)) == stacks


@pytest.mark.parametrize("before, after, person", [
    ("Oh, a ", " year old puzzle fan", True),
    ("so the ", "-year-old has the adult", True),
    ("Players must be ", " years old", False),
    ("Kids under ", " years old", False),
])
def test_a_persons_age(before: str, after: str, person: bool) -> None:
    text = f"{before}10{after}"
    q = extract_quantities(text)[0]
    assert bool(PERSON_AGE.match(text, q.end) and PERSON_BEFORE.search(text[:q.start])) == person
