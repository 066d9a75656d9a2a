"""`intervene outbox list|retry` (issue 17): an admin sees which deliveries
of the two outboxes failed and why, without any personal data, and sends
them again once the cause is fixed; on SQLite and PostgreSQL, against the
store a running service would share."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Optional

from click.testing import CliRunner

from intervene.cli.main import main
from intervene.config.crm import CrmOptions
from intervene.leads.capi import MAX_AGE_S
from intervene.leads.crm_send import CrmSender
from intervene.nlp.redact import mask_contacts
from intervene.store import crm_outbox, outbox
from intervene.store.db import Store

PHONE, EMAIL, NAME = "+14155552671", "jane.doe@example.com", "Jane Doe"
SECRETS = (PHONE, "4155552671", EMAIL, NAME, "Jane", "transcript")


def _capi(store: Store, eid: str, now: float, event_time: Optional[float] = None) -> None:
    event = {"event_id": eid, "event_name": "Purchase", "event_time": int(event_time or now),
             "user_data": {"lead_id": 1, "ph": [PHONE], "em": [EMAIL]}, "custom_data": {"name": NAME}}
    assert outbox.enqueue(store, event, "7", "call-1", now)


def _crm(store: Store, did: str, target: str, now: float, call_id: str) -> None:
    payload = {"lead": {"name": NAME, "phone": PHONE, "email": EMAIL}, "transcript": "call me on " + PHONE}
    assert crm_outbox.enqueue(store, did, target, "call.ended", did, payload, now, call_id=call_id, lead_id="7")


def seeded(target: str) -> tuple[Store, float]:
    """Each outbox with a row in each state: -pending (due in an hour),
    -sending, -sent, -failed (its error echoing a phone and an email back)."""
    store, now = Store(target), time.time()
    echo = f"HTTP 422: invalid phone {PHONE} for {EMAIL}"
    for i, status in enumerate(outbox.STATUSES):
        eid, did = f"iv-{status}", f"crm-{status}"
        _capi(store, eid, now - 3600 + i)
        _crm(store, did, "hubspot" if i % 2 else "sales", now - 3600 + i, call_id=f"call-{i}")
        if status == "pending":
            continue
        assert outbox.claim(store, eid) and crm_outbox.claim(store, did)
        if status == "sent":
            outbox.mark_sent(store, eid, {"events_received": 1}, now)
            crm_outbox.mark_sent(store, did, now, {"call": "99"})
        elif status == "failed":
            assert outbox.mark_failed(store, eid, echo) and crm_outbox.mark_failed(store, did, echo)
    store.db.execute("update capi_outbox set next_at = ? where event_id = 'iv-pending'", [now + 3600])
    store.db.execute("update crm_outbox set next_at = ? where delivery_id = 'crm-pending'", [now + 3600])
    return store, now


def cli(target: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", target, "outbox", *args])


def state(store: Store, table: str, key: str, rid: str) -> dict[str, Any]:
    return store.db.query(f"select status, attempts, next_at, last_error from {table} where {key} = ?", [rid])[0]


# ---------------------------------------------------------------- the store
def test_requeue_puts_failed_and_waiting_rows_back_due_now_and_never_a_sent_one(store_target):
    store, now = seeded(store_target)
    later = now + 5
    got = outbox.requeue(store, ["iv-failed", "iv-pending", "iv-sent", "iv-sending", "iv-nope"], later)
    assert got == {"iv-failed": "requeued", "iv-pending": "requeued", "iv-sent": "sent", "iv-sending": "sending",
                   "iv-nope": "unknown"}
    got = crm_outbox.requeue(store, ["crm-failed", "crm-pending", "crm-sent", "crm-sending", "crm-nope"], later)
    assert got == {"crm-failed": "requeued", "crm-pending": "requeued", "crm-sent": "sent",
                   "crm-sending": "sending", "crm-nope": "unknown"}
    for table, key, rid in (("capi_outbox", "event_id", "iv-failed"), ("crm_outbox", "delivery_id", "crm-failed")):
        row = state(store, table, key, rid)
        assert (row["status"], row["attempts"], row["next_at"]) == ("pending", 0, later)
        assert row["last_error"].startswith("HTTP 422")          # kept, for the record, until the next try
    assert {r["delivery_id"] for r in crm_outbox.due(store, later)} == {"crm-failed", "crm-pending"}
    assert {r["event_id"] for r in outbox.due(store, later)} == {"iv-failed", "iv-pending"}
    assert state(store, "capi_outbox", "event_id", "iv-sent")["status"] == "sent"
    assert state(store, "crm_outbox", "delivery_id", "crm-sending")["status"] == "sending"


def test_requeue_failed_and_what_can_not_be_sent_again(store_target):
    store, now = seeded(store_target)
    _capi(store, "iv-old", now - MAX_AGE_S - 60)
    assert outbox.claim(store, "iv-old") and outbox.mark_failed(store, "iv-old", "HTTP 500")
    assert outbox.requeue(store, ["iv-old"], now, MAX_AGE_S) == {"iv-old": "too-old"}
    assert outbox.requeue_failed(store, now, MAX_AGE_S) == 1
    assert outbox.counts(store) == {"failed": 1, "pending": 2, "sending": 1, "sent": 1}
    # a failed CRM row whose payload is gone has nothing to send
    store.db.execute("update crm_outbox set payload = null where delivery_id = 'crm-failed'")
    assert crm_outbox.requeue(store, ["crm-failed"], now) == {"crm-failed": "no-payload"}
    assert crm_outbox.requeue_failed(store, now) == 0
    store.db.execute("update crm_outbox set payload = '{}' where delivery_id = 'crm-failed'")
    assert crm_outbox.requeue_failed(store, now) == 1 and crm_outbox.requeue_failed(store, now) == 0
    assert crm_outbox.counts(store) == {"pending": 2, "sending": 1, "sent": 1}


def test_overview_never_carries_a_payload(store_target):
    store, _ = seeded(store_target)
    for rows in (outbox.overview(store), crm_outbox.overview(store)):
        assert [r["status"] for r in rows] == list(outbox.STATUSES)
        assert all("payload" not in r and "remote" not in r and "response" not in r for r in rows)
    assert outbox.overview(store)[0]["event"] == "Purchase"
    assert [r["target"] for r in crm_outbox.overview(store, "failed")] == ["hubspot"]
    assert [r["id"] for r in crm_outbox.overview(store, limit=2)] == ["crm-sent", "crm-failed"]


def test_a_requeued_failed_delivery_is_taken_by_the_running_sender(tmp_path):
    """The sender's next pass delivers it (with a fresh count of attempts)."""
    store, now = seeded(str(tmp_path / "store.db"))
    sent: list[str] = []

    class Ok:
        target = "hubspot"

        async def deliver(self, row: dict[str, Any], prior: dict[str, Any]) -> Optional[dict[str, Any]]:
            sent.append(row["delivery_id"])
            assert row["payload"]["lead"]["phone"] == PHONE
            return None

        async def close(self) -> None:
            pass

    sender = CrmSender(store, {"hubspot": Ok()}, CrmOptions(), clock=lambda: now)
    assert asyncio.run(sender.run_once(now)) == 0 and sent == []
    assert crm_outbox.requeue(store, ["crm-failed"], now) == {"crm-failed": "requeued"}
    assert asyncio.run(sender.run_once(now + 1)) == 1 and sent == ["crm-failed"]
    assert state(store, "crm_outbox", "delivery_id", "crm-failed")["attempts"] == 1


# ------------------------------------------------------------------ the CLI
def test_list_shows_every_row_and_the_counts_without_personal_data(store_target):
    seeded(store_target)[0].close()
    out = cli(store_target, "list")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) == 8 + 2
    fields = lines[0].split("\t")
    assert fields[:6] == ["capi", "iv-pending", "Purchase", "pending", "0", "1h"]
    assert fields[6].startswith("in ")
    failed = next(line for line in lines if line.startswith("crm\tcrm-failed"))
    assert failed.split("\t")[2:5] == ["hubspot call.ended", "failed", "1"]
    assert "HTTP 422: invalid phone [number] for [email]" in failed
    assert lines[-2:] == ["capi: 1 pending, 1 sending, 1 sent, 1 failed", "crm: 1 pending, 1 sending, 1 sent, 1 failed"]
    data = cli(store_target, "list", "--json").output
    doc = json.loads(data)
    assert len(doc["rows"]) == 8 and doc["counts"]["crm"] == {"pending": 1, "sending": 1, "sent": 1, "failed": 1}
    for text in (out.output, data):
        for secret in SECRETS:
            assert secret not in text


def test_list_filters_by_outbox_and_status(store_target):
    seeded(store_target)[0].close()
    out = cli(store_target, "list", "--outbox", "crm", "--status", "failed")
    assert out.exit_code == 0, out.output
    assert [line.split("\t")[:2] for line in out.output.splitlines()[:-1]] == [["crm", "crm-failed"]]
    assert out.output.splitlines()[-1] == "crm: 1 pending, 1 sending, 1 sent, 1 failed"
    out = cli(store_target, "list", "--outbox", "capi", "--limit", "1")
    assert out.output.splitlines()[-1].endswith("(3 older not shown: --limit)")
    assert cli(store_target, "list", "--status", "lost").exit_code == 2


def test_retry_named_rows(store_target):
    store, _ = seeded(store_target)
    out = cli(store_target, "retry", "iv-failed", "crm-failed", "crm-pending")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["capi iv-failed: re-queued", "crm crm-failed: re-queued",
                                       "crm crm-pending: re-queued"]
    assert outbox.counts(store)["pending"] == 2 and "failed" not in crm_outbox.counts(store)


def test_retry_never_resends_a_sent_row(store_target):
    store, _ = seeded(store_target)
    out = cli(store_target, "retry", "crm-sent", "iv-sent", "iv-sending", "iv-failed")
    assert out.exit_code == 1, out.output
    assert "crm crm-sent: not re-queued: already sent; a delivered event is never sent twice" in out.output
    assert "capi iv-sent: not re-queued: already sent" in out.output
    assert "capi iv-sending: not re-queued: being sent right now" in out.output
    assert "capi iv-failed: re-queued" in out.output
    assert state(store, "crm_outbox", "delivery_id", "crm-sent")["status"] == "sent"


def test_retry_of_an_unknown_id_names_it_and_changes_nothing(store_target):
    store, _ = seeded(store_target)
    out = cli(store_target, "retry", "iv-failed", "crm-nope")
    assert out.exit_code == 2
    assert "error: no such row in the capi or crm outbox: crm-nope" in out.output and "Traceback" not in out.output
    assert state(store, "capi_outbox", "event_id", "iv-failed")["status"] == "failed"
    out = cli(store_target, "retry", "--outbox", "capi", "crm-failed")          # in the other outbox
    assert out.exit_code == 2 and "no such row in the capi outbox: crm-failed" in out.output


def test_retry_failed(store_target):
    store, now = seeded(store_target)
    _capi(store, "iv-old", now - MAX_AGE_S - 60)
    assert outbox.claim(store, "iv-old") and outbox.mark_failed(store, "iv-old", "too old")
    out = cli(store_target, "retry", "--failed", "--outbox", "crm")
    assert out.exit_code == 0 and out.output == "crm: 1 re-queued\n", out.output
    assert outbox.counts(store)["failed"] == 2
    out = cli(store_target, "retry", "--failed")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["capi: 1 re-queued, 1 left failed (older than 7 days: Facebook no longer "
                                       "takes them)", "crm: 0 re-queued"]
    assert cli(store_target, "retry").exit_code == 2
    assert cli(store_target, "retry", "--failed", "iv-failed").exit_code == 2


def test_scrub_masks_emails_and_phone_numbers_but_not_statuses():
    assert mask_contacts("HTTP 400: bad +1 (415) 555-2671 and a.b+c@x.co.uk\n after 10 attempts") == \
        "HTTP 400: bad [number] and [email] after 10 attempts"
    assert mask_contacts(None) == "" and mask_contacts("hubspot PATCH contacts: HTTP 429: RATE_LIMIT") == \
        "hubspot PATCH contacts: HTTP 429: RATE_LIMIT"
