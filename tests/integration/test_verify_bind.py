"""The verification stage, ninth round: a fact that gives several items their
own values in one sentence binds each value to its item; a lead's number is
only echoed by the rep when it is the same sort of thing; a price said at
another of the plan's rates ("a quarter"), a second price left as two bare
numbers ("sixty nine ninety nine"), one of the KB's prices said to apply to
everyone, a fact found by its number's noun just below the similarity floor,
and a clause about another topic than the rest of its sentence.

Written from the kinds' descriptions (misses seen on calls from companies the
checker had never seen) against a KB made up here.
"""
from __future__ import annotations

import pytest
from verdictkit import checker_of, errors, shown

from intervene.core.detect.claims import _PRONOUN_START, ClaimChecker
from intervene.core.detect.numbers import bound_value, echoes, item_words, value_parts
from intervene.nlp.lexicon import extract_quantities, normalize_numbers

KB = """
company: Harbour Climbing
products:
  - id: membership
    name: Harbour membership
    aliases: [membership, member, the membership]
    price: "$69 per month, or $189 per quarter"
    facts:
      - Members get 10% off gear rental and 20% off coaching sessions.
      - A membership can be frozen for up to 60 days a year.
  - id: lockers
    name: Lockers
    aliases: [locker, standard locker, large locker]
    price: "from $8 per month"
    facts:
      - A Standard locker is $8 per month, and a Large locker, with a power socket and a bench, is $14 per month.
  - id: coach-app
    name: Harbour Coach app
    aliases: [coach app, the app]
    price: "$9.99 per month for the first year, then $14.99 per month"
    facts:
      - Training plans in the app are written by our head setter.
  - id: classes
    name: Climbing classes
    aliases: [class, classes, bouldering class, top-rope class, lead class]
    price: "from $25 per class"
    facts:
      - Bouldering, Top-rope and Lead classes are $25, $30 and $35 per class.
facts:
  - id: day-pass
    text: A day pass is $18 for adults and $12 for children under 14.
  - id: route-setting
    text: The private route-setting fee is $40 for non-members and $25 for members.
  - id: chalk
    text: Chalk bags cost $15, or $10 for members.
  - id: private-rate
    text: Private sessions with two instructors cost $90 per hour, and with three instructors $120 per hour.
  - id: private-minimum
    text: Every private session has a two-hour minimum.
  - id: gear-cover
    text: Gear cover costs 2% of the declared value of your kit, with a minimum declared value of $3,000.
"""


@pytest.fixture(scope="module")
def gym(embedder) -> ClaimChecker:
    return checker_of(KB, "harbour", embedder)


def parts(text: str) -> list[set[str]]:
    text = normalize_numbers(text)
    return value_parts(text, extract_quantities(text))


def test_each_value_gets_the_words_of_its_own_piece() -> None:
    p = parts("A Standard locker is $8 per month, and a Large locker, with a power socket, is $14 per month.")
    assert "standard" in p[0] and "large" not in p[0]
    assert {"large", "power", "socket"} <= p[1] and "standard" not in p[1]
    assert "month" not in p[0] | p[1]              # the values' own unit names no item
    # what follows the last number is another clause
    assert "waiv" not in parts("The fee is $40 for guests and $25 for members, and it is waived on birthdays.")[1]


@pytest.mark.parametrize("fact, said, expect", [
    ("Members get 10% off gear rental and 20% off coaching sessions.", "20% off gear rental", 0),
    ("Members get 10% off gear rental and 20% off coaching sessions.", "10% off coaching", 1),
    ("A day pass is $18 for adults and $12 for children under 14.", "for the kids it's $18", None),  # "kids": no word of either
    ("A day pass is $18 for adults and $12 for children under 14.", "$18 for children", 1),
    # a list said respectively gives no value words of its own
    ("Bouldering, Top-rope and Lead classes are $25, $30 and $35 per class.", "lead is $30", None),
    # words of both items: not bound
    ("The route-setting fee is $40 for non-members and $25 for members.", "it's $40 for members", None),
    # a word every item is said with names none of them; the word only one has names it
    ("A lesson is $65 with a Coach, $85 with a Senior Coach, $110 with a Head Coach.", "a Senior Coach is $110", 1),
    ("A lesson is $65 with a Coach, $85 with a Senior Coach, $110 with a Head Coach.", "with a coach it's $85", None),
])
def test_the_rep_s_words_bind_the_value_to_one_item(fact, said, expect) -> None:
    fact = normalize_numbers(fact)
    fqs = extract_quantities(fact)
    rivals = [i for i, q in enumerate(fqs) if q.kind in ("money", "percent")]
    said_words = parts(said)[0]
    assert bound_value(said_words, item_words(fact, fqs), rivals) == expect


@pytest.mark.parametrize("text, context", [
    ("Members get twenty percent off gear rental, and twenty percent off coaching as well.", "membership"),
    ("The large one has a power socket and a bench, and that's eight dollars a month.", "lockers"),
    ("A day pass for children is eighteen dollars.", None),
])
def test_a_value_said_of_the_other_item_is_an_error(gym, text, context) -> None:
    assert errors(gym, text, context), text


@pytest.mark.parametrize("text, context", [
    ("Members get ten percent off gear rental and twenty percent off coaching.", "membership"),
    ("A standard locker is eight dollars a month.", "lockers"),
    ("The large locker is fourteen a month, it has a power socket.", "lockers"),
    ("Lead classes are thirty-five and top-rope is thirty.", "classes"),
    ("It's twelve dollars for children under fourteen, eighteen for adults.", None),
])
def test_a_value_said_of_its_own_item_is_no_error(gym, text, context) -> None:
    assert not shown(errors(gym, text, context)), text


def test_an_unbindable_list_keeps_the_old_leniency(gym) -> None:
    # "Bouldering, Top-rope and Lead are 25, 30 and 35": which value is Lead's the words can't say
    assert not shown(errors(gym, "The lead class is thirty dollars.", "classes"))


def lead(text: str):
    return extract_quantities(normalize_numbers(text))


def test_a_lead_s_number_is_echoed_only_as_the_same_sort_of_thing() -> None:
    rep = lead("you can freeze it for 3 weeks")[0]
    assert not echoes(rep, lead("We're away for 3 months in summer."))
    assert echoes(rep, lead("Could I freeze it for 3 weeks?"))
    assert echoes(lead("so 50 devices")[0], lead("About fifty, I think."))       # a bare number may be anything
    assert not echoes(lead("it's $60 a month")[0], lead("We'd need it for 60 days."))


def test_the_rep_s_number_is_checked_when_the_lead_said_it_of_something_else(gym) -> None:
    said = "Sure, you can freeze the membership for ninety days a year."
    assert errors(gym, said, "membership")
    got = gym.check(said, "membership", lead("Ninety minutes is my usual session.")).verdicts
    assert [v for v in got if not v.ok]
    quiet = gym.check(said, "membership", lead("Can I freeze it for ninety days?")).verdicts
    assert not [v for v in quiet if not v.ok]              # the rep repeating the lead's own number


@pytest.mark.parametrize("text, context, wrong", [
    ("Sure, you can pay quarterly, it's one ninety-nine a quarter.", "membership", "189"),
    ("The coach app is nine ninety-nine a month for the first year and then it goes to twelve ninety-nine.",
     "coach-app", "14.99"),
    ("Chalk bags are ten dollars, no matter who you are.", None, "15"),
    ("Yes, the minimum declared value is two thousand dollars.", None, "3,000"),
    # the clause's own topic, not its sentence's: the minimum, not the instructors' rate
    ("Sure, two instructors are ninety an hour, and there's only a one-hour minimum.", None, "two-hour"),
])
def test_a_price_said_another_way_is_still_checked(gym, text, context, wrong) -> None:
    errs = shown(errors(gym, text, context))
    assert errs and wrong in errs[0].correction, text


@pytest.mark.parametrize("text, context", [
    ("Sure, you can pay quarterly, it's one eighty-nine a quarter.", "membership"),
    ("The coach app is nine ninety-nine a month for the first year and then it goes to fourteen ninety-nine.",
     "coach-app"),
    ("Chalk bags are ten dollars for members.", None),
    ("Chalk bags are fifteen dollars, or ten for members.", None),
    ("Yes, the minimum declared value is three thousand dollars.", None),
    ("Sure, two instructors are ninety an hour, and there's a two-hour minimum.", None),
])
def test_the_same_price_said_right_is_no_error(gym, text, context) -> None:
    assert not shown(errors(gym, text, context)), text


def test_a_price_read_from_two_bare_numbers_is_never_spoken(gym) -> None:
    errs = errors(gym, "The coach app is nine ninety-nine a month for the first year and then it goes to "
                       "twelve ninety-nine.", "coach-app")
    assert errs and all("bare" in v.doubts for v in errs)


@pytest.mark.parametrize("text, about_before", [
    ("It's forty-five minutes one-on-one.", True),
    ("On the Haven 6 it's a $199 add-on.", True),          # where it applies, then "it"
    ("For members, that's ten percent off.", True),
    ("Installation is included on every plan.", False),
    ("On Tuesdays the shop opens at nine.", False),
])
def test_a_sentence_about_the_one_before_is_looked_up_with_it(text, about_before) -> None:
    assert bool(_PRONOUN_START.match(text)) == about_before
