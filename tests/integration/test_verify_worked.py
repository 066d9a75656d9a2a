"""The verification stage, continued: amounts the rep works out from the KB's
(a sum, a discount applied, a difference), the KB's own amount said without
its billing period, prices in cents, and totals only for the things priced.

Each kind was seen as a false spoken correction on claims written for
companies the checker had never seen (the judge's training claims, scored
with a judge trained without them); the tests are written from the kind's
description against a KB made up here.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown, spoken

from intervene.core.detect.claims import ClaimChecker
from intervene.nlp.lexicon import extract_quantities, same_quantity

KB = """
company: Lumen Power & Sleep
products:
  - id: fixed12
    name: Fixed 12
    aliases: [fixed twelve, the twelve-month fix]
    price: "14.2¢ per kWh, fixed for 12 months"
    facts:
      - There is no exit fee after the first 6 months.
  - id: nightsaver
    name: Night Saver
    aliases: [night saver, nights plan]
    price: "21.5¢ per kWh from 7 a.m. to 11 p.m., 6.9¢ per kWh overnight"
  - id: team
    name: Team plan
    aliases: [team, the team plan]
    price: "$22 per user per month billed annually, or $27 per user billed monthly"
    facts:
      - Includes 5,000 contacts per account.
  - id: orbit
    name: Orbit mattress
    aliases: [orbit]
    price: "$1,150 in queen"
    facts:
      - The Orbit carries a 12-year warranty.
  - id: nova
    name: Nova mattress
    aliases: [nova]
    price: "$1,600 in queen"
    facts:
      - The Nova carries a 20-year warranty.
  - id: frame
    name: Steel frame
    aliases: [frame, steel frame]
    price: "$240 in queen"
facts:
  - id: bundle
    text: Buy any mattress with a steel frame and get 20% off the frame.
  - id: loyalty
    text: Returning customers get $150 off any mattress.
"""


@pytest.fixture(scope="module")
def lumen(embedder) -> ClaimChecker:
    return checker_of(KB, "lumen", embedder)


# --- prices in cents ----------------------------------------------------------------

@pytest.mark.parametrize("written, said", [
    ("14.2¢ per kWh", "fourteen point two cents"),
    ("6.9¢ overnight", "6.9 cents"),
    ("9¢ a minute", "nine cents"),
])
def test_a_cent_sign_is_cents(written: str, said: str) -> None:
    a = next(q for q in extract_quantities(written) if q.kind == "money")
    b = next(q for q in extract_quantities(said) if q.kind == "money")
    assert a.value < 1 and abs(a.value - b.value) < 1e-9, (a, b)


def test_cents_apart_are_different_amounts() -> None:
    a = next(q for q in extract_quantities("13.4 cents") if q.kind == "money")
    b = next(q for q in extract_quantities("13.9 cents") if q.kind == "money")
    assert not same_quantity(a, b)


@pytest.mark.parametrize("text, product", [
    ("Fixed 12 is 14.2 cents, locked in for a year.", "fixed12"),
    ("the fixed twelve is uh fourteen point two cents a kilowatt hour", "fixed12"),
    ("Night Saver is twenty-one and a half cents in the day and six point nine overnight.", "nightsaver"),
])
def test_the_kbs_price_in_cents_is_no_error(lumen, text, product) -> None:
    assert not shown(errors(lumen, text, product)), errors(lumen, text, product)


@pytest.mark.parametrize("text, product", [
    ("Fixed 12 is 14.9 cents, locked in for a year.", "fixed12"),
    ("the fixed twelve is uh thirteen point two cents locked for the year", "fixed12"),
])
def test_a_wrong_price_in_cents_is_still_caught(lumen, text, product) -> None:
    assert spoken(errors(lumen, text, product)), errors(lumen, text, product)


# --- the KB's own amount, said without its billing period --------------------------------

@pytest.mark.parametrize("text", [
    "Team is $22 a user on annual.",
    "The team plan is twenty-two dollars a user if you pay for the year.",
    "On annual billing it's $22 per user.",
])
def test_the_kbs_amount_said_without_its_period_is_no_error(lumen, text) -> None:
    assert not shown(errors(lumen, text, "team")), errors(lumen, text, "team")


@pytest.mark.parametrize("text", [
    "Team is $18 a user on annual.",
    "The team plan is thirty-two dollars a user a month.",
])
def test_another_amount_for_the_plan_is_still_caught(lumen, text) -> None:
    assert shown(errors(lumen, text, "team")), errors(lumen, text, "team")


# --- totals only for a count of the things priced -------------------------------------------

@pytest.mark.parametrize("text", [
    "Team is $25 a user, and you get 5,000 contacts.",
    "The team plan is twenty-five dollars a user with five thousand contacts.",
])
def test_a_total_is_worked_out_only_for_the_things_priced(lumen, text) -> None:
    found = shown(errors(lumen, text, "team"))
    assert found, "a wrong per-user price is still an error"
    assert all("5000 that's" not in v.correction and "5,000 that's" not in v.correction for v in found), found


def test_a_total_for_the_users_said_is_still_given(lumen) -> None:
    found = shown(errors(lumen, "For 4 users the team plan is $120 a month on annual.", "team"))
    assert found and any("for 4 that's" in v.correction for v in found), found


# --- amounts the rep worked out -----------------------------------------------------------------

@pytest.mark.parametrize("text, product", [
    ("The Orbit and a steel frame together come to $1,342.", "orbit"),
    ("With the bundle discount the frame comes out to one ninety-two.", "frame"),
    ("Since you've bought with us before, the Nova drops to $1,450.", "nova"),
    ("After the loyalty discount, the Orbit works out to a thousand dollars.", "orbit"),
    ("So all in, queen Orbit plus frame is $1,390.", "orbit"),
])
def test_an_amount_the_rep_worked_out_is_never_spoken(lumen, text, product) -> None:
    # a sum or a discount applied is the rep's arithmetic on the KB's amounts: at most a card
    assert not spoken(errors(lumen, text, product)), errors(lumen, text, product)


@pytest.mark.parametrize("text, product", [
    ("The Orbit is $1,250 in queen.", "orbit"),
    ("The Nova is seventeen hundred dollars in queen.", "nova"),
])
def test_a_plain_wrong_price_is_still_spoken(lumen, text, product) -> None:
    assert spoken(errors(lumen, text, product)), errors(lumen, text, product)


# --- a difference is not the amount -----------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "The Orbit has 12 years, and the Nova goes 8 years beyond that.",
    "The Nova's warranty is eight years longer than the Orbit's.",
    "Nova gives you 8 more than that, twenty in all.",
])
def test_a_difference_said_is_not_the_amount(lumen, text) -> None:
    about_warranty = [v for v in shown(errors(lumen, text, "nova")) if v.fact and "warranty" in v.fact.text]
    assert not about_warranty, about_warranty


@pytest.mark.parametrize("text", [
    "The Nova carries an 8-year warranty.",
    "Nova's covered for fifteen years.",
])
def test_a_wrong_warranty_is_still_caught(lumen, text) -> None:
    assert spoken(errors(lumen, text, "nova")), errors(lumen, text, "nova")


# --- the KB's own arithmetic: a discount the rep alluded to, a count said, two prices added ------------

@pytest.mark.parametrize("text, product", [
    ("As a returning customer, the Orbit is $1,000 for you.", "orbit"),             # $1,150 - $150
    ("Bundled with a mattress, the frame is $192.", "frame"),                        # 20% off $240
    ("Three steel frames would be $720.", "frame"),                                   # 3 x $240
    ("A queen Orbit and the steel frame are $1,390 in all.", "orbit"),               # $1,150 + $240
])
def test_an_amount_the_kbs_arithmetic_gives_is_no_error(lumen, text, product) -> None:
    assert not shown(errors(lumen, text, product)), errors(lumen, text, product)


@pytest.mark.parametrize("text, product", [
    ("The Orbit is $1,000 in queen.", "orbit"),                     # no discount alluded to
    ("As a returning customer, the Orbit is $950 for you.", "orbit"),   # not what the discount gives
    ("Three steel frames would be $750.", "frame"),
])
def test_an_amount_no_kb_arithmetic_gives_is_still_caught(lumen, text, product) -> None:
    assert shown(errors(lumen, text, product)), errors(lumen, text, product)


def test_a_total_for_people_said_as_of_you(lumen) -> None:
    found = shown(errors(lumen, "So for 4 of you on the team plan that's $120 a month on annual.", "team"))
    assert found and any("for 4 that's" in v.correction for v in found), found


KB_CLUB = """
company: Heron Lake Golf Club
products:
  - id: weekday
    name: Weekday Membership
    aliases: [weekday, weekday membership]
    price: "$260 per month"
    facts:
      - Weekday Membership carries a $3,000 initiation fee.
  - id: full
    name: Full Membership
    aliases: [full, full membership]
    price: "$440 per month"
    facts:
      - Full Membership carries a $8,000 initiation fee.
facts:
  - id: young
    text: Applicants aged 35 and under pay half the published initiation fee on any membership.
  - id: late
    text: If we cancel a booked lesson, we credit 30% of that month's dues.
"""


@pytest.fixture(scope="module")
def club(embedder) -> ClaimChecker:
    return checker_of(KB_CLUB, "heron", embedder)


@pytest.mark.parametrize("text, product", [
    ("You're both under thirty-five, so you'd pay half: the Full initiation is $4,000.", "full"),
    ("Weekday and Full are $180 a month apart.", "weekday"),
    ("If we cancel on you, Full members get $132 credited on that month's dues.", "full"),
])
def test_the_kbs_own_rules_applied_are_no_error(club, text, product) -> None:
    assert not shown(errors(club, text, product)), errors(club, text, product)


@pytest.mark.parametrize("text, product", [
    ("The Full initiation is $4,000.", "full"),                       # no rule alluded to: a wrong fee
    ("Weekday and Full are $200 a month apart.", "weekday"),
])
def test_a_wrong_amount_is_caught_without_a_rule_that_gives_it(club, text, product) -> None:
    assert shown(errors(club, text, product)), errors(club, text, product)
