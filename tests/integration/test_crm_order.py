"""CRM write-back keeps a call's events in order per target: HubSpot's call
is updated in place, so call.ended (the record before the outcome) sent
after call.outcome would put "unknown" back over the rep's outcome. Found
by the end-to-end test (tests/e2e/test_crm_live.py): after a restart both
rows were due at once, in the order of their backoff's jitter."""
from __future__ import annotations

import asyncio

from intervene.config.crm import CrmOptions, HubSpotOptions
from intervene.leads.crm_send import CrmSender, delivery_id_for
from intervene.leads.hubspot import HubSpotClient
from intervene.store import crm_outbox
from intervene.store.db import Store
from intervene_harness.hubspot import HubSpotStandIn

TOKEN = "pat-na1-test"
T0 = 1_800_000_000.0


def record(outcome: str) -> dict:
    return {"call_id": "c1", "started": "2027-01-15T08:00:00Z", "duration_s": 61.0, "rep": "sam",
            "profile": "standard", "mode": "voice", "outcome": outcome, "source": "live",
            "lead": {"id": "+12125550119", "phone": "+12125550119"}, "transcript": [],
            "score": {"total": 70, "parts": {}}, "summary": "A short call.", "interventions": []}


def put(store: Store, event: str, subject: str, outcome: str, now: float) -> str:
    did = delivery_id_for("hubspot", event, subject)
    assert crm_outbox.enqueue(store, did, "hubspot", event, subject, record(outcome), now, call_id="c1")
    return did


def test_an_older_event_of_the_call_due_later_holds_the_newer_one_back(store_target: str) -> None:
    store = Store(store_target)

    async def go() -> HubSpotStandIn:
        hs = HubSpotStandIn(token=TOKEN)
        url = await hs.start()
        client = HubSpotClient(HubSpotOptions(token=TOKEN, base_url=url))
        opts = CrmOptions(hubspot=HubSpotOptions(token=TOKEN, base_url=url), retry_base_s=1.0, retry_max_s=60.0)
        sender = CrmSender(store, {"hubspot": client}, opts)
        try:
            ended = put(store, "call.ended", "c1", "unknown", T0)
            assert crm_outbox.claim(store, ended)                      # its first try failed: backing off
            assert crm_outbox.mark_retry(store, ended, "HTTP 503", T0 + 30)
            outcome = put(store, "call.outcome", "c1:won", "won", T0 + 5)
            other = crm_outbox.enqueue(store, delivery_id_for("hubspot", "call.ended", "c2"), "hubspot",
                                       "call.ended", "c2", {**record("lost"), "call_id": "c2"}, T0 + 6,
                                       call_id="c2")
            assert other
            # the outcome is due, but call.ended of the same call is older and still pending: it waits;
            # another call's event does not
            assert [r["delivery_id"] for r in crm_outbox.due(store, T0 + 10)] == [
                delivery_id_for("hubspot", "call.ended", "c2")]
            assert await sender.run_once(T0 + 10) == 1
            assert len(hs.calls) == 1                                   # only c2's
            for i in range(5):                                          # then in order: ended, outcome
                await sender.run_once(T0 + 40 + i)
            assert {r["status"] for r in crm_outbox.rows(store)} == {"sent"}
            assert outcome
        finally:
            await client.close()
            await hs.stop()
        return hs

    hs = asyncio.run(go())
    assert len(hs.calls) == 2
    c1 = next(c for c in hs.calls.values() if "c1" in c["properties"]["hs_call_title"])
    assert "Outcome: won" in c1["properties"]["hs_call_body"], c1["properties"]["hs_call_body"]
    assert "(won)" in c1["properties"]["hs_call_title"]
    store.close()


def test_a_failed_older_event_no_longer_holds_the_call_back() -> None:
    store = Store(":memory:")
    ended = put(store, "call.ended", "c1", "unknown", T0)
    put(store, "call.outcome", "c1:won", "won", T0 + 5)
    assert crm_outbox.claim(store, ended) and crm_outbox.mark_failed(store, ended, "HTTP 400")
    assert [r["event"] for r in crm_outbox.due(store, T0 + 10)] == ["call.outcome"]
    store.close()
