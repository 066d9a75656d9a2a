"""Tests for the call record and its score (intervene/report): the score's
parts move the right way, the record is formats.md section 6, export -> import
round-trips, bad records are rejected naming the key, and `intervene calls`."""
from __future__ import annotations

import copy
import json
import pathlib

import pytest
from click.testing import CliRunner, Result

from intervene.cli.main import main
from intervene.formats.record import parse_records, read_record, write_records
from intervene.report.record import call_record, import_records
from intervene.report.score import WEIGHTS, score_call
from intervene.store.db import Store
from intervene.vocab import OUTCOMES, Category, Evidence, Intervention, Mode, Severity, Speaker, Utterance

# ------------------------------------------------------------------ helpers

def utt(speaker: str, start: float, end: float, text: str = "some words said here") -> dict:
    return {"speaker": speaker, "start": start, "end": end, "text": text}


def iv(category: str, feedback=None, severity: str = "high", at: float = 10.0, utterance: int = 0) -> dict:
    return {"at": at, "utterance": utterance, "category": category, "severity": severity, "mode": "silent",
            "trigger": "t", "detected": "d", "say": "s", "evidence": [], "feedback": feedback}


def balanced() -> list[dict]:
    """Lead and rep taking turns, 5 s each, no gaps: a call nothing is wrong with."""
    out, t = [], 0.0
    for i in range(10):
        out.append(utt("lead" if i % 2 else "rep", t, t + 5.0))
        t += 5.5
    return out


def part(utterances: list[dict], interventions: list[dict], name: str, duration: float = 60.0) -> int:
    return score_call(utterances, interventions, "unknown", duration)["parts"][name]


# -------------------------------------------------------------------- score

def test_clean_call_scores_100_and_says_nothing_to_judge() -> None:
    s = score_call(balanced(), [], "won", 55.0)
    assert set(s["parts"]) == set(WEIGHTS) - {"process"} == set(s["explain"])   # process: training calls only
    assert s["total"] == 100
    assert all(v == 100 for v in s["parts"].values())
    assert "nothing" in s["explain"]["accuracy"].lower()
    assert "nothing" in s["explain"]["handling"].lower()


def test_empty_call_has_nothing_to_judge() -> None:
    s = score_call([], [], "unknown", 0.0)
    assert s["total"] == 100 and s["parts"]["listening"] == 100
    assert "nothing to judge" in s["explain"]["listening"].lower()


def test_more_accuracy_errors_lower_accuracy() -> None:
    scores = [part(balanced(), [iv("accuracy")] * n, "accuracy") for n in range(5)]
    assert scores == sorted(scores, reverse=True) and scores[0] == 100 and scores[-1] < scores[1]
    assert all(0 <= s <= 100 for s in scores)


def test_used_correction_better_than_ignored_or_dismissed() -> None:
    used = part(balanced(), [iv("accuracy", "used")], "accuracy")
    edited = part(balanced(), [iv("accuracy", "edited")], "accuracy")
    ignored = part(balanced(), [iv("accuracy", None)], "accuracy")
    dismissed = part(balanced(), [iv("accuracy", "dismissed")], "accuracy")
    assert 100 > used >= edited > ignored == dismissed
    assert "1 put right" in score_call(balanced(), [iv("accuracy", "used")], "", 60)["explain"]["accuracy"]


def test_severity_scales_cost() -> None:
    low = part(balanced(), [iv("emotion", severity="low")], "handling")
    high = part(balanced(), [iv("emotion", severity="high")], "handling")
    assert 100 > low > high


def test_talk_ratio_drives_listening() -> None:
    def call(rep_s: float, lead_s: float) -> list[dict]:
        return [utt("lead", 0, lead_s), utt("rep", lead_s, lead_s + rep_s)]
    even = part(call(50, 50), [], "listening")
    talky = part(call(70, 30), [], "listening")
    monologue = part(call(80, 20), [], "listening")
    assert even == 100 and 100 > talky > monologue
    assert monologue <= 30
    assert "80%" in score_call(call(80, 20), [], "", 100)["explain"]["listening"]


def test_interruptions_cost_listening() -> None:
    calm = [utt("lead", 0, 10), utt("rep", 10.5, 18)]
    cut = [utt("lead", 0, 10), utt("rep", 6, 14, "no no let me tell you")]
    backchannel = [utt("lead", 0, 10), utt("rep", 6, 6.5, "mm-hm"), utt("rep", 10.5, 18)]
    assert part(cut, [], "listening") < part(calm, [], "listening")
    assert part(backchannel, [], "listening") == part(calm, [], "listening")
    # cue data, when present, is what counts
    cued = [dict(utt("lead", 0, 10)), dict(utt("rep", 10.5, 18), cues={"interrupted": True})]
    assert part(cued, [], "listening") < part(calm, [], "listening")
    assert "cues" in score_call(cued, [], "", 20)["explain"]["listening"]


def test_momentum_counts_interventions_and_long_silences_once() -> None:
    silent = [utt("rep", 0, 5), utt("lead", 30, 35)]              # 25 s of nothing
    assert part(silent, [], "momentum") < 100
    flagged = [iv("momentum", at=20.0, severity="medium")]        # dead-air card inside that gap
    both = part(silent, flagged, "momentum")
    assert both == part([utt("rep", 0, 5), utt("lead", 5.5, 35)], flagged, "momentum")   # not counted twice
    assert part(silent, [iv("momentum", "used", at=20.0, severity="medium")], "momentum") > both


def test_handling_and_opportunity_reward_using_the_card() -> None:
    for cat, name in (("emotion", "handling"), ("opportunity", "opportunity"), ("competitive", "opportunity"),
                      ("compliance", "compliance"), ("process", "compliance")):
        ignored = part(balanced(), [iv(cat)], name)
        used = part(balanced(), [iv(cat, "used")], name)
        assert 100 > used > ignored, cat


def test_outcome_is_not_part_of_the_score() -> None:
    ivs = [iv("accuracy"), iv("emotion", "used")]
    assert score_call(balanced(), ivs, "won", 55) == score_call(balanced(), ivs, "lost", 55)


def test_total_is_weighted_mean() -> None:
    s = score_call(balanced(), [iv("accuracy")] * 2, "", 55)
    expect = sum(WEIGHTS[k] * v for k, v in s["parts"].items()) / sum(WEIGHTS[k] for k in s["parts"])
    assert s["total"] == round(expect) and s["total"] < 100


# ------------------------------------------------------------------- record

@pytest.fixture
def store(tmp_path: pathlib.Path):
    s = Store(tmp_path / "calls.db")
    yield s
    s.close()


def populate(store: Store, call_id: str = "c1", outcome: str = "won", **fields) -> None:
    store.start_call(call_id, source="live", rep="sam", team="east", profile="standard", mode="silent",
                     lead="+15551234", **fields)
    lines = [("ai", 0.0, 2.1, "Hi, this is the Acme assistant."),
             ("lead", 2.5, 5.0, "How long is support on Standard?"),
             ("rep", 5.5, 8.0, "That includes two years of support."),
             ("lead", 9.0, 11.0, "And another office next year."),
             ("rep", 12.0, 14.0, "Great, let's talk about that.")]
    for i, (sp, a, b, text) in enumerate(lines):
        store.add_utterance(call_id, Utterance(i, Speaker(sp), a, b, text))
    store.add_intervention(call_id, 0, Intervention(
        8.5, 2, Category.ACCURACY, Severity.HIGH, Mode.SILENT, "kb-mismatch", "Rep said two years.",
        "Standard includes three years of support.", (Evidence("standard", "Includes three years of support."),)))
    store.add_intervention(call_id, 1, Intervention(
        11.5, 3, Category.OPPORTUNITY, Severity.MEDIUM, Mode.SILENT, "opportunity", "Another office.", "Multi-site."))
    store.add_intervention(call_id, 2, Intervention(
        13.0, 4, Category.EMOTION, Severity.MEDIUM, Mode.SILENT, "lead-confusion", "Confused.", "Slow down."))
    store.set_feedback(call_id, 0, "used", None, "sam")
    store.set_feedback(call_id, 1, "edited", "We do multi-site too.", "sam")
    store.set_feedback(call_id, 2, "dismissed", None, "sam")
    store.set_delivery(call_id, 0, "shown", 8.6)
    store.finish_call(call_id, 15.0)
    if outcome:
        store.set_outcome(call_id, outcome, None, "sam")


def test_record_matches_section_6(store: Store) -> None:
    populate(store, value=1200)
    rec = call_record(store, "c1")
    for key in ("call_id", "started", "duration_s", "rep", "profile", "mode", "outcome", "transcript",
                "interventions"):
        assert key in rec, key
    assert rec["call_id"] == "c1" and rec["rep"] == "sam" and rec["team"] == "east"
    assert isinstance(rec["started"], str) and rec["started"].endswith("Z")
    assert rec["duration_s"] == 15.0 and rec["value"] == 1200.0
    assert rec["outcome"] == "won" and "outcome_detail" not in rec
    assert rec["lead"] == {"id": "+15551234"}
    assert [set(u) for u in rec["transcript"]] == [{"start", "end", "speaker", "text"}] * 5
    assert [u["start"] for u in rec["transcript"]] == sorted(u["start"] for u in rec["transcript"])
    ivs = rec["interventions"]
    assert [i["feedback"] for i in ivs] == ["used", "edited", "dismissed"]
    assert ivs[1]["feedback_text"] == "We do multi-site too." and "feedback_text" not in ivs[0]
    assert ivs[0]["delivery"] == "shown" and "delivery" not in ivs[1]
    assert ivs[0]["evidence"] == [{"kb_id": "standard", "text": "Includes three years of support."}]
    assert {"at", "utterance", "category", "severity", "mode", "trigger", "detected", "say", "evidence"} <= set(ivs[0])
    assert set(rec["score"]) == {"total", "parts", "explain"} and isinstance(rec["score"]["total"], int)
    assert rec["score"]["parts"]["accuracy"] < 100
    json.dumps(rec)                              # plain JSON
    assert read_record(rec)["call_id"] == "c1"   # and a valid one


def test_outcome_mapping(store: Store) -> None:
    populate(store, "a", outcome="")
    assert call_record(store, "a")["outcome"] == "unknown"
    populate(store, "b", outcome="follow-up")
    assert call_record(store, "b")["outcome"] == "follow-up"
    populate(store, "c", outcome="")
    store.update_call("c", outcome="rep-unavailable")
    rec = call_record(store, "c")
    assert rec["outcome"] == "unknown" and rec["outcome_detail"] == "rep-unavailable"
    assert all(call_record(store, x)["outcome"] in OUTCOMES for x in "abc")


def test_optional_keys_absent_and_lead_argument(store: Store) -> None:
    store.start_call("bare", profile="standard", mode="mixed")
    rec = call_record(store, "bare")
    assert "lead" not in rec and "team" not in rec and "value" not in rec
    assert rec["rep"] == "" and rec["transcript"] == [] and rec["duration_s"] == 0.0
    lead = {"id": 1184529203318841, "source": "facebook", "campaign": "solar-q4",
            "fields": {"timeline": "next month"}, "junk": None}
    rec = call_record(store, "bare", lead=lead)
    assert rec["lead"] == {"id": "1184529203318841", "source": "facebook", "campaign": "solar-q4",
                           "fields": {"timeline": "next month"}}
    with pytest.raises(KeyError):
        call_record(store, "nope")


def test_utterance_index_follows_transcript_order(store: Store) -> None:
    """Live calls number utterances as they finish; the record's index is the transcript's."""
    store.start_call("x", profile="standard", mode="silent")
    store.add_utterance("x", Utterance(0, Speaker.REP, 5.0, 6.0, "second"))
    store.add_utterance("x", Utterance(1, Speaker.LEAD, 1.0, 7.0, "first"))
    store.add_intervention("x", 0, Intervention(7.0, 0, Category.ACCURACY, Severity.HIGH, Mode.SILENT,
                                                "kb-mismatch", "d", "s"))
    rec = call_record(store, "x")
    assert [u["text"] for u in rec["transcript"]] == ["first", "second"]
    assert rec["transcript"][rec["interventions"][0]["utterance"]]["text"] == "second"


def test_export_import_round_trip(store: Store, tmp_path: pathlib.Path) -> None:
    populate(store, "c1", value=99.5)
    populate(store, "c2", outcome="")
    store.update_call("c2", outcome="rep-unavailable")
    store.start_call("c3", rep="kim", profile="training", mode="mixed",
                     lead=json.dumps({"id": "L9", "source": "web", "fields": {"budget": 5}}))
    records = [call_record(store, r["id"]) for r in store.calls()]
    path = tmp_path / "out.jsonl"
    assert write_records(path, records) == 3
    parsed, errors = parse_records(path.read_text(), str(path))
    assert errors == []
    fresh = Store(tmp_path / "fresh.db")
    try:
        assert import_records(fresh, parsed) == {"imported": ["c1", "c2", "c3"], "skipped": []}
        again = [call_record(fresh, r["call_id"]) for r in records]
        assert again == records
        assert import_records(fresh, parsed) == {"imported": [], "skipped": ["c1", "c2", "c3"]}
    finally:
        fresh.close()


def test_import_never_overwrites(store: Store) -> None:
    populate(store, "c1")
    rec = copy.deepcopy(call_record(store, "c1"))
    rec["rep"] = "someone-else"
    rec["transcript"] = []
    rec["interventions"] = []
    assert import_records(store, [read_record(rec)])["skipped"] == ["c1"]
    assert call_record(store, "c1")["rep"] == "sam"
    assert len(call_record(store, "c1")["transcript"]) == 5


GOOD = {"call_id": "r1", "started": "2026-11-24T15:02:11Z", "duration_s": 40, "rep": "sam", "profile": "standard",
        "mode": "silent", "outcome": "won",
        "transcript": [{"start": 0, "end": 2, "speaker": "rep", "text": "hi"}],
        "interventions": [iv("accuracy", "used", utterance=0)]}


@pytest.mark.parametrize("change, key", [
    ({"call_id": None}, "`call_id`"),
    ({"started": "yesterday"}, "`started`"),
    ({"duration_s": "40"}, "`duration_s`"),
    ({"duration_s": -1}, "`duration_s`"),
    ({"outcome": "maybe"}, "`outcome`"),
    ({"value": "lots"}, "`value`"),
    ({"lead": {"source": "x"}}, "`lead.id`"),
    ({"lead": "+1555"}, "`lead`"),
    ({"transcript": {}}, "`transcript`"),
    ({"transcript": [{"start": 3, "end": 1, "speaker": "rep", "text": "x"}]}, "`transcript[0].end`"),
    ({"transcript": [{"start": 0, "end": 1, "speaker": "bot", "text": "x"}]}, "`transcript[0].speaker`"),
    ({"interventions": [dict(iv("accuracy"), feedback="maybe")]}, "`interventions[0].feedback`"),
    ({"interventions": [dict(iv("accuracy"), category="mood")]}, "`interventions[0].category`"),
    ({"interventions": [dict(iv("accuracy"), utterance=5)]}, "`interventions[0].utterance`"),
    ({"interventions": [dict(iv("accuracy"), evidence=[{"kb_id": 1}])]}, "`interventions[0].evidence[0]`"),
    ({"score": {"total": "high"}}, "`score.total`"),
])
def test_bad_records_name_the_key(change: dict, key: str) -> None:
    assert read_record(GOOD)["duration_s"] == 40.0
    with pytest.raises(ValueError, match=key.replace("[", r"\[").replace("]", r"\]")):
        read_record({**GOOD, **change})


@pytest.mark.parametrize("missing", ["call_id", "started", "duration_s", "rep", "profile", "mode", "outcome",
                                     "transcript", "interventions"])
def test_missing_required_key(missing: str) -> None:
    with pytest.raises(ValueError, match=f"`{missing}`: missing"):
        read_record({k: v for k, v in GOOD.items() if k != missing})


def test_optional_keys_may_be_absent() -> None:
    rec = read_record(GOOD)
    assert "team" not in rec and "lead" not in rec and "value" not in rec and "score" not in rec
    read_record({**GOOD, "team": None, "value": None, "lead": None})


def test_parse_records_formats_and_line_numbers() -> None:
    one = json.dumps(GOOD)
    assert len(parse_records(json.dumps(GOOD, indent=2), "f.json")[0]) == 1          # pretty JSON object
    assert len(parse_records(json.dumps([GOOD, {**GOOD, "call_id": "r2"}]), "f.json")[0]) == 2
    recs, errs = parse_records(f"# export\n{one}\n\n{json.dumps({**GOOD, 'call_id': 'r2'})}\n", "f.jsonl")
    assert errs == [] and [r["call_id"] for r in recs] == ["r1", "r2"]
    recs, errs = parse_records(f"{one}\n{json.dumps({**GOOD, 'outcome': 'meh'})}\n", "f.jsonl")
    assert len(recs) == 1 and len(errs) == 1 and errs[0].startswith("f.jsonl:2: `outcome`")
    assert parse_records(f"{one}\n{{oops\n", "f.jsonl")[1][0].startswith("f.jsonl:2: not JSON")
    assert parse_records("", "f.jsonl")[1] == ["f.jsonl: no call records in it"]
    assert "not JSON" in parse_records('{"call_id":\n  "x",', "f.json")[1][0]


# ---------------------------------------------------------------------- CLI

def cli(db: pathlib.Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(db), *args], env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


def test_cli_list_show_export_import(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "a.db"
    s = Store(db)
    populate(s, "c1")
    populate(s, "c2", outcome="lost")
    s.close()
    r = cli(db, "calls", "list")
    assert r.exit_code == 0, r.output
    assert [line.split()[0] for line in r.output.splitlines()] == ["c1", "c2"]
    assert cli(db, "calls", "list", "--limit", "1").output.split()[0] == "c2"

    r = cli(db, "calls", "show", "c2")
    assert r.exit_code == 0 and json.loads(r.output)["outcome"] == "lost"
    r = cli(db, "calls", "show", "nope")
    assert r.exit_code == 2 and "no call 'nope'" in r.output

    r = cli(db, "calls", "export")
    assert r.exit_code == 0 and [json.loads(x)["call_id"] for x in r.output.splitlines()] == ["c1", "c2"]
    out = tmp_path / "x.jsonl"
    r = cli(db, "calls", "export", "--out", str(out))
    assert r.exit_code == 0 and len(out.read_text().splitlines()) == 2
    assert cli(db, "calls", "export", "--since", "2999-01-01").output == ""
    assert cli(db, "calls", "export", "--since", "2000-01-01").output.count("\n") == 2
    assert cli(db, "calls", "export", "--since", "soon").exit_code == 2

    other = tmp_path / "b.db"
    r = cli(other, "calls", "import", str(out))
    assert r.exit_code == 0 and "2 calls imported, 0 skipped" in r.output
    r = cli(other, "calls", "import", str(out))
    assert r.exit_code == 0 and "0 calls imported, 2 skipped" in r.output and "skipped c1" in r.output
    assert cli(other, "calls", "export").output == cli(db, "calls", "export").output


def test_cli_import_skips_bad_records_and_imports_the_rest(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "call_id": "r2", "mode": 3}) + "\n"
                   + json.dumps({**GOOD, "call_id": "r3", "interventions": [dict(iv("x"))]}) + "\n"
                   + "{oops\n"
                   + json.dumps({**GOOD, "call_id": "r4"}) + "\n")
    db = tmp_path / "c.db"
    r = cli(db, "calls", "import", str(bad))
    assert r.exit_code == 2
    assert f"{bad}:2: `mode`" in r.output and f"{bad}:3: `interventions[0].category`" in r.output
    assert f"{bad}:4: not JSON" in r.output
    assert "2 calls imported, 0 skipped, 3 bad (not imported)" in r.output
    assert [line.split()[0] for line in cli(db, "calls", "list").output.splitlines()] == ["r1", "r4"]
    r = cli(db, "calls", "import", str(bad))          # again: nothing doubled, the bad ones still reported
    assert r.exit_code == 2 and "0 calls imported, 2 skipped, 3 bad" in r.output and "skipped r1" in r.output
    assert len(cli(db, "calls", "list").output.splitlines()) == 2
    r = cli(db, "calls", "import", str(tmp_path / "missing.jsonl"))
    assert r.exit_code == 2 and "cannot read" in r.output


def test_parse_records_keeps_the_good_ones() -> None:
    recs, errs = parse_records(f"{{broken\n{json.dumps(GOOD)}\n", "f.jsonl")
    assert [r["call_id"] for r in recs] == ["r1"] and errs == ["f.jsonl:1: not JSON (Expecting property name "
                                                                 "enclosed in double quotes)"]
    recs, errs = parse_records(json.dumps([GOOD, {**GOOD, "call_id": "r2", "duration_s": "x"}]), "f.json")
    assert [r["call_id"] for r in recs] == ["r1"] and errs[0].startswith("f.json: [1]: `duration_s`")


def test_cli_import_directory(tmp_path: pathlib.Path) -> None:
    d = tmp_path / "records"
    d.mkdir()
    (d / "a.jsonl").write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "call_id": "r2"}) + "\n")
    (d / "b.json").write_text(json.dumps({**GOOD, "call_id": "r3"}, indent=2))
    (d / "c.json").write_text(json.dumps([{**GOOD, "call_id": "r1"}]))       # a call a.jsonl already has
    (d / "notes.txt").write_text("not a record")
    db = tmp_path / "d.db"
    r = cli(db, "calls", "import", str(d))
    assert r.exit_code == 0, r.output
    assert "3 calls imported, 1 skipped from 3 files" in r.output and "skipped r1" in r.output
    assert [line.split()[0] for line in cli(db, "calls", "list").output.splitlines()] == ["r1", "r2", "r3"]
    (d / "z.jsonl").write_text(json.dumps({**GOOD, "call_id": "r9", "outcome": "meh"}) + "\n")
    r = cli(db, "calls", "import", str(d))
    assert r.exit_code == 2 and f"{d / 'z.jsonl'}:1: `outcome`" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli(db, "calls", "import", str(empty))
    assert r.exit_code == 2 and "no *.json or *.jsonl files" in r.output


def test_cli_outcome_and_export_filters(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "o.db"
    s = Store(db)
    populate(s, "c1", outcome="")
    populate(s, "c2", outcome="")
    s.update_call("c2", rep="kim", team="west")
    populate(s, "c3", outcome="")
    s.update_call("c3", rep="kim", team="east")
    s.close()
    r = cli(db, "calls", "outcome", "c1", "won", "--value", "12400", "--note", "signed today")
    assert r.exit_code == 0, r.output
    rec = json.loads(cli(db, "calls", "show", "c1").output)
    assert rec["outcome"] == "won" and rec["value"] == 12400.0
    s = Store(db)
    assert s.call("c1")["outcome_note"] == "signed today" and s.call("c1")["outcome_by"] == "cli"
    s.close()
    assert cli(db, "calls", "outcome", "c2", "follow-up").exit_code == 0
    assert "value" not in json.loads(cli(db, "calls", "show", "c2").output)
    assert cli(db, "calls", "outcome", "c2", "maybe").exit_code == 2
    assert cli(db, "calls", "outcome", "nope", "won").exit_code == 2
    r = cli(db, "calls", "outcome", "c1", "lost", "--value", "-5")
    assert r.exit_code == 2 and "--value" in r.output
    assert json.loads(cli(db, "calls", "show", "c1").output)["outcome"] == "won"     # unchanged by the refusal

    def ids(*args: str) -> list[str]:
        r = cli(db, "calls", "export", *args)
        assert r.exit_code == 0, r.output
        return [json.loads(x)["call_id"] for x in r.output.splitlines()]
    assert ids() == ["c1", "c2", "c3"]
    assert ids("--rep", "kim") == ["c2", "c3"]
    assert ids("--team", "east") == ["c1", "c3"]
    assert ids("--rep", "kim", "--team", "east") == ["c3"]
    assert ids("--rep", "nobody") == []
    assert ids("--since", "2000-01-01", "--team", "west") == ["c2"]


def test_show_explains_every_score_part(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "s.db"
    s = Store(db)
    populate(s, "c1")
    s.close()
    score = json.loads(cli(db, "calls", "show", "c1").output)["score"]
    assert set(score["parts"]) == set(score["explain"]) == set(WEIGHTS) - {"process"}
    assert all(isinstance(why, str) and why for why in score["explain"].values())


# ------------------------------------------------------- score weights, process

def test_weights_change_the_total_not_the_parts() -> None:
    ivs = [iv("accuracy")] * 2
    base = score_call(balanced(), ivs, "", 55)
    only_acc = score_call(balanced(), ivs, "", 55, weights={k: 0.0 for k in WEIGHTS} | {"accuracy": 1.0})
    assert only_acc["parts"] == base["parts"] and only_acc["total"] == base["parts"]["accuracy"] < base["total"]
    no_acc = score_call(balanced(), ivs, "", 55, weights={"accuracy": 0.0})   # the rest keep their defaults
    assert no_acc["total"] == 100


def test_process_part_only_in_training_calls() -> None:
    step = dict(iv("process", severity="medium"), trigger="missed-step")
    phrase = dict(iv("process", severity="medium"), trigger="missed-phrase")
    std = score_call(balanced(), [step, phrase], "", 55, profile="standard")
    assert "process" not in std["parts"] and std["parts"]["compliance"] < 100      # as before: all in compliance
    tr = score_call(balanced(), [step, phrase], "", 55, profile="training")
    assert tr["parts"]["process"] < 100 and "1 process step" in tr["explain"]["process"]
    assert std["parts"]["compliance"] < tr["parts"]["compliance"] < 100            # the phrase stays compliance
    clean = score_call(balanced(), [], "", 55, profile="training")
    assert clean["parts"]["process"] == 100 and "covered" in clean["explain"]["process"]
    used = score_call(balanced(), [dict(step, feedback="used")], "", 55, profile="training")
    assert tr["parts"]["process"] < used["parts"]["process"] < 100
    expect = sum(WEIGHTS[k] * v for k, v in tr["parts"].items()) / sum(WEIGHTS.values())
    assert tr["total"] == round(expect)


def test_record_of_a_training_call_scores_process(store: Store) -> None:
    populate(store, "t1")
    store.update_call("t1", profile="training")
    assert "process" in call_record(store, "t1")["score"]["parts"]
    populate(store, "s1")
    assert "process" not in call_record(store, "s1")["score"]["parts"]


@pytest.mark.parametrize("section, message", [
    ("[score]\nacuracy = 1", "unknown part `acuracy`"),
    ("[score]\naccuracy = -1", "`accuracy` must be 0 or more"),
    ("[score]\naccuracy = \"high\"", "`accuracy` must be a number"),
    ("[score]\naccuracy = true", "`accuracy` must be a number"),
    ("[score]\naccuracy = nan", "`accuracy` must be 0 or more"),
    ("score = 3", "[score] must be a table"),
    ("[score]\naccuracy = 0\ncompliance = 0\nlistening = 0\nmomentum = 0\nhandling = 0\nopportunity = 0",
     "at least one of"),
])
def test_score_section_validated(tmp_path: pathlib.Path, section: str, message: str) -> None:
    from intervene.config import ConfigError, load_config
    f = tmp_path / "c.toml"
    f.write_text(section + "\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(f)


def test_score_section_reaches_the_record(tmp_path: pathlib.Path) -> None:
    from intervene.config import load_config
    f = tmp_path / "c.toml"
    f.write_text("[score]\naccuracy = 1\ncompliance = 0\nlistening = 0\nmomentum = 0\nhandling = 0\n"
                 "opportunity = 0.0\n")
    assert load_config(f).score == {**WEIGHTS, "accuracy": 1.0, "compliance": 0.0, "listening": 0.0,
                                    "momentum": 0.0, "handling": 0.0, "opportunity": 0.0}
    assert load_config(None).score == WEIGHTS
    db = tmp_path / "w.db"
    s = Store(db)
    populate(s, "c1")
    s.close()
    plain = json.loads(cli(db, "calls", "show", "c1").output)["score"]
    r = CliRunner().invoke(main, ["--db", str(db), "--config", str(f), "calls", "show", "c1"],
                           env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})
    weighted = json.loads(r.output)["score"]
    assert weighted["parts"] == plain["parts"] and weighted["total"] == plain["parts"]["accuracy"] != plain["total"]
    f.write_text("[score]\nspeed = 1\n")
    r = CliRunner().invoke(main, ["--db", str(db), "--config", str(f), "calls", "show", "c1"],
                           env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})
    assert r.exit_code == 2 and "unknown part `speed`" in r.output
