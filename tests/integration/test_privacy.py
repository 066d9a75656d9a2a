"""Personal data (issue 15): retention (`purge`, `intervene purge`, the
service's daily job), erasure (`forget`, `intervene forget`), and redaction
where text enters: Whisper's output in the call pipeline, `calls import`
and `calls export`."""
from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner, Result

from intervene.cli.main import main
from intervene.listen.asr import AsrResult
from intervene.listen.pipeline import CallPipeline, ListenOptions
from intervene.listen.vad import SpeechEnd, SpeechStart
from intervene.store import leads as lead_store
from intervene.store import outbox
from intervene.store.db import Store
from intervene.store.privacy import RetentionOptions, daily, forget, purge, who_is
from intervene.store.worker import StoreWorker
from intervene.vocab import REDACT_ALL, Category, Intervention, Mode, Severity, Speaker, Utterance

DAY = 86400.0
NOW = 1_800_000_000.0              # 2027-01-15
PHONE = "+14155552671"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _call(store: Store, call_id: str, started: float, lead: Any = None, text: str = "hello") -> None:
    store.start_call(call_id, source="live", rep="sam", started=_iso(started), lead=lead, outcome="won", value=10.0)
    store.add_utterance(call_id, Utterance(0, Speaker.LEAD, 0.0, 1.0, text))
    store.add_utterance(call_id, Utterance(1, Speaker.REP, 1.0, 2.0, "the plan is 49 a month"))
    store.add_intervention(call_id, 0, Intervention(1.5, 1, Category.ACCURACY, Severity.HIGH, Mode.SILENT,
                                                    "kb-mismatch", "said 49", "it is 59"))


def _counts(store: Store, call_id: str) -> tuple[int, int]:
    return len(store.utterances(call_id)), len(store.interventions(call_id))


# ---------------------------------------------------------------- retention

def test_purge_by_age_with_a_fake_now(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db")
    _call(store, "old", NOW - 400 * DAY)
    _call(store, "mid", NOW - 100 * DAY)
    _call(store, "new", NOW - 1 * DAY)
    old_lead = lead_store.add_lead(store, source="cli", status="done", phone=PHONE, now=NOW - 200 * DAY).id
    calling = lead_store.add_lead(store, source="cli", status="calling", phone="+14155550000", now=NOW - 200 * DAY).id
    new_lead = lead_store.add_lead(store, source="cli", status="ready", phone="+14155550001", now=NOW - DAY).id
    lead_store.inbox_add(store, "/webhooks/leads", 400, "bad", b"{}", now=NOW - 40 * DAY)
    lead_store.inbox_add(store, "/webhooks/leads", 400, "bad", b"{}", now=NOW - 1 * DAY)
    lead_store.dnc_add(store, PHONE, now=NOW - 900 * DAY)
    opts = RetentionOptions(transcripts=90, interventions=365, leads=180, webhook_inbox=30)

    would = purge(store, opts, NOW, dry_run=True)
    assert would == {"utterances": 4, "interventions": 1, "calls": 1, "leads": 1, "webhook_inbox": 1}
    assert _counts(store, "mid") == (2, 1) and store.call("old") is not None      # dry run: nothing changed

    assert purge(store, opts, NOW) == would
    assert store.call("old") is None and _counts(store, "old") == (0, 0)          # transcript and cards both past
    assert _counts(store, "mid") == (0, 1) and store.call("mid") is not None      # transcript past, cards kept
    assert _counts(store, "new") == (2, 1)
    assert lead_store.get_lead(store, old_lead) is None
    assert lead_store.get_lead(store, calling) is not None                       # on a call right now: kept
    assert lead_store.get_lead(store, new_lead) is not None
    assert len(lead_store.inbox_list(store)) == 1
    assert lead_store.dnc_contains(store, PHONE)                                 # the DNC list is never purged
    assert purge(store, opts, NOW) == dict.fromkeys(would, 0)                    # nothing left to do
    assert purge(store, RetentionOptions(), NOW + 1000 * DAY) == dict.fromkeys(would, 0)   # 0 = for ever


def test_daily_job_runs_on_the_store_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "d.db")
    _call(store, "old", NOW - 400 * DAY)
    worker = StoreWorker(store)
    clock = iter([NOW, NOW + DAY, NOW + 2 * DAY])

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(daily(worker, store, RetentionOptions(transcripts=30), every_s=0.05,
                                         clock=lambda: next(clock, NOW))(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 2)
        # nothing to keep: returns at once
        await asyncio.wait_for(daily(worker, store, RetentionOptions())(asyncio.Event()), 1)

    asyncio.run(go())
    worker.close()
    assert _counts(store, "old") == (0, 1)


# ------------------------------------------------------------------ erasure

def _person(store: Store) -> dict[str, Any]:
    """One person everywhere: two leads (by number, one by email), calls
    linked by lead, by the dialled number and by an imported record's lead,
    outbox rows, refused webhook bodies; and someone else's data beside it."""
    a = lead_store.add_lead(store, source="facebook", leadgen_id="900001", status="done", name="Jane Doe",
                            phone=PHONE, email="Jane@Example.com", fields={"budget": "10k"}, now=NOW).id
    b = lead_store.add_lead(store, source="webhook", status="ready", name="Jane", phone=None,
                            email="jane@example.com", now=NOW).id
    other = lead_store.add_lead(store, source="cli", status="ready", name="Bob", phone="+14155550100", now=NOW).id
    _call(store, "by-lead", NOW, lead=None, text="my card is [card number]")
    lead_store.update_lead(store, a, call_id="by-lead")
    _call(store, "by-number", NOW, lead="4155552671")                                  # as the dialplan gave it
    _call(store, "imported", NOW, lead=json.dumps({"id": "x1", "fields": {"phone": "+1 415-555-2671"}}))
    _call(store, "bob", NOW, lead="+14155550100")
    store.set_outcome("by-number", "won", "Jane's husband decides", "sam")
    for eid, lead, status in (("e1", a, "pending"), ("e2", a, "sent"), ("e3", other, "pending")):
        outbox.enqueue(store, {"event_id": eid}, str(lead), None, NOW)
        if status == "sent":
            outbox.mark_sent(store, eid, {}, NOW)
    lead_store.inbox_add(store, "/webhooks/leads", 400, "bad", b'{"phone": "+14155552671", "x": 1e999}', now=NOW)
    lead_store.inbox_add(store, "/webhooks/leads", 400, "bad", b'{"phone": "+14155550100"}', now=NOW)
    lead_store.dnc_add(store, PHONE, "asked", now=NOW)
    return {"a": a, "b": b, "other": other}


def test_forget_by_phone_removes_or_anonymises_everything(tmp_path: Path) -> None:
    store = Store(tmp_path / "f.db")
    ids = _person(store)
    would = forget(store, "(415) 555-2671", NOW, dry_run=True)
    assert would == {"leads": 1, "calls": 3, "utterances": 6, "interventions": 3, "outbox": 2,
                     "webhook_inbox": 1, "dnc_kept": 1}
    assert _counts(store, "by-number") == (2, 1)                                     # dry run: nothing changed
    assert forget(store, "(415) 555-2671", NOW) == would
    lead = lead_store.get_lead(store, ids["a"])
    assert lead is not None and lead["status"] == "erased"
    assert (lead["name"], lead["phone"], lead["email"], lead["fields"], lead["raw"]) == (None, None, None, {}, {})
    assert lead["leadgen_id"] == "900001"               # a retried Facebook webhook is still known: never re-added
    assert lead_store.add_lead(store, source="facebook", leadgen_id="900001", phone=PHONE).duplicate
    for cid in ("by-lead", "by-number", "imported"):
        row = store.call(cid)
        assert row is not None and row["lead"] is None and row["outcome_note"] is None
        assert row["outcome"] == "won" and row["value"] == 10.0 and _counts(store, cid) == (0, 0)
    assert _counts(store, "bob") == (2, 1) and (store.call("bob") or {})["lead"] == "+14155550100"
    assert [r["event_id"] for r in outbox.rows(store)] == ["e3"]
    assert [json.loads(r["body"])["phone"] for r in lead_store.inbox_list(store)] == ["+14155550100"]
    assert lead_store.dnc_contains(store, PHONE)                  # stays: they are never called again
    other = lead_store.get_lead(store, ids["other"])
    assert other is not None and other["name"] == "Bob"
    # the second lead (email only, no number) is found by its email; then nothing of theirs is left
    assert forget(store, "JANE@example.com", NOW)["leads"] == 1
    assert forget(store, PHONE, NOW) == {"leads": 0, "calls": 0, "utterances": 0, "interventions": 0,
                                         "outbox": 0, "webhook_inbox": 0, "dnc_kept": 1}


def test_forget_by_lead_id_and_who_is(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    ids = _person(store)
    got = forget(store, str(ids["a"]), NOW)
    assert got["leads"] == 1 and got["calls"] == 1 and got["outbox"] == 2           # its own call, not by number
    assert _counts(store, "by-number") == (2, 1)
    assert who_is("lead:12").lead_ids == {12} and who_is("42").lead_ids == {42}
    assert "+14155552671" in who_is("415 555 2671").phones
    assert "+442079460958" in who_is("+44 20 7946 0958").phones
    for bad in ("", "bob", "a@b@c", "lead:x", "12ab345678"):
        try:
            who_is(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


# ---------------------------------------------------------------------- CLI

def _cli(db: Path, *args: str, config: Path | None = None) -> Result:
    pre = ["--db", str(db)] + (["--config", str(config)] if config else [])
    return CliRunner().invoke(main, [*pre, *args], env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


def test_cli_forget_and_purge(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = Store(db)
    _person(store)
    _call(store, "ancient", time.time() - 400 * DAY)
    store.close()
    r = _cli(db, "forget", "+1 415 555 2671", "--dry-run")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("would remove: leads 1, calls 3, utterances 6") and "2671" not in r.output
    assert "do-not-call" in r.output
    r = _cli(db, "forget", "+1 415 555 2671")
    assert r.exit_code == 0 and r.output.startswith("removed: leads 1, calls 3")
    r = _cli(db, "forget", "nobody@example.com")
    assert r.exit_code == 0 and "nothing found" in r.output
    r = _cli(db, "forget", "not a person")
    assert r.exit_code == 2 and "expected a phone number, an email or a lead id" in r.output

    r = _cli(db, "purge")
    assert r.exit_code == 0 and "keeps everything for ever" in r.output
    cfg = tmp_path / "c.toml"
    cfg.write_text("[retention]\ntranscripts = 30\n")
    r = _cli(db, "purge", "--dry-run", config=cfg)
    assert r.exit_code == 0 and r.output.startswith("would remove: utterances 2,"), r.output
    r = _cli(db, "purge", config=cfg)
    assert r.exit_code == 0 and r.output.startswith("removed: utterances 2,"), r.output
    assert Store(db).utterances("ancient") == []
    cfg.write_text("[retention]\ntranscripts = -3\n")
    r = _cli(db, "purge", config=cfg)
    assert r.exit_code == 2 and "[retention]" in r.output


def _record(text: str) -> dict[str, Any]:
    return {"call_id": "rec1", "started": "2026-11-24T15:02:11Z", "duration_s": 9.0, "rep": "sam",
            "profile": "standard", "mode": "silent", "outcome": "won",
            "transcript": [{"start": 0.0, "end": 2.0, "speaker": "lead", "text": "my card number is four one one one"},
                           {"start": 2.0, "end": 3.0, "speaker": "rep", "text": "okay, that's 49.99 a month"},
                           {"start": 3.0, "end": 5.0, "speaker": "lead", "text": text}],
            "interventions": [{"at": 5.0, "utterance": 2, "category": "compliance", "severity": "high",
                               "mode": "silent", "trigger": "card-read", "detected": f"lead said {text}",
                               "say": "stop", "evidence": [], "feedback": None}]}


def test_calls_import_and_export_never_hold_the_original(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(_record("one one one one one one one one one one one one")) + "\n")
    r = _cli(db, "calls", "import", str(src))
    assert r.exit_code == 0, r.output
    store = Store(db)
    texts = [u["text"] for u in store.utterances("rec1")]
    assert texts == ["my card number is [card number]", "okay, that's 49.99 a month", "[card number]"]
    assert store.interventions("rec1")[0]["detected"] == "lead said [card number]"
    # a call stored before redaction (or with it off) is redacted on the way out
    store.add_utterance("rec1", Utterance(3, Speaker.LEAD, 6.0, 7.0, "my social is 123-45-6789"))
    store.close()
    out = tmp_path / "out.jsonl"
    r = _cli(db, "calls", "export", "--out", str(out))
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    assert [u["text"] for u in rec["transcript"]][-1] == "my social is [ssn]"
    assert "6789" not in out.read_text() and "4111" not in out.read_text()
    r = _cli(db, "calls", "show", "rec1")
    assert r.exit_code == 0 and "123-45" not in r.output and "[ssn]" in r.output
    cfg = tmp_path / "off.toml"                                 # [redaction] ssn = false: shown as stored
    cfg.write_text("[redaction]\nssn = false\n")
    r = _cli(db, "calls", "show", "rec1", config=cfg)
    assert r.exit_code == 0 and "123-45-6789" in r.output


# ----------------------------------------------------- the live pipeline

class _Engine:
    def __init__(self) -> None:
        self.heard: list[Utterance] = []

    def speech_started(self, *_: Any) -> list[Intervention]:
        return []

    def speech_ended(self, *_: Any) -> list[Intervention]:
        return []

    def utterance(self, u: Utterance, now: float) -> list[Intervention]:
        self.heard.append(u)
        return []

    def interim(self, u: Utterance, now: float) -> list[Intervention]:
        return []

    def advance(self, now: float) -> list[Intervention]:
        return []

    def end(self, now: float) -> list[Intervention]:
        return []


class _Asr:
    """Whisper's answers, in order."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)

    def submit(self, pcm: np.ndarray, rate: int, words: bool = True, interim: bool = False) -> Future[AsrResult]:
        fut: Future[AsrResult] = Future()
        fut.set_result(AsrResult(self.texts.pop(0), (), 0.0, 0.0, 1.0, 1.0))
        return fut


def _pipeline_hears(texts: list[str], options: ListenOptions) -> tuple[list[str], list[str], list[str]]:
    engine = _Engine()
    stored: list[str] = []
    shown: list[str] = []
    p = CallPipeline(engine, _Asr(texts), 16000, options,   # type: ignore[arg-type]
                     on_utterance=lambda u: stored.append(u.text), on_interim=lambda u: shown.append(u.text))
    pcm = np.zeros(1600, dtype=np.int16)
    for i in range(len(texts)):
        t = i * 3.0
        p._enqueue(SpeechStart(Speaker.LEAD, t, t + 0.1))
        p._enqueue(SpeechEnd(Speaker.LEAD, t, t + 1.0, t + 1.2, pcm, 1.0))
    p.poll(100.0, block=True)
    p.finish(100.0)
    return stored, [u.text for u in engine.heard], shown


def test_pipeline_redacts_before_anyone_sees_it() -> None:
    texts = ["My card number is four one one one one one one one,", "one one one one one one one one.",
             "And it's forty-nine ninety-nine a month?"]
    stored, heard, shown = _pipeline_hears(texts, ListenOptions(redact=REDACT_ALL))
    assert stored == heard
    assert all("one one" not in s and "four" not in s for s in stored + shown), (stored, shown)
    assert "[card number]" in " ".join(stored)
    assert stored[-1] == "And it's forty-nine ninety-nine a month?"
    off, _, _ = _pipeline_hears(texts, ListenOptions(redact=frozenset()))
    assert "four one one one" in " ".join(off)
