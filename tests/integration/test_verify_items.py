"""The verification stage, continued: which item of a price list a value is
for, rates per a qualified unit, and a plan's own price said beside another
of its facts.

Each kind was seen on calls from unseen companies ("$25 per mattress or box
spring, $15 per tire" - the mattress's $25 was spoken as wrong; "per linear
foot" never compared with "a foot"; "our coffee plan is $139 with 250 pods"
checked against the pods' 48 cents); the tests are written from the kind's
description against KBs made up here, in several phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown, spoken

from intervene.core.detect.claims import ClaimChecker

RECYCLERS = """
company: Greenline E-Waste
products:
  - id: pickup
    name: Office Pickup
    aliases: [office pickup, pickup, a pickup]
    price: "$95 per pickup"
    facts:
      - Office Pickup collects up to 40 items from one address on a weekday.
facts:
  - id: item-fees
    text: Some items carry a handling fee on top of the pickup price - $20 per monitor or television, $10 per printer, and $35 per refrigerator, freezer or dehumidifier.
"""


@pytest.fixture(scope="module")
def recyclers(embedder) -> ClaimChecker:
    return checker_of(RECYCLERS, "greenline-ewaste", embedder)


@pytest.mark.parametrize("text", [
    "Monitors and televisions are $20 each on top of the pickup price.",
    "the TV and the monitor are twenty dollars each on top of the pickup",
    "A television is a twenty dollar handling fee, on top of the pickup price.",
])
def test_a_value_said_of_the_item_a_price_list_gives_it_is_no_error(recyclers, text) -> None:
    """"$20 per monitor or television, $10 per printer": the words after "or"
    still name the $20's item, and each rate's own thing names its item - the
    television's $20 is not checked against the printer's $10."""
    assert not shown(errors(recyclers, text)), errors(recyclers, text)


@pytest.mark.parametrize("text", [
    "Monitors and televisions are $10 each on top of the pickup price.",
    "the TV and the monitor are ten dollars each on top of the pickup",
])
def test_another_items_value_said_of_an_item_is_shown(recyclers, text) -> None:
    got = shown(errors(recyclers, text))
    assert got and "$20" in (got[0].correction or ""), errors(recyclers, text)


CONCRETE = """
company: Hollis Flatwork
products:
  - id: patio
    name: Patio Slab
    aliases: [patio, patio slab, a slab]
    price: "$9 per square foot"
    facts:
      - Patio Slab includes a 4-inch slab on compacted gravel; a decorative border is $14 per linear foot.
"""


@pytest.fixture(scope="module")
def concrete(embedder) -> ClaimChecker:
    return checker_of(CONCRETE, "hollis-flatwork", embedder)


@pytest.mark.parametrize("text", [
    "The decorative border on the patio is fourteen dollars a foot.",
    "a decorative border is 14 bucks a running foot",
])
def test_a_rate_per_foot_is_read_against_a_rate_per_linear_foot(concrete, text) -> None:
    assert not shown(errors(concrete, text)), errors(concrete, text)


@pytest.mark.parametrize("text", [
    "The decorative border on the patio is eighteen dollars a foot.",
    "a decorative border is $18 per foot",
])
def test_a_wrong_rate_per_foot_against_a_linear_foot_is_shown(concrete, text) -> None:
    got = shown(errors(concrete, text))
    assert got and "$14" in (got[0].correction or ""), errors(concrete, text)


GROOMERS = """
company: Tidy Paws Mobile Grooming
products:
  - id: fresh
    name: Fresh Coat Plan
    aliases: [fresh coat, fresh coat plan, the basic plan]
    price: "$65 a month"
    facts:
      - Fresh Coat Plan includes one bath and brush-out a month; extra visits are $30 each.
  - id: full
    name: Full Groom Plan
    aliases: [full groom, full groom plan, the full plan]
    price: "$119 a month"
    facts:
      - Full Groom Plan has everything in Fresh Coat plus a haircut and nail trim each visit, with 2 visits a month; extra visits are 45 dollars each.
"""


@pytest.fixture(scope="module")
def groomers(embedder) -> ClaimChecker:
    return checker_of(GROOMERS, "tidy-paws", embedder)


@pytest.mark.parametrize("text", [
    "our Full Groom Plan is $119 with a haircut and nail trim and two visits a month",
    "the Full Groom Plan is $119, it has everything in Fresh Coat plus a haircut each visit",
    "Fresh Coat Plan is $65 with one bath and brush-out a month",
])
def test_the_named_plans_own_price_is_no_error_beside_its_other_facts(groomers, text) -> None:
    """The plan named, at the plan's own price: whatever other fact of the plan
    retrieval found closer (the extra visits' $45), the price is right - not
    even a doubt held back."""
    assert not errors(groomers, text), errors(groomers, text)


def test_another_price_for_the_named_plan_is_still_an_error(groomers) -> None:
    assert errors(groomers, "our Full Groom Plan is $139 with a haircut and nail trim and two visits a month")


PRINTERS = """
company: Inkwell Print Studio
products:
  - id: starter
    name: Starter Print Plan
    aliases: [starter, starter plan]
    price: "$49 a month"
    facts:
      - Starter covers up to 300 prints per month; extra prints are 12 cents each.
  - id: studio
    name: Studio Print Plan
    aliases: [studio, studio plan]
    price: "$129 a month"
    facts:
      - Studio has everything in Starter plus colour matching and covers up to 1,500 prints per month; laminated sheets are sold separately at $3 per sheet.
"""


@pytest.fixture(scope="module")
def printers(embedder) -> ClaimChecker:
    return checker_of(PRINTERS, "inkwell-print", embedder)


@pytest.mark.parametrize("text, right", [
    ("the studio plan covers up to a thousand prints", "1,500"),
    ("Studio covers up to 1000 prints.", "1,500"),
    ("starter covers up to five hundred prints", "300"),
])
def test_a_limit_said_without_its_period_is_checked_against_the_plans_limit(printers, text, right) -> None:
    """"covers up to 500 prints" is the plan's "up to 300 prints per month": the
    period is implied by the limit, so the two are compared (a count in all is
    still not a count per month: "20 lessons" is not "1 lesson a week")."""
    got = errors(printers, text)
    assert got and right in (got[0].correction or ""), got


@pytest.mark.parametrize("text", [
    "the studio plan covers up to fifteen hundred prints",
    "starter covers up to three hundred prints",
])
def test_the_plans_own_limit_said_without_its_period_is_no_error(printers, text) -> None:
    assert not errors(printers, text), errors(printers, text)


@pytest.mark.parametrize("text", [
    "Laminated sheets are included with the Studio plan.",
    "and on studio the laminated sheets come with it",
])
def test_what_a_fact_sells_separately_at_a_price_per_item_is_not_also_included(printers, text) -> None:
    """"laminated sheets are sold separately at $3 per sheet": the price per sheet
    does not make the fact say both sides of the sheets - the rep including it is a
    contradiction found (never spoken while the fact has a limit beside it)."""
    got = errors(printers, text)
    assert got and not spoken(got), got


def test_the_separate_price_said_is_no_error(printers) -> None:
    assert not errors(printers, "laminated sheets are extra on studio, three dollars per sheet")


CHARTERS = """
company: Bluewake Boat Charters
products:
  - id: sunfish
    name: Sunfish 24
    aliases: [sunfish, the sunfish, sunfish 24]
    price: "$300 per day in low season, $420 per day in high season"
    facts:
      - The Sunfish 24 is $300 per day in low season and $420 per day in high season.
      - Minimum charter is 2 days in low season and 4 days in high season.
      - Sleeps four, with a cabin double and a convertible saloon berth.
"""


@pytest.fixture(scope="module")
def charters(embedder) -> ClaimChecker:
    return checker_of(CHARTERS, "bluewake-charters", embedder)


@pytest.mark.parametrize("text", [
    "In high season the Sunfish has a 3-day minimum, so a long weekend works.",
    "in high season the sunfish has a three day minimum so a long weekend works",
])
def test_a_number_is_checked_against_the_fact_that_names_its_noun(charters, text) -> None:
    """"a 3-day minimum" said with the season and the boat, which make the price
    fact the closest: the minimum-charter fact names the number's own noun
    ("minimum") and the price fact does not, so the number is that fact's."""
    got = errors(charters, text)
    assert got and "4 days in high season" in (got[0].correction or ""), got


@pytest.mark.parametrize("text", [
    "In high season the Sunfish has a 4-day minimum, so a long weekend won't work.",
    "in high season the sunfish is four twenty a day",
])
def test_the_facts_own_number_said_with_its_noun_is_no_error(charters, text) -> None:
    assert not errors(charters, text), errors(charters, text)
