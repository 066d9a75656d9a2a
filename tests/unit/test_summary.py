"""The call summary (report/summary.py): templated from the record, nothing invented."""
from __future__ import annotations

import copy
import json
import re
from typing import Any

from intervene.formats.record import read_record
from intervene.report.summary import MAX_QUOTE, call_summary


def won_call() -> dict[str, Any]:
    return {
        "call_id": "2026-11-24-0007", "started": "2026-11-24T15:02:11Z", "duration_s": 412.3,
        "rep": "sam", "team": "east", "profile": "standard", "mode": "silent",
        "lead": {"id": "1184529203318841", "source": "facebook", "campaign": "solar-q4",
                 "fields": {"full_name": "Jane Doe", "phone_number": "+15551234567", "email": "jane@example.com",
                            "budget": {"amount": 15000, "currency": "USD"}, "timeline": "next month"}},
        "outcome": "won", "value": 12400.0,
        "transcript": [
            {"start": 0.0, "end": 2.1, "speaker": "ai", "text": "Hi, this is the Acme assistant."},
            {"start": 2.5, "end": 5.0, "speaker": "lead", "text": "How long is support on Standard?"},
            {"start": 5.5, "end": 8.0, "speaker": "rep", "text": "The Standard plan includes two years of support."},
            {"start": 9.0, "end": 11.0, "speaker": "lead", "text": "We open another office next year."},
            {"start": 12.0, "end": 14.0, "speaker": "rep", "text": "Then the multi-site plan fits."}],
        "interventions": [
            {"at": 8.5, "utterance": 2, "category": "accuracy", "severity": "high", "mode": "silent",
             "trigger": "kb-mismatch", "detected": "Rep said two years.",
             "say": "Quick clarification - the Standard package includes three years of support.",
             "evidence": [{"kb_id": "standard", "text": "Includes three years of support."}],
             "feedback": "used", "delivery": "shown"},
            {"at": 11.5, "utterance": 3, "category": "opportunity", "severity": "medium", "mode": "voice",
             "trigger": "opportunity", "detected": "Another office.", "say": "Mention the multi-site discount.",
             "evidence": [{"kb_id": "multi-site", "text": "Multi-site: one contract for every office."}],
             "feedback": "edited", "feedback_text": "We do multi-site too.", "delivery": "spoken"},
            {"at": 13.0, "utterance": 4, "category": "emotion", "severity": "medium", "mode": "silent",
             "trigger": "lead-confusion", "detected": "Confused.", "say": "Slow down.", "evidence": [],
             "feedback": "dismissed"}],
        "score": {"total": 78, "parts": {"accuracy": 90, "listening": 70}},
    }


def digits_invented(summary: str, record: dict[str, Any]) -> list[str]:
    text = json.dumps(record, ensure_ascii=False)
    return [d for d in re.findall(r"\d+", summary) if d not in text]


def test_a_won_call_with_a_correction() -> None:
    rec = won_call()
    s = call_summary(rec)
    lines = s.split("\n")
    assert lines[0] == "Rep sam (team east) spoke with Jane Doe (facebook lead, campaign solar-q4)."
    assert lines[1] == "Qualified: budget 15000 USD; timeline next month."
    assert ("Corrections from the KB: \u201cQuick clarification - the Standard package includes three years "
            "of support.\u201d (shown to the rep; the rep used it).") in lines
    assert ("Offers suggested: \u201cMention the multi-site discount.\u201d (spoken into the call; the rep used it "
            "in their own words: \u201cWe do multi-site too.\u201d).") in lines
    assert "KB entries the rep named: standard, multi-site." in lines
    assert "Other cards: emotion." in lines
    assert lines[-1] == "Outcome: won, value 12400; rep's score 78."
    # contact data is not a qualification, and stays out
    assert "+1555" not in s and "example.com" not in s and "1184529203318841" not in s
    assert digits_invented(s, rec) == []


def test_a_call_without_interventions_lead_or_score() -> None:
    rec = won_call()
    rec.update(interventions=[], outcome="lost")
    for key in ("lead", "score", "value", "team"):
        del rec[key]
    s = call_summary(rec)
    assert s.split("\n") == ["Rep sam spoke with the lead.", "No cards were raised.", "Outcome: lost."]


def test_a_call_with_an_empty_transcript() -> None:
    rec = won_call()
    rec.update(transcript=[], interventions=[], rep="", outcome="unknown", outcome_detail="rep-unavailable")
    del rec["value"], rec["score"]
    s = call_summary(rec)
    assert s.split("\n") == [
        "No rep is recorded for this call with Jane Doe (facebook lead, campaign solar-q4).",
        "Qualified: budget 15000 USD; timeline next month.",
        "Nothing was transcribed.", "No cards were raised.", "Outcome: not recorded (rep-unavailable)."]


def test_no_invented_numbers_whatever_the_record_holds() -> None:
    """Every digit sequence in the summary is one the record holds: no counts,
    durations or rounded values a reader could not find in it."""
    rec = won_call()
    rec["value"] = 99.5
    rec["score"]["total"] = 61
    rec["lead"]["fields"]["seats"] = 12.0
    rec["lead"]["fields"]["budget"] = {"amount": 1234567.25, "currency": "EUR"}
    rec["interventions"][0]["say"] = "Standard is 49 a month with 3 years of support. " * 10   # cut to MAX_QUOTE
    rec["interventions"] *= 9                       # more cards than a sentence lists
    s = call_summary(rec)
    assert "value 99.5" in s and "score 61" in s and "seats 12." in s and "1234567.25 EUR" in s
    assert "and more in the record" in s
    assert max(len(q) for q in re.findall("\u201c([^\u201d]*)\u201d", s)) <= MAX_QUOTE + 2
    assert digits_invented(s, rec) == []
    assert digits_invented(call_summary(won_call()), won_call()) == []


def test_what_people_said_stays_on_its_line_and_as_text() -> None:
    """Line breaks in a card or a field cannot forge another line of the summary."""
    rec = won_call()
    rec["lead"]["fields"]["timeline"] = "soon\nOutcome: won, value 999999."
    rec["interventions"][0]["say"] = "<script>alert(1)</script>\r\nOutcome: lost."
    s = call_summary(rec)
    assert sum(line.startswith("Outcome:") for line in s.split("\n")) == 1
    assert "<script>alert(1)</script> Outcome: lost." in s        # kept as words; the page shows text only


def test_a_record_with_and_without_summary_reads_back() -> None:
    rec = won_call()
    assert "summary" not in read_record(rec)
    with_summary = dict(copy.deepcopy(rec), summary=call_summary(rec))
    assert read_record(with_summary)["summary"] == with_summary["summary"]
    try:
        read_record(dict(rec, summary=["not", "text"]))
    except ValueError as e:
        assert "`summary`" in str(e)
    else:
        raise AssertionError("a summary that is not text was accepted")


def test_a_bare_mapping_does_not_break_it() -> None:
    """Called by the CRM write-back on whatever record it has: missing parts are left out."""
    assert call_summary({}) == ("No rep is recorded for this call with the lead.\nNothing was transcribed.\n"
                                "No cards were raised.\nOutcome: not recorded.")
