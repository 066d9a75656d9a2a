"""The call summary in the record (formats.md section 6, optional `summary`):
built with every record, surviving export -> import -> export, imports with or
without it, redacted on the way out, and served to the supervisor page by the
call API as text."""
from __future__ import annotations

import json
import pathlib

from click.testing import CliRunner, Result
from screenkit import Client

from intervene.cli.main import main
from intervene.formats.record import parse_records, write_records
from intervene.report.record import call_record, import_records
from intervene.report.summary import call_summary
from intervene.store.db import Store
from intervene.vocab import Category, Evidence, Intervention, Mode, Severity, Speaker, Utterance

CARD_NUMBER = "4111 1111 1111 1111"


def populate(store: Store, call_id: str, say: str = "Standard includes three years of support.",
             transcript: bool = True) -> None:
    store.start_call(call_id, source="live", rep="sam", team="east", profile="standard", mode="silent",
                     lead=json.dumps({"id": "L1", "source": "facebook",
                                      "fields": {"full_name": "Jane Doe", "budget": "15000"}}))
    if transcript:
        for i, (sp, a, b, text) in enumerate([("lead", 0.0, 2.0, "How long is support on Standard?"),
                                              ("rep", 2.5, 5.0, "Standard includes two years of support.")]):
            store.add_utterance(call_id, Utterance(i, Speaker(sp), a, b, text))
    store.add_intervention(call_id, 0, Intervention(
        5.5, 1 if transcript else 0, Category.ACCURACY, Severity.HIGH, Mode.SILENT, "kb-mismatch",
        "Rep said two years.", say, (Evidence("standard", "Includes three years of support."),)))
    store.set_feedback(call_id, 0, "used", None, "sam")
    store.finish_call(call_id, 6.0)
    store.set_outcome(call_id, "won", None, "sam")
    store.update_call(call_id, value=2400)


def cli(db: pathlib.Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(db), *args], env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


def test_every_record_carries_its_summary_and_it_round_trips(tmp_path: pathlib.Path) -> None:
    store = Store(tmp_path / "a.db")
    try:
        populate(store, "c1")
        populate(store, "c2", transcript=False)
        records = [call_record(store, c) for c in ("c1", "c2")]
        assert records[0]["summary"] == call_summary({k: v for k, v in records[0].items() if k != "summary"})
        assert "Jane Doe" in records[0]["summary"] and "three years" in records[0]["summary"]
        assert "value 2400" in records[0]["summary"] and "Nothing was transcribed." in records[1]["summary"]
        path = tmp_path / "out.jsonl"
        write_records(path, records)
        parsed, errors = parse_records(path.read_text(), str(path))
        assert errors == [] and [r["summary"] for r in parsed] == [r["summary"] for r in records]
        fresh = Store(tmp_path / "fresh.db")
        try:
            import_records(fresh, parsed)
            assert [call_record(fresh, c) for c in ("c1", "c2")] == records
        finally:
            fresh.close()
    finally:
        store.close()


def test_calls_import_takes_records_with_and_without_a_summary(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "a.db"
    s = Store(db)
    populate(s, "c1")
    s.close()
    out = tmp_path / "x.jsonl"
    assert cli(db, "calls", "export", "--out", str(out)).exit_code == 0
    rec = json.loads(out.read_text())
    assert rec["summary"].startswith("Rep sam (team east) spoke with Jane Doe")
    old = dict(rec, call_id="old")
    del old["summary"]                                  # a record written before summaries
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps(rec) + "\n" + json.dumps(old) + "\n"
                     + json.dumps(dict(rec, call_id="bad", summary=7)) + "\n")
    other = tmp_path / "b.db"
    r = cli(other, "calls", "import", str(mixed))
    assert r.exit_code == 2 and "2 calls imported" in r.output and "`summary`: expected text" in r.output
    exported = [json.loads(x) for x in cli(other, "calls", "export").output.splitlines()]
    assert {x["call_id"]: x["summary"] for x in exported} == {"c1": rec["summary"], "old": rec["summary"]}


def test_export_redacts_the_summary(tmp_path: pathlib.Path) -> None:
    """The summary quotes the cards: a card number in one goes out of the summary too."""
    db = tmp_path / "a.db"
    s = Store(db)
    populate(s, "c1", say=f"Read back the card {CARD_NUMBER} to confirm.")
    assert CARD_NUMBER in call_record(s, "c1")["summary"]
    s.close()
    for args in (("calls", "export"), ("calls", "show", "c1")):
        r = cli(db, *args)
        assert r.exit_code == 0 and CARD_NUMBER not in r.output and "1111" not in r.output, r.output
        assert "summary" in r.output


def test_the_call_api_serves_the_summary_of_an_ended_call(loop, server) -> None:
    """What the supervisor page shows: the summary as a JSON string (the page
    puts it in with textContent), for an ended call only."""
    populate(server.store, "sum-1", say="<img src=x onerror=alert(1)> three years of support.")
    async def login() -> Client:
        c = Client(server.url)
        assert await c.login("boss") == 303
        return c
    boss = loop.run(login())
    try:
        status, body = loop.run(boss.get("/api/calls/sum-1"))
        assert status == 200, body
        assert body["summary"] == call_record(server.store, "sum-1")["summary"]
        assert "<img src=x onerror=alert(1)> three years of support." in body["summary"]
        assert body["summary"].splitlines()[-1].startswith("Outcome: won, value 2400")
        # a call still going has no summary yet; once it ended, it has
        populate(server.store, "sum-live")

        async def hub(**fields: object) -> None:
            server.hub.call("sum-live", rep="rep1", team="sales", **fields)
        loop.run(hub(state="live"))
        status, body = loop.run(boss.get("/api/calls/sum-live"))
        assert status == 200 and "summary" not in body and "score" not in body
        loop.run(hub(state="ended"))
        status, body = loop.run(boss.get("/api/calls/sum-live"))
        assert status == 200 and body["summary"].startswith("Rep sam (team east) spoke with Jane Doe")
    finally:
        loop.run(boss.close())
