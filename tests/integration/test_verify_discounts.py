"""The verification stage, continued: which discount a percentage is, which
tiers a sentence names, and dollars-and-cents said after the money word.

Each kind was seen as false cards on calls from unseen companies (a plan whose
facts give one discount on some things and another on others; "a dollar fifty
a foot"); the tests are written from the kind's description against KBs made
up here, in several phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown, spoken

from intervene.core.detect.claims import ClaimChecker

TUNERS = """
company: Keystone Piano Care
products:
  - id: club
    name: Tune Club
    aliases: [tune club, the club, club membership]
    price: "$29 a month"
    facts:
      - Tune Club includes 2 Standard Tunings a year, and tunings beyond those are billed at 20% off the standard tuning rate.
      - Tune Club members get 15% off Repairs and Regulation labour, and a free humidity check each winter.
  - id: standard
    name: Standard Tuning
    aliases: [standard tuning, a tuning]
    price: "$140 per tuning"
  - id: repairs
    name: Repairs
    aliases: [repairs, repair work]
    price: "$95 per hour"
  - id: regulation
    name: Regulation
    aliases: [regulation, action regulation]
    price: "$420 per piano"
  - id: basic
    name: Basic Care
    aliases: [basic care, basic]
    price: "$12 a month"
    facts:
      - Basic Care customers get 10% off moving and storage.
  - id: grand
    name: Grand Care
    aliases: [grand care, grand]
    price: "$49 a month"
    facts:
      - Grand Care customers get 25% off moving and storage.
facts:
  - id: call-out
    text: The call-out fee is $60 outside the city, and there is none inside it.
"""


@pytest.fixture(scope="module")
def tuners(embedder) -> ClaimChecker:
    return checker_of(TUNERS, "keystone-piano", embedder)


@pytest.mark.parametrize("text", [
    "Tune Club gives you 2 tunings a year and 15% off the standard rate for repair work",
    "tune club gives you two tunings a year and fifteen percent off the standard rate on repairs",
    "The club gives you two tunings a year and fifteen percent off the standard rate on regulation",
])
def test_a_discount_another_fact_of_the_plan_gives_is_never_spoken(tuners, text) -> None:
    """"15% off repairs" read beside the club's "20% off extra tunings" (the fact
    the sentence is closest to): another fact of the same plan gives 15% off
    repairs, so which discount the rep meant is open - a card to check at most,
    never the voice."""
    assert not spoken(errors(tuners, text, "club")), errors(tuners, text, "club")


@pytest.mark.parametrize("text", [
    "Grand Care customers get ten percent off moving and storage.",
    "on grand care you get 10% off moving and storage",
])
def test_another_tiers_discount_said_of_this_tier_is_still_shown(tuners, text) -> None:
    """A discount the KB gives another tier (Basic Care's 10%) is a tier swap, not a
    discount the plan named has elsewhere."""
    got = shown(errors(tuners, text))
    assert got and "25%" in (got[0].correction or ""), errors(tuners, text)


@pytest.mark.parametrize("text", [
    "Two standard tunings a year, and fifteen percent off repairs and regulation labour.",
    "Two standard tunings a year, free humidity checks, and 15% off repairs and regulation.",
])
def test_tiers_named_by_another_fact_of_the_plan_are_no_tier_swap(tuners, text) -> None:
    """The rep names Repairs and Regulation where the closest club fact names
    Standard Tuning: another fact of the club names those two with these words,
    so the rep is saying that fact, not swapping a tier."""
    assert not shown(errors(tuners, text, "club")), errors(tuners, text, "club")


SEALERS = """
company: Blackridge Paving
products:
  - id: crack-fill
    name: Crack Fill
    aliases: [crack fill, crack filling]
    price: "$0.30 per square foot, $200 minimum"
    facts:
      - Crack Fill includes the first 100 linear feet of crack filling, then $1.50 per linear foot.
  - id: sealcoat
    name: Sealcoat
    aliases: [sealcoat, sealcoating, seal coat]
    price: "$0.25 per square foot"
"""


@pytest.fixture(scope="module")
def sealers(embedder) -> ClaimChecker:
    return checker_of(SEALERS, "blackridge-paving", embedder)


@pytest.mark.parametrize("text", [
    "Crack fill covers the first hundred feet of cracks, and the other fifty feet are a dollar fifty a foot.",
    "the first hundred feet are included and after that it's a dollar fifty a foot",
    "After the first 100 feet it's one dollar fifty per linear foot.",
])
def test_dollars_and_cents_after_the_money_word_and_a_lone_hundred_are_read(sealers, text) -> None:
    """"a dollar fifty a foot" is $1.50 a foot and "the first hundred feet" 100 feet:
    read so, the rep's right terms match the fact (unread, "fifty feet" was checked
    against the 100 feet)."""
    assert not shown(errors(sealers, text)), errors(sealers, text)


@pytest.mark.parametrize("text", [
    "Crack filling after the first hundred feet is two dollars fifty a linear foot.",
    "crack fill the first hundred feet are included then it's a dollar seventy five per linear foot",
])
def test_a_wrong_dollars_and_cents_rate_is_shown(sealers, text) -> None:
    got = shown(errors(sealers, text))
    assert got and "$1.50" in (got[0].correction or ""), errors(sealers, text)


STACKING = """
company: Larkspur Dental Studio
products:
  - id: smile-plan
    name: Smile Plan
    aliases: [smile plan, membership]
    price: "$25 a month"
    facts:
      - Smile Plan members get 15% off all treatments.
  - id: whitening
    name: Whitening
    aliases: [whitening, teeth whitening]
    price: "$350"
facts:
  - id: pay-in-full
    text: Paying a treatment in full up front takes $200 off; the pay-in-full discount cannot be combined with the Smile Plan member discount.
  - id: referral
    text: A patient who refers a friend gets a $50 credit once the friend's first visit is paid.
promotions:
  - id: spring
    text: Whitening booked by April 30 is $275, and the spring price can be combined with the referral credit.
"""


@pytest.fixture(scope="module")
def stacking(embedder) -> ClaimChecker:
    return checker_of(STACKING, "larkspur-dental", embedder)


@pytest.mark.parametrize("text", [
    "Then you get the two hundred off for paying in full, on top of your fifteen percent member discount.",
    "yeah the pay in full discount stacks with the smile plan discount so you save both",
    "You can combine the pay-in-full discount with your member discount, no problem.",
])
def test_offers_the_kb_keeps_apart_said_to_stack_are_shown(stacking, text) -> None:
    """The rep puts together two offers the KB says cannot be combined: a card
    (word frames point at it, they cannot prove it: never the voice)."""
    got = shown(errors(stacking, text))
    assert got and "cannot be combined" in (got[0].correction or ""), errors(stacking, text)
    assert not spoken(got)


@pytest.mark.parametrize("text", [
    "The pay-in-full discount can't be combined with the member discount, so it's one or the other.",
    "no those two don't stack, it's either the two hundred off or the fifteen percent",
    "The spring whitening price stacks with your referral credit.",              # the KB allows that pair
    "Whitening is three fifty, and members take fifteen percent off on top.",   # no second offer named
])
def test_stacking_said_right_or_of_other_offers_is_no_error(stacking, text) -> None:
    assert not shown(errors(stacking, text)), errors(stacking, text)


EXTRAS = """
company: Quillmark Certified Translations
products:
  - id: certified
    name: Certified Translation
    aliases: [certified translation, certified]
    price: "$30 per page"
    facts:
      - Notarization is not included and costs $15 per document; courier copies cost $20 per order, and the signed PDF is free.
      - Every certified translation has a signed certificate of accuracy.
"""


@pytest.fixture(scope="module")
def extras(embedder) -> ClaimChecker:
    return checker_of(EXTRAS, "quillmark", embedder)


@pytest.mark.parametrize("text", [
    "Notarization comes with every certified translation at no extra charge, we stamp each one for you.",
    "and the notarization is free, we do that for everybody",
])
def test_a_fee_the_fact_keeps_is_not_excused_by_another_clause_that_is_free(extras, text) -> None:
    """"Notarization is not included and costs $15; ... the signed PDF is free":
    the free clause is about the PDF, so notarization said free is a card."""
    got = shown(errors(extras, text, "certified"))
    assert got and "$15" in (got[0].correction or ""), errors(extras, text, "certified")
    assert not spoken(got)


@pytest.mark.parametrize("text", [
    "The signed PDF is free, it comes with every order.",
    "You get the signed PDF at no extra charge.",
])
def test_what_the_fact_makes_free_said_free_is_no_error(extras, text) -> None:
    assert not shown(errors(extras, text, "certified")), errors(extras, text, "certified")
