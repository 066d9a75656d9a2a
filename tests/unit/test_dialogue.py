"""The qualification dialogue as a state machine: what the AI says next for
each thing the lead says (or doesn't), with time passed in."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from intervene.leads.understand.dialogue import DEFAULT_QUESTIONS, End, Handoff, Qualifier, Question, Say

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def make(**kw) -> Qualifier:
    kw.setdefault("topic", "business internet")
    return Qualifier("Acme Business Networks", "Ava", "Dana", kw.pop("questions", DEFAULT_QUESTIONS), NOW, **kw)


def talk(q: Qualifier, *lines):
    """Feed lines (None = silence), 5 s apart; return every action."""
    out, t = [], NOW
    for line in lines:
        t += 5
        out.append(q.silence(t) if line is None else q.heard(line, t))
    return out


def test_greeting_discloses_automation_company_and_reason():
    q = make()
    s = q.start(NOW)
    assert isinstance(s, Say) and s.purpose == "greeting"
    assert "Dana" in s.text and "automated assistant" in s.text and "Acme Business Networks" in s.text
    assert "business internet" in s.text and "form" in s.text
    assert s.text.endswith("Are you still looking for business internet?")
    assert q.transcript[0] == ("ai", s.text)


def test_happy_path_hands_off_with_fields_and_summary():
    q = make()
    q.start(NOW)
    a1, a2, a3, a4 = talk(q, "Yeah, definitely.", "Um, about fifteen grand.", "Next month probably.",
                          "Mostly faster wifi for our two offices.")
    assert isinstance(a1, Say) and a1.purpose == "question" and "budget" in a1.text
    assert isinstance(a2, Say) and "15,000 dollars" in a2.text and "get started" in a2.text
    assert isinstance(a3, Say) and "next month" in a3.text
    assert isinstance(a4, Handoff) and a4.reason == "done"
    assert a4.fields["interest"] is True
    assert a4.fields["budget"]["amount"] == 15000 and a4.fields["budget"]["currency"] == "USD"
    assert a4.fields["timeline"]["start"] == "2026-12-01" and a4.fields["timeline"]["end"] == "2026-12-31"
    assert a4.fields["needs"] == "Mostly faster wifi for our two offices"
    assert "Dana" in a4.summary and "Budget: about 15,000 dollars." in a4.summary
    assert "Timeline: next month (2026-12-01 to 2026-12-31)." in a4.summary
    assert "Needs: Mostly faster wifi" in a4.summary
    assert "connecting you" in a4.say
    json.dumps(a4.fields)                                  # the record is JSON-ready
    assert [s for s, _ in q.transcript].count("lead") == 4
    assert q.heard("hello?", NOW + 60) is a4               # after the end, the end stands


def test_early_answers_skip_their_questions():
    q = make()
    q.start(NOW)
    a1, a2 = talk(q, "Yes, and my budget is about 10k, we'd like to start in March.",
                  "Reliable uptime, we run a call centre.")
    assert isinstance(a1, Say) and "10,000 dollars" in a1.text and "March" in a1.text
    assert "what's the main thing" in a1.text                 # straight to needs
    assert isinstance(a2, Handoff)
    assert a2.fields["budget"]["amount"] == 10000 and a2.fields["timeline"]["start"] == "2027-03-01"


def test_budget_answer_implies_interest():
    q = make()
    q.start(NOW)
    a1 = talk(q, "We've got around 20 grand set aside for it.")[0]
    assert q.fields["interest"] is True and q.fields["budget"]["amount"] == 20000
    assert isinstance(a1, Say) and "get started" in a1.text


def test_unclear_rephrases_once_then_moves_on():
    q = make()
    q.start(NOW)
    a = talk(q, "yes", "uh, I'm not sure", "hmm, hard to say", "ASAP")
    assert a[1].purpose == "rephrase" and a[1].text == DEFAULT_QUESTIONS[1].rephrase
    assert a[2].purpose == "question" and "get started" in a[2].text     # moved on
    assert q.fields["budget"] is None
    assert isinstance(a[3], Say) and "ASAP" in a[3].text
    assert "Budget: not given." in q.summary()


def test_silence_rephrases_then_moves_on():
    q = make()
    q.start(NOW)
    a = talk(q, "Sure.", None, None, "in two weeks", None, None)
    assert a[1].purpose == "rephrase"
    assert a[2].purpose == "question" and "get started" in a[2].text
    assert isinstance(a[5], Handoff)
    assert a[5].fields == {"interest": True, "budget": None, "timeline": a[5].fields["timeline"], "needs": None}


def test_silence_from_the_start_ends_with_a_callback():
    q = make()
    q.start(NOW)
    a = talk(q, None, None)
    assert a[0].purpose == "rephrase" and "are you there" in a[0].text.lower()
    assert isinstance(a[1], End) and a[1].reason == "no-answer"
    assert a[1].callback_at == pytest.approx(NOW + 10 + 7200)
    assert "again" in a[1].say


def test_stop_calling_ends_for_good():
    q = make()
    q.start(NOW)
    a = talk(q, "yes", "Actually, take me off your list, stop calling me.")[1]
    assert isinstance(a, End) and a.reason == "stop" and a.callback_at is None
    assert "won't call you again" in a.say


def test_call_me_tomorrow_at_three():
    q = make(tz="America/Chicago")
    q.start(NOW)
    a = talk(q, "I'm at work, can you call me back tomorrow at three?")[0]
    assert isinstance(a, End) and a.reason == "later"
    assert a.callback_at == datetime(2026, 11, 27, 15, 0, tzinfo=ZoneInfo("America/Chicago")).timestamp()
    assert "tomorrow at 3 PM" in a.say


def test_yes_but_not_now_records_interest_and_calls_back():
    q = make()
    q.start(NOW)
    a = talk(q, "Yes, but not now.")[0]
    assert isinstance(a, End) and a.reason == "later" and a.callback_at == pytest.approx(NOW + 5 + 7200)
    assert q.fields["interest"] is True


def test_not_right_now_answers_a_timeline_question():
    q = make()
    q.start(NOW)
    a = talk(q, "yes", "20k", "Not right now, probably in the spring.")[2]
    assert isinstance(a, Say) and q.fields["timeline"]["start"] == "2027-03-01"


@pytest.mark.parametrize("line", ["No, not interested.", "Nope.", "No thanks, we already went with someone else."])
def test_not_interested_ends_politely(line):
    q = make()
    q.start(NOW)
    a = talk(q, line)[0]
    assert isinstance(a, End) and a.reason == "not-interested" and a.callback_at is None
    assert "thanks for your time" in a.say.lower()
    assert q.fields["interest"] is False


def test_not_interested_midway():
    q = make()
    q.start(NOW)
    a = talk(q, "yes", "Honestly, I'm not interested anymore.")[1]
    assert isinstance(a, End) and a.reason == "not-interested"


def test_human_hands_off_at_once_with_what_we_have():
    q = make()
    q.start(NOW)
    a = talk(q, "yes", "Can I just talk to a real person? We have about 5k.")[1]
    assert isinstance(a, Handoff) and a.reason == "human"
    assert a.fields["interest"] is True and a.fields["budget"]["amount"] == 5000
    assert "Budget: about 5,000 dollars" in a.summary


def test_repeat_does_not_spend_the_reask():
    q = make()
    q.start(NOW)
    a = talk(q, "Sorry?", "yes", "what was that?", "hmm", "no idea")
    assert a[0].purpose == "question" and a[0].text == "Are you still looking for business internet?"
    assert a[2].purpose == "question" and a[2].text == "Roughly what budget do you have in mind?"
    assert a[3].purpose == "rephrase"                     # the one re-ask is still there
    assert a[4].purpose == "question" and "get started" in a[4].text


def test_who_is_this_answers_and_asks_again():
    q = make()
    q.start(NOW)
    a = talk(q, "Wait, is this a robot?")[0]
    assert a.purpose == "ack" and "automated assistant" in a.text
    assert a.text.endswith("Are you still looking for business internet?")


def test_barge_in_repeats_instead_of_rephrasing():
    q = make()
    q.start(NOW)
    q.barge_in()
    a = talk(q, "hello?", "yes")
    assert a[0].purpose == "question" and a[0].text == "Are you still looking for business internet?"
    assert isinstance(a[1], Say) and "budget" in a[1].text


def test_custom_questions_other_industry():
    questions = (
        Question("homeowner", "Do you own the home where the panels would go?", "yesno",
                 "Just to check, are you the homeowner?", label="Homeowner"),
        Question("bill", "About how much is your electric bill each month?", "budget"),
        Question("when", "When would you like the install done?", "timeline", label="Install"),
    )
    q = Qualifier("SunBright Solar", "Sunny", "Luis", questions, NOW, topic="solar panels", currency="EUR")
    s = q.start(NOW)
    assert "SunBright Solar" in s.text and s.text.endswith("Do you own the home where the panels would go?")
    a = talk(q, "No, I rent.", "like two hundred a month", "before summer")
    assert isinstance(a[0], Say) and q.fields["homeowner"] is False      # a no that does not end the call
    assert q.fields["bill"] == {"amount": 200.0, "low": 200.0, "high": 200.0, "currency": "EUR",
                                "period": "month", "text": "like two hundred a month"}
    assert isinstance(a[2], Handoff)
    assert "Homeowner: no." in a[2].summary and "Bill: about 200 euros a month." in a[2].summary
    assert "Install: before summer (2026-11-26 to 2027-05-31)." in a[2].summary


def test_good_time_question_no_means_later():
    questions = (Question("good_time", "Is now a good time for a couple of quick questions?", "yesno",
                          on_no="later"),) + DEFAULT_QUESTIONS[1:]
    q = make(questions=questions)
    q.start(NOW)
    a = talk(q, "No.")[0]
    assert isinstance(a, End) and a.reason == "later" and a.callback_at == pytest.approx(NOW + 5 + 7200)


def test_enough_after_hands_off_early_once_interested():
    q = make(enough_after_s=30)
    q.start(NOW)
    a = q.heard("yes", NOW + 40)
    assert isinstance(a, Handoff) and a.reason == "enough"


def test_lines_around_the_handoff():
    q = make()
    q.start(NOW)
    talk(q, "yes", "15 grand", "next month", "faster wifi")
    assert q.filler(0) == "I'm connecting you with a specialist now, it'll just be a moment."
    assert all(q.filler(n) for n in range(10)) and q.filler(1) != q.filler(0)
    line = q.introduce("Sam", "Dana", "business internet for two offices")
    assert line == ("Dana, I have Sam here from Acme Business Networks, who can help with business internet "
                    "for two offices. Sam, over to you.")
    auto = q.introduce("Sam", "Dana", None)
    assert "15,000 dollars" in auto and "next month" in auto
    cb = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert "tomorrow at 9 AM" in q.no_rep(cb, NOW)


def test_not_right_now_to_a_budget_question_is_not_a_hang_up():
    q = make()
    q.start(NOW)
    a = talk(q, "yes", "Not right now.")[1]
    assert isinstance(a, Say) and a.purpose == "rephrase"


def test_other_industries_end_to_end():
    cases = [
        ("FitLife Gym", "a membership", ["Yeah, sure.", "Like 60 bucks a month.", "After the holidays.",
                                         "I want to lose weight before summer."], 60, "2027-01-02"),
        ("ShieldCo Insurance", "car insurance", ["Yes I am.", "Under 150 a month.", "My policy renews on the 15th.",
                                                  "Cheaper rates for two cars."], 150, "2026-12-15"),
        ("CloudDesk", "help desk software", ["Yep.", "Between five and ten thousand a year.", "Q1.",
                                             "A shared inbox for our support team."], 7500, "2027-01-01"),
        ("FixIt Home Services", "a kitchen remodel", ["Absolutely.", "We've budgeted $40k.", "In about 3 months.",
                                                       "New cabinets and countertops."], 40000, "2027-02-26"),
    ]
    for company, topic, lines, amount, start in cases:
        q = Qualifier(company, "Ava", "Sam", DEFAULT_QUESTIONS, NOW, topic=topic)
        assert topic in q.start(NOW).text
        last = talk(q, *lines)[-1]
        assert isinstance(last, Handoff), (company, q.transcript)
        assert last.fields["budget"]["amount"] == amount and last.fields["timeline"]["start"] == start, company
        assert last.fields["needs"] and "Budget:" in last.summary and "Timeline:" in last.summary
