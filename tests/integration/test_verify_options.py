"""The verification stage, continued: a list of options is no tier swap, a
number multiplied is no multiple the KB states, a notice said as "N days
before" states the notice, a name with a number in it is no quantity, and a
count another fact of the same plan gives is a slip, not a proof.

Each kind was seen on calls from an unseen company (a laundry service and a
generator installer: "Essentials at 14 kW or the Whole Home 22" shown as a
tier swap, "twenty five times one ninety five is ..." checked against "10
times the cleaning charge", "inside the 494 loop" against "the I-494/I-694
loop", "the Family plan is $159 for 4 bags" against its roll-over fact's 2
bags); the tests are written from the kind's description against a KB made
up here, in several phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown, spoken

from intervene.core.detect.claims import ClaimChecker

POOLS = """
company: Brightwater Pool Care
products:
  - id: splash
    name: Splash Plan
    aliases: [splash, splash plan]
    price: "$79 a month"
    facts:
      - Splash includes 2 cleaning visits a month, with chemicals included.
  - id: lagoon
    name: Lagoon Plan
    aliases: [lagoon, lagoon plan]
    price: "$129 a month"
    facts:
      - The Lagoon Plan has everything in Splash plus 4 cleaning visits a month instead of 2 and a filter clean each quarter.
      - Unused Lagoon visits carry over to the next month only, up to 1 visit; extra visits are $40 each.
      - Lagoon is sized for pools up to 30,000 gallons; larger pools need the Reef Plan.
  - id: reef
    name: Reef Plan
    aliases: [reef, reef plan]
    price: "$189 a month"
    facts:
      - The Reef Plan has everything in Lagoon plus weekly visits for pools of any size.
facts:
  - id: cancellation
    text: Monthly plans have no contract and can be cancelled any time with at least 14 days' notice before the next billing date, with no cancellation fee.
  - id: damage
    text: Equipment damaged by our technicians is repaired or replaced at up to 5 times the visit charge, capped at $500 per incident.
  - id: financing
    text: Equipment upgrades can be financed at 0% APR for 12 months on approved credit, for purchases of $3,000 or more.
  - id: area
    text: Brightwater serves every address inside the I-285/I-675 loop at no extra charge; addresses up to 15 miles outside the loop pay a $10 surcharge per visit.
promotions:
  - id: spring-start
    text: Spring Start - $200 off the first year of any Lagoon or Reef plan signed by June 30; it cannot be combined with 0% APR financing or a referral credit.
    signals: [this spring, before summer]
"""


@pytest.fixture(scope="module")
def pools(embedder) -> ClaimChecker:
    return checker_of(POOLS, "brightwater-pools", embedder)


@pytest.mark.parametrize("text", [
    "so the closest would be splash at two visits for seventy nine or uh lagoon which covers pools up to thirty thousand gallons",
    "You could do Splash, or the Lagoon Plan, which is sized for pools up to 30,000 gallons.",
])
def test_the_facts_own_plan_named_beside_another_is_a_list_of_options_not_a_swap(pools, text) -> None:
    """A fact of Lagoon that names the Reef: the rep naming Lagoon and Splash
    offers two options; the Lagoon fact is about Lagoon, which the rep named."""
    assert not shown(errors(pools, text)), errors(pools, text)


@pytest.mark.parametrize("text", [
    "if we damage the filter it's covered, so eight times forty is three twenty for the visits",
    "and if we damage equipment it's covered; twelve times 40 is 480 for the year of visits",
])
def test_a_number_multiplied_is_no_multiple_the_kb_states(pools, text) -> None:
    assert not errors(pools, text), errors(pools, text)


def test_a_wrong_multiple_is_still_an_error(pools) -> None:
    got = errors(pools, "equipment we damage is covered at up to ten times the visit charge")
    assert got and "5 times" in (got[0].correction or ""), got


@pytest.mark.parametrize("text", [
    "No contract. You can cancel any time as long as you tell us 14 days before your next billing date.",
    "you can cancel anytime you just let us know fourteen days prior to the billing date",
    "It can be cancelled at any time.",
])
def test_cancel_any_time_with_its_notice_or_in_the_kbs_own_words_is_no_error(pools, text) -> None:
    """"can be cancelled any time with at least 14 days' notice": the notice said as
    "14 days before", or "cancel any time" alone (the KB's own words), is right."""
    assert not shown(errors(pools, text)), errors(pools, text)


@pytest.mark.parametrize("text", [
    "You can cancel any time, no notice needed.",
    "cancel whenever you want, no need to tell us ahead of time, without any notice",
])
def test_no_notice_against_a_notice_period_is_still_shown(pools, text) -> None:
    assert shown(errors(pools, text)), errors(pools, text)


@pytest.mark.parametrize("text", [
    "Decatur is inside the 285 loop, so you're in our regular area with no surcharge.",
    "yeah you're inside the two eighty five loop so there's no extra charge",
])
def test_a_road_name_with_a_number_is_no_quantity(pools, text) -> None:
    assert not shown(errors(pools, text)), errors(pools, text)


@pytest.mark.parametrize("text", [
    "With the Lagoon Plan, which is $129, you get 4 visits and the unused one carries over.",
    "lagoon is one twenty nine a month and you get four visits, and unused visits carry over",
])
def test_a_count_another_fact_of_the_plan_gives_is_a_doubt(pools, text) -> None:
    """Lagoon's 4 visits checked against its carry-over fact's "up to 1 visit":
    the plan's other fact says 4 visits - a slip between them, not a proof."""
    got = errors(pools, text)
    assert got and not spoken(got) and all("value-elsewhere" in v.doubts for v in got), got


def test_a_count_no_fact_of_the_plan_gives_is_still_an_error(pools) -> None:
    got = errors(pools, "Unused Lagoon visits carry over to the next month, up to 3 visits.")
    assert got and "value-elsewhere" not in got[0].doubts, got


@pytest.mark.parametrize("text", [
    "with approved credit it's zero percent for twelve months on anything over a thousand bucks",
    "we do 0% for 12 months on any upgrade over $1,500",
])
def test_a_threshold_said_with_over_is_a_claim_not_an_approximation(pools, text) -> None:
    """"anything over a thousand" is a lower bound the KB's "$3,000 or more" contradicts,
    not "roughly a thousand" (still no claim: "it's just over fifty")."""
    got = errors(pools, text)
    assert got and "3,000" in (got[0].correction or ""), got


@pytest.mark.parametrize("text", [
    "it's zero percent for twelve months on anything over three thousand, with approved credit",
    "0% for 12 months on upgrades of $3,000 and up",
])
def test_the_kbs_own_threshold_said_with_over_is_no_error(pools, text) -> None:
    assert not errors(pools, text), errors(pools, text)


@pytest.mark.parametrize("text, prior", [
    ("yeah you can stack them both um the referral and the spring start", ""),
    ("Yep, those stack, so you'd get the two hundred off and then zero percent on the rest.",
     "Can I do the zero percent and the two hundred off together?"),
])
def test_offers_the_kb_keeps_apart_said_to_stack_are_shown(pools, text, prior) -> None:
    """A promotion named by its name is an offer said (no "discount" needed), its
    rate names the offer it is kept apart from ("zero percent" is the 0% APR
    financing), and "those stack" answers the lead's question about both."""
    got = errors(pools, text, prior=prior)
    assert shown(got) and "cannot be combined" in (got[0].correction or ""), got


@pytest.mark.parametrize("text, prior", [
    ("No, those don't stack, it's the two hundred off or the zero percent.",
     "Can I do the zero percent and the two hundred off together?"),
    ("we stack the chemicals in the shed by the pool, with the lagoon plan", ""),
])
def test_offers_said_apart_or_stacking_that_is_no_offer_is_no_error(pools, text, prior) -> None:
    assert not errors(pools, text, prior=prior), errors(pools, text, prior=prior)

