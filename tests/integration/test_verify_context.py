"""The verification stage, continued: what the conversation around a claim
makes of it. An amount worked out on the price of the product the lead
asked about, a share the rep says out loud, an add-on's price added or a
deposit taken off; "non-refundable" and "bring your own" as negations of
one word; a year said in pairs and a date before a noun; an amount said
against another tier; included against excluded held back when the judge
does not see it, and a doubted number the judge is sure of marked (a card
where the profile says so).

Each kind was seen as a false correction on claims written for companies
the checker had never seen (the judge's training claims, scored with a
judge trained without them); the tests are written from the kind's
description against a KB made up here.
"""
from __future__ import annotations

from typing import Sequence

import pytest
from verdictkit import CARD, checker_of, errors, shown

from intervene.core.detect.claims import ClaimChecker
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb_text
from intervene.nlp.lexicon import extract_quantities, normalize_numbers
from intervene.nlp.text import split_by_scope
from intervene.vocab import Check

KB = """
company: Driftwood Dance Studio
products:
  - id: adult
    name: Adult Group
    aliases: [adult group, adult classes]
    price: "$96 per month"
    facts:
      - Adult Group includes one free drop-in class per month.
  - id: teen
    name: Teen Group
    aliases: [teen group, teen classes]
    price: "$72 per month"
  - id: intensive
    name: Summer Intensive
    aliases: [summer intensive, the intensive]
    price: "$650 per dancer"
facts:
  - id: deposit
    text: A $150 non-refundable deposit holds a spot in the Summer Intensive, and the balance is due 14 days before it starts.
  - id: newcomer
    text: New students who enroll in a group class by September 15, 2026 get 50% off their first month.
  - id: cancelled
    text: If the studio cancels a class, we credit 25% of that month's fee.
  - id: referral
    text: Students who refer a friend get a $40 credit after the friend's first month.
  - id: video
    text: The video review add-on costs $12 per month on any group plan.
  - id: room
    text: The rehearsal room is a non-heated space with a sprung floor.
  - id: gear
    text: Group classes include practice shoes, and students bring their own water bottle.
"""


@pytest.fixture(scope="module")
def studio(embedder) -> ClaimChecker:
    return checker_of(KB, "driftwood", embedder)


# --- the KB's arithmetic on the price of the product under discussion -------------------------

@pytest.mark.parametrize("text, context, prior", [
    # 25% of the Adult Group fee the lead asked about
    ("Then you'd get $24 credited for that month.", "adult", "What if you cancel one of my adult classes?"),
    # a share the rep says, which the KB gives
    ("With fifty percent off, Adult Group is $48 for you.", "adult", ""),
    ("You'd pay half, so Teen Group is thirty-six dollars.", "teen", ""),
    # an add-on's price added on, a deposit taken off
    ("Adult Group plus the video review add-on is $108 a month.", "adult", ""),
    ("After your deposit, the Summer Intensive balance is $500.", "intensive", ""),
])
def test_an_amount_worked_out_in_context_is_no_error(studio, text, context, prior) -> None:
    assert not shown(errors(studio, text, context, prior)), errors(studio, text, context, prior)


@pytest.mark.parametrize("text, context", [
    ("Adult Group plus the video review add-on is $118 a month.", "adult"),
    ("After your deposit, the Summer Intensive balance is $450.", "intensive"),
    ("Adult Group is $48 a month.", "adult"),                                  # nothing worked out
])
def test_an_amount_no_arithmetic_in_context_gives_is_still_caught(studio, text, context) -> None:
    assert shown(errors(studio, text, context)), errors(studio, text, context)


# --- a negation of one word ---------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "The deposit isn't refundable, it just holds your spot.",
    "Just so you know, the deposit is non-refundable.",
    "The rehearsal room isn't heated, but the floor is sprung.",
    "You get practice shoes with group classes, but you'd bring your own water bottle.",
])
def test_a_negation_of_one_word_agrees_with_the_kbs(studio, text) -> None:
    assert not shown(errors(studio, text)), errors(studio, text)


@pytest.mark.parametrize("text", [
    "Group classes include a water bottle for every student.",
])
def test_what_the_kb_leaves_to_the_student_said_included_is_still_an_error(studio, text) -> None:
    assert errors(studio, text), "a water bottle is the student's own"


@pytest.mark.parametrize("text, negated, kept", [
    ("A $150 non-refundable deposit holds a spot.", "refundable", "deposit"),
    ("a non insulated steel door", "insulated", "steel"),
    ("you get a bag but you bring your own lock", "lock", "bag"),
])
def test_non_and_bring_your_own_negate_only_the_next_word(text, negated, kept) -> None:
    neg, pos = split_by_scope(text)
    assert negated in neg and kept in pos and kept not in neg, (neg, pos)


@pytest.mark.parametrize("text", ["Non-members pay $20 more per class.", "We're a non-profit studio."])
def test_non_before_a_noun_is_a_kind_of_person_not_a_negation(text) -> None:
    assert not split_by_scope(text)[0].strip()


# --- years said in pairs, dates before a noun -----------------------------------------------------

@pytest.mark.parametrize("said, year", [
    ("Book by Halloween for a twenty twenty-six wedding.", 2026),
    ("The offer runs by twenty twenty five.", 2025),
    ("We've been open since twenty nineteen.", 2019),
])
def test_a_year_said_in_pairs_is_that_year(said, year) -> None:
    assert str(year) in normalize_numbers(said), normalize_numbers(said)


@pytest.mark.parametrize("said, value", [
    ("It's twenty twenty-five a month.", 20.25),
    ("for twenty twenty five a month", 20.25),
])
def test_a_price_said_in_pairs_is_still_a_price(said, value) -> None:
    money = [q.value for q in extract_quantities(normalize_numbers(said)) if q.kind == "money"]
    assert money == [value], money


def test_a_count_after_a_year_word_is_not_a_year() -> None:
    assert "2010" not in normalize_numbers("for twenty ten minutes")


@pytest.mark.parametrize("said", ["For the June sixteenth week the balance is due June second.",
                                  "the June 16th week"])
def test_a_date_before_a_noun_is_a_date(said) -> None:
    qs = extract_quantities(normalize_numbers(said))
    assert any(q.kind == "date" and q.value == 16 and q.unit == "june" for q in qs), qs
    assert not any(q.kind == "duration" and q.value == 16 for q in qs), qs


# --- an amount said against another tier's ------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Teen Group comes in 24 dollars a month under Adult Group.",
    "Adult Group is $24 more than Teen Group.",
])
def test_an_amount_against_another_tier_is_a_difference(studio, text) -> None:
    assert not shown(errors(studio, text)), errors(studio, text)


# --- a conflict read from words, which the judge does not see -------------------------------------

class _Unsure:
    """A judge that never sees a contradiction clearly (p = 0.3 for every pair)."""

    def contradiction(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [0.3] * len(pairs)

    def warm(self) -> None:
        pass


@pytest.fixture(scope="module")
def unsure_studio(embedder) -> ClaimChecker:
    return ClaimChecker(KBIndex(load_kb_text(KB, source="driftwood-unsure"), embedder, None, _Unsure()))


def test_included_against_excluded_the_judge_does_not_see_is_held_back(studio, unsure_studio) -> None:
    text = "Group classes include a water bottle for every student."
    alone = [v for v in errors(studio, text) if v.check == Check.POLARITY]
    assert alone and alone[0].confidence >= CARD, alone       # the rules alone would show it
    judged = [v for v in errors(unsure_studio, text) if v.check == Check.POLARITY]
    assert judged and all(v.confidence < CARD and "judge-disagrees" in v.doubts for v in judged), judged


def test_a_number_the_judge_does_not_see_is_still_shown(unsure_studio) -> None:
    found = [v for v in errors(unsure_studio, "The Summer Intensive is $750 per dancer.", "intensive")
             if v.check == Check.QUANTITY]
    assert shown(found) and all("judge-unsure" in v.doubts for v in found), found


# --- a doubted number the judge is sure of -----------------------------------------------------------

class _Sure(_Unsure):
    """A judge sure of every contradiction (p = 0.95)."""

    def contradiction(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [0.95] * len(pairs)


@pytest.fixture(scope="module")
def sure_studio(embedder) -> ClaimChecker:
    return ClaimChecker(KBIndex(load_kb_text(KB, source="driftwood-sure"), embedder, None, _Sure()))


DOUBTED = "Group classes are $150 a month."      # no product named; $150 is also the deposit


def test_a_doubted_number_the_judge_is_sure_of_is_marked(studio, sure_studio) -> None:
    alone = [v for v in errors(studio, DOUBTED) if v.check == Check.QUANTITY]
    assert alone and all(0.3 <= v.confidence < CARD for v in alone), alone   # the rules alone hold it
    judged = [v for v in errors(sure_studio, DOUBTED) if v.check == Check.QUANTITY]
    assert judged and all("judge-agrees" in v.doubts for v in judged), judged
    assert [v.confidence for v in judged] == [v.confidence for v in alone]     # the profile decides (policy)


def test_the_judge_never_marks_a_word_conflict(sure_studio) -> None:
    found = errors(sure_studio, "Group classes include a water bottle for every student.")
    assert found and not any("judge-agrees" in v.doubts for v in found), found
