"""CRM write-back (issue 17): [crm] config, signed webhooks, HubSpot, the
durable outbox's never-twice rule through retries, refusals, crashes and
restarts (on SQLite and PostgreSQL), erasure, and the service's queueing
from a call's end on the hub, against the stand-ins (intervene_harness/hubspot.py)
over real HTTP."""
from __future__ import annotations

import asyncio
import json
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

import pytest

from intervene.config import Config, ConfigError, load_config
from intervene.config.crm import CrmOptions, HubSpotOptions, WebhookTarget, crm_options
from intervene.config.env import Env
from intervene.leads.crm import CrmService, call_payload, clients, queue
from intervene.leads.crm_send import CrmSender, WebhookClient, delivery_id_for, http_error, sign, verify_signature
from intervene.leads.hubspot import HubSpotClient
from intervene.metrics import REGISTRY
from intervene.screen.hub import Hub
from intervene.store import crm_outbox
from intervene.store import leads as lead_store
from intervene.store.db import Store
from intervene.store.privacy import RetentionOptions, forget, purge
from intervene.store.worker import Inline
from intervene.vocab import Category, Intervention, Mode, Severity, Speaker, Utterance
from intervene_harness.hubspot import HubSpotStandIn, WebhookReceiver

SECRET = "whsec-test"
TOKEN = "pat-na1-test"
T0 = 1_800_000_000.0
FAST = dict(max_attempts=4, retry_base_s=0.001, retry_max_s=0.002)


def hook(url: str, events: tuple[str, ...] = ("call.ended", "call.outcome", "lead.qualified")) -> WebhookTarget:
    return WebhookTarget(url=url, events=events, secret=SECRET, secret_env="X", timeout_s=5.0)


def options(url: str = "", hs: str = "", **kw: Any) -> CrmOptions:
    return CrmOptions(webhooks=(hook(url),) if url else (),
                      hubspot=HubSpotOptions(token=TOKEN, base_url=hs) if hs else None, **{**FAST, **kw})


def put(store: Store, target: str, subject: str, event: str = "call.ended", data: Optional[dict] = None,
        now: float = T0, call_id: Optional[str] = "c1", lead_id: Optional[str] = None) -> str:
    did = delivery_id_for(target, event, subject)
    assert crm_outbox.enqueue(store, did, target, event, subject, data or {"call_id": call_id}, now,
                              call_id=call_id, lead_id=lead_id)
    return did


def stored_call(store: Store, call_id: str = "c1", lead_id: Optional[int] = None, worker: str = "w1",
                source: str = "live", lead: Optional[str] = "+14155552671") -> None:
    store.start_call(call_id, source=source, rep="sam", started="2027-01-15T08:00:00Z", lead=lead,
                     profile="standard", mode="mixed", worker=worker)
    store.add_utterance(call_id, Utterance(0, Speaker.LEAD, 0.0, 2.0, "is it 49 a month"))
    store.add_utterance(call_id, Utterance(1, Speaker.REP, 2.0, 5.0, "yes it is 49"))
    store.add_intervention(call_id, 0, Intervention(5.2, 1, Category.ACCURACY, Severity.HIGH, Mode.SILENT,
                                                    "kb-mismatch", "said 49 a month", "It is 59 a month."))
    store.finish_call(call_id, 95.5)
    if lead_id is not None:
        store.update_call(call_id, lead_id=lead_id)


async def drain(sender: CrmSender, store: Store, rounds: int = 50) -> None:
    for i in range(rounds):
        await sender.run_once(T0 + 1e7 + i)                  # every backoff (milliseconds here) has passed
        if not crm_outbox.rows(store, "pending"):
            return
        await asyncio.sleep(0.005)


# ---------------------------------------------------------------------- config
def test_config_reads_webhooks_and_hubspot_with_secrets_from_env(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[crm]\nmax_attempts = 3\n[[crm.webhook]]\nurl = "https://crm.example.com/h?k=1"\n'
                 'secret_env = "HOOK_SECRET"\nevents = ["call.ended"]\n'
                 '[[crm.webhook]]\nurl = "https://b.example.com/x"\nsecret = "s2"\nname = "zap"\n'
                 '[crm.hubspot]\nevents = ["call.outcome", "lead.qualified"]\nbase_url = "http://127.0.0.1:9"\n'
                 '[crm.hubspot.properties]\nbudget = "budget_range"\n')
    cfg = load_config(p, Env.read({"HOOK_SECRET": "s1", "HUBSPOT_TOKEN": "pat"}))
    a, b = cfg.crm.webhooks
    assert (a.secret, a.events, b.secret, b.target, cfg.crm.max_attempts) == ("s1", ("call.ended",), "s2", "zap", 3)
    assert a.target.startswith("webhook-") and "k=1" not in a.target
    assert cfg.crm.hubspot is not None and cfg.crm.hubspot.token == "pat"
    assert cfg.crm.hubspot.properties == (("budget", "budget_range"),)
    assert "pat" not in repr(cfg.crm) and "s1" not in repr(cfg.crm)            # secrets never in a repr (logs)
    assert Config().crm == CrmOptions() and not CrmOptions().any


@pytest.mark.parametrize("text, needle", [
    ('[[crm.webhook]]\nurl = "https://x.example"\nsecret = "s"\nevents = ["call.started"]', "'call.started'"),
    ('[[crm.webhook]]\nurl = "ftp://x"\nsecret = "s"', "url"),
    ('[[crm.webhook]]\nurl = "https://x.example"', "secret_env"),
    ('[[crm.webhook]]\nurl = "https://x.example"\nsecret = "s"\ncolour = 1', "colour"),
    ('[crm.hubspot]\ntoken = "pat-in-the-file"', "token_env"),
    ('[crm.hubspot]\nevents = []', "events"),
    ('[crm.hubspot.properties]\nbudget = "Budget Range"', "properties.budget"),
    ('[crm]\nmax_attempts = 0', "max_attempts"),
])
def test_bad_config_is_a_config_error_naming_the_key(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p, Env.read({}))
    assert "[crm]" in str(e.value) and needle in str(e.value)
    assert "pat-in-the-file" not in str(e.value)


def test_missing_token_or_secret_is_a_clear_error_at_start_up() -> None:
    opts = crm_options(tomllib.loads('[hubspot]\n'), {})
    with pytest.raises(ConfigError, match="set HUBSPOT_TOKEN in the environment"):
        clients(opts)
    opts = crm_options(tomllib.loads('[[webhook]]\nurl = "https://x.example/h"\nsecret_env = "HOOK_S"\n'), {})
    with pytest.raises(ConfigError, match="set HOOK_S in the environment"):
        clients(opts)
    ok = crm_options(tomllib.loads('[hubspot]\ntoken_env = "MY_HS"\n'), {"MY_HS": "pat"})
    assert set(clients(ok)) == {"hubspot"}


# ------------------------------------------------------------------- signature
def test_signature_scheme_and_verification() -> None:
    body = b'{"id":"crm-1","event":"call.ended"}'
    sig = sign(SECRET, "1800000000", body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify_signature(SECRET, "1800000000", body, sig, now=T0 + 10)
    assert not verify_signature(SECRET, "1800000000", body + b" ", sig, now=T0)           # body changed
    assert not verify_signature("other", "1800000000", body, sig, now=T0)                 # wrong secret
    assert not verify_signature(SECRET, "1800000001", body, sig, now=T0)                  # timestamp changed
    assert not verify_signature(SECRET, "1800000000", body, sig, now=T0 + 301)            # a replay, too late
    assert not verify_signature(SECRET, "soon", body, sig, now=T0)


# ------------------------------------------------------------------ webhooks
def test_webhook_signed_delivered_and_deduplicated_in_the_outbox(store_target: str) -> None:
    store = Store(store_target)

    async def go() -> WebhookReceiver:
        rx = WebhookReceiver(SECRET)
        url = await rx.start()
        try:
            target = hook(url).target
            did = put(store, target, "c1", data={"call_id": "c1", "outcome": "won"})
            assert not crm_outbox.enqueue(store, did, target, "call.ended", "c1", {}, T0)   # never twice
            sender = CrmSender(store, {target: WebhookClient(hook(url))}, options(url))
            assert await sender.run_once(T0) == 1
            assert await sender.run_once(T0 + 1) == 0
            await sender.clients[target].close()
        finally:
            await rx.stop()
        return rx
    rx = asyncio.run(go())
    assert len(rx.received) == 1 and rx.refused == []
    got = rx.received[0]
    assert got["doc"]["event"] == "call.ended" and got["doc"]["data"] == {"call_id": "c1", "outcome": "won"}
    assert got["doc"]["created"] == "2027-01-15T08:00:00Z"
    h = got["headers"]
    assert h["X-Intervene-Delivery"] == got["doc"]["id"] and h["X-Intervene-Event"] == "call.ended"
    assert h["X-Intervene-Signature"] == sign(SECRET, h["X-Intervene-Timestamp"], got["body"])
    (row,) = crm_outbox.rows(store)
    assert row["status"] == "sent" and row["payload"] is None and row["attempts"] == 1   # payload dropped once sent
    store.close()


def test_a_wrong_secret_is_refused_by_the_receiver_and_not_retried() -> None:
    async def go() -> tuple[WebhookReceiver, list[dict]]:
        rx = WebhookReceiver("the-receivers-secret")
        url = await rx.start()
        store = Store(":memory:")
        try:
            target = hook(url).target
            put(store, target, "c1")
            sender = CrmSender(store, {target: WebhookClient(hook(url))}, options(url))
            await drain(sender, store)
            await sender.clients[target].close()
            return rx, crm_outbox.rows(store)
        finally:
            await rx.stop()
    rx, rows = asyncio.run(go())
    assert rx.received == [] and [r["status"] for r in rx.refused] == [401]
    assert rows[0]["status"] == "failed" and "HTTP 401" in rows[0]["last_error"]      # 4xx: not retried


def test_retry_with_backoff_after_500_and_429_then_delivered_once() -> None:
    async def go() -> tuple[WebhookReceiver, dict]:
        rx = WebhookReceiver(SECRET)
        url = await rx.start()
        store = Store(":memory:")
        try:
            target = hook(url).target
            put(store, target, "c1")
            rx.fail_next(1, 500)
            rx.fail_next(1, 429, retry_after=0)
            sender = CrmSender(store, {target: WebhookClient(hook(url))}, options(url))
            slow = CrmSender(store, {}, CrmOptions(retry_base_s=1.0, retry_max_s=100.0))
            for n, base in ((1, 1.0), (2, 2.0), (3, 4.0), (20, 100.0)):                 # exponential, capped,
                assert base <= slow.delay(n) <= base * 1.25                              # with jitter
            assert slow.delay(1, at_least=30.0) == 30.0                                  # Retry-After wins
            assert await sender.run_once(T0) == 0
            assert crm_outbox.due(store, T0) == []                                       # waits its backoff
            await drain(sender, store)
            await sender.clients[target].close()
            return rx, crm_outbox.rows(store)[0]
        finally:
            await rx.stop()
    rx, row = asyncio.run(go())
    assert [r["status"] for r in rx.refused] == [500, 429]
    assert len(rx.received) == 1 and len(rx.deliveries) == 1
    assert {r["delivery"] for r in rx.refused} == set(rx.deliveries)                    # the same delivery id
    assert row["status"] == "sent" and row["attempts"] == 3


def test_a_400_is_failed_not_retried_and_attempts_run_out() -> None:
    async def go() -> tuple[WebhookReceiver, list[dict]]:
        rx = WebhookReceiver(SECRET)
        url = await rx.start()
        store = Store(":memory:")
        try:
            target = hook(url).target
            put(store, target, "c1")
            put(store, target, "c2", call_id="c2", now=T0 + 1)             # after c1: c1 meets the 400
            rx.fail_next(1, 400)
            rx.fail_next(9, 503)
            sender = CrmSender(store, {target: WebhookClient(hook(url))}, options(url))
            await drain(sender, store)
            await sender.clients[target].close()
            return rx, crm_outbox.rows(store)
        finally:
            await rx.stop()
    rx, rows = asyncio.run(go())
    by = {r["subject"]: r for r in rows}
    assert by["c1"]["status"] == "failed" and by["c1"]["attempts"] == 1 and "HTTP 400" in by["c1"]["last_error"]
    assert by["c2"]["status"] == "failed" and by["c2"]["attempts"] == FAST["max_attempts"]
    assert "gave up after 4 attempts" in by["c2"]["last_error"]
    assert by["c1"]["payload"] is not None                                  # kept for the admin to look at
    assert rx.received == []


def test_restart_between_queue_and_send_and_a_crash_mid_send(store_target: str) -> None:
    """Queued with the sender off, the store closed; a new Store on the same
    file/URL and a new sender deliver it exactly once. A row a crash left in
    `sending` (it had reached the receiver) goes again with the same
    delivery id, and the receiver keeps it once."""
    first = Store(store_target)
    rx = WebhookReceiver(SECRET)

    async def go() -> Store:
        url = await rx.start()
        try:
            target = hook(url).target
            now = time.time()
            a = put(first, target, "a", call_id="a", now=now)
            b = put(first, target, "b", call_id="b", now=now)
            # "crash": b claimed and delivered, never marked sent
            assert crm_outbox.claim(first, b)
            direct = WebhookClient(hook(url))
            await direct.deliver(next(r for r in crm_outbox.rows(first) if r["delivery_id"] == b), {})
            await direct.close()
            first.close()

            restarted = Store(store_target)                       # a new process, same database
            assert [r["delivery_id"] for r in crm_outbox.due(restarted, time.time())] == [a]
            sender = CrmSender(restarted, {target: WebhookClient(hook(url))}, options(url), poll_s=0.01)
            stop = asyncio.Event()
            task = asyncio.create_task(sender.run(stop))
            for _ in range(300):
                if {r["status"] for r in crm_outbox.rows(restarted)} == {"sent"}:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)                             # a few more passes: nothing goes again
            stop.set()
            await asyncio.wait_for(task, 5)
            return restarted
        finally:
            await rx.stop()
    restarted = asyncio.run(go())
    ids = [r["doc"]["id"] for r in rx.received]
    a, b = (delivery_id_for(hook(rx.url).target, "call.ended", s) for s in ("a", "b"))
    assert ids.count(a) == 1 and ids.count(b) == 2                # b re-sent: same id
    assert set(rx.deliveries) == {a, b}                           # the receiver keeps each once
    assert {r["status"] for r in crm_outbox.rows(restarted)} == {"sent"}
    restarted.close()


# -------------------------------------------------------------------- HubSpot
def record(call_id: str = "c1", outcome: str = "unknown", email: str = "dana@example.com") -> dict[str, Any]:
    return {"call_id": call_id, "started": "2027-01-15T08:00:00Z", "duration_s": 95.5, "rep": "sam",
            "profile": "standard", "mode": "mixed", "outcome": outcome, "source": "lead-flow",
            "lead": {"id": "9001", "name": "Dana Reyes", "phone": "+14155552671", "email": email,
                     "fields": {"budget": {"amount": 15000, "currency": "USD"}, "timeline": "next month"}},
            "transcript": [], "score": {"total": 78, "parts": {}},
            "summary": "Dana wants solar within a month; the rep quoted 49, corrected to 59.",
            "interventions": [{"category": "accuracy", "severity": "high", "detected": "said 49 a month",
                               "say": "It is 59 a month.", "feedback": "used"}]}


def run_hubspot(steps, custom: tuple[str, ...] = (), token: str = TOKEN, lag: int = 0):
    async def main():
        hs = HubSpotStandIn(token=TOKEN, custom=custom)
        hs.search_lag = lag
        url = await hs.start()
        store = Store(":memory:")
        props = (("budget", "budget_range"),) if custom else ()
        client = HubSpotClient(HubSpotOptions(token=token, base_url=url, properties=props))
        sender = CrmSender(store, {"hubspot": client}, options(hs=url))
        try:
            await steps(hs, store, sender)
        finally:
            await client.close()
            await hs.stop()
        return hs, crm_outbox.rows(store)
    return asyncio.run(main())


def test_hubspot_contact_created_then_updated_and_the_call_logged_once() -> None:
    async def steps(hs, store, sender):
        queue(store, sender.options, "lead.qualified", "9001:c1",
              {"lead": record()["lead"], "call_id": "c1"}, T0, call_id="c1", lead_id="9001")
        await drain(sender, store)
        assert len(hs.contacts) == 1 and hs.calls == {}
        queue(store, sender.options, "call.ended", "c1", record(), T0 + 1, call_id="c1", lead_id="9001")
        await drain(sender, store)
        queue(store, sender.options, "call.outcome", "c1:won", record(outcome="won"), T0 + 2, call_id="c1")
        await drain(sender, store)
    hs, rows = run_hubspot(steps, custom=("budget_range",))
    (contact,) = hs.contacts.values()                                            # one contact, not three
    p = contact["properties"]
    assert (p["firstname"], p["lastname"], p["email"], p["phone"], p["budget_range"]) == (
        "Dana", "Reyes", "dana@example.com", "+14155552671", "15000 USD")
    (call,) = hs.calls.values()                                                  # one engagement: outcome updated it
    cp = call["properties"]
    assert call["contacts"] == [contact["id"]]
    assert cp["hs_call_status"] == "COMPLETED" and cp["hs_call_direction"] == "OUTBOUND"
    assert cp["hs_call_duration"] == "95500" and cp["hs_timestamp"] == "2027-01-15T08:00:00Z"
    assert "(won)" in cp["hs_call_title"]
    body = cp["hs_call_body"]
    for part in ("Outcome: won", "Score: 78", "Duration: 1:35", "Dana wants solar", "accuracy/high",
                 "It is 59 a month.", "timeline: next month"):
        assert part in body, part
    assert "budget" not in body.split("Captured:")[-1]                           # mapped to a property instead
    assert [r["status"] for r in rows] == ["sent"] * 3
    methods = [(e["method"], e["path"].rsplit("/", 1)[-1] if e["method"] == "PATCH" else e["path"]) for e in hs.log]
    assert methods.count(("POST", "/crm/v3/objects/calls")) == 1


def test_hubspot_second_contact_by_email_updates_through_409_when_search_lags() -> None:
    async def steps(hs, store, sender):
        queue(store, sender.options, "call.ended", "c1", record("c1"), T0, call_id="c1")
        queue(store, sender.options, "call.ended", "c2", record("c2", email="DANA@example.com"), T0 + 1, call_id="c2")
        await drain(sender, store)
    hs, rows = run_hubspot(steps, lag=1)
    assert len(hs.contacts) == 1 and len(hs.calls) == 2
    assert [e["status"] for e in hs.log if e["path"] == "/crm/v3/objects/contacts"] == [201, 409]
    (cid,) = hs.contacts
    assert all(c["contacts"] == [cid] for c in hs.calls.values())


def test_hubspot_429_and_500_are_retried_and_a_bad_token_fails() -> None:
    async def steps(hs, store, sender):
        hs.fail_next(1, 429)
        hs.fail_next(1, 500)
        queue(store, sender.options, "call.ended", "c1", record(), T0, call_id="c1")
        await drain(sender, store)
    hs, rows = run_hubspot(steps)
    assert rows[0]["status"] == "sent" and rows[0]["attempts"] == 3 and len(hs.calls) == 1

    async def refused(hs, store, sender):
        queue(store, sender.options, "call.ended", "c1", record(), T0, call_id="c1")
        await drain(sender, store)
    hs, rows = run_hubspot(refused, token="wrong")
    assert rows[0]["status"] == "failed" and rows[0]["attempts"] == 1
    assert "HUBSPOT_TOKEN" in rows[0]["last_error"] and "wrong" not in rows[0]["last_error"]
    assert hs.contacts == {} and hs.calls == {}


def test_hubspot_call_without_contact_details_is_logged_unassociated() -> None:
    async def steps(hs, store, sender):
        rec = record()
        rec["lead"] = {"id": "anonymous"}
        queue(store, sender.options, "call.ended", "c1", rec, T0, call_id="c1")
        queue(store, sender.options, "lead.qualified", "1:c1", {"lead": {"id": "1"}}, T0, call_id="c1", lead_id="1")
        await drain(sender, store)
    hs, rows = run_hubspot(steps)
    assert hs.contacts == {} and [c["contacts"] for c in hs.calls.values()] == [[]]
    assert {r["status"] for r in rows} == {"sent"}


# ----------------------------------------------------------------- erasure
def test_forget_and_purge_remove_crm_rows(store_target: str) -> None:
    store = Store(store_target)
    lid = lead_store.add_lead(store, source="facebook", leadgen_id="9001", status="done", name="Dana Reyes",
                              phone="+14155552671", email="dana@example.com", now=T0).id
    stored_call(store, "c1", lead_id=lid)
    stored_call(store, "c2", lead=None)
    stored_call(store, "c3", lead="+14155550100")
    put(store, "hubspot", f"{lid}:c1", "lead.qualified", call_id="c1", lead_id=str(lid))
    sent = put(store, "hubspot", "c1", call_id="c1", lead_id=str(lid))
    assert crm_outbox.claim(store, sent)
    crm_outbox.mark_sent(store, sent, T0, {"call": "77"})
    put(store, "hubspot", "c2", call_id="c2")                                   # someone else's
    put(store, "hubspot", "c3", call_id="c3", now=T0 - 200 * 86400)              # old
    assert forget(store, "+1 415 555 2671", T0, dry_run=True)["crm_outbox"] == 2
    assert forget(store, "+1 415 555 2671", T0)["crm_outbox"] == 2
    assert sorted(r["subject"] for r in crm_outbox.rows(store)) == ["c2", "c3"]
    assert "crm_outbox" not in forget(store, "+1 415 555 2671", T0)               # nothing left of theirs
    opts = RetentionOptions(transcripts=90, leads=365)
    assert purge(store, opts, T0, dry_run=True)["crm_outbox"] == 1
    assert purge(store, opts, T0)["crm_outbox"] == 1
    assert [r["subject"] for r in crm_outbox.rows(store)] == ["c2"]
    assert "crm_outbox" not in purge(store, opts, T0)
    store.close()


# ------------------------------------------------------- the service's queueing
def test_call_payload_is_the_record_with_contact_details(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db")
    lid = lead_store.add_lead(store, source="facebook", leadgen_id="9001", status="done", name="Dana Reyes",
                              phone="+14155552671", email="dana@example.com", fields={"budget": "10k"}, now=T0).id
    stored_call(store, "c1", lead_id=lid, source="lead-flow")
    stored_call(store, "walk-in", lead="+1 415 555 0100")
    stored_call(store, "rehearsal", source="practice")
    stored_call(store, "theirs", worker="w2")
    made = call_payload(store, "c1", lambda cid: {"id": "9001", "source": "facebook", "fields": {"budget": "10k"}})
    assert made is not None
    rec, lead_id = made
    assert lead_id == str(lid) and rec["source"] == "lead-flow" and rec["duration_s"] == 95.5
    assert rec["lead"] == {"id": "9001", "source": "facebook", "fields": {"budget": "10k"}, "name": "Dana Reyes",
                           "phone": "+14155552671", "email": "dana@example.com"}
    assert [u["text"] for u in rec["transcript"]] == ["is it 49 a month", "yes it is 49"]
    assert rec["interventions"][0]["say"] == "It is 59 a month." and "score" in rec
    walk_in = call_payload(store, "walk-in", lambda cid: None)
    assert walk_in is not None and walk_in[0]["lead"]["phone"] == "+1 415 555 0100"
    assert call_payload(store, "rehearsal", lambda cid: None) is None              # practice: never sent
    assert call_payload(store, "theirs", lambda cid: None, worker="w1") is None    # another worker's call
    assert call_payload(store, "nope", lambda cid: None) is None


def test_service_queues_on_call_end_outcome_and_qualification_and_delivers(tmp_path: Path) -> None:
    """The closest to the live path without Asterisk: the hub's `ended` push
    (what pbx/call.py makes), the screen's outcome hook and the lead flow's
    timeline drive CrmService, whose sender delivers to the receiver."""
    store = Store(tmp_path / "s.db")
    lid = lead_store.add_lead(store, source="facebook", leadgen_id="9001", status="calling", name="Dana Reyes",
                              phone="+14155552671", email="dana@example.com", now=T0).id
    stored_call(store, "c1", lead_id=lid)
    stored_call(store, "rehearsal", source="practice")
    rx = WebhookReceiver(SECRET)

    async def go() -> None:
        url = await rx.start()
        hub = Hub()
        services = SimpleNamespace(db=Inline(), store=store, config=Config(), worker="w1", screen=hub)
        crm = CrmService(services, options(url), lambda cid: None)  # type: ignore[arg-type]
        assert crm.sender is not None
        crm.sender.poll_s = 0.01
        stop = asyncio.Event()
        task = asyncio.create_task(crm.run(stop))
        await asyncio.sleep(0.05)                               # the hub watcher subscribed
        crm.on_timeline({"event": "qualified", "lead_id": lid, "call_id": "c1", "fields": {"budget": "10k"}})
        hub.call("c1", state="live")
        hub.call("c1", state="ended", ended_at=time.time())
        hub.call("c1", state="ended", outcome="won")            # a second `ended` push: no second event
        hub.call("rehearsal", state="ended", practice=True)
        crm.on_outcome("c1", "won")
        crm.on_outcome("c1", "won")                             # the same outcome again: the same delivery
        for _ in range(300):
            if len(rx.deliveries) >= 3 and not crm_outbox.rows(store, "pending"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)
        await rx.stop()
    asyncio.run(go())
    target = hook(rx.url).target
    assert REGISTRY.get_sample_value("intervene_crm_deliveries_total", {"target": target, "result": "sent"}) == 3
    events = sorted(d["event"] for d in rx.deliveries.values())
    assert events == ["call.ended", "call.outcome", "lead.qualified"]
    assert len(rx.received) == 3
    by = {d["event"]: d["data"] for d in rx.deliveries.values()}
    assert by["call.ended"]["call_id"] == "c1" and by["call.ended"]["lead"]["email"] == "dana@example.com"
    assert by["call.ended"]["summary"] and by["call.outcome"]["interventions"][0]["say"] == "It is 59 a month."
    assert by["lead.qualified"]["lead"]["fields"] == {"budget": "10k"} and by["lead.qualified"]["call_id"] == "c1"
    assert json.dumps(by).count("rehearsal") == 0
    store.close()


def test_an_error_reply_echoing_contact_details_is_masked_before_it_is_kept_or_logged() -> None:
    """A receiver's error body may repeat what it was sent; last_error and the log keep it masked."""
    err = http_error(422, "invalid phone +1 (415) 555-2671\n for dana@example.com", {}, "hook")
    assert "555" not in str(err) and "dana@" not in str(err)
    assert "HTTP 422" in str(err) and "[number]" in str(err) and "[email]" in str(err)


def test_catch_up_queues_call_ended_for_ended_calls_whose_end_was_missed(store_target: str) -> None:
    """A call whose `ended` push was never seen (a restart in between, a database
    error, a listener far behind) is still queued: this worker's ended live calls
    of the last day without a call.ended row, and no other call."""
    store = Store(store_target)
    stored_call(store, "missed")                                       # ended, live, this worker: queued
    stored_call(store, "theirs", worker="w2")                          # another worker's call: theirs to queue
    stored_call(store, "rehearsal", source="practice")                 # practice: never sent
    stored_call(store, "imported", source="import")                    # someone else's record: not a call of ours
    store.start_call("ongoing", source="live", rep="sam", started="2027-01-15T08:00:00Z", worker="w1")
    store.start_call("old", source="live", rep="sam", started="2027-01-13T08:00:00Z", worker="w1")
    store.finish_call("old", 60.0)                                     # ended two days ago: out of the window
    stored_call(store, "seen")
    services = SimpleNamespace(db=Inline(), store=store, config=Config(), worker="w1", screen=None)
    crm = CrmService(services, options("http://127.0.0.1:9/hook", hs="https://hs.invalid"),  # type: ignore[arg-type]
                     lambda cid: None, made={})
    assert crm._queue_call("call.ended", "seen", "seen", "w1") == 2   # the push was seen: both targets queued
    assert crm.catch_up(T0 + 3600) == 1
    queued = {(r["call_id"], r["target"]) for r in crm_outbox.rows(store) if r["event"] == "call.ended"}
    assert {c for c, _ in queued} == {"missed", "seen"} and len(queued) == 4
    assert crm.catch_up(T0 + 3600) == 0                               # nothing left: never queued twice
    store.close()
