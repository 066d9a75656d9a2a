"""Issue 15 for the lead flow: a replayed plain webhook, the same number
from two sources, signed but hostile Facebook bodies, names in caller IDs,
a batch in one transaction off the event loop, "delete my data" on the
call, and numbers kept out of the logs. Each test fails on the code before."""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, AsyncIterator, Optional

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from intervene.config.leads import Campaign, LeadOptions, lead_options
from intervene.leads import erasure
from intervene.leads.intake import CALLER_NAME_MAX, IntakeError, caller_name, loads, parse_plain, sign
from intervene.leads.understand.dialogue import End, Qualifier
from intervene.leads.understand.intent import asks_erasure, parse_intent
from intervene.leads.webhooks import LeadIntake, LeadWebhooks, settle
from intervene.store import leads as db
from intervene.store.db import Store
from intervene.store.worker import StoreWorker
from intervene_harness.graph import GraphStandIn, leadgen_payload, signed

SECRET, PLAIN = "app-secret", "plain-secret"
FORM, PAGE = "2222", "1111"
CAMPAIGNS = {"solar": Campaign(id="solar", form_ids=(FORM,))}
OPTIONS = LeadOptions(app_secret=SECRET, leads_secret=PLAIN, page_token="tok", graph_tries=1,
                      graph_backoff_s=0.001, call_hours="00:00-24:00", call_days="mon-sun")
NY = "+12125550123"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "leads.db")
    yield s
    s.close()


class Hooks:
    """The webhooks on a real HTTP server, with the service's StoreWorker."""

    def __init__(self, store: Store, options: LeadOptions, worker: Optional[StoreWorker]) -> None:
        self.store, self.options, self.worker = store, options, worker
        self.told: list[int] = []

    async def start(self) -> "Hooks":
        self.hooks = LeadWebhooks(self.store, self.options, CAMPAIGNS, on_lead=self.told.append, worker=self.worker)
        app = web.Application(client_max_size=8 * 2**20)
        self.hooks.add_routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.http = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        await self.http.close()
        await self.runner.cleanup()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        async with self.http.post(self.url + path, data=body, headers=headers) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def plain(self, payload: Any, secret: str = PLAIN) -> tuple[int, Any]:
        body = json.dumps(payload).encode()
        return await self.plain_raw(body, secret)

    async def plain_raw(self, body: bytes, secret: str = PLAIN) -> tuple[int, Any]:
        return await self.post("/webhooks/leads", body, {"X-Intervene-Signature-256": sign(secret, body)})

    async def facebook_raw(self, body: bytes, secret: str = SECRET) -> tuple[int, Any]:
        return await self.post("/webhooks/facebook", body, {"X-Hub-Signature-256": sign(secret, body)})


@asynccontextmanager
async def hooks(store: Store, options: LeadOptions = OPTIONS, worker: bool = True) -> AsyncIterator[Hooks]:
    w = StoreWorker(store) if worker else None
    h = await Hooks(store, options, w).start()
    try:
        yield h
    finally:
        await h.stop()
        if w is not None:
            w.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------ 1. replayed plain webhook
def test_a_plain_lead_signed_once_and_posted_twice_is_called_once(store):
    async def go():
        async with hooks(store) as h:
            bare = {"name": "Dana", "phone": "212 555 0123"}
            status, err = await h.plain(bare)             # no id, no timestamp: a copy could be replayed
            assert status == 400 and "timestamp" in err["error"] and "id" in err["error"]
            assert db.list_leads(store) == []
            body = json.dumps({**bare, "timestamp": time.time()}).encode()
            first = await h.plain_raw(body)
            again = await h.plain_raw(body)               # the same signed request, replayed
            assert first[0] == 200 and first[1]["status"] == "ready" and not first[1]["duplicate"]
            assert again[0] == 200 and again[1]["duplicate"] and again[1]["id"] == first[1]["id"]
            assert len(db.list_leads(store)) == 1
            old = await h.plain({**bare, "timestamp": time.time() - OPTIONS.webhook_window_s - 60})
            assert old[0] == 400 and "window" in old[1]["error"]          # captured long ago: refused
            iso = await h.plain({"name": "Kim", "phone": "212 555 0124", "timestamp":
                                 time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            assert iso[0] == 200 and iso[1]["status"] == "ready"
            # bodies with the sender's id work as before
            by_id = await h.plain({"name": "Sam", "phone": "212 555 0125", "id": "crm-9"})
            assert by_id[0] == 200 and by_id[1]["status"] == "ready"
            await asyncio.sleep(0.02)
            assert sorted(h.told) == sorted([first[1]["id"], iso[1]["id"], by_id[1]["id"]])
    run(go())


def test_plain_timestamp_is_checked():
    assert parse_plain({"name": "a", "phone": "1", "timestamp": 1.7e9}).timestamp == 1.7e9
    assert parse_plain({"name": "a", "phone": "1", "timestamp": "2025-06-04T15:00:00+02:00"}).timestamp == 1749042000
    for bad in (True, "yesterday", "2025-06-04T15:00:00", -5, [1], "x" * 100):
        with pytest.raises(IntakeError, match="timestamp"):
            parse_plain({"name": "a", "phone": "1", "timestamp": bad})


def test_config_windows(tmp_path):
    o = lead_options({"redial_window_s": 3600, "webhook_window_s": 120})
    assert (o.redial_window_s, o.webhook_window_s) == (3600.0, 120.0)
    assert LeadOptions().redial_window_s == 86400.0
    with pytest.raises(ValueError, match="redial_window_s"):
        lead_options({"redial_window_s": -1})
    with pytest.raises(ValueError, match="webhook_window_s"):
        lead_options({"webhook_window_s": 0})


# -------------------------------------------------- 2. one number, called once
def test_the_same_number_from_three_sources_is_called_once(store, tmp_path, monkeypatch):
    async def go():
        async with hooks(store) as h:
            graph = GraphStandIn(token="tok")
            gurl = await graph.start()
            intake = LeadIntake(store, replace(OPTIONS, graph_url=gurl), CAMPAIGNS, worker=h.worker)
            try:
                a = await h.plain({"name": "Dana", "phone": "(212) 555-0123", "id": "crm-1"})
                assert a[1]["status"] == "ready"
                b = await h.plain({"name": "Dana R", "phone": "+1 212 555 0123", "id": "crm-2"})
                assert b[1]["status"] == "duplicate-number" and f"lead {a[1]['id']}" in b[1]["reason"]
                graph.add_lead("501", form_id=FORM, full_name="Dana", phone_number="2125550123")
                _, fb = await h.facebook_raw(json.dumps(leadgen_payload([{"leadgen_id": "501", "page_id": PAGE,
                                                                          "form_id": FORM}])).encode())
                row = await intake.process(fb["ids"][0])
                assert row["status"] == "duplicate-number" and "redial_window_s" in row["reason"]
                assert [r["id"] for r in db.due(store, time.time() + 1)] == [a[1]["id"]]
            finally:
                await intake.close()
                await graph.stop()
    run(go())
    # `intervene leads add` in another process: the same
    from intervene.cli.main import main
    monkeypatch.delenv("INTERVENE_CONFIG", raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[leads]\ncall_hours = "00:00-24:00"\ncall_days = "mon-sun"\n')
    out = CliRunner().invoke(main, ["--db", str(tmp_path / "leads.db"), "--config", str(cfg), "leads", "add",
                                    "--name", "Dana", "--phone", "2125550123"])
    assert out.exit_code == 0 and "\tduplicate-number\t" in out.output and "not be called" in out.output


def test_a_number_called_within_the_window_is_not_called_again_and_the_claim_checks_too(store):
    now = 1_750_000_000.0
    day = OPTIONS.redial_window_s
    # two leads made ready at once (a CLI in another process, say): intake could not tell; the claim does
    a = db.add_lead(store, source="cli", status="ready", phone=NY, next_at=now, now=now)
    b = db.add_lead(store, source="cli", status="ready", phone=NY, next_at=now, now=now)
    assert db.claim(store, a.id, now=now)
    assert not db.claim(store, b.id, now=now + 1)
    row = db.get_lead(store, b.id)
    assert row["status"] == "duplicate-number" and "is being called" in row["reason"]
    db.update_lead(store, a.id, status="done", now=now + 60)
    # a new lead 23 hours later: intake files it as a duplicate
    c = db.add_lead(store, source="cli", now=now + 23 * 3600)
    got = settle(store, OPTIONS, CAMPAIGNS, c.id, "Dana", NY, None, {}, now + 23 * 3600)
    assert got["status"] == "duplicate-number" and "was called 23.0 h ago" in got["reason"]
    # a day and more later: called again
    d = db.add_lead(store, source="cli", now=now + day + 60)
    assert settle(store, OPTIONS, CAMPAIGNS, d.id, "Dana", NY, None, {}, now + day + 60)["status"] == "ready"
    assert db.claim(store, d.id, now=now + day + 61, redial_window_s=day)
    # the window can be switched off
    e = db.add_lead(store, source="cli", now=now + day + 62)
    off = replace(OPTIONS, redial_window_s=0)
    assert settle(store, off, CAMPAIGNS, e.id, "Dana", NY, None, {}, now + day + 62)["status"] == "ready"
    assert db.claim(store, e.id, now=now + day + 63, redial_window_s=0)


# ------------------------------------------- 3. signed but hostile Facebook bodies
HOSTILE = {
    "deep nesting": b'{"object": "page", "entry": ' + b"[" * 50000 + b"]" * 50000 + b"}",
    "created_time 1e999": json.dumps(leadgen_payload([{"leadgen_id": "7", "page_id": PAGE, "form_id": FORM}]))
    .replace('"created_time": ', '"created_time": 1e999, "x": ').encode(),
    "NaN": b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "leadgen", "value": '
           b'{"leadgen_id": "8", "created_time": NaN}}]}]}',
    "huge number": b'{"object": "page", "entry": [{"id": ' + b"9" * 5000 + b', "changes": []}]}',
    "lone surrogate": b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "leadgen", "value": '
                      b'{"leadgen_id": "\\ud800", "form_id": "2222"}}]}]}',
    "wrong types": b'{"object": "page", "entry": [{"id": {"a": 1}, "changes": [{"field": "leadgen", "value": '
                   b'{"leadgen_id": [1], "page_id": 1.5}}]}]}',
    "not an object": b'[1, 2, 3]',
    "not utf-8": b'{"object": "page\xff"}',
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_a_signed_malformed_facebook_body_is_a_400_and_kept_for_inspection(store, what):
    body = HOSTILE[what]

    async def go():
        async with hooks(store) as h:
            status, answer = await h.facebook_raw(body)
            assert status == 400, (status, answer)
            assert isinstance(answer, dict) and answer["error"]
            kept = db.inbox_list(store)
            assert len(kept) == 1 and kept[0]["path"] == "/webhooks/facebook" and kept[0]["status"] == 400
            assert kept[0]["size"] == len(body) and bytes(kept[0]["body"]) == body[:db.INBOX_BODY_MAX]
            assert kept[0]["error"] == answer["error"]
            assert db.list_leads(store) == []
            # not signed: refused, and nothing kept (anyone could send it)
            status, _ = await h.post("/webhooks/facebook", body, {"X-Hub-Signature-256": sign("wrong", body)})
            assert status == 403 and len(db.inbox_list(store)) == 1
    run(go())


def test_a_large_but_finite_created_time_is_read():
    body = json.dumps(leadgen_payload([{"leadgen_id": "7", "page_id": PAGE, "form_id": FORM}])).replace(
        '"created_time": ', '"created_time": 1e308, "y": ').encode()
    assert loads(body)["entry"][0]["changes"][0]["value"]["created_time"] == 1e308


def test_the_inbox_is_bounded_in_rows_and_bytes(store):
    for i in range(12):
        db.inbox_add(store, "/webhooks/leads", 400, "bad", b"x" * 100, now=float(i), keep=5, body_max=10)
    rows = db.inbox_list(store)
    assert len(rows) == 5 and [r["received_at"] for r in rows] == [11.0, 10.0, 9.0, 8.0, 7.0]
    assert all(len(r["body"]) == 10 and r["size"] == 100 for r in rows)


def test_a_signed_malformed_plain_body_is_kept_too(store):
    async def go():
        async with hooks(store) as h:
            status, err = await h.plain_raw(b'{"name": "x", "phone": 1e999}')
            assert status == 400 and "too large" in err["error"]
            assert db.inbox_list(store)[0]["path"] == "/webhooks/leads"
    run(go())


# --------------------------------------------------------------- 4. caller ID
def test_a_leads_name_is_made_safe_for_a_caller_id():
    evil = 'Dana "Boss" <sip:x@evil>\r\nVia: SIP/2.0\\ \x00\x1b[31m'
    safe = caller_name(evil)
    assert safe == "Dana Boss sipxevil Via SIP2.0 31m"
    assert not any(c in safe for c in '"<>\\\r\n\x00;:@')
    assert caller_name("Seán O'Brien-Núñez") == "Seán O'Brien-Núñez"
    assert len(caller_name("A" * 500)) == CALLER_NAME_MAX
    assert caller_name('"<>') == "Lead" and caller_name(None) == "Lead" and caller_name("\u202eevil") == "evil"


def test_the_lead_flow_puts_only_safe_names_in_caller_ids():
    """Both legs: the rep is rung with the lead's name as caller ID, and the
    lead's call carries it in its arguments (pbx reads `name` for caller IDs)."""
    import inspect

    from intervene.leads import flow
    src = inspect.getsource(flow.LeadCall)
    assert "callerId=caller_name(name)" in src and '"name": caller_name(' in src


# -------------------------------------------------- 5. a batch in one transaction
def test_a_batch_of_3000_is_one_commit_on_the_store_thread(store):
    commits: list[str] = []
    threads: set[str] = set()

    def trace(sql: str) -> None:
        threads.add(threading.current_thread().name)
        if sql.strip().upper().startswith("COMMIT"):
            commits.append(sql)

    body, _ = signed(SECRET, leadgen_payload([{"leadgen_id": str(10**9 + i), "page_id": PAGE, "form_id": FORM}
                                              for i in range(3000)]))

    async def go():
        async with hooks(store) as h:
            store.db.conn.set_trace_callback(trace)
            t = time.perf_counter()
            status, answer = await h.facebook_raw(body)
            took = time.perf_counter() - t
            store.db.conn.set_trace_callback(None)
            assert status == 200 and answer["received"] == 3000
            return took
    took = run(go())
    assert len(commits) == 1, len(commits)
    assert threads == {"intervene-store"}                 # never on the event loop's thread
    assert len(db.list_leads(store)) == 3000
    logging.getLogger(__name__).info("3,000 leads: %.3f s", took)


# ------------------------------------------------------- 6. "delete my data"
ERASE = ["Delete my data.", "please remove my details", "Don't keep my information.", "erase my number",
         "I want my data deleted", "can you wipe all of my personal information",
         "I'd like you to delete any information you have on me", "get rid of my details please",
         "Actually, delete everything you have on me.", "do not store my phone number",
         "make sure my details are deleted", "I'm invoking my right to be forgotten",
         "yeah no, just erase my contact details and stop calling"]
NOT_ERASE = ["don't delete my data", "yes I'm interested", "stop calling me", "take me off your list",
             "we need to delete old records from our system", "I forgot my password", "remove me from your list",
             "please don't remove my details", "forget it", "we need to keep our data safe",
             "I need it to store my data securely", "my details are correct"]


@pytest.mark.parametrize("text", ERASE)
def test_asking_for_erasure_is_recognised(text):
    assert asks_erasure(text) and parse_intent(text, 0.0).kind == "erase"


@pytest.mark.parametrize("text", NOT_ERASE)
def test_what_is_not_an_erasure_request(text):
    assert not asks_erasure(text)


def test_erasure_ends_the_qualification_politely_without_a_rep():
    q = Qualifier("Acme", "Ava", "Dana", now=0.0)
    q.start(0.0)
    q.heard("yes", 1.0)
    end = q.heard("Actually, please delete my data.", 2.0)
    assert isinstance(end, End) and end.reason == "erase" and end.callback_at is None
    assert "delete your details" in end.say and "Goodbye" in end.say
    assert q.heard("budget is 5k", 3.0) is end                 # over: nothing more is asked


def test_an_erasure_request_calls_forget_after_the_call(store, monkeypatch):
    """The wiring, whatever privacy.forget does: the lead's number and email
    are forgotten, once, and a failure leaves it for the sweep."""
    got: list[tuple[str, float]] = []

    def fake_forget(s: Store, who: str, now: float, dry_run: bool = False) -> dict[str, int]:
        got.append((who, now))
        return {"leads": 1}
    monkeypatch.setattr(erasure, "forget", fake_forget)
    a = db.add_lead(store, source="cli", status="erase-requested", phone=NY, email="d@example.com", now=1.0)
    db.add_lead(store, source="cli", status="done", phone="+12125550199", now=1.0)
    assert erasure.erase(store, a.id, 5.0) == {"leads": 2}
    assert got == [(NY, 5.0), ("d@example.com", 5.0)] and db.get_lead(store, a.id)["status"] == "erased"
    assert erasure.erase(store, a.id, 6.0) is None                # done once

    def broken(s: Store, who: str, now: float, dry_run: bool = False) -> dict[str, int]:
        raise RuntimeError("disk full")
    monkeypatch.setattr(erasure, "forget", broken)
    b = db.add_lead(store, source="cli", status="erase-requested", phone="+12125550188", now=1.0)
    warned: set[int] = set()
    assert erasure.erase_due(store, 7.0, warned) == 0 and warned == {b.id}
    assert db.get_lead(store, b.id)["status"] == "erase-requested"     # the sweep tries again


def test_an_erasure_request_really_erases_the_lead(store):
    a = db.add_lead(store, source="webhook", status="erase-requested", name="Dana", phone=NY,
                    email="d@example.com", fields={"budget": "5k"}, now=1.0)
    try:
        done = erasure.erase(store, a.id, 10.0)
    except NotImplementedError:
        pytest.skip("intervene.store.privacy.forget is not written yet")
    assert done is not None and done.get("leads", 0) >= 1
    row = db.get_lead(store, a.id)
    assert row is None or (row["status"] == "erased" and not row["name"] and not row["phone"] and not row["email"])


# ---------------------------------------------------------- 7. numbers out of logs
def test_numbers_stay_out_of_the_logs(store, caplog):
    async def go():
        async with hooks(store) as h:
            with caplog.at_level(logging.DEBUG, logger="intervene.leads"):
                await h.plain({"name": "X", "phone": "2125550", "id": "a"})                  # no-phone: reason names it
                await h.plain({"name": "Y", "phone": "2125550987", "id": "b"})
                await h.plain({"name": "Y", "phone": "2125550987", "id": "c"})               # duplicate-number
                await h.plain_raw(b'{"name": "Z", "phone": "2125550876", "id": 1e999}')      # refused, kept
    run(go())
    text = caplog.text
    assert "lead 1: no-phone" in text and "duplicate-number" in text and "webhook_inbox" in text
    for number in ("2125550", "5550987", "5550876"):
        assert number not in text


# --------------------------------------------------- 8. nothing on the loop's thread
def test_intake_and_webhooks_use_the_store_thread(store):
    seen: set[str] = set()

    async def go():
        async with hooks(store) as h:
            store.db.conn.set_trace_callback(lambda sql: seen.add(threading.current_thread().name))
            await h.plain({"name": "Dana", "phone": "2125550123", "id": "x"})
            await h.plain_raw(b"{bad")
            graph = GraphStandIn(token="tok")
            gurl = await graph.start()
            intake = LeadIntake(store, replace(OPTIONS, graph_url=gurl), CAMPAIGNS, worker=h.worker)
            graph.add_lead("77", form_id=FORM, full_name="Kim", phone_number="2125550177")
            _, fb = await h.post("/webhooks/facebook", *signed(SECRET, leadgen_payload(
                [{"leadgen_id": "77", "page_id": PAGE, "form_id": FORM}])))
            assert (await intake.process(fb["ids"][0]))["status"] == "ready"
            await intake.retry_due()
            await intake.close()
            await graph.stop()
            store.db.conn.set_trace_callback(None)
    run(go())
    assert seen == {"intervene-store"}
