"""Parsing a lead's spoken answers: budgets, timelines, yes/no, call control.

Phrasings come from several industries (solar, SaaS, insurance, fitness, home
services) and include what Whisper tiny.en makes of phone audio: number words
or digits, stray punctuation, fillers, "grant" for "grand"."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from intervene.leads.understand.answers import parse_answer
from intervene.leads.understand.budget import describe_budget, parse_budget
from intervene.leads.understand.clock import describe_when, parse_when
from intervene.leads.understand.dates import parse_timeline
from intervene.leads.understand.intent import declines, parse_intent, parse_yes_no
from intervene.leads.understand.spoken import clean_text

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC).timestamp()       # a Thursday


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: str = "UTC") -> float:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).timestamp()


# ------------------------------------------------------------------ budget
@pytest.mark.parametrize("text, amount, low, high, currency, period", [
    ("fifteen thousand", 15000, 15000, 15000, "USD", None),
    ("15k", 15000, 15000, 15000, "USD", None),
    ("$15,000", 15000, 15000, 15000, "USD", None),
    ("15 grand", 15000, 15000, 15000, "USD", None),
    ("About 15 grant.", 15000, 15000, 15000, "USD", None),                       # misheard "grand"
    ("between ten and fifteen thousand dollars", 12500, 10000, 15000, "USD", None),
    ("Um, I'd say like ten to fifteen K.", 12500, 10000, 15000, "USD", None),
    ("10-15k", 12500, 10000, 15000, "USD", None),
    ("like ten, fifteen grand", 12500, 10000, 15000, "USD", None),
    ("$10k to $20k for the whole solar system", 15000, 10000, 20000, "USD", None),
    ("we're looking at about 40 to 50 thousand for the panels and battery", 45000, 40000, 50000, "USD", None),
    ("around 2k a month", 2000, 2000, 2000, "USD", "month"),
    ("under 500 euros", 500, None, 500, "EUR", None),
    ("no more than three hundred a month for the software", 300, None, 300, "USD", "month"),
    ("five grand tops", 5000, None, 5000, "USD", None),
    ("at least 2,000 dollars a month", 2000, 2000, None, "USD", "month"),
    ("10k plus", 10000, 10000, None, "USD", None),
    ("maybe fifty thousand a year", 50000, 50000, 50000, "USD", "year"),
    ("500 quid", 500, 500, 500, "GBP", None),
    ("Probably 200 pounds per month for the insurance.", 200, 200, 200, "GBP", "month"),
    ("a hundred bucks a week", 100, 100, 100, "USD", "week"),
    ("something like 80 bucks a month for the gym membership", 80, 80, 80, "USD", "month"),
    ("twenty thousand rupees", 20000, 20000, 20000, "INR", None),
    ("3,500 Canadian dollars", 3500, 3500, 3500, "CAD", None),
    ("a couple thousand", 2000, 2000, 2000, "USD", None),
    ("half a million", 500000, 500000, 500000, "USD", None),
    ("two point five million", 2500000, 2500000, 2500000, "USD", None),
    ("1.2 mil", 1200000, 1200000, 1200000, "USD", None),
    ("I'd say around twelve, thirteen hundred a month", 1250, 1200, 1300, "USD", "month"),
    ("Around 50 to 100 euros monthly.", 75, 50, 100, "EUR", "month"),
    ("We spend about 3k on it every month.", 3000, 3000, 3000, "USD", "month"),
    ("We have 5 employees and about 10k budget", 10000, 10000, 10000, "USD", None),
    ("Yeah, so I think 15,000 would be fine.", 15000, 15000, 15000, "USD", None),
    ("uh, 15000.", 15000, 15000, 15000, "USD", None),
    ("For the roof, uh, maybe eight to ten thousand?", 9000, 8000, 10000, "USD", None),
    ("Our monthly budget is about 400.", 400, 400, 400, "USD", "month"),
    ("Somewhere north of 20k.", 20000, 20000, None, "USD", None),
    ("less than a thousand dollars", 1000, None, 1000, "USD", None),
])
def test_budget_phrasings(text, amount, low, high, currency, period):
    b = parse_budget(text)
    assert b is not None, text
    assert (b.amount, b.low, b.high, b.currency, b.period) == (amount, low, high, currency, period), text
    assert b.text


@pytest.mark.parametrize("text", [
    "I don't know", "not sure yet", "No idea, honestly.", "we haven't decided", "In 2027",
    "for two locations", "It depends on the quote.", "", "um",
])
def test_budget_none(text):
    assert parse_budget(text) is None


def test_budget_default_currency_follows_the_company():
    assert parse_budget("about 20 grand", default_currency="EUR").currency == "EUR"
    assert parse_budget("3000 dollars", default_currency="AUD").currency == "AUD"    # Australian company
    assert parse_budget("3000 dollars", default_currency="EUR").currency == "USD"
    assert parse_budget("£3000", default_currency="USD").currency == "GBP"


def test_budget_strict_ignores_counts_and_bare_numbers():
    assert parse_budget("we have 3 sites and 40 staff", strict=True) is None
    assert parse_budget("in 2 weeks", strict=True) is None
    assert parse_budget("maybe 3", strict=True) is None
    assert parse_budget("yes and we have about 10k set aside", strict=True).amount == 10000


def test_describe_budget():
    assert describe_budget(parse_budget("15 grand")) == "about 15,000 dollars"
    assert describe_budget(parse_budget("ten to fifteen k")) == "10,000 to 15,000 dollars"
    assert describe_budget(parse_budget("under 500 euros a month")) == "up to 500 euros a month"
    assert describe_budget(parse_budget("at least 2 million")) == "at least 2 million dollars"


# ---------------------------------------------------------------- timeline
@pytest.mark.parametrize("text, start, end", [
    ("asap", "2026-11-26", "2026-12-03"),
    ("As soon as possible, honestly.", "2026-11-26", "2026-12-03"),
    ("right away", "2026-11-26", "2026-12-03"),
    ("Immediately, our AC is broken.", "2026-11-26", "2026-12-03"),
    ("this week", "2026-11-26", "2026-11-29"),
    ("next week", "2026-11-30", "2026-12-06"),
    ("by next week", "2026-11-26", "2026-12-06"),
    ("in two weeks", "2026-12-10", "2026-12-16"),
    ("in a couple of weeks", "2026-12-10", "2026-12-16"),
    ("a week or two", "2026-12-03", "2026-12-10"),
    ("within a month", "2026-11-26", "2026-12-26"),
    ("next month", "2026-12-01", "2026-12-31"),
    ("We may start next month.", "2026-12-01", "2026-12-31"),
    ("in a month or two", "2026-12-26", "2027-01-26"),
    ("in March", "2027-03-01", "2027-03-31"),
    ("sometime in January", "2027-01-01", "2027-01-31"),
    ("mid-January", "2027-01-11", "2027-01-20"),
    ("probably around February or March", "2027-02-01", "2027-03-31"),
    ("by March", "2026-11-26", "2027-03-31"),
    ("by the end of March", "2026-11-26", "2027-03-31"),
    ("before summer", "2026-11-26", "2027-05-31"),
    ("end of the year", "2026-11-26", "2026-12-31"),
    ("next quarter", "2027-01-01", "2027-03-31"),
    ("Q3", "2027-07-01", "2027-09-30"),
    ("the first quarter of next year", "2027-01-01", "2027-03-31"),
    ("in the spring", "2027-03-01", "2027-05-31"),
    ("this winter", "2026-12-01", "2027-02-28"),
    ("in 6 months", "2027-05-26", "2027-06-25"),
    ("three to six months", "2027-02-26", "2027-05-26"),
    ("in the next few months", "2026-11-26", "2027-02-26"),
    ("after the holidays", "2027-01-02", "2027-01-31"),
    ("late 2027", "2027-09-01", "2027-12-31"),
    ("next Monday", "2026-11-30", "2026-11-30"),
    ("Um, for the renewal, probably January 15th.", "2027-01-15", "2027-01-15"),
    ("tomorrow", "2026-11-27", "2026-11-27"),
])
def test_timeline_phrasings(text, start, end):
    tl = parse_timeline(text, NOW)
    assert tl is not None, text
    assert (tl.start, tl.end) == (start, end), text
    assert tl.words


@pytest.mark.parametrize("text", ["not sure yet", "I don't know", "about 10k a month", "500 bucks a week",
                                  "yes", "We need a new roof", ""])
def test_timeline_none(text):
    assert parse_timeline(text, NOW) is None


def test_timeline_words_only():
    tl = parse_timeline("No rush, really.", NOW)
    assert tl is not None and tl.start is None and tl.end is None and tl.words == "no rush"
    assert parse_timeline("just getting quotes for now", NOW).start is None


def test_timeline_uses_the_lead_time_zone():
    late = at(2026, 11, 30, 23, 30, "America/Los_Angeles")     # already Dec 1 in UTC
    assert parse_timeline("this month", late, "America/Los_Angeles").end == "2026-11-30"
    assert parse_timeline("next month", late, "UTC").start == "2027-01-01"


# ------------------------------------------------------------------ yes/no
@pytest.mark.parametrize("text", [
    "yes", "Yeah.", "yep", "Yup!", "sure", "Absolutely.", "definitely", "That's right.", "correct",
    "I am", "I do", "Yes, I'm still looking.", "Of course", "hmm I guess so", "sure, why not",
    "no problem, go ahead", "Yes, and my budget is about 10k.", "yes but not now", "Uh-huh.",
    "Yeah, we're still interested in the solar panels.", "Mm-hmm, yes.", "Yes please.",
])
def test_yes(text):
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", [
    "no", "Nope.", "nah", "not really", "not interested", "No thanks.", "No, thank you.",
    "Yeah, no, I'm not interested.", "Absolutely not", "I don't think so", "we already bought one",
    "I'm not.", "We already found someone for the roof.", "No longer interested, we signed with another gym.",
])
def test_no(text):
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", ["I'm not sure", "maybe", "um", "", "the blue one", "It depends."])
def test_yes_no_unclear(text):
    assert parse_yes_no(text) is None


def test_declines():
    assert declines("Honestly I'm not interested anymore")
    assert declines("we already signed with another provider")
    assert not declines("yes I'm interested")


# ----------------------------------------------------------------- intents
@pytest.mark.parametrize("text", [
    "stop calling me", "Take me off your list.", "Don't call me again.", "remove my number please",
    "unsubscribe", "Put me on the do not call list", "Please don't ever call this number again.",
    "Lose my number.", "wrong number",
])
def test_intent_stop(text):
    assert parse_intent(text, NOW).kind == "stop"


@pytest.mark.parametrize("text, when", [
    ("call me back tomorrow at 3", at(2026, 11, 27, 15)),
    ("Can you call me tomorrow at three?", at(2026, 11, 27, 15)),
    ("Can you call me back in 30 minutes?", NOW + 1800),
    ("I'm driving right now, call me in an hour", NOW + 3600),
    ("I'm busy", NOW + 7200),
    ("call me later", NOW + 7200),
    ("Call me Monday morning.", at(2026, 11, 30, 10)),
    ("Could you give me a call around half past four?", at(2026, 11, 26, 16, 30)),
    ("I'm in a meeting, try me at 2pm", at(2026, 11, 26, 14)),
    ("Bad time, call me tomorrow at 10:30", at(2026, 11, 27, 10, 30)),
    ("Can we do this later? Call me after 5.", at(2026, 11, 26, 17)),
    ("I'm at work, call me tonight", at(2026, 11, 26, 19)),
    ("Yes, but not now, call me next week", at(2026, 11, 30, 10)),
])
def test_intent_later(text, when):
    it = parse_intent(text, NOW)
    assert it is not None and it.kind == "later", text
    assert it.at == pytest.approx(when), (text, datetime.fromtimestamp(it.at, UTC))
    assert it.explicit


def test_intent_later_bare_is_weak():
    it = parse_intent("not right now", NOW)
    assert it.kind == "later" and not it.explicit and it.at == NOW + 7200


@pytest.mark.parametrize("text", ["sorry?", "What?", "can you repeat that", "say that again", "Pardon?",
                                  "Sorry, I didn't catch that.", "Come again?", "what was the question"])
def test_intent_repeat(text):
    assert parse_intent(text, NOW).kind == "repeat"


@pytest.mark.parametrize("text", ["can I talk to a person", "Real person please.", "agent",
                                  "Can I speak with a human?", "Just put me through to someone.",
                                  "I want to talk to a real person, not a robot"])
def test_intent_human(text):
    assert parse_intent(text, NOW).kind == "human"


@pytest.mark.parametrize("text", ["Is this a robot?", "Who is this?", "What's this about?"])
def test_intent_who(text):
    assert parse_intent(text, NOW).kind == "who"


@pytest.mark.parametrize("text", ["sorry, no", "yes", "about 10k", "next month", "we need a new roof"])
def test_no_intent(text):
    assert parse_intent(text, NOW) is None


def test_parse_when_and_describe():
    assert parse_when("tomorrow at 9", NOW) == at(2026, 11, 27, 9)
    assert parse_when("call me at 8", NOW) == at(2026, 11, 26, 20)          # 8 AM has passed
    assert parse_when("the weather is nice", NOW) is None
    ny = "America/New_York"
    assert parse_when("tomorrow at 3", NOW, ny) == at(2026, 11, 27, 15, tz=ny)
    assert describe_when(NOW + 3600, NOW) == "in about an hour"
    assert describe_when(at(2026, 11, 27, 15), NOW) == "tomorrow at 3 PM"
    assert describe_when(at(2026, 11, 30, 10, 30), NOW) == "on Monday at 10:30 AM"
    assert describe_when(at(2026, 12, 10, 12), NOW) == "on December 10 at noon"


# ----------------------------------------------------------------- answers
def test_parse_answer_kinds():
    a = parse_answer("budget", "maybe fifteen grand", NOW, "USD")
    assert a.clear and a.value["amount"] == 15000 and a.value["currency"] == "USD"
    assert not parse_answer("budget", "not sure", NOW, "USD").clear
    t = parse_answer("timeline", "next month", NOW, "USD")
    assert t.clear and t.value == {"start": "2026-12-01", "end": "2026-12-31", "words": "next month"}
    assert parse_answer("yesno", "yep", NOW, "USD").value is True
    assert not parse_answer("yesno", "hmm", NOW, "USD").clear
    n = parse_answer("text", "Um, yeah, so we need faster wifi for the gym.", NOW, "USD")
    assert n.clear and n.value == "We need faster wifi for the gym"
    for hollow in ("um", "I don't know", "yeah", "not sure"):
        assert not parse_answer("text", hollow, NOW, "USD").clear, hollow


def test_clean_text():
    assert clean_text("uh, well, mostly, like, the leaky roof") == "Mostly, the leaky roof"


@pytest.mark.parametrize("text, amount, low, high", [
    ("Our budget's around one fifty a month.", 150, 150, 150),
    ("twelve fifty", 1250, 1250, 1250),
    ("A million and a half", 1500000, 1500000, 1500000),
    ("We're thinking of 3 to 4 hundred thousand", 350000, 300000, 400000),
    ("Between $5,000 and $7,500.", 6250, 5000, 7500),
    ("Maybe 50-60k?", 55000, 50000, 60000),
    ("About five hundred, six hundred a month", 550, 500, 600),
    ("Somewhere in the 20 to 30 thousand range", 25000, 20000, 30000),
    ("Over a hundred thousand.", 100000, 100000, None),
])
def test_budget_spoken_prices(text, amount, low, high):
    b = parse_budget(text)
    assert (b.amount, b.low, b.high) == (amount, low, high), text


@pytest.mark.parametrize("text, start, end", [
    ("Around April, May.", "2027-04-01", "2027-05-31"),
    ("On the 15th", "2026-12-15", "2026-12-15"),
    ("Couple of months", "2027-01-26", "2027-02-25"),
    ("end of the month", "2026-11-26", "2026-11-30"),
    ("before the end of the year", "2026-11-26", "2026-12-31"),
    ("Probably in the fall.", "2027-09-01", "2027-11-30"),             # this fall is nearly over
    ("When my lease ends in June.", "2027-06-01", "2027-06-30"),
    ("Not right now, maybe in the spring", "2027-03-01", "2027-05-31"),
])
def test_timeline_more(text, start, end):
    tl = parse_timeline(text, NOW)
    assert (tl.start, tl.end) == (start, end), text


def test_timeline_strict_skips_bare_durations():
    assert parse_timeline("we've paid 200 a month, 3 years now", NOW, strict=True) is None or \
        parse_timeline("we've paid 200 a month, 3 years now", NOW, strict=True).start is None
    assert parse_timeline("couple of months", NOW, strict=True) is None


@pytest.mark.parametrize("text, kind", [
    ("Could we talk Friday?", "later"), ("Is there a person I can talk to?", "human"),
    ("Repeat please", "repeat"), ("Sorry, you cut out.", "repeat"), ("Okay, what?", "repeat"),
    ("How did you get my number?", "stop"), ("Please remove me from your list.", "stop"),
    ("Can you transfer me to sales?", "human"), ("What company is this?", "who"),
])
def test_intent_more(text, kind):
    assert parse_intent(text, NOW).kind == kind


@pytest.mark.parametrize("text, currency", [
    ("we have a $5,000 budget", "USD"),          # "a" before "$" is the article, not A$
    ("a $300 a month plan", "USD"),
    ("A$5000", "AUD"), ("about C$ 49 a month", "CAD"), ("US$2k", "USD"), ("NZ$ 1,200 a year", "NZD"),
])
def test_a_currency_prefix_only_where_it_touches_the_dollar_sign(text, currency):
    assert parse_budget(text).currency == currency
