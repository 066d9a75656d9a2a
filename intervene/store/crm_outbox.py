"""The CRM outbox: call records and qualified leads waiting to go to the
team's CRM (outgoing webhooks, HubSpot), durably.

Like the Conversions API's outbox (store/outbox.py), an event is written
here the moment it is known and a sender (leads/crm_send.py) delivers it
later, so a CRM outage, a slow network or a restart delays a delivery,
never loses it. One row per (target, event, subject): its delivery_id is
derived from those three, so queueing the same event again is a no-op and
a re-send (after a timeout or a crash mid-send) carries the same id, which
the receiver deduplicates on.

    pending --claim--> sending --mark_sent--> sent       (payload dropped: the CRM has it)
                          |----mark_retry---> pending    (next_at later)
                          '----mark_failed--> failed     (the CRM refused it, or too many tries)

Unlike Facebook's events, these payloads hold personal data in the clear
(the lead's phone and email, the transcript), because that is what a CRM
is for. So a sent row keeps only what deduplication needs, and
privacy.forget / purge delete a person's rows (store/privacy.py).
"""
from __future__ import annotations

import json
from typing import Any, Optional

from intervene.store.db import Store

TABLE = "crm_outbox"
STATUSES = ("pending", "sending", "sent", "failed")


def _row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["payload"] = json.loads(r["payload"]) if r.get("payload") else None
    r["remote"] = json.loads(r["remote"]) if r.get("remote") else None
    return r


def enqueue(store: Store, delivery_id: str, target: str, event: str, subject: str, payload: dict[str, Any],
            now: float, call_id: Optional[str] = None, lead_id: Optional[str] = None) -> bool:
    """Queue one delivery; False when this delivery_id is queued already, in
    whatever state (never twice: a retried outcome, another worker's copy)."""
    cur = store.db.execute(
        f"insert into {TABLE} (delivery_id, target, event, subject, call_id, lead_id, payload, status,"
        " attempts, next_at, created) values (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)"
        " on conflict (delivery_id) do nothing",
        [delivery_id, target, event, subject, call_id, lead_id, json.dumps(payload, ensure_ascii=False),
         now, now])
    return cur.rowcount == 1


def due(store: Store, now: float, limit: int = 100) -> list[dict[str, Any]]:
    """Pending rows whose next attempt time has come, oldest first.

    A call's events go to each target in the order they were queued: a row
    waits while an older one of the same call and target is still pending
    or sending. Each carries the whole record as it was then, so call.ended
    retried after call.outcome went would overwrite the outcome in the CRM
    (HubSpot's call is updated in place) with the record before it, e.g.
    when a restart or backoff jitter makes the older row due later."""
    return [_row(r) for r in store.db.query(
        f"select * from {TABLE} o where o.status = 'pending' and o.next_at <= ? and not exists ("
        f"select 1 from {TABLE} e where e.target = o.target and e.call_id = o.call_id"
        " and e.status in ('pending', 'sending')"
        " and (e.created < o.created or (e.created = o.created and e.delivery_id < o.delivery_id)))"
        " order by o.next_at, o.created, o.delivery_id limit ?", [now, limit])]


def claim(store: Store, delivery_id: str) -> bool:
    """pending -> sending, atomically (one conditional UPDATE): of two senders,
    in two tasks or two workers, exactly one gets the row. The attempt counts
    now, so a send that crashes the process still counts."""
    cur = store.db.execute(f"update {TABLE} set status = 'sending', attempts = attempts + 1"
                           " where delivery_id = ? and status = 'pending'", [delivery_id])
    return cur.rowcount == 1


def mark_sent(store: Store, delivery_id: str, now: float, remote: Optional[dict[str, Any]] = None) -> None:
    """Delivered. The payload goes (the CRM holds it now; a copy here would
    outlive what [retention] and `forget` manage); the row stays, so the
    same event is never queued, or sent, again."""
    store.db.execute(f"update {TABLE} set status = 'sent', sent_at = ?, payload = null, last_error = null,"
                     " remote = ? where delivery_id = ?",
                     [now, json.dumps(remote) if remote else None, delivery_id])


def mark_retry(store: Store, delivery_id: str, error: str, next_at: float) -> bool:
    """Back to pending, to be tried at next_at. Only from sending: never un-sends a row."""
    cur = store.db.execute(f"update {TABLE} set status = 'pending', next_at = ?, last_error = ?"
                           " where delivery_id = ? and status = 'sending'", [next_at, error, delivery_id])
    return cur.rowcount == 1


def mark_failed(store: Store, delivery_id: str, error: str) -> bool:
    """Given up (refused, or out of attempts). Only from sending. The payload
    stays for the admin to look at, until [retention] or `forget` removes it."""
    cur = store.db.execute(f"update {TABLE} set status = 'failed', last_error = ?"
                           " where delivery_id = ? and status = 'sending'", [error, delivery_id])
    return cur.rowcount == 1


def reset_sending(store: Store) -> int:
    """Start-up: rows a crashed sender left in `sending` go back to pending,
    due now. They may have reached the CRM: they go again with the same
    delivery id, which the receiver deduplicates on. Returns how many."""
    return int(store.db.execute(f"update {TABLE} set status = 'pending' where status = 'sending'").rowcount)


def remote_for(store: Store, target: str, call_id: str) -> dict[str, Any]:
    """What `target` made for a call in deliveries already sent (e.g. the
    HubSpot call's id), merged: a later event of the call updates it."""
    out: dict[str, Any] = {}
    for r in store.db.query(f"select remote from {TABLE} where target = ? and call_id = ? and status = 'sent'"
                            " and remote is not null order by sent_at", [target, call_id]):
        out.update(json.loads(r["remote"]))
    return out


def rows(store: Store, status: Optional[str] = None) -> list[dict[str, Any]]:
    """Every row (or those in one status), oldest first: for the admin and tests."""
    if status is None:
        found = store.db.query(f"select * from {TABLE} order by created, delivery_id")
    else:
        found = store.db.query(f"select * from {TABLE} where status = ? order by created, delivery_id", [status])
    return [_row(r) for r in found]


def backlog(store: Store, now: float) -> tuple[int, float]:
    """(rows waiting to go, age in seconds of the oldest): for metrics and `doctor`."""
    r = store.db.query(f"select count(*) as n, min(created) as oldest from {TABLE}"
                       " where status in ('pending', 'sending')")[0]
    return int(r["n"] or 0), (now - float(r["oldest"])) if r["oldest"] is not None else 0.0
