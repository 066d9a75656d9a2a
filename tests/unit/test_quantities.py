"""Tests for intervene.nlp.lexicon: spoken and written numbers, units, rates,
bounds, dates, and the comparison rules the claim checker relies on."""
from __future__ import annotations

import time

import pytest

from intervene.nlp.lexicon import (
    CONTENT_STOPWORDS,
    Quantity,
    about_same,
    comparable,
    content_words,
    extract_quantities,
    normalize_numbers,
    parse_number_words,
    same_amount,
    same_quantity,
)


def one(text: str) -> Quantity:
    qs = extract_quantities(text)
    assert len(qs) == 1, (text, qs)
    return qs[0]


def shape(q: Quantity) -> tuple:
    return (q.value, q.kind, q.unit, q.per, q.bound)


# ------------------------------------------------------------ parse_number_words
@pytest.mark.parametrize("words, expected", [
    ("forty nine dollars", (49, 2)),
    ("forty-nine", (49, 1)),
    ("one hundred and twenty users", (120, 4)),
    ("two thousand five hundred", (2500, 4)),
    ("a hundred devices", (100, 2)),
    ("one and a half years", (1.5, 4)),
    ("half", (0.5, 1)),
    ("a dozen", (12, 2)),
    ("thirty-first", (31, 1)),
    ("thirty first", (31, 2)),
    ("first", (1, 1)),
    ("twelfth", (12, 1)),
    ("ten thousand", (10000, 2)),
    ("nineteen hundred", (1900, 2)),
    ("twenty four seven", (24, 2)),       # 24 then 7: never 247
    ("three and four", (3, 1)),           # "and" only joins after hundred/thousand or "a half"
    ("twenty second", (20, 1)),           # unhyphenated: twenty seconds, not the 22nd
    ("twenty-second", (22, 1)),
    ("two-year", (2, 1)),
    ("zero", (0, 1)),
])
def test_parse_number_words(words: str, expected: tuple) -> None:
    assert parse_number_words(words.split()) == expected


@pytest.mark.parametrize("words", ["the", "a", "a month", "someone", "dozens", ""])
def test_parse_number_words_none(words: str) -> None:
    assert parse_number_words(words.split()) is None


# ------------------------------------------------------------ normalize_numbers
@pytest.mark.parametrize("text, expected", [
    ("forty-nine dollars a month", "49 dollars a month"),
    ("we're there twenty-four seven", "we're there 24/7"),
    ("it renews December thirty-first", "it renews December 31"),
    ("covers a hundred devices", "covers 100 devices"),
    ("one and a half years", "1.5 years"),
    ("it was 19,800 last year", "it was 19800 last year"),
    ("one location", "1 location"),
    ("the thirty-first of March", "the 31st of March"),
    ("just nine ninety-nine a month", "just 9.99 a month"),
    ("one to two weeks", "1 to 2 weeks"),
])
def test_normalize_numbers(text: str, expected: str) -> None:
    assert normalize_numbers(text) == expected


@pytest.mark.parametrize("text", [
    "the basic one", "the expensive one is better", "no one knows", "one of our reps",
    "someone will call", "first, let me ask", "wait a second", "a month ago", "that's the one.",
    "half the time", "Hi, this is Ben from Acme",
])
def test_normalize_leaves_non_numbers(text: str) -> None:
    assert normalize_numbers(text) == text


# ----------------------------------------------------------- extract_quantities
@pytest.mark.parametrize("text, expected", [
    # money
    ("$49 per month", (49, "money", "USD", "month", "")),
    ("forty nine dollars", (49, "money", "USD", "", "")),
    ("49 bucks", (49, "money", "USD", "", "")),
    ("it's €12 a seat", (12, "money", "EUR", "seat", "")),
    ("£30 per head", (30, "money", "GBP", "head", "")),
    ("$49/mo", (49, "money", "USD", "month", "")),
    ("$1,200 annually", (1200, "money", "USD", "year", "")),
    ("$10 per user per month", (10, "money", "USD", "user/month", "")),
    ("forty nine dollars and ninety nine cents", (49.99, "money", "USD", "", "")),
    ("starting at $29.99 monthly", (29.99, "money", "USD", "month", "min")),
    ("coverage up to $500,000", (500000, "money", "USD", "", "max")),
    ("$2 million in coverage", (2_000_000, "money", "USD", "", "")),
    # a number with only a rate is a price in an unknown currency
    ("forty-nine a month", (49, "money", "", "month", "")),
    ("it's like, um, nine ninety-nine a month", (9.99, "money", "", "month", "")),
    ("zero setup fee", (0, "money", "", "", "")),
    ("there's no setup fee", (0, "money", "", "", "")),
    # durations
    ("three years of support", (3, "duration", "year", "", "")),
    ("a 3-year warranty", (3, "duration", "year", "", "")),
    ("two-year replacement warranty", (2, "duration", "year", "", "")),
    ("36 months", (36, "duration", "month", "", "")),
    ("a four-hour response time", (4, "duration", "hour", "", "")),
    ("returns within 30 days", (30, "duration", "day", "", "max")),
    ("fourteen days", (14, "duration", "day", "", "")),
    ("a 90-day money-back guarantee", (90, "duration", "day", "", "")),
    ("half an hour", (0.5, "duration", "hour", "", "")),
    ("ten business days", (10, "duration", "day", "", "")),
    # percents
    ("20% off", (20, "percent", "%", "", "")),
    ("twenty percent", (20, "percent", "%", "", "")),
    ("15 per cent", (15, "percent", "%", "", "")),
    ("a 99.9% uptime SLA", (99.9, "percent", "%", "", "")),
    # counts and bounds
    ("up to 25 devices", (25, "count", "device", "", "max")),
    ("it tops out at twenty-five devices", (25, "count", "device", "", "max")),
    ("covers up to a hundred devices", (100, "count", "device", "", "max")),
    ("at least 3 users", (3, "count", "user", "", "min")),
    ("as many as 10 cameras", (10, "count", "camera", "", "max")),
    ("25 devices max", (25, "count", "device", "", "max")),
    ("five users or more", (5, "count", "user", "", "min")),
    ("25+ users", (25, "count", "user", "", "min")),
    ("one location", (1, "count", "location", "", "")),
    ("two coffee shops", (2, "count", "shop", "", "")),
    ("classes are limited to 20 people", (20, "count", "person", "", "max")),
    ("2 more users", (2, "count", "user", "", "")),
    ("two visits a year", (2, "count", "visit", "year", "")),
    # the rate after what the count is of, in one or a few words
    ("10 GB of storage per user", (10, "count", "gb", "user", "")),
    ("15 GB of mobile hotspot a month", (15, "count", "gb", "month", "")),
    ("three bags of cedar mulch a year", (3, "count", "bag", "year", "")),
    # dates
    ("December 31", (31, "date", "december", "", "")),
    ("by December thirty-first", (31, "date", "december", "", "max")),
    ("the 31st of December", (31, "date", "december", "", "")),
    ("ends 31 December", (31, "date", "december", "", "max")),
    ("Dec. 1st, 2024", (1, "date", "december", "", "")),
    ("the first of May", (1, "date", "may", "", "")),
    # bare
    ("since 2019", (2019, "bare", "", "", "")),
    ("I can do two hundred and fifty", (250, "bare", "", "", "")),
])
def test_extract_one(text: str, expected: tuple) -> None:
    assert shape(one(text)) == expected


@pytest.mark.parametrize("text", [
    "Hi, this is Ben from Acme", "the expensive one", "no one knows", "one of our reps will call",
    "which one would you like?", "first, let me ask you something", "call me at 555-123-4567",
    "your account is 123456789", "it's a one-time thing", "you may want to wait", "half the price",
    "the first thing I'd say", "hundreds of customers", "no more questions",
])
def test_extract_nothing(text: str) -> None:
    assert extract_quantities(text) == []


def test_two_quantities_and_first_per_wins() -> None:
    money, sites = extract_quantities("$39 per site per month, minimum two sites")
    assert shape(money) == (39, "money", "USD", "site/month", "")
    assert shape(sites) == (2, "count", "site", "", "min")


def test_twenty_four_seven_forms_agree() -> None:
    forms = ["24/7 support", "twenty-four seven support", "24x7 support",
             "support 24 hours a day, 7 days a week"]
    shapes = [[shape(q) for q in extract_quantities(t)] for t in forms]
    assert shapes[0] == [(24, "duration", "hour", "day", ""), (7, "duration", "day", "week", "")]
    assert all(s == shapes[0] for s in shapes)


def test_ranges_share_unit() -> None:
    low, high = extract_quantities("ships in 3-5 business days")
    assert shape(low) == (3, "duration", "day", "", "min")
    assert shape(high) == (5, "duration", "day", "", "max")
    low, high = extract_quantities("installation takes one to two weeks")
    assert (low.value, low.unit, high.value, high.unit) == (1, "week", 2, "week")
    a, b = extract_quantities("two or three days")
    assert (a.kind, a.unit, a.bound) == ("duration", "day", "")


def test_times_and_ids_are_not_quantities_with_units() -> None:
    assert [shape(q) for q in extract_quantities("we open at 9am")] == [(9, "bare", "", "", "")]
    assert [q.kind for q in extract_quantities("in May 5 users joined")] == ["count"]
    assert extract_quantities("order 12345678901") == []


def test_span_and_context() -> None:
    text = "The Pro plan is $1,200 a year and includes 10 seats."
    price, seats = extract_quantities(text)
    assert text[price.start:price.end] == "$1,200 a year"
    assert text[seats.start:seats.end] == "10 seats"
    assert price.context == ("pro", "plan", "seat")
    q = one("our two-year replacement warranty covers on-site installation")
    assert "warranty" in q.context and "replacement" in q.context and "year" not in q.context
    assert one("um so it's like forty nine bucks").context == ()


def test_fast_enough() -> None:
    text = ("yeah so um the basic one is like forty nine dollars a month and it covers "
            "up to a hundred devices, and you get twenty-four seven support")
    extract_quantities(text)
    t0 = time.perf_counter()
    for _ in range(200):
        extract_quantities(text)
    assert (time.perf_counter() - t0) / 200 < 0.002        # generous: ~0.1 ms locally


# --------------------------------------------------------- same_quantity/comparable
def q(value: float, kind: str, unit: str = "", per: str = "", bound: str = "") -> Quantity:
    return Quantity(value, kind, unit, per, bound)


@pytest.mark.parametrize("a, b, same", [
    (q(24, "duration", "month"), q(2, "duration", "year"), True),
    (q(12, "duration", "week"), q(3, "duration", "month"), False),
    (q(48, "duration", "hour"), q(2, "duration", "day"), True),
    (q(30, "duration", "day"), q(1, "duration", "month"), True),
    (q(3, "duration", "year"), q(2, "duration", "year"), False),
    (q(24, "duration", "hour", "day"), q(24, "duration", "hour"), True),
    (q(49, "money", "USD", "month"), q(49, "money", "", "month"), True),
    (q(49, "money", "USD"), q(49, "money", "EUR"), False),
    (q(49, "money", "USD", "month"), q(588, "money", "USD", "year"), True),
    (q(49, "money", "USD", "month"), q(49, "money", "USD", "year"), False),
    (q(39, "money", "USD", "site/month"), q(39, "money", "USD", "month"), True),
    (q(39, "money", "USD", "site"), q(39, "money", "USD", "user"), False),
    (q(49, "money", "USD"), q(49.99, "money", "USD"), False),
    (q(25, "count", "device", bound="max"), q(25, "count", "device"), True),
    (q(25, "count", "device"), q(25, "count", "user"), False),
    (q(2, "count", "visit", "year"), q(2, "count", "visit", "month"), False),
    (q(20, "percent", "%"), q(20.0, "percent", "%"), True),
    (q(31, "date", "december"), q(31, "date", "january"), False),
    (q(49, "bare"), q(49, "money", "USD", "month"), True),
    (q(3, "duration", "year"), q(3, "count", "user"), False),
])
def test_same_quantity(a: Quantity, b: Quantity, same: bool) -> None:
    assert same_quantity(a, b) is same
    assert same_quantity(b, a) is same


@pytest.mark.parametrize("a, b, comp", [
    (q(49, "money", "USD", "month"), q(39, "money", "", "month"), True),
    (q(49, "money", "USD", "month"), q(499, "money", "USD", "year"), True),
    (q(49, "money", "USD"), q(39, "money", "GBP"), False),
    (q(10, "money", "USD", "user"), q(39, "money", "USD", "site"), False),
    (q(3, "duration", "year"), q(36, "duration", "month"), True),
    (q(48, "duration", "hour"), q(3, "duration", "day"), True),
    (q(4, "duration", "hour"), q(30, "duration", "day"), False),
    (q(4, "duration", "hour"), q(2, "duration", "hour"), True),
    (q(24, "duration", "hour", "day"), q(4, "duration", "hour"), False),
    (q(20, "percent", "%"), q(15, "percent", "%"), True),
    (q(31, "date", "december"), q(15, "date", "december"), True),
    (q(31, "date", "december"), q(31, "date", "january"), False),
    (q(25, "count", "device"), q(100, "count", "device"), True),
    (q(25, "count", "device"), q(5, "count", "user"), False),
    (q(25, "bare"), q(100, "count", "device"), True),
    (q(39, "bare"), q(49, "money", "USD", "month"), True),
    (q(39, "bare"), q(49, "money", "USD"), False),
    (q(39, "bare"), q(49, "bare"), False),
    (q(3, "duration", "year"), q(3, "percent", "%"), False),
])
def test_comparable(a: Quantity, b: Quantity, comp: bool) -> None:
    assert comparable(a, b) is comp
    assert comparable(b, a) is comp


def test_end_to_end_contradiction() -> None:
    rep = extract_quantities("it's got a two year warranty")[0]
    fact = extract_quantities("Includes a 3-year manufacturer warranty.")[0]
    assert comparable(rep, fact) and not same_quantity(rep, fact)
    rep = extract_quantities("forty-nine a month")[0]
    fact = extract_quantities("Standard costs $49 per month.")[0]
    assert comparable(rep, fact) and same_quantity(rep, fact)


# ------------------------------------------------------------------- content_words
@pytest.mark.parametrize("text, expected", [
    ("on-site installation", ["site", "install"]),
    ("on site install", ["site", "install"]),
    ("installing", ["install"]),
    ("installed installations", ["install", "install"]),
    ("Um, yeah, so it's like really pretty okay", []),
    ("the company's policies", ["company", "policy"]),
    ("boxes and classes", ["box", "class"]),
    ("licenses license", ["license", "license"]),
    ("Solar panels", ["solar", "panel"]),
    ("status bus", ["status", "bus"]),
])
def test_content_words(text: str, expected: list[str]) -> None:
    assert content_words(text) == expected


def test_stopwords_include_fillers() -> None:
    assert {"um", "uh", "like", "yeah", "okay", "so", "just", "really", "pretty"} <= CONTENT_STOPWORDS
    assert "warranty" not in CONTENT_STOPWORDS


@pytest.mark.parametrize("text, expected", [
    ("Membership is $29.99 monthly with a $50 sign-up fee",
     [(29.99, "money", "USD", "month", ""), (50, "money", "USD", "", "")]),
    ("The policy covers up to $250,000 in liability with a $500 deductible",
     [(250000, "money", "USD", "", "max"), (500, "money", "USD", "", "")]),
    ("Panels carry a 25-year warranty and produce 400 watts each",
     [(25, "duration", "year", "", ""), (400, "count", "watt", "", "")]),
    ("plans run $49-$99 a month", [(49, "money", "USD", "month", "min"), (99, "money", "USD", "month", "max")]),
    ("between 2 and 4 users", [(2, "count", "user", "", "min"), (4, "count", "user", "", "max")]),
    ("We support 50 users, with 10 GB of storage per user",
     [(50, "count", "user", "", ""), (10, "count", "gb", "user", "")]),
])
def test_industries(text: str, expected: list[tuple]) -> None:
    assert [shape(q) for q in extract_quantities(text)] == expected


def test_spoken_prices_round_the_cents_away() -> None:
    from intervene.nlp.lexicon import Quantity, same_quantity
    m = lambda v: Quantity(v, "money", "USD", "month")  # noqa: E731
    assert same_quantity(m(45), m(44.99)) and same_quantity(m(44.99), m(45))
    assert not same_quantity(m(44), m(44.99)) and not same_quantity(m(45), m(44.5))
    assert not same_quantity(m(49), m(44.99)) and not same_quantity(m(45.5), m(44.99))


@pytest.mark.parametrize("text, negated, affirmed", [
    ("Brake pads, bulbs and batteries are not covered on Plus Care.", ["brake", "bulbs", "batteries"], []),
    ("Salt, chemicals, and repairs are not included.", ["salt", "chemicals", "repairs"], []),
    ("Dental cleaning, blood work and x-rays are not included.", ["cleaning", "blood", "x-rays"], []),
    ("We offer towels, and lockers are not included.", ["lockers"], ["towels"]),
    ("After the first month, fees and charges are not refunded.", ["fees", "charges"], ["month"]),
    ("On Plus, bulbs and batteries are not covered.", ["bulbs", "batteries"], ["plus"]),
])
def test_a_list_before_its_negated_verb_is_negated_whole(text, negated, affirmed) -> None:
    """"X, Y and Z are not included": every item of the list is excluded, not
    only the last ones after the list's comma; an opening phrase or a clause of
    its own before the comma stays outside."""
    from intervene.nlp.text import split_by_scope
    neg, pos = (part.lower() for part in split_by_scope(text))
    assert all(w in neg for w in negated), (neg, pos)
    assert all(w in pos and w not in neg for w in affirmed), (neg, pos)


@pytest.mark.parametrize("text, negated", [
    ("your insurance will cover it no problem storm damage always gets paid", ""),
    ("No worries, the setup is included.", ""),
    ("not a problem, it comes with a battery", ""),
    ("No problem. There's no setup fee.", "no setup fee"),
])
def test_no_problem_is_sure_not_a_denial(text, negated) -> None:
    """"No problem", "no worries": ways of saying "sure" built from negation words."""
    from intervene.nlp.text import split_by_scope
    assert split_by_scope(text)[0].strip().rstrip(".") == negated


@pytest.mark.parametrize("text,month,day", [
    ("sign before March 31 and save", "march", 31),
    ("it runs through the end of June", "june", 30),
    ("book by the end of february", "february", 28),
    ("enrol before may fifteenth", "may", 15),
    ("the offer ends April 30th", "april", 30),
])
def test_a_date_said_as_a_deadline_is_one(text, month, day) -> None:
    qs = [q for q in extract_quantities(normalize_numbers(text)) if q.kind == "date"]
    assert [(q.unit, q.value, q.bound) for q in qs] == [(month, day, "max")]


def test_two_deadlines_compare_across_months_other_dates_do_not() -> None:
    def date(text: str):
        return next(q for q in extract_quantities(normalize_numbers(text)) if q.kind == "date")
    assert comparable(date("before March 31"), date("by the end of April"))
    assert not same_quantity(date("before March 31"), date("by the end of April"))
    assert same_quantity(date("before April 1"), date("by March 31"))        # a day apart is the same deadline
    assert not comparable(date("it starts on July 6"), date("enrol by May 31"))
    assert not comparable(date("it starts on July 6"), date("the trip is on August 2"))


@pytest.mark.parametrize("a, b, same", [
    (49.0, 49.0, True), (4.495, 4.50, True),        # a worked-out half cent is said rounded
    (19.99, 20.0, False), (466.65, 466.66, False),  # a cent apart is another price
    (0.134, 0.134, True), (0.139, 0.134, False),    # 13.9 cents a kWh is not 13.4
    (1000.0, 1004.0, False),
])
def test_the_same_amount_is_the_same_to_the_cent(a: float, b: float, same: bool) -> None:
    assert same_amount(a, b) == same == same_amount(b, a)


@pytest.mark.parametrize("a, b, near", [
    (599.0, 600.0, True), (590.0, 600.0, False),    # a total said rounded: within 1%
    (0.5, 0.99, False), (0.503, 0.5, True), (0.4, 0.5, False),   # under a dollar, of the amount itself
])
def test_a_total_said_roughly_is_within_a_percent(a: float, b: float, near: bool) -> None:
    assert about_same(a, b) == near


@pytest.mark.parametrize("text, value, per", [
    ("it's a dollar fifty a foot", 1.5, "foot"),
    ("two dollars twenty-five a page", 2.25, "page"),
    ("a dollar a day", 1.0, "day"),
    ("three dollars fifty per word", 3.5, "word"),
    ("ten bucks forty each", 10.4, ""),
])
def test_cents_said_after_the_money_word(text: str, value: float, per: str) -> None:
    """"a dollar fifty" is $1.50: a 1-99 said right after a whole number of
    dollars is its cents (and "a dollar" is one dollar)."""
    q = one(normalize_numbers(text))
    assert (q.value, q.kind, q.per) == (pytest.approx(value), "money", per)


@pytest.mark.parametrize("text, dollars", [
    ("five dollars, twenty minutes", 5.0),           # a comma: two amounts
    ("five dollars twenty minutes later", 5.0),      # its own noun: another amount
    ("it was ten dollars fifty percent of the time", 10.0),
])
def test_a_number_after_dollars_with_its_own_noun_is_not_cents(text: str, dollars: float) -> None:
    qs = extract_quantities(normalize_numbers(text))
    assert len(qs) == 2 and (qs[0].value, qs[0].kind) == (dollars, "money"), qs


@pytest.mark.parametrize("text, value", [
    ("the first hundred feet are included", 100.0),
    ("per thousand words", 1000.0),
    ("every hundred miles", 100.0),
])
def test_a_lone_scale_word_after_a_determiner_is_one_of_it(text: str, value: float) -> None:
    assert one(normalize_numbers(text)).value == value


def test_a_lone_scale_word_on_its_own_is_not_a_number() -> None:
    assert not extract_quantities(normalize_numbers("hundreds of customers, thousands of reviews"))


@pytest.mark.parametrize("text, value, per", [
    ("$1.50 per linear foot", 1.5, "foot"),
    ("a dollar fifty a lineal foot after that", 1.5, "foot"),
    ("two dollars a running metre", 2.0, "metre"),
    ("$7 per square foot", 7.0, "square foot"),
    ("nine dollars a square foot", 9.0, "square foot"),
    ("forty dollars per cubic yard", 40.0, "cubic yard"),
    ("$0.30 per square foot per year", 0.3, "square foot/year"),
])
def test_a_rate_per_a_qualified_unit_is_per_that_unit(text: str, value: float, per: str) -> None:
    """"per linear foot" is a rate per foot (so "$1.50 a foot" is comparable with
    it); "per square foot" is per area, never the same as per foot."""
    q = one(normalize_numbers(text))
    assert (q.value, q.kind, q.per) == (pytest.approx(value), "money", per)


@pytest.mark.parametrize("text, value", [
    ("seven thousand nine ninety five", 7995.0),
    ("seven thousand nine ninety-five dollars", 7995.0),
    ("two thousand four fifty", 2450.0),
    ("eleven thousand four ninety-five installed", 11495.0),
    ("a thousand nine twenty", 1920.0),
])
def test_thousands_then_hundreds_said_as_a_digit_and_tens_is_one_number(text: str, value: float) -> None:
    """"seven thousand nine ninety-five" is $7,995 (the "hundred" is left out, as
    in "nine ninety-five"), not 7,009 and 95."""
    assert one(normalize_numbers(text)).value == value


@pytest.mark.parametrize("text, value", [
    ("two thousand nineteen", 2019.0),
    ("three thousand five", 3005.0),
    ("one thousand two hundred and fifty", 1250.0),
])
def test_thousands_with_a_unit_or_a_teen_stay_as_they_were(text: str, value: float) -> None:
    assert one(normalize_numbers(text)).value == value


@pytest.mark.parametrize("text", [
    "the suburbs inside the I-494/I-694 loop",
    "W-2s at year end",
    "for K-12 schools",
])
def test_a_name_with_a_number_in_it_is_no_quantity(text: str) -> None:
    assert not extract_quantities(normalize_numbers(text)), extract_quantities(normalize_numbers(text))


def test_a_number_beside_a_name_with_a_number_is_still_read() -> None:
    qs = extract_quantities(normalize_numbers("inside the I-285 loop, and up to 15 miles outside it pay $10"))
    assert [(q.value, q.kind) for q in qs] == [(15.0, "count"), (10.0, "money")], qs


@pytest.mark.parametrize("text, value", [
    ("on anything over a thousand bucks", 1000.0),
    ("orders above $50 ship free", 50.0),
])
def test_over_or_above_a_number_is_a_lower_bound(text: str, value: float) -> None:
    q = one(normalize_numbers(text))
    assert (q.value, q.bound) == (value, "min"), q



@pytest.mark.parametrize("text, value", [
    ("over our hundred and fifty dollar visit minimum", 150.0),
    ("the hundred and fifty dollar fee", 150.0),
    ("Hundred and twenty-five a month.", 125.0),
    ("your thousand dollar deposit", 1000.0),
])
def test_a_hundred_with_no_number_before_it_is_one_hundred(text: str, value: float) -> None:
    """"our hundred and fifty dollar minimum" is $150 - not "hundred" and $50."""
    assert one(normalize_numbers(text)).value == value


def test_a_few_hundred_is_no_number() -> None:
    assert not extract_quantities(normalize_numbers("a few hundred dollars"))


@pytest.mark.parametrize("text, value, unit", [
    ("homes of 3,001 to 5,000 finished square feet", 5000.0, "foot"),
    ("you still have three unused visits", 3.0, "visit"),
    ("2 covered parking spots", 2.0, "spot"),
])
def test_an_adjective_in_ed_before_the_noun_keeps_the_noun(text: str, value: float, unit: str) -> None:
    q = [q for q in extract_quantities(normalize_numbers(text)) if q.value == value][0]
    assert (q.kind, q.unit) == ("count", unit), q


@pytest.mark.parametrize("a, b", [
    ("cancelled", "cancel"), ("cancelling", "cancel"), ("shipped", "ship"), ("planned", "plan"),
    ("transferred", "transfer"), ("labelled", "label"),
])
def test_a_consonant_doubled_for_an_ending_stems_with_the_word(a: str, b: str) -> None:
    assert content_words(a) == content_words(b), (content_words(a), content_words(b))


@pytest.mark.parametrize("a, b", [("billed", "bill"), ("missed", "miss"), ("staffed", "staff"), ("installed", "install")])
def test_a_double_the_word_has_is_kept(a: str, b: str) -> None:
    assert content_words(a) == content_words(b) == [b], (content_words(a), content_words(b))


@pytest.mark.parametrize("text, value, unit", [
    ("Three monthly Unlimited memberships at forty-four ninety-nine.", 3.0, "membership"),
    ("two yearly deep cleans", 2.0, "clean"),
    ("3 monthly payments", 3.0, "payment"),
])
def test_a_count_at_a_rate_keeps_its_noun_after_a_name(text: str, value: float, unit: str) -> None:
    """"three monthly Unlimited memberships" counts memberships; it is not $3 a month."""
    q = extract_quantities(normalize_numbers(text))[0]
    assert (q.kind, q.value, q.unit) == ("count", value, unit), q


@pytest.mark.parametrize("text", ["it's 49 monthly", "it's forty-nine monthly for the plan", "49 monthly, billed on the 1st"])
def test_a_number_then_a_period_alone_is_still_a_price(text: str) -> None:
    q = extract_quantities(normalize_numbers(text))[0]
    assert (q.kind, q.per) == ("money", "month"), q


@pytest.mark.parametrize("text, per", [
    ("each step beyond 5 costs $10 for an upright", "step"),
    ("Each extra guest costs thirty dollars.", "guest"),
    ("every additional hour is $50", "hour"),
    ("$30 per extra guest", "guest"),
    ("each additional mile runs 3 dollars", "mile"),
])
def test_the_thing_a_price_is_for_may_be_said_before_it(text: str, per: str) -> None:
    """"each step beyond 5 costs $10" is $10 a step, as "$10 a step" is, and
    "$30 per extra guest" is per guest, not per "extra"."""
    q = next(q for q in extract_quantities(normalize_numbers(text)) if q.kind == "money")
    assert q.per == per, q


@pytest.mark.parametrize("text, pers", [
    ("each step beyond 5 costs $10 for an upright and $18 for a grand", ["step", "step"]),
    ("$10 a month for basic and $20 for premium", ["month", "month"]),
    ("$49 for the first visit and $20 a month after", ["", "month"]),
    ("each step, which costs $10", [""]),
])
def test_a_second_price_for_another_item_shares_the_firsts_basis(text: str, pers: list[str]) -> None:
    assert [q.per for q in extract_quantities(normalize_numbers(text)) if q.kind == "money"] == pers


@pytest.mark.parametrize("text, said", [
    ("core is two oh nine a month", "core is 209 a month"),
    ("the overhaul's three oh five", "the overhaul's 305"),
    ("meet at seven oh five", "meet at 7 oh 5"),
])
def test_a_price_read_digit_by_digit_round_a_zero(text: str, said: str) -> None:
    assert normalize_numbers(text) == said
