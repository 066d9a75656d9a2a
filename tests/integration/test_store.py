"""Tests for intervene.store.db.Store: schema, KB import/merge/remove/export,
the embedding cache, and call records surviving a close and reopen."""
from __future__ import annotations

import dataclasses
import json
import pathlib
import sqlite3

import numpy as np
import pytest
import yaml

from intervene.kb.loader import load_kb, load_kb_text
from intervene.store.db import Store, StoreError, text_hash
from intervene.vocab import Category, Evidence, Intervention, Mode, Severity, Speaker, Utterance

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACME = ROOT / "kb" / "acme.yaml"
ACME_ITEMS = 17   # 3 products, 5 facts, 2 competitors, 2 opportunities, 1 promotion,
                  # 1 forbidden, 1 required, 2 process steps


def acme_doc() -> dict:
    return yaml.safe_load(ACME.read_text(encoding="utf-8"))


@pytest.fixture
def store(tmp_path: pathlib.Path):
    s = Store(tmp_path / "sub" / "x.db")
    yield s
    s.close()


def reopen(s: Store) -> Store:
    s.close()
    return Store(s.path)


def without_source(kb):
    return dataclasses.replace(kb, source="")


# -------------------------------------------------------------------- schema

def test_schema_created(store: Store) -> None:
    assert store.path.exists()
    names = store.db.tables()
    assert {"kb_meta", "kb_items", "embeddings", "calls", "utterances", "interventions"} <= names
    assert store.kb_items() == []
    assert store.kb_document() is None
    assert store.calls() == []


def test_reopen_existing_store_keeps_data(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    s2 = reopen(store)
    try:
        assert len(s2.kb_items()) == ACME_ITEMS
    finally:
        s2.close()


def test_not_sqlite_file_raises_store_error(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "notes.db"
    p.write_text("these are my notes, definitely not a database\n" * 20)
    with pytest.raises(StoreError) as info:
        Store(p)
    assert str(p) in str(info.value)


def test_unusable_path_raises_store_error(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = blocker / "x.db"                 # parent is a file: cannot create
    with pytest.raises(StoreError) as info:
        Store(p)
    assert str(p) in str(info.value)


# ------------------------------------------------------------------------ kb

def test_kb_import_counts_added_then_unchanged(store: Store) -> None:
    assert store.kb_import(acme_doc(), "acme.yaml") == {"added": ACME_ITEMS, "changed": 0, "unchanged": 0}
    assert store.kb_import(acme_doc(), "acme.yaml") == {"added": 0, "changed": 0, "unchanged": ACME_ITEMS}
    assert len(store.kb_items()) == ACME_ITEMS


def test_kb_import_counts_an_edit_and_an_addition(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    doc = acme_doc()
    doc["products"][0]["facts"][1] = "Includes four years of support."
    doc["facts"].append({"id": "trial", "text": "New customers get a 14-day free trial."})
    assert store.kb_import(doc, "acme-v2.yaml") == {"added": 1, "changed": 1, "unchanged": ACME_ITEMS - 1}
    items = {(it["section"], it["id"]): it for it in store.kb_items()}
    assert items[("products", "standard")]["data"]["facts"][1] == "Includes four years of support."
    assert items[("products", "standard")]["source"] == "acme-v2.yaml"
    assert items[("products", "premium")]["source"] == "acme.yaml"      # unchanged: not rewritten
    assert items[("facts", "trial")]["data"]["text"].startswith("New customers")


def test_kb_import_is_a_merge(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    extra = {"company": "Acme Business Networks",
             "facts": [{"id": "refund", "text": "Customers can cancel within 60 days for a full refund."}]}
    assert store.kb_import(extra, "extra.yaml") == {"added": 0, "changed": 1, "unchanged": 0}
    assert len(store.kb_items()) == ACME_ITEMS       # nothing else removed
    [refund] = [it for it in store.kb_items() if it["id"] == "refund"]
    assert "60 days" in refund["data"]["text"]


def test_same_id_in_two_sections_are_separate_items(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    hits = sorted(it["section"] for it in store.kb_items() if it["id"] == "multi-site")
    assert hits == ["opportunities", "products"]


def test_kb_remove(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    assert store.kb_remove("refund") == 1
    assert not [it for it in store.kb_items() if it["id"] == "refund"]
    assert store.kb_remove("refund") == 0
    assert store.kb_remove("multi-site", section="opportunities") == 1
    assert [it["section"] for it in store.kb_items() if it["id"] == "multi-site"] == ["products"]
    assert store.kb_remove("no-such-id") == 0
    assert len(store.kb_items()) == ACME_ITEMS - 2
    s2 = reopen(store)
    try:
        assert len(s2.kb_items()) == ACME_ITEMS - 2          # removal was committed
    finally:
        s2.close()


def test_kb_remove_in_both_sections(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    assert store.kb_remove("multi-site") == 2


def test_kb_document_round_trip(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    doc = store.kb_document()
    assert doc is not None and doc["company"] == "Acme Business Networks"
    kb = load_kb_text(yaml.safe_dump(doc, sort_keys=False), "stored")
    assert without_source(kb) == without_source(load_kb(ACME))


def test_kb_document_round_trip_after_edit_and_remove(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    edited = acme_doc()
    edited["competitors"][0]["positioning"] = "NetCo charges a $299 setup fee."
    store.kb_import(edited, "acme.yaml")
    assert store.kb_remove("hardware-warranty") == 1
    kb = load_kb_text(yaml.safe_dump(store.kb_document()), "stored")
    expected = acme_doc()
    expected["facts"] = [f for f in expected["facts"] if f["id"] != "hardware-warranty"]
    expected["competitors"][0]["positioning"] = "NetCo charges a $299 setup fee."
    want = load_kb_text(yaml.safe_dump(expected, sort_keys=False), "expected")
    assert without_source(kb) == without_source(want)


def test_kb_document_keeps_order_within_sections(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    doc = store.kb_document()
    assert [p["id"] for p in doc["products"]] == ["standard", "premium", "multi-site"]
    assert [f["id"] for f in doc["facts"]] == ["refund", "contract", "setup-fee", "support-hours",
                                               "hardware-warranty"]
    assert [p["id"] for p in doc["process"]] == ["ask-timeline", "ask-devices"]
    assert doc["compliance"]["required"][0]["within_s"] == 90


def test_kb_meta_follows_the_latest_import(store: Store) -> None:
    store.kb_import(acme_doc(), "acme.yaml")
    store.kb_import({"company": "Acme Networks Inc", "assistant": {"name": "Ada"}}, "rename.yaml")
    doc = store.kb_document()
    assert doc["company"] == "Acme Networks Inc"
    assert doc["assistant"] == {"name": "Ada"}


# ---------------------------------------------------------------- embeddings

def test_text_hash_is_stable_and_distinguishes() -> None:
    assert text_hash("abc") == text_hash("abc")
    assert text_hash("abc") != text_hash("abd")


def test_vectors_round_trip(store: Store) -> None:
    rng = np.random.default_rng(0)
    vecs = {"Includes three years of support.": rng.standard_normal(384),          # float64 in
            "There is no setup fee on any plan.": rng.standard_normal(384).astype(np.float32),
            "": np.zeros(384, np.float32)}
    store.put_vectors("mini", vecs)
    got = store.get_vectors("mini", [*vecs, "never stored"])
    assert set(got) == set(vecs)
    for t, v in vecs.items():
        assert got[t].dtype == np.float32 and got[t].shape == (384,)
        np.testing.assert_allclose(got[t], np.asarray(v, np.float32))
    assert store.get_vectors("other-model", list(vecs)) == {}      # keyed by model
    assert store.get_vectors("mini", []) == {}


def test_vectors_persist_and_overwrite(store: Store) -> None:
    store.put_vectors("m", {"a": np.ones(4)})
    store.put_vectors("m", {"a": np.full(4, 2.0)})
    s2 = reopen(store)
    try:
        np.testing.assert_array_equal(s2.get_vectors("m", ["a"])["a"], np.full(4, 2.0, np.float32))
    finally:
        s2.close()


def test_many_vectors_in_one_lookup(store: Store) -> None:
    texts = [f"fact number {i}" for i in range(1234)]
    store.put_vectors("m", {t: np.full(3, i, np.float32) for i, t in enumerate(texts)})
    got = store.get_vectors("m", texts)
    assert len(got) == len(texts)
    assert all(got[t][0] == i for i, t in enumerate(texts))


# --------------------------------------------------------------------- calls

def test_call_records_survive_reopen(store: Store) -> None:
    us = [Utterance(0, Speaker.REP, 0.0, 3.2, "Hi, this is Mark."),
          Utterance(1, Speaker.LEAD, 3.6, 7.9, "How long is support?"),
          Utterance(2, Speaker.REP, 8.0, 10.0, "Two years.")]
    iv = Intervention(10.9, 2, Category.ACCURACY, Severity.HIGH, Mode.VOICE, "kb-mismatch",
                      "said two years", "Actually, three years of support.",
                      (Evidence("standard", "Includes three years of support."),))
    store.start_call("call-1", source="call.jsonl", rep="sam", team="east", profile="standard",
                     mode="mixed", kb="acme.yaml")
    for u in us:
        store.add_utterance("call-1", u)
    store.add_intervention("call-1", 0, iv)
    store.finish_call("call-1", 10.0)
    store.start_call("call-2", source="other.jsonl", profile="minimal")
    path = store.path
    store.close()

    s2 = Store(path)
    try:
        calls = {c["id"]: c for c in s2.calls()}
        assert set(calls) == {"call-1", "call-2"}
        c1 = calls["call-1"]
        assert (c1["source"], c1["rep"], c1["team"], c1["profile"], c1["kb"]) == \
               ("call.jsonl", "sam", "east", "standard", "acme.yaml")
        assert c1["duration_s"] == 10.0
        assert c1["outcome"] == "unknown"
        assert c1["started"].endswith("Z")
        [row] = s2.interventions("call-1")
        assert row["seq"] == 0 and row["at"] == 10.9 and row["utterance"] == 2
        assert (row["category"], row["severity"], row["mode"], row["trigger"]) == \
               ("accuracy", "high", "voice", "kb-mismatch")
        assert row["say"] == "Actually, three years of support."
        assert json.loads(row["evidence"]) == [{"kb_id": "standard", "text": "Includes three years of support."}]
        assert row["feedback"] is None
        assert s2.interventions("call-2") == []
    finally:
        s2.close()

    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("select idx, speaker, start, end, text from utterances "
                            "where call_id='call-1' order by idx").fetchall()
    finally:
        conn.close()
    assert rows == [(u.index, u.speaker.value, u.start, u.end, u.text) for u in us]


def test_rewriting_an_utterance_replaces_it(store: Store) -> None:
    store.start_call("c")
    store.add_utterance("c", Utterance(0, Speaker.REP, 0.0, 1.0, "draft"))
    store.add_utterance("c", Utterance(0, Speaker.REP, 0.0, 1.5, "final text"))
    rows = list(store.db.query("select text, end from utterances where call_id='c'"))
    assert rows == [{"text": "final text", "end": 1.5}]


def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path: pathlib.Path) -> None:
    """Calls, leads and users are personal data: owner-only, whatever the umask."""
    import os
    old = os.umask(0o022)
    try:
        s = Store(tmp_path / "private.db")
        s.put_setting("k", "v")                          # a write: WAL mode now has -wal and -shm
        files = [tmp_path / n for n in ("private.db", "private.db-wal", "private.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}
        s.close()
    finally:
        os.umask(old)


def test_calls_of_before_go_to_the_login_that_holds_their_phone_once(store: Store) -> None:
    """Calls stored before ownership went by login carry the phone's name in
    `rep`; opening the store gives each to the one rep or admin holding that
    phone, once, and leaves what it cannot tell apart alone."""
    store.put_user("alice", role="rep", endpoint="PJSIP/rep7")
    store.put_user("bob", role="rep", endpoint="PJSIP/rep3")
    store.put_user("boss", role="supervisor", endpoint="PJSIP/rep8")
    store.put_user("carol", role="rep", endpoint="PJSIP/rep9")
    store.put_user("dave", role="admin", endpoint="PJSIP/rep9")
    calls = {"c1": ("rep7", "PJSIP/rep7"),      # the phone's name: alice holds it
             "c2": ("bob", "PJSIP/rep7"),       # a login already: stays
             "c3": ("rep8", "PJSIP/rep8"),      # a supervisor's phone: takes no calls
             "c4": ("rep9", "PJSIP/rep9"),      # two hold it: cannot tell
             "c5": ("rep5", "PJSIP/rep5"),      # nobody holds it
             "c6": ("rep6", None)}              # older still: no phone recorded
    for cid, (rep, endpoint) in calls.items():
        store.start_call(cid, source="live", rep=rep, rep_endpoint=endpoint)
    store.delete_setting("migrated.calls-by-login")            # a database from before this version
    store.db.execute("drop table schema_version")              # ... and before numbered migrations
    store = reopen(store)
    reps = {cid: (store.call(cid) or {})["rep"] for cid in calls}
    assert reps == {"c1": "alice", "c2": "bob", "c3": "rep8", "c4": "rep9", "c5": "rep5", "c6": "rep6"}
    assert store.setting("migrated.calls-by-login") == "1"
    store.put_user("erin", role="rep", endpoint="PJSIP/rep5")  # rep5's phone handed out later
    store = reopen(store)
    assert {cid: (store.call(cid) or {})["rep"] for cid in calls} == reps     # once only: erin gets no old calls
    store.close()
