"""The store's contract, run on both databases it supports: every test that
takes `store_target` runs once on SQLite and once on a fresh PostgreSQL
database (tests/conftest.py). What a caller sees must not depend on which
one the store runs on; the PostgreSQL-only tests at the end are what only a
shared server can do: two connections racing, a connection that breaks."""
from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import threading
import time
from typing import Any, Iterator

import numpy as np
import pytest
import yaml

from intervene.kb.loader import load_kb, load_kb_text
from intervene.store import leads, outbox, privacy, schema
from intervene.store.db import Store, StoreError
from intervene.store.privacy import RetentionOptions
from intervene.store.worker import StoreWorker
from intervene.vocab import Category, Evidence, Intervention, Mode, Severity, Speaker, Utterance

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACME = ROOT / "kb" / "acme.yaml"
ACME_ITEMS = 17
NOW = 1_800_000_000.0              # 2027-01-15
DAY = 86400.0
PHONE = "+14155552671"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _acme_doc() -> dict[str, Any]:
    return dict(yaml.safe_load(ACME.read_text(encoding="utf-8")))


def _iv(at: float = 1.5, say: str = "Actually, three years of support.") -> Intervention:
    return Intervention(at, 1, Category.ACCURACY, Severity.HIGH, Mode.VOICE, "kb-mismatch", "said two years",
                        say, (Evidence("standard", "Includes three years of support."),))


def _lead(store: Store, lead_id: int) -> dict[str, Any]:
    row = leads.get(store, lead_id)
    assert row is not None, f"lead {lead_id} is gone"
    return row


def _call(store: Store, call_id: str) -> dict[str, Any]:
    row = store.call(call_id)
    assert row is not None, f"call {call_id} is gone"
    return row


@pytest.fixture
def store(store_target: str) -> Iterator[Store]:
    s = Store(store_target)
    yield s
    s.close()


# ===================================================================== calls

def test_start_call_extra_fields_and_a_new_column(store: Store) -> None:
    store.start_call("c1", source="live", rep="sam", lead_id=7, captured="rec/c1.wav", rep_endpoint="PJSIP/rep7",
                     dialler_queue="q-east")
    assert "dialler_queue" in store.db.columns("calls")
    row = store.call("c1")
    assert row is not None and "ord" not in row
    assert (row["source"], row["rep"], row["lead_id"], row["captured"], row["rep_endpoint"]) == \
        ("live", "sam", 7, "rec/c1.wav", "PJSIP/rep7")
    assert row["dialler_queue"] == "q-east" and row["outcome"] == "unknown"
    assert time.strptime(row["started"], "%Y-%m-%dT%H:%M:%SZ")

    store.update_call("c1", duration_s=12.5, dialler_attempt=2)
    store.finish_call("c1", 30.0)
    row = store.call("c1")
    assert row is not None and row["duration_s"] == 30.0 and row["dialler_attempt"] == 2
    assert {"dialler_queue", "dialler_attempt"} <= set(store.db.columns("calls"))
    assert store.call("nope") is None
    store.update_call("nope", rep="x")                                # no such call: nothing, no error
    assert [c["id"] for c in store.calls()] == ["c1"]


def test_a_new_column_takes_later_values_as_given(request: pytest.FixtureRequest, store: Store) -> None:
    store.start_call("c1", source="live", dialler_score=3)
    store.update_call("c1", dialler_score=2.5)
    row = store.call("c1")
    assert row is not None and row["dialler_score"] == 2.5


def test_calls_order_and_limit_within_one_second(store: Store) -> None:
    early = _iso(NOW - 60)
    same = _iso(NOW)
    store.start_call("m-first", source="live", started=early)
    for cid in ("z", "a", "q", "b"):                                  # not in id order: insertion order wins
        store.start_call(cid, source="live", started=same)
    store.start_call("y-older", source="live", started=_iso(NOW - 30))
    store.start_call("a", source="live", started=same, rep="again")  # started again: keeps its place
    want = ["m-first", "y-older", "z", "a", "q", "b"]
    got = store.calls()
    assert [c["id"] for c in got] == want
    assert all("ord" not in c for c in got)
    assert [c["id"] for c in store.calls(limit=3)] == ["a", "q", "b"]
    assert [c["id"] for c in store.calls(limit=1)] == ["b"]
    assert [c["id"] for c in store.calls(limit=100)] == want
    assert _call(store, "a")["rep"] == "again"


def test_utterances_with_the_end_column(store: Store) -> None:
    store.start_call("c1", source="live")
    for u in (Utterance(1, Speaker.REP, 1.0, 2.25, "second"), Utterance(0, Speaker.LEAD, 0.0, 0.75, "first")):
        store.add_utterance("c1", u)
    store.add_utterance("c1", Utterance(1, Speaker.REP, 1.0, 2.5, "second, corrected"))   # same idx: replaced
    rows = store.utterances("c1")
    assert [(r["idx"], r["speaker"], r["start"], r["end"], r["text"]) for r in rows] == [
        (0, Speaker.LEAD.value, 0.0, 0.75, "first"), (1, Speaker.REP.value, 1.0, 2.5, "second, corrected")]
    assert store.utterances("other") == []


def test_interventions_delivery_feedback_and_outcome(store: Store) -> None:
    store.start_call("c1", source="live")
    store.add_intervention("c1", 1, _iv(3.0, "later"))
    store.add_intervention("c1", 0, _iv())
    rows = store.interventions("c1")
    assert [r["seq"] for r in rows] == [0, 1]
    first = rows[0]
    assert (first["at"], first["utterance"], first["category"], first["severity"], first["mode"]) == \
        (1.5, 1, Category.ACCURACY.value, Severity.HIGH.value, Mode.VOICE.value)
    assert (first["trigger"], first["say"], first["feedback"]) == ("kb-mismatch", _iv().say, None)
    assert "standard" in first["evidence"]

    store.set_delivery("c1", 0, "spoken", 12.5)
    store.set_feedback("c1", 0, "edited", "three years, yes", "sam")
    one = store.intervention("c1", 0)
    assert one is not None
    assert (one["delivery"], one["delivered_at"], one["feedback"], one["feedback_text"], one["feedback_by"]) == \
        ("spoken", 12.5, "edited", "three years, yes", "sam")
    assert isinstance(one["feedback_at"], float) and abs(one["feedback_at"] - time.time()) < 60
    assert (store.intervention("c1", 1) or {})["delivery"] is None
    assert store.intervention("c1", 9) is None

    store.set_outcome("c1", "won", "signed for two sites", "sup")
    call = store.call("c1")
    assert call is not None
    assert (call["outcome"], call["outcome_note"], call["outcome_by"]) == ("won", "signed for two sites", "sup")
    assert abs(call["outcome_at"] - time.time()) < 60


# ==================================================== users, tokens, settings

def test_users_epoch_and_remove(store: Store) -> None:
    sam = store.put_user("sam", name="Sam", role="rep", team="east", endpoint="PJSIP/rep7")
    assert (sam["epoch"], sam["role"], sam["endpoint"], sam["sip_message"]) == (1, "rep", "PJSIP/rep7", 0)
    assert sam["nonce"] and sam["pw"] is None
    store.put_user("ann", name="Ann", role="admin")
    store.put_user("bob", name="Bob", role="rep")
    again = store.put_user("sam", team="west")                      # update: keeps epoch, nonce, name
    assert (again["team"], again["name"], again["epoch"], again["nonce"]) == ("west", "Sam", 1, sam["nonce"])
    assert [u["login"] for u in store.users()] == ["ann", "bob", "sam"]          # by role, then login
    bumped = store.bump_epoch("sam")
    assert bumped is not None and bumped["epoch"] == 2
    assert store.bump_epoch("nobody") is None
    assert store.remove_user("bob") is True
    assert store.remove_user("bob") is False
    assert store.user("bob") is None
    fresh = store.put_user("bob", role="rep")                       # the same name again: a new nonce
    assert fresh["epoch"] == 1 and fresh["nonce"] != sam["nonce"]


def test_spent_tokens(store: Store) -> None:
    assert store.spend_token("t1", expires=NOW + 100, now=NOW) is True
    assert store.spend_token("t1", expires=NOW + 100, now=NOW) is False
    assert store.token_spent("t1") and not store.token_spent("t2")
    assert store.spend_token("t2", expires=NOW + 500, now=NOW + 200) is True   # t1 expired: swept
    assert not store.token_spent("t1")
    assert store.spend_token("t1", expires=NOW + 900, now=NOW + 200) is True


def test_settings(store: Store) -> None:
    assert store.setting("k") is None
    store.put_setting("k", "1")
    store.put_setting("k", "two")
    assert store.setting("k") == "two"
    store.delete_setting("k")
    store.delete_setting("k")
    assert store.setting("k") is None


# ================================================================ kb, vectors

def test_kb_import_document_and_remove(store: Store) -> None:
    assert store.kb_document() is None
    assert store.kb_import(_acme_doc(), "acme.yaml") == {"added": ACME_ITEMS, "changed": 0, "unchanged": 0}
    assert store.kb_import(_acme_doc(), "acme.yaml") == {"added": 0, "changed": 0, "unchanged": ACME_ITEMS}
    edited = _acme_doc()
    edited["competitors"][0]["positioning"] = "NetCo charges a $299 setup fee."
    assert store.kb_import(edited, "edit.yaml") == {"added": 0, "changed": 1, "unchanged": ACME_ITEMS - 1}
    items = store.kb_items()
    assert len(items) == ACME_ITEMS
    assert [i["data"]["id"] for i in items if i["section"] == "products"] == \
        [p["id"] for p in _acme_doc()["products"]]                  # the document's order
    doc = store.kb_document()
    assert doc is not None and doc["company"] == "Acme Business Networks"
    assert doc["competitors"][0]["positioning"] == "NetCo charges a $299 setup fee."
    kb = load_kb_text(yaml.safe_dump(doc, sort_keys=False), "stored")
    want = load_kb_text(yaml.safe_dump(edited, sort_keys=False), "want")
    assert dataclasses.replace(kb, source="") == dataclasses.replace(want, source="")
    assert dataclasses.replace(load_kb(ACME), source="").company == kb.company   # the file itself, as loaded

    sections = [i["section"] for i in store.kb_items() if i["id"] == "multi-site"]
    assert len(sections) == 2
    assert store.kb_remove("multi-site", section="no-such-section") == 0
    assert store.kb_remove("multi-site", section=sections[0]) == 1
    assert store.kb_remove("multi-site") == 1
    assert store.kb_remove("multi-site") == 0
    assert len(store.kb_items()) == ACME_ITEMS - 2


def test_vectors_roundtrip_float32(store: Store) -> None:
    rng = np.random.default_rng(16)
    a = rng.standard_normal(384).astype(np.float32)
    b = rng.standard_normal(384).astype(np.float64)                 # stored as float32
    store.put_vectors("m1", {"alpha": a, "beta": b})
    got = store.get_vectors("m1", ["alpha", "beta", "gamma"])
    assert set(got) == {"alpha", "beta"}
    assert got["alpha"].dtype == np.float32 and np.array_equal(got["alpha"], a)
    assert np.array_equal(got["beta"], b.astype(np.float32))
    assert store.get_vectors("m2", ["alpha"]) == {}
    store.put_vectors("m1", {"alpha": -a})                          # same text: replaced
    assert np.array_equal(store.get_vectors("m1", ["alpha"])["alpha"], -a)
    many = {f"t{i}": np.full(4, i, dtype=np.float32) for i in range(1200)}   # several 500-key chunks
    store.put_vectors("m3", many)
    back = store.get_vectors("m3", list(many))
    assert len(back) == 1200 and back["t1199"][0] == 1199.0


# ===================================================================== leads

def test_add_leads_duplicates_get_and_list(store: Store) -> None:
    first = leads.add_lead(store, source="facebook", leadgen_id="lg-1", campaign="spring", name="Jane",
                           phone=PHONE, email="jane@example.com", fields={"plan": "Premium", "sites": 2},
                           raw={"entry": [1]}, now=NOW)
    assert first.duplicate is False
    assert leads.add_lead(store, source="facebook", leadgen_id="lg-1", name="Other", now=NOW) == (first.id, True)
    batch = leads.add_leads(store, [
        {"source": "webhook", "leadgen_id": "lg-2", "status": "ready", "campaign": "spring", "next_at": NOW},
        {"source": "facebook", "leadgen_id": "lg-1"},
        {"source": "cli", "status": "ready", "campaign": "autumn", "phone": "+14155550001", "next_at": NOW - 5},
        {"source": "cli"},                                           # no leadgen_id: never a duplicate
    ])
    assert [b.duplicate for b in batch] == [False, True, False, False]
    assert batch[1].id == first.id
    assert len({first.id, batch[0].id, batch[2].id, batch[3].id}) == 4

    got = leads.get(store, first.id)
    assert got is not None
    assert (got["name"], got["phone"], got["status"], got["attempts"], got["received_at"]) == \
        ("Jane", PHONE, "received", 0, NOW)
    assert got["fields"] == {"plan": "Premium", "sites": 2} and got["raw"] == {"entry": [1]}
    assert leads.get(store, 999_999) is None

    everyone = leads.list(store)
    assert [r["id"] for r in everyone] == sorted((r["id"] for r in everyone), reverse=True)   # newest first
    assert len(everyone) == 4
    assert {r["id"] for r in leads.list(store, status="ready")} == {batch[0].id, batch[2].id}
    assert {r["id"] for r in leads.list(store, status=["ready", "received"], campaign="spring")} == \
        {first.id, batch[0].id}
    assert [r["id"] for r in leads.list(store, source="cli", limit=1)] == [batch[3].id]
    assert [r["id"] for r in leads.list(store, phone=PHONE)] == [first.id]
    with pytest.raises(ValueError):
        leads.add_lead(store, source="carrier-pigeon")
    with pytest.raises(ValueError):
        leads.add_lead(store, source="cli", status="no-such-status")


def test_add_leads_is_one_transaction(store: Store) -> None:
    with pytest.raises(ValueError):
        leads.add_leads(store, [{"source": "cli", "leadgen_id": "ok"}, {"source": "nope"}])
    assert leads.list(store) == []


def test_update_lead_only_if_and_a_dialler_column(store: Store) -> None:
    lid = leads.add_lead(store, source="cli", status="ready", now=NOW).id
    assert leads.update(store, lid, now=NOW + 1, dialler_queue="east", fields={"a": 1}) is True
    assert "dialler_queue" in store.db.columns("leads")
    row = leads.get(store, lid)
    assert row is not None and (row["dialler_queue"], row["fields"], row["updated"]) == ("east", {"a": 1}, NOW + 1)
    assert leads.update(store, lid, only_if="calling", status="done") is False
    assert leads.update(store, lid, only_if=("received", "ready"), status="done") is True
    assert _lead(store, lid)["status"] == "done"
    assert leads.update(store, 999_999, status="done") is False
    with pytest.raises(ValueError):
        leads.update(store, lid, id=5)
    with pytest.raises(ValueError):
        leads.update(store, lid, **{"Bad-Name": 1})


def test_due_claim_and_recover(store: Store) -> None:
    a = leads.add_lead(store, source="cli", status="ready", phone="+14155550001", next_at=NOW - 10).id
    b = leads.add_lead(store, source="cli", status="ready", phone="+14155550002", next_at=NOW - 20).id
    c = leads.add_lead(store, source="cli", status="ready", phone="+14155550003", next_at=NOW + 100).id
    leads.add_lead(store, source="cli", status="received", next_at=NOW - 30)
    assert [r["id"] for r in leads.due(store, NOW)] == [b, a]        # longest waiting first; not c, not received
    assert [r["id"] for r in leads.due(store, NOW, limit=1)] == [b]
    assert [r["id"] for r in leads.due(store, NOW + 100)] == [b, a, c]

    assert leads.claim(store, a, call_id="call-a", now=NOW) is True
    assert leads.claim(store, a, call_id="call-x", now=NOW) is False  # exactly one of two claims wins
    row = leads.get(store, a)
    assert row is not None and (row["status"], row["call_id"], row["called_at"]) == ("calling", "call-a", NOW)
    assert leads.claim(store, 999_999, now=NOW) is False
    assert leads.claim(store, b, now=NOW) is True
    assert leads.counts(store) == {"calling": 2, "ready": 1, "received": 1}

    assert leads.recover_calling(store, now=NOW + 5) == 2
    assert _lead(store, a)["status"] == "failed"
    assert "stopped during the call" in _lead(store, b)["reason"]
    assert leads.recover_calling(store) == 0
    assert leads.counts(store) == {"failed": 2, "ready": 1, "received": 1}


def test_claim_refuses_a_number_within_the_redial_window(store: Store) -> None:
    window = 3600.0
    first = leads.add_lead(store, source="cli", status="ready", phone=PHONE).id
    twin = leads.add_lead(store, source="cli", status="ready", phone=PHONE).id
    assert leads.claim(store, first, now=NOW, redial_window_s=window) is True
    assert leads.claim(store, twin, now=NOW + 1, redial_window_s=window) is False     # being called
    row = leads.get(store, twin)
    assert row is not None and row["status"] == "duplicate-number"
    assert f"lead {first} " in row["reason"] and "is being called" in row["reason"]

    leads.update(store, first, status="done")
    later = leads.add_lead(store, source="cli", status="ready", phone=PHONE).id
    assert leads.claim(store, later, now=NOW + window / 2, redial_window_s=window) is False   # called 30 min ago
    assert "was called 30 min ago" in _lead(store, later)["reason"]
    last = leads.add_lead(store, source="cli", status="ready", phone=PHONE).id
    assert leads.claim(store, last, now=NOW + 2 * window, redial_window_s=window) is True   # window passed
    nowin = leads.add_lead(store, source="cli", status="ready", phone=PHONE).id
    assert leads.claim(store, nowin, now=NOW + 2 * window, redial_window_s=0) is True     # no window: allowed


def test_dnc(store: Store) -> None:
    ready = leads.add_lead(store, source="cli", status="ready", phone=PHONE).id
    received = leads.add_lead(store, source="cli", status="received", phone=PHONE).id
    done = leads.add_lead(store, source="cli", status="done", phone=PHONE).id
    other = leads.add_lead(store, source="cli", status="ready", phone="+14155550009").id
    assert leads.dnc_add(store, PHONE, "asked on the call", now=NOW) == 2
    assert [_lead(store, i)["status"] for i in (ready, received, done, other)] == \
        ["dnc", "dnc", "done", "ready"]
    assert _lead(store, ready)["reason"] == "on the do-not-call list: asked on the call"
    leads.dnc_add(store, "+14155550000", now=NOW - 1)
    assert leads.dnc_add(store, PHONE, "again", now=NOW + 5) == 0     # re-added: the reason changes
    assert [(r["phone"], r["reason"]) for r in leads.dnc_list(store)] == \
        [("+14155550000", ""), (PHONE, "again")]                    # by when added
    assert leads.dnc_contains(store, PHONE) and not leads.dnc_contains(store, "+10000000000")
    assert not leads.dnc_contains(store, None) and not leads.dnc_contains(store, "")
    assert leads.dnc_remove(store, PHONE) is True
    assert leads.dnc_remove(store, PHONE) is False
    assert not leads.dnc_contains(store, PHONE)
    assert _lead(store, ready)["status"] == "dnc"


def test_inbox_is_bounded_and_keeps_bytes(store: Store) -> None:
    bodies = [bytes([i, 0, 0xFF, 0xFE]) + f"body {i}".encode() for i in range(6)]
    ids = [leads.inbox_add(store, "/webhooks/leads", 400, f"bad {i}", body, now=NOW + i, keep=3)
           for i, body in enumerate(bodies)]
    rows = leads.inbox_list(store)
    assert [r["id"] for r in rows] == ids[::-1][:3]                  # the newest 3, newest first
    assert [bytes(r["body"]) for r in rows] == bodies[::-1][:3]
    assert (rows[0]["path"], rows[0]["status"], rows[0]["error"], rows[0]["size"], rows[0]["received_at"]) == \
        ("/webhooks/leads", 400, "bad 5", len(bodies[5]), NOW + 5)
    assert len(leads.inbox_list(store, limit=2)) == 2
    big = leads.inbox_add(store, "/w", 500, "x" * 5000, b"\x01" * 100, body_max=10, keep=3)
    row = leads.inbox_list(store, limit=1)[0]
    assert (row["id"], bytes(row["body"]), row["size"], len(row["error"])) == (big, b"\x01" * 10, 100, 2000)


# ==================================================================== outbox

def test_outbox_states(store: Store) -> None:
    event = {"event_id": "ev-1", "event_name": "Purchase", "user_data": {"ph": ["abc"]}}
    assert outbox.enqueue(store, event, lead_id="7", call_id="c1", now=NOW) is True
    assert outbox.enqueue(store, dict(event, event_name="Other"), lead_id="7", call_id="c1", now=NOW + 1) is False
    rows = outbox.rows(store)
    assert len(rows) == 1 and rows[0]["payload"] == event and rows[0]["status"] == "pending"
    outbox.enqueue(store, {"event_id": "ev-2"}, lead_id=None, call_id=None, now=NOW + 10)
    assert [r["event_id"] for r in outbox.due(store, NOW + 10)] == ["ev-1", "ev-2"]
    assert [r["event_id"] for r in outbox.due(store, NOW + 5)] == ["ev-1"]

    assert outbox.claim(store, "ev-1") is True
    assert outbox.claim(store, "ev-1") is False                      # exactly one sender gets it
    assert outbox.mark_retry(store, "ev-1", "timeout", next_at=NOW + 60) is True
    assert outbox.mark_retry(store, "ev-1", "again", next_at=NOW + 60) is False   # only from sending
    assert [r["event_id"] for r in outbox.due(store, NOW + 30)] == ["ev-2"]   # ev-1 waits until +60
    assert outbox.claim(store, "ev-1") is True
    outbox.mark_sent(store, "ev-1", {"events_received": 1}, now=NOW + 61)
    sent = outbox.rows(store, "sent")
    assert len(sent) == 1 and sent[0]["attempts"] == 2 and sent[0]["response"] == {"events_received": 1}
    assert sent[0]["sent_at"] == NOW + 61 and sent[0]["last_error"] is None
    assert outbox.mark_failed(store, "ev-1", "late") is False        # never un-sends

    assert outbox.claim(store, "ev-2") is True
    assert outbox.mark_failed(store, "ev-2", "refused") is True
    assert outbox.rows(store, "failed")[0]["last_error"] == "refused"
    outbox.enqueue(store, {"event_id": "ev-3"}, lead_id=None, call_id=None, now=NOW)
    assert outbox.claim(store, "ev-3") is True
    assert outbox.reset_sending(store) == 1                           # start-up: back to pending
    assert outbox.rows(store, "pending")[0]["event_id"] == "ev-3"
    assert outbox.reset_sending(store) == 0


# =================================================================== privacy

def _recorded_call(store: Store, call_id: str, started: float, lead: Any = None) -> None:
    store.start_call(call_id, source="live", rep="sam", started=_iso(started), lead=lead, outcome="won", value=10.0)
    store.add_utterance(call_id, Utterance(0, Speaker.LEAD, 0.0, 1.0, "hello"))
    store.add_utterance(call_id, Utterance(1, Speaker.REP, 1.0, 2.0, "the plan is 49 a month"))
    store.add_intervention(call_id, 0, _iv())


def test_purge_by_retention(store: Store) -> None:
    _recorded_call(store, "old", NOW - 400 * DAY)
    _recorded_call(store, "mid", NOW - 45 * DAY)
    _recorded_call(store, "new", NOW - 1 * DAY)
    old_lead = leads.add_lead(store, source="cli", status="done", phone=PHONE, now=NOW - 200 * DAY).id
    calling = leads.add_lead(store, source="cli", status="calling", phone="+14155550000", now=NOW - 200 * DAY).id
    touched = leads.add_lead(store, source="cli", status="done", now=NOW - 200 * DAY).id
    leads.update(store, touched, now=NOW - 10 * DAY, reason="changed lately")       # dated by its last change
    leads.inbox_add(store, "/webhooks/leads", 400, "bad", b"{}", now=NOW - 40 * DAY)
    fresh_body = leads.inbox_add(store, "/webhooks/leads", 400, "bad", b"{}", now=NOW - 1 * DAY)
    options = RetentionOptions(transcripts=30, interventions=60, leads=90, webhook_inbox=7)
    assert options.any and not RetentionOptions().any

    would = privacy.purge(store, options, NOW, dry_run=True)
    assert would == {"utterances": 4, "interventions": 1, "calls": 1, "leads": 1, "webhook_inbox": 1}
    assert len(store.calls()) == 3                                    # a dry run changes nothing
    assert privacy.purge(store, options, NOW) == would
    assert [c["id"] for c in store.calls()] == ["mid", "new"]
    assert (len(store.utterances("mid")), len(store.interventions("mid"))) == (0, 1)
    assert (len(store.utterances("new")), len(store.interventions("new"))) == (2, 1)
    assert leads.get(store, old_lead) is None
    assert {r["id"] for r in leads.list(store)} == {calling, touched}
    assert [r["id"] for r in leads.inbox_list(store)] == [fresh_body]
    assert privacy.purge(store, options, NOW) == dict.fromkeys(would, 0)
    assert privacy.purge(store, RetentionOptions(), NOW + 1000 * DAY) == dict.fromkeys(would, 0)


def test_forget_a_lead_with_calls(request: pytest.FixtureRequest, store: Store) -> None:
    lid = leads.add_lead(store, source="facebook", leadgen_id="lg-77", status="ready", name="Jane", phone=PHONE,
                         email="jane@example.com", fields={"plan": "Premium"}).id
    _recorded_call(store, "linked", NOW - DAY)
    leads.update(store, lid, call_id="linked", status="done")
    _recorded_call(store, "dialled", NOW - 2 * DAY, lead=PHONE)      # the dialplan's number, no lead id
    _recorded_call(store, "someone-else", NOW - DAY, lead="+14155550000")
    store.set_outcome("linked", "won", "Jane wants two sites", "sup")
    outbox.enqueue(store, {"event_id": "e-lead"}, lead_id=str(lid), call_id=None, now=NOW)
    outbox.enqueue(store, {"event_id": "e-call"}, lead_id=None, call_id="dialled", now=NOW)
    outbox.enqueue(store, {"event_id": "e-other"}, lead_id="999", call_id="someone-else", now=NOW)
    leads.inbox_add(store, "/webhooks/leads", 400, "bad", f'{{"phone": "{PHONE}"}}'.encode(), now=NOW)
    leads.inbox_add(store, "/webhooks/leads", 400, "bad", b'{"phone": "+14155550000"}', now=NOW)
    leads.dnc_add(store, PHONE, "asked to be forgotten", now=NOW)

    would = privacy.forget(store, "(415) 555-2671", NOW, dry_run=True)
    assert would == {"leads": 1, "calls": 2, "utterances": 4, "interventions": 2, "outbox": 2,
                     "webhook_inbox": 1, "dnc_kept": 1}
    assert privacy.forget(store, "(415) 555-2671", NOW) == would
    lead = _lead(store, lid)
    assert (lead["status"], lead["name"], lead["phone"], lead["email"], lead["fields"]) == \
        ("erased", None, None, None, {})
    assert lead["leadgen_id"] == "lg-77"                             # still stops a retried webhook
    for cid in ("linked", "dialled"):
        call = _call(store, cid)
        assert (call["lead"], call["outcome_note"], call["outcome"], call["value"]) == (None, None, "won", 10.0)
        assert store.utterances(cid) == [] and store.interventions(cid) == []
    assert len(store.utterances("someone-else")) == 2
    assert [r["event_id"] for r in outbox.rows(store)] == ["e-other"]
    assert len(leads.inbox_list(store)) == 1
    assert leads.dnc_contains(store, PHONE)


def test_forget_a_lead_without_calls(request: pytest.FixtureRequest, store: Store) -> None:
    lid = leads.add_lead(store, source="cli", status="ready", name="No Number").id   # nothing to search bodies for
    other = leads.add_lead(store, source="cli", status="ready", name="Someone Else").id
    got = privacy.forget(store, f"lead:{lid}", NOW)
    assert got == {"leads": 1, "calls": 0, "utterances": 0, "interventions": 0, "outbox": 0, "webhook_inbox": 0}
    assert (_lead(store, lid)["status"], _lead(store, lid)["name"]) == ("erased", None)
    assert _lead(store, other)["name"] == "Someone Else"


# ==================================================================== schema

def test_a_fresh_store_is_at_latest_and_reopening_applies_nothing(store_target: str) -> None:
    s = Store(store_target)
    assert s.schema_version() == schema.LATEST and schema.pending(s.db) == []
    first = s.db.query("select version, name, applied from schema_version order by version")
    assert [r["version"] for r in first] == [m.version for m in schema.MIGRATIONS]
    assert schema.upgrade(s.db) == []
    s.close()
    again = Store(store_target)
    try:
        assert again.db.query("select version, name, applied from schema_version order by version") == first
        assert {"calls", "leads", "capi_outbox", "webhook_inbox", "dnc", "schema_version"} <= again.db.tables()
    finally:
        again.close()


def test_a_newer_database_is_refused(store_target: str) -> None:
    s = Store(store_target)
    newer = schema.LATEST + 1
    s.db.execute("insert into schema_version (version, name, applied) values (?, ?, ?)", [newer, "future", NOW])
    s.close()
    with pytest.raises(StoreError, match=rf"schema version {newer}\b"):
        Store(store_target)
    with pytest.raises(StoreError, match=rf"schema version {newer}\b"):   # and again: refusing wrote nothing
        Store(store_target)


# ==================================================================== worker

def test_worker_run_and_write_keep_order(store: Store) -> None:
    worker = StoreWorker(store)

    async def go() -> tuple[list[dict[str, Any]], Any, int]:
        worker.write(store.start_call, "c1", source="live")
        for i in range(40):
            worker.write(store.add_utterance, "c1", Utterance(i, Speaker.REP, float(i), i + 0.5, f"line {i}"))
        rows = await worker.run(store.utterances, "c1")             # sees every write handed over before it
        worker.write(store.set_outcome, "c1", "won", None, "sam")
        call = await worker.run(store.call, "c1")
        with pytest.raises(ValueError):
            await worker.run(leads.add_lead, store, source="nope")
        return rows, call, await worker.run(lambda: 7)

    try:
        rows, call, seven = asyncio.run(go())
    finally:
        left = worker.close()
    assert [r["idx"] for r in rows] == list(range(40))
    assert rows[39]["end"] == 39.5
    assert call["outcome"] == "won" and seven == 7
    assert left == 0 and worker.dropped == 0


# ============================================================ PostgreSQL only

def test_pg_two_connections_race_to_claim(pg_url: str) -> None:
    """Each Store is one connection used by one thread at a time (as its
    StoreWorker does); 8 threads over two stores race for each lead."""
    stores = [Store(pg_url), Store(pg_url)]
    locks = [threading.Lock(), threading.Lock()]
    try:
        ids = [leads.add_lead(stores[0], source="cli", status="ready", phone=f"+1415555{i:04d}").id
               for i in range(6)]
        assert leads.get(stores[1], ids[0]) is not None              # one database, seen by both
        for lid in ids:
            barrier = threading.Barrier(8)
            wins: list[bool] = []

            def claimant(n: int, lead_id: int = lid, gate: threading.Barrier = barrier,
                         out: list[bool] = wins) -> None:
                gate.wait()
                with locks[n % 2]:
                    out.append(leads.claim(stores[n % 2], lead_id, call_id=f"call-{n}", now=NOW))

            threads = [threading.Thread(target=claimant, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
            assert len(wins) == 8 and wins.count(True) == 1, wins
            assert _lead(stores[1], lid)["status"] == "calling"
    finally:
        for s in stores:
            s.close()


def test_pg_concurrent_upgrades_apply_each_migration_once(pg_url: str) -> None:
    stores = [Store(pg_url, upgrade=False), Store(pg_url, upgrade=False)]
    barrier = threading.Barrier(2)
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def up(s: Store) -> None:
        barrier.wait()
        try:
            applied.append([m.version for m in schema.upgrade(s.db)])
        except BaseException as e:                                   # pragma: no cover - the failure shown below
            errors.append(e)

    threads = [threading.Thread(target=up, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert errors == []
        assert sorted(v for one in applied for v in one) == [m.version for m in schema.MIGRATIONS]
        for s in stores:
            assert schema.current(s.db) == schema.LATEST
        rows = stores[0].db.query("select version, count(*) as n from schema_version group by version "
                                  "order by version")
        assert [(r["version"], r["n"]) for r in rows] == [(m.version, 1) for m in schema.MIGRATIONS]
    finally:
        for s in stores:
            s.close()


def _terminate_others(killer: Store) -> None:
    """Every other connection to this database, ended by the server, and gone before this returns."""
    others = "from pg_stat_activity where pid != pg_backend_pid() and datname = current_database()"
    killer.db.query(f"select pg_terminate_backend(pid) {others}")
    deadline = time.monotonic() + 10
    while killer.db.query(f"select count(*) as n {others}")[0]["n"] and time.monotonic() < deadline:
        time.sleep(0.02)


def test_pg_a_broken_connection_fails_once_then_reopens(pg_url: str) -> None:
    store, killer = Store(pg_url), Store(pg_url, upgrade=False)
    try:
        store.put_setting("k", "v")
        _terminate_others(killer)
        with pytest.raises(store.db.transient):
            store.setting("k")
        assert store.setting("k") == "v"                             # opened again
        store.put_setting("k", "w")
        assert killer.setting("k") == "w"

        worker = StoreWorker(store)                                  # the service's path: the break is retried

        async def go() -> Any:
            await worker.run(store.setting, "k")
            _terminate_others(killer)
            worker.write(store.put_setting, "k", "after")
            return await worker.run(store.setting, "k")

        try:
            assert asyncio.run(go()) == "after"
        finally:
            worker.close()
        assert worker.retries >= 1 and worker.dropped == 0
    finally:
        store.close()
        killer.close()
