"""The verification stage: days of the week, prices said in spoken digit
groups, a figure the rep says it is not.

Each kind was seen on calls from unseen companies (laundry delivery, piano
movers, a self-storage site, a pilates studio, standby generators):
"we deliver 7 days a week, so a Sunday drop-off works fine" against "Monday
through Saturday; there is no Sunday pickup or delivery" had no number to
compare and went unchecked; "core is two oh nine a month" was read as 9 a
month and corrected (prices said in other digit groups, "one forty-nine",
"one twenty five", were already read both ways, $1.49 and $149); "a single
private is $120, not $100" was corrected for the $100 the rep took back; and
"with Unlimited you can book fourteen days out, everyone else gets seven" was
read as fourteen days for everyone. The tests are written from those
descriptions against a KB made up here, in several phrasings.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown

from intervene.core.detect.claims import ClaimChecker
from intervene.core.detect.claims.days import days_claimed, days_open

BIKES = """
company: Harbor Bike Works
products:
  - id: basic-tune
    name: Basic Tune-Up
    aliases: [basic tune, basic tune-up, the basic]
    price: "$149"
    facts:
      - The Basic Tune-Up adjusts brakes and gears and trues both wheels.
  - id: overhaul
    name: Full Overhaul
    aliases: [full overhaul, the overhaul]
    price: "$309"
    facts:
      - The Full Overhaul strips, cleans and rebuilds the drivetrain and both hubs.
  - id: club
    name: Rider Club
    aliases: [rider club, the club, club membership]
    price: "$29 a month"
    facts:
      - Rider Club members book repairs 14 days ahead instead of the standard 7 days.
  - id: lessons
    name: Repair Lessons
    aliases: [repair lesson, lessons, lesson]
    price: "$60 per lesson, $270 for a pack of 5, $90 for a couple's lesson"
    facts:
      - Repair lessons are one-on-one, 50 minutes long, and cost $60 each or $270 for a pack of 5; a couple's lesson costs $90.
facts:
  - id: service-days
    text: Our vans come out Monday to Saturday from 8 am to 6 pm; there is no Sunday service.
  - id: minimum
    text: Every mobile repair visit has a $150 minimum charge.
  - id: phone
    text: The phone line is open 7 days a week; the workshop counter is open Monday to Friday and closed on weekends.
promotions:
  - id: weekend-deal
    text: Weekend Deal - a Basic Tune-Up delivered Friday and collected Monday costs $129.
"""


@pytest.fixture(scope="module")
def bikes(embedder) -> ClaimChecker:
    return checker_of(BIKES, "harbor-bikes", embedder)


@pytest.mark.parametrize("text", [
    "Yes, the vans come out seven days a week, so a Sunday repair is no problem.",
    "Sure, our vans come out on Sundays too, same price.",
    "We can send a van Sunday morning, the vans run every day of the week.",
])
def test_a_day_outside_the_kbs_week_is_an_error(bikes, text: str) -> None:
    got = errors(bikes, text, "basic-tune")
    assert any(v.fact and v.fact.kb_id == "service-days" for v in shown(got)), got


@pytest.mark.parametrize("text", [
    "The vans come out Monday to Saturday, so Saturday morning works.",
    "We don't do Sundays, but a van can come Saturday at nine.",
    "No Sunday service, I'm afraid, the vans run Monday through Saturday.",
    "The phone line is open seven days a week if anything comes up.",
    "The Weekend Deal is a tune-up delivered Friday and collected Monday for $129.",
])
def test_a_day_inside_the_week_or_denied_is_no_error(bikes, text: str) -> None:
    got = [v for v in errors(bikes, text, "basic-tune") if v.fact and v.fact.kb_id == "service-days"]
    assert not shown(got), got


@pytest.mark.parametrize("text, days", [
    ("Vans come out Monday to Saturday; there is no Sunday service.", set("mon tue wed thu fri sat".split())),
    ("Crews work Monday to Saturday (no Sunday service).", set("mon tue wed thu fri sat".split())),
    ("Flex covers Monday to Thursday only; Friday and weekend jumping is not included.",
     set("mon tue wed thu".split())),
    ("Sessions run on weekday mornings from 9 to 11 only.", set("mon tue wed thu fri".split())),
    ("Launch parties can be booked Sunday to Friday only.", set("sun mon tue wed thu fri".split())),
    # all seven, or no week framed at all
    ("Phone support is open seven days a week; stores are open Monday to Saturday and closed on Sundays.", None),
    ("Weekend Special - a bin delivered Friday and picked up Monday.", None),
    ("Full membership includes everything in Weekday membership, plus play at weekends.", None),
    ("Classes run 6 am to 8 pm on weekdays; Eastside also runs Saturday and Sunday, Millbrook is closed on Sundays.",
     None),
])
def test_days_open(text: str, days: set[str] | None) -> None:
    got = days_open(text)
    assert ({d[:3] for d in got} if got is not None else None) == days


@pytest.mark.parametrize("text, days", [
    ("we run 7 days", 7),
    ("Yes, we deliver 7 days a week.", 7),
    ("Sundays too, same pricing", 1),
    ("We don't do Sundays.", 0),
    ("the Weekend Deal is great", 0),         # a name, not a day
    ("I sat down in the sun", 0),
])
def test_days_claimed(text: str, days: int) -> None:
    assert len(days_claimed(text)) == days


@pytest.mark.parametrize("text, wrong", [
    ("So the basic tune is one forty-nine.", False),
    ("So the basic tune is one thirty-nine.", True),
    ("The full overhaul comes to three oh nine.", False),
    ("The full overhaul comes to three oh five.", True),
    ("Just so you know there's a minimum of one fifty on every visit.", False),
    ("There's a minimum charge of one twenty five on every repair visit.", True),
])
def test_a_price_said_as_digit_groups_is_one_price(bikes, text: str, wrong: bool) -> None:
    got = shown(errors(bikes, text, "basic-tune" if "basic" in text else "overhaul" if "overhaul" in text else None))
    assert bool(got) == wrong, got


@pytest.mark.parametrize("text", [
    "Sorry, my mistake. A single lesson is $60, not $50, and the pack of 5 is $270.",
    "A single lesson is sixty dollars rather than fifty, I misspoke.",
])
def test_a_figure_the_rep_says_it_is_not_is_no_claim(bikes, text: str) -> None:
    assert not shown(errors(bikes, text, "lessons")), errors(bikes, text, "lessons")


def test_everyone_else_is_not_everyone(bikes) -> None:
    text = "And with the Rider Club you can book fourteen days out, everyone else gets seven."
    assert not shown(errors(bikes, text, "club")), errors(bikes, text, "club")
