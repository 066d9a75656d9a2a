"""Call outcomes to Facebook's Conversions API: the event's shape and privacy,
the outbox's never-twice rule, and delivery through retries, refusals, crashes
and restarts, against the stand-in (sim/capi.py) over real HTTP."""
from __future__ import annotations

import asyncio
import hashlib
import json

from intervene.leads import capi
from intervene.leads.capi import CapiClient, CapiError, OutboxSender, conversion_event
from intervene.store import outbox
from intervene.store.db import Store
from intervene_harness.capi import CapiStandIn

NAMES = {"won": "Purchase", "follow-up": "Lead", "lost": "LostLead"}
LEAD = {"leadgen_id": "1234567890123456", "phone": "+1 (650) 555-1212", "email": "  John_Smith@Gmail.com ",
        "call_id": "call-1"}
T0 = 1_760_000_000.0
FAST = (0.001, 0.001, 0.001)
# Meta's own examples (Customer Information Parameters): the normalised value and its SHA-256
PHONE_SHA = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"      # 16505551212
EMAIL_SHA = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"      # john_smith@gmail.com


def lead(i: int, **kw) -> dict:
    return dict(LEAD, leadgen_id=str(1234567890123400 + i), call_id=f"call-{i}", **kw)


def queue(store: Store, n: int, now: float = T0, first: int = 0) -> list[str]:
    ids = []
    for i in range(first, first + n):
        ev = conversion_event(lead(i), "won", NAMES, now)
        assert outbox.enqueue(store, ev, ev["user_data"]["lead_id"], f"call-{i}", now)
        ids.append(ev["event_id"])
    return ids


def run(coro_fn):
    """Start a stand-in, run coro_fn(standin, url), stop it."""
    async def main():
        fb = CapiStandIn(token="tok-123")
        url = await fb.start()
        try:
            return await coro_fn(fb, url)
        finally:
            await fb.stop()
    return asyncio.run(main())


def client(url: str, **kw) -> CapiClient:
    return CapiClient(url, "v21.0", "987654321", kw.pop("token", "tok-123"), **kw)


# ------------------------------------------------------------------ the event
def test_event_shape_matches_the_conversion_leads_spec():
    ev = conversion_event(LEAD, "won", NAMES, T0 + 0.7)
    assert ev == {
        "event_name": "Purchase",
        "event_time": int(T0),
        "action_source": "system_generated",
        "event_id": ev["event_id"],
        "user_data": {"lead_id": 1234567890123456, "ph": [PHONE_SHA], "em": [EMAIL_SHA]},
        "custom_data": {"event_source": "crm", "lead_event_source": "intervene"},
    }
    assert ev["event_id"] == "iv-" + hashlib.sha256(b"1234567890123456|call-1|won").hexdigest()[:24]
    assert conversion_event(LEAD, "won", NAMES, T0, crm_name="Acme CRM")["custom_data"]["lead_event_source"] == "Acme CRM"


def test_hashes_are_of_the_normalised_values():
    assert capi.normalize_phone("+14155550123") == "14155550123"
    assert capi.normalize_phone("00 44 844 412 4653") == "448444124653"
    assert capi.hash_phone("+16505551212") == PHONE_SHA == hashlib.sha256(b"16505551212").hexdigest()
    assert capi.hash_email("JOHN_SMITH@gmail.com\n") == EMAIL_SHA
    assert capi.hash_phone(None) is None and capi.hash_phone("") is None and capi.hash_phone("+") is None
    assert capi.hash_email(None) is None and capi.hash_email("   ") is None


def test_raw_contact_data_appears_nowhere():
    for who in (LEAD, dict(LEAD, phone="+14155550123", email="a.b@example.com")):
        text = json.dumps(conversion_event(who, "follow-up", NAMES, T0))
        for raw in (who["phone"], who["email"], who["email"].strip().lower(),
                    capi.normalize_phone(who["phone"]), "555"):
            assert raw not in text, raw


def test_missing_contact_fields_are_left_out():
    ev = conversion_event(dict(LEAD, phone=None, email=""), "won", NAMES, T0)
    assert ev["user_data"] == {"lead_id": 1234567890123456}


def test_nothing_to_send_without_a_leadgen_id_or_a_mapping():
    assert conversion_event(dict(LEAD, leadgen_id=None), "won", NAMES, T0) is None
    assert conversion_event(dict(LEAD, leadgen_id=""), "won", NAMES, T0) is None
    assert conversion_event(LEAD, "unknown", NAMES, T0) is None
    assert conversion_event(LEAD, "no-decision", NAMES, T0) is None
    assert conversion_event(LEAD, "won", {"won": ""}, T0) is None


def test_event_id_is_stable_and_distinct():
    a = conversion_event(LEAD, "won", NAMES, T0)["event_id"]
    assert conversion_event(dict(LEAD), "won", NAMES, T0 + 3600)["event_id"] == a     # a later retry: same
    assert conversion_event(LEAD, "lost", NAMES, T0)["event_id"] != a                 # another outcome
    assert conversion_event(dict(LEAD, call_id="call-2"), "won", NAMES, T0)["event_id"] != a
    assert conversion_event(dict(LEAD, leadgen_id="1"), "won", NAMES, T0)["event_id"] != a


# ----------------------------------------------------------------- the outbox
def test_outbox_never_enqueues_the_same_event_twice(tmp_path):
    store = Store(tmp_path / "iv.db")
    ev = conversion_event(LEAD, "won", NAMES, T0)
    assert outbox.enqueue(store, ev, "1234567890123456", "call-1", T0)
    assert not outbox.enqueue(store, ev, "1234567890123456", "call-1", T0 + 5)
    assert not outbox.enqueue(store, conversion_event(LEAD, "won", NAMES, T0 + 60), "x", "call-1", T0 + 60)
    [row] = outbox.rows(store)
    assert row["payload"] == ev and row["status"] == "pending" and row["attempts"] == 0
    assert row["lead_id"] == "1234567890123456" and row["call_id"] == "call-1"
    assert LEAD["email"].strip() not in json.dumps(row) and "6505551212" not in json.dumps(row)
    outbox.claim(store, ev["event_id"])
    outbox.mark_sent(store, ev["event_id"], {"events_received": 1}, T0 + 1)
    assert not outbox.enqueue(store, ev, "1234567890123456", "call-1", T0 + 2)      # not even once sent
    assert [r["status"] for r in outbox.rows(store)] == ["sent"]


def test_claim_is_exclusive_and_due_respects_next_at(tmp_path):
    store, other = Store(tmp_path / "iv.db"), None
    [eid] = queue(store, 1)
    other = Store(tmp_path / "iv.db")                           # a second process on the same file
    assert [r["event_id"] for r in outbox.due(other, T0)] == [eid]
    assert outbox.claim(store, eid)
    assert not outbox.claim(other, eid) and not outbox.claim(store, eid)
    assert outbox.due(other, T0) == []
    assert outbox.mark_retry(store, eid, "HTTP 500", T0 + 10)
    assert outbox.due(store, T0 + 9) == [] and len(outbox.due(store, T0 + 10)) == 1
    assert outbox.rows(store)[0]["attempts"] == 1
    assert not outbox.mark_failed(store, eid, "not claimed")     # only from sending


# ----------------------------------------------------------------- the client
def test_client_posts_what_facebook_expects():
    async def go(fb, url):
        ev = conversion_event(LEAD, "won", NAMES, T0)
        async with CapiClient(url, "v21.0", "987654321", "tok-123", test_event_code="TEST42") as c:
            answer = await c.send(ev)
        assert answer["events_received"] == 1 and answer["messages"] == [] and answer["fbtrace_id"]
        assert fb.bodies == [{"data": [ev], "test_event_code": "TEST42"}]
        assert fb.log[0]["path"] == "/v21.0/987654321/events"
    run(go)


def test_client_errors_are_classified_and_never_show_the_token():
    async def go(fb, url):
        ev = conversion_event(LEAD, "won", NAMES, T0)
        c = client(url)
        for status, retryable in ((500, True), (503, True), (429, True), (400, False)):
            fb.fail_next(1, status)
            try:
                await c.send(ev)
                raise AssertionError("no error")
            except CapiError as e:
                assert (e.retryable, e.status) == (retryable, status), e.message
                assert "tok-123" not in e.message
        bad = client(url, token="tok-WRONG")
        try:
            await bad.send(ev)
            raise AssertionError("no error")
        except CapiError as e:
            assert not e.retryable and "code 190" in e.message and "tok-WRONG" not in e.message
        try:                                                    # unhashed email: Facebook refuses it
            await c.send(dict(ev, user_data={"lead_id": 1, "em": ["a@b.c"]}))
            raise AssertionError("no error")
        except CapiError as e:
            assert not e.retryable and "hashed" in e.message
        fb.delay_s = 0.5
        try:
            async with client(url, timeout_s=0.05) as slow:
                await slow.send(ev)
            raise AssertionError("no error")
        except CapiError as e:
            assert e.retryable and "timed out" in e.message
        fb.delay_s = 0
        await c.close()
        await bad.close()
    run(go)


def test_connection_refused_is_retryable_and_scrubbed():
    async def go():
        fb = CapiStandIn()
        url = await fb.start()
        await fb.stop()                                         # nothing listens there now
        c = CapiClient(url, "v21.0", "1", "SECRET-TOKEN-xyz")
        try:
            await c.send(conversion_event(LEAD, "won", NAMES, T0))
            raise AssertionError("no error")
        except CapiError as e:
            assert e.retryable and "SECRET-TOKEN-xyz" not in e.message
        assert "SECRET" not in repr(c)
        await c.close()
    asyncio.run(go())


# ----------------------------------------------------------------- the sender
def test_sender_delivers_the_outbox(tmp_path):
    store = Store(tmp_path / "iv.db")
    ids = queue(store, 3)

    async def go(fb, url):
        s = OutboxSender(store, client(url), backoff=FAST)
        assert await s.run_once(T0) == 3
        assert await s.run_once(T0 + 100) == 0                  # nothing left: nothing re-sent
        await s.client.close()
        return fb.events
    events = run(go)
    assert [e["event_id"] for e in events] == ids
    rows = outbox.rows(store)
    assert all(r["status"] == "sent" and r["attempts"] == 1 and r["response"]["events_received"] == 1
               for r in rows)


def test_server_errors_are_retried_with_backoff_and_sent_once(tmp_path):
    store = Store(tmp_path / "iv.db")
    [eid] = queue(store, 1)

    async def go(fb, url):
        fb.fail_next(2, 500)
        s = OutboxSender(store, client(url), backoff=(10, 20, 40))
        assert await s.run_once(T0) == 0
        row = outbox.rows(store)[0]
        assert (row["status"], row["attempts"], row["next_at"]) == ("pending", 1, T0 + 10)
        assert "HTTP 500" in row["last_error"]
        assert await s.run_once(T0 + 9) == 0 and len(fb.log) == 1       # not due yet
        assert await s.run_once(T0 + 10) == 0
        assert outbox.rows(store)[0]["next_at"] == T0 + 10 + 20
        assert await s.run_once(T0 + 30) == 1
        assert await s.run_once(T0 + 1000) == 0
        await s.client.close()
        return fb
    fb = run(go)
    assert [e["event_id"] for e in fb.events] == [eid]                  # delivered exactly once
    assert [x["status"] for x in fb.log] == [500, 500, 200]
    row = outbox.rows(store)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 3, None)


def test_a_refusal_fails_the_row_and_is_not_retried(tmp_path):
    store = Store(tmp_path / "iv.db")
    bad, good = queue(store, 2)

    async def go(fb, url):
        fb.fail_next(1, 400)
        s = OutboxSender(store, client(url), backoff=FAST)
        assert await s.run_once(T0) == 1
        assert await s.run_once(T0 + 3600) == 0
        await s.client.close()
        return fb
    fb = run(go)
    assert len(fb.log) == 2 and [e["event_id"] for e in fb.events] == [good]
    status = {r["event_id"]: (r["status"], r["attempts"]) for r in outbox.rows(store)}
    assert status == {bad: ("failed", 1), good: ("sent", 1)}
    assert "code 100" in outbox.rows(store, "failed")[0]["last_error"]


def test_too_old_events_are_given_up_without_sending(tmp_path):
    store = Store(tmp_path / "iv.db")
    [eid] = queue(store, 1)

    async def go(fb, url):
        s = OutboxSender(store, client(url), backoff=FAST)
        assert await s.run_once(T0 + 8 * 86400) == 0
        await s.client.close()
        return fb
    assert run(go).log == []
    assert outbox.rows(store)[0]["status"] == "failed"


def test_a_crash_mid_send_then_restart_sends_each_event_once_more_at_most(tmp_path):
    path = tmp_path / "iv.db"
    store = Store(path)
    a, b, c = queue(store, 3)

    async def go(fb, url):
        s = OutboxSender(store, client(url), backoff=FAST)
        assert await s.run_once(T0) == 3                        # a, b, c sent
        d, e = queue(store, 2, T0 + 10, first=3)
        # crash: d was claimed and reached Facebook, e was claimed and did not; neither was marked
        for eid in (d, e):
            assert outbox.claim(store, eid)
        direct = client(url)
        await direct.send(next(r["payload"] for r in outbox.rows(store, "sending") if r["event_id"] == d))
        await direct.close()
        await s.client.close()
        store.close()

        restarted = Store(path)                                 # new process, same file
        assert outbox.due(restarted, T0 + 20) == []             # still claimed by the dead one
        s2 = OutboxSender(restarted, client(url), backoff=FAST, poll_s=0.01, clock=lambda: T0 + 20)
        stop = asyncio.Event()
        task = asyncio.create_task(s2.run(stop))
        for _ in range(200):
            if not outbox.rows(restarted, "pending") and not outbox.rows(restarted, "sending"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)                               # a few more passes: nothing more goes
        stop.set()
        await asyncio.wait_for(task, 2)
        await s2.client.close()
        return fb, restarted, (d, e)
    fb, restarted, (d, e) = run(go)
    ids = [ev["event_id"] for ev in fb.events]
    assert fb.event_ids() == {a, b, c, d, e}                    # everything reached Facebook
    assert ids.count(d) == 2                                    # re-sent after the crash: same event_id, deduped
    assert all(ids.count(x) == 1 for x in (a, b, c, e))         # sent rows were never re-sent
    assert {r["status"] for r in outbox.rows(restarted)} == {"sent"}


def test_pending_rows_survive_a_restart(tmp_path):
    path = tmp_path / "iv.db"
    store = Store(path)
    ids = queue(store, 2)
    store.close()

    async def go(fb, url):
        s = OutboxSender(Store(path), client(url), backoff=FAST)
        assert await s.run_once(T0 + 1) == 2
        await s.client.close()
        return fb
    assert [e["event_id"] for e in run(go).events] == ids


def test_two_senders_never_send_a_row_twice(tmp_path):
    path = tmp_path / "iv.db"
    store = Store(path)
    ids = queue(store, 20)

    async def go(fb, url):
        fb.delay_s = 0.002                                      # let the two interleave
        s1 = OutboxSender(store, client(url), backoff=FAST)
        s2 = OutboxSender(Store(path), client(url), backoff=FAST)
        n1, n2 = await asyncio.gather(s1.run_once(T0), s2.run_once(T0))
        assert n1 + n2 == 20
        await s1.client.close()
        await s2.client.close()
        return fb
    fb = run(go)
    assert sorted(e["event_id"] for e in fb.events) == sorted(ids)


def test_run_wakes_on_enqueue_and_stops(tmp_path):
    store = Store(tmp_path / "iv.db")

    async def go(fb, url):
        s = OutboxSender(store, client(url), backoff=FAST, poll_s=30)
        stop = asyncio.Event()
        task = asyncio.create_task(s.run(stop))
        await asyncio.sleep(0.05)
        [eid] = queue(store, 1, now=1.0)                        # due long ago: send at once
        s.clock = lambda: 2.0
        s.max_age_s = float("inf")
        s.wake()
        for _ in range(100):
            if fb.bodies:
                break
            await asyncio.sleep(0.01)
        stop.set()
        s.wake()
        await asyncio.wait_for(task, 2)
        await s.client.close()
        return fb, eid
    fb, eid = run(go)
    assert [e["event_id"] for e in fb.events] == [eid]


def test_stand_in_checks_the_body_and_dumps(tmp_path):
    from intervene_harness.capi import validate
    ev = conversion_event(LEAD, "won", NAMES, T0)
    assert validate({"data": [ev]}) is None
    assert "data" in validate({})
    assert "event_time" in validate({"data": [dict(ev, event_time="1760000000")]})
    assert "event_time" in validate({"data": [dict(ev, event_time=1.5)]})
    assert "action_source" in validate({"data": [{k: v for k, v in ev.items() if k != "action_source"}]})
    assert "user_data" in validate({"data": [dict(ev, user_data={})]})
    assert "hashed" in validate({"data": [dict(ev, user_data={"lead_id": 1, "ph": "14155550123"})]})

    async def go(fb, url):
        async with client(url) as c:
            await c.send(ev)
        return fb
    fb = run(go)
    out = fb.dump(tmp_path / "capi.jsonl")
    assert [json.loads(line) for line in out.read_text().splitlines()] == [{"data": [ev]}]
