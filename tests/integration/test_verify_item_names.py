"""The verification stage: items named by a number, and values said of the
wrong item of a list.

Seen on calls from unseen companies (a senior-living community and a hair
salon): "Level two is twelve hundred" against "Level 1 is $600, Level 2 is
$1,200, Level 3 is $1,900 per month" was corrected as if the rep's "2" were an
amount, and a right "Level 2 care is twelve hundred a month" was corrected
against the $1,900 that alone carried the period; "level two is nineteen
hundred, and level three is twelve hundred" (the two swapped) passed, as did
"a Senior Stylist is $110, and a Master Stylist is $85" against "$85 with a
Senior Stylist, $110 with a Master Stylist" (and "workmanship is 25 years on
Essential and 10 on Premier", each named after its number): the word "stylist" every item is
said with was taken as naming the other items too, and the other value said
beside it excused the swap (while "a 12-month minimum, and after the 12
months you give us 30 days' notice" is no swap: the 30 days beside are said
with their own item's words). The tests are written from those descriptions
against KBs made up here, in several phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors

from intervene.core.detect.claims import ClaimChecker
from intervene.nlp.lexicon import extract_quantities, listed_periods, normalize_numbers

MOVERS = """
company: Tallgrass Freight Movers
products:
  - id: local-move
    name: Local Move
    aliases: [local move, move in town]
    price: "$129 per hour for a crew of two"
    facts:
      - "Travel is charged by zone: Zone 1 is $40, Zone 2 is $75, Zone 3 is $110 per trip."
      - A local move has a 3-hour minimum.
  - id: packing
    name: Packing Service
    aliases: [packing, full pack]
    price: "$300 with a Packer, $450 with a Senior Packer, $600 with a Lead Packer"
    facts:
      - Packing materials are included in every packing price.
  - id: storage
    name: Storage Plan
    aliases: [storage, storage plan]
    price: "$89 per month"
    facts:
      - Storage plans have a 6-month minimum term; after that they can be cancelled with 30 days' notice.
  - id: essential
    name: Essential Protection
    aliases: [essential, essential cover]
    price: "$19 per month"
    facts:
      - Includes a 10-year damage warranty.
  - id: total
    name: Total Protection
    aliases: [total, total cover, the top plan]
    price: "$29 per month"
    facts:
      - Includes everything in Essential Protection plus a yearly inspection visit.
      - Includes a 25-year damage warranty.
"""


@pytest.fixture(scope="module")
def movers(embedder) -> ClaimChecker:
    return checker_of(MOVERS, "tallgrass-movers", embedder)


def test_a_number_that_names_an_item_is_no_amount() -> None:
    qs = extract_quantities("Zone 2 is $75, and tier three runs five hours")
    assert [q.value for q in qs] == [75.0, 5.0]
    assert [q.value for q in extract_quantities("we send 2 movers")] == [2.0]     # a count stays one


def test_a_list_of_items_named_by_number_says_its_period_once() -> None:
    text = normalize_numbers("Zone 1 is $40, Zone 2 is $75, Zone 3 is $110 per trip.")
    assert [q.per for q in listed_periods(text, extract_quantities(text))] == ["trip"] * 3
    # items named alike only: a fee beside a monthly price keeps no period
    text = "Setup is $99, Zone 2 is $29 per month."
    assert listed_periods(text, extract_quantities(text))[0].per == ""


@pytest.mark.parametrize("text", [
    "Zone two is seventy-five dollars a trip.",
    "Zone 1 is forty, zone 2 is seventy-five and zone 3 is a hundred and ten.",
    "It's $75 per trip for zone 2.",
    "A Senior Packer is four fifty, and a Lead Packer is six hundred.",
    "With a Packer it's three hundred.",
    # the fact's other number said beside, with the words of its own item: no swap
    "There's a six-month minimum, and after the six months you just give us thirty days' notice.",
    "Storage is a 6 month minimum, then 30 days notice to cancel.",
    # the product named right after each number
    "The damage warranty is ten years on Essential Protection and twenty-five on Total Protection.",
    "Cover is nineteen dollars a month for Essential or twenty-nine for Total.",
])
def test_each_item_s_own_value_is_right(movers, text) -> None:
    assert not errors(movers, text), text


@pytest.mark.parametrize("text", [
    "Zone 2 is a hundred and ten dollars a trip.",
    "Zone 1 is forty dollars, zone 2 is a hundred and ten dollars and zone 3 is seventy-five dollars.",
    "A Senior Packer is six hundred, and a Lead Packer is four fifty.",
    "A Senior Packer is $600.",
    "The damage warranty is twenty-five years on Essential Protection and ten on Total Protection.",
    "Cover is twenty-nine dollars a month for Essential or nineteen dollars for Total.",
])
def test_a_value_said_of_another_item_is_an_error(movers, text) -> None:
    assert errors(movers, text), text
