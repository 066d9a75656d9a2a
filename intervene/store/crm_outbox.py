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


def ended_not_queued(store: Store, target: str, since: str, worker: Optional[str], limit: int = 200) -> list[str]:
    """Live calls (this worker's, or no worker's) started at or after `since`
    (ISO 8601, as calls.started) that have ended and have no call.ended row
    for `target`: what the catch-up queues when the end was missed (a restart
    between the end and the queueing, a database error, a listener far behind)."""
    return [str(r["id"]) for r in store.db.query(
        "select c.id from calls c where c.source = 'live' and c.duration_s is not null and c.started >= ?"
        " and (c.worker = ? or c.worker is null or c.worker = '')"
        f" and not exists (select 1 from {TABLE} o where o.call_id = c.id and o.event = 'call.ended'"
        " and o.target = ?) order by c.started limit ?", [since, worker or "", target, limit])]


def rows(store: Store, status: Optional[str] = None) -> list[dict[str, Any]]:
    """Every row (or those in one status), oldest first: for the admin and tests."""
    if status is None:
        found = store.db.query(f"select * from {TABLE} order by created, delivery_id")
    else:
        found = store.db.query(f"select * from {TABLE} where status = ? order by created, delivery_id", [status])
    return [_row(r) for r in found]


# ------------------------------------------------------------------ the admin's
# `intervene outbox` (cli/outbox.py) works on the live service's database while
# the service runs: each write is one conditional UPDATE, so it never fights the
# sender's claim (a row being sent is left to the sender), and the sender picks
# a re-queued row up at its next poll.

def overview(store: Store, status: Optional[str] = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest `limit` rows (or those in one status), oldest first, never
    the payload (a lead's contact details, the transcript) nor `remote`."""
    where, args = ("where status = ? ", [status]) if status else ("", [])
    found = store.db.query(f"select delivery_id, target, event, call_id, status, attempts, next_at, created,"
                           f" sent_at, last_error from {TABLE} {where}order by created desc, delivery_id desc"
                           " limit ?", [*args, limit])
    return [{"id": r.pop("delivery_id"), **r} for r in reversed(found)]


def known(store: Store, ids: list[str]) -> set[str]:
    """Those of `ids` that are rows here."""
    return {i for i in ids if store.db.query(f"select 1 from {TABLE} where delivery_id = ?", [i])}


def counts(store: Store) -> dict[str, int]:
    """Rows per status (a status with none is left out)."""
    return {str(r["status"]): int(r["n"]) for r in
            store.db.query(f"select status, count(*) as n from {TABLE} group by status order by status")}


def requeue(store: Store, delivery_ids: list[str], now: float) -> dict[str, str]:
    """Failed (or waiting) deliveries go back to pending, due now, with a
    fresh count of attempts: the admin fixed the cause (a token, a property
    the CRM refused), so they get [crm] max_attempts again rather than
    failing for good on the first retryable error. last_error stays until
    the next try, for the record. Only a row that still has its payload: a
    sent one has dropped it, and is never sent twice anyway.

    Per id: "requeued", or why not: "sent", "sending" (the sender has it
    right now), "no-payload", "unknown"."""
    out: dict[str, str] = {}
    for did in delivery_ids:
        cur = store.db.execute(f"update {TABLE} set status = 'pending', next_at = ?, attempts = 0"
                               " where delivery_id = ? and status in ('failed', 'pending') and payload is not null",
                               [now, did])
        if cur.rowcount == 1:
            out[did] = "requeued"
            continue
        found = store.db.query(f"select status, payload is null as gone from {TABLE} where delivery_id = ?", [did])
        if not found:
            out[did] = "unknown"
        elif found[0]["status"] in ("failed", "pending") and found[0]["gone"]:
            out[did] = "no-payload"
        else:
            out[did] = str(found[0]["status"])
    return out


def requeue_failed(store: Store, now: float) -> int:
    """Every failed delivery that has its payload back to pending, due now (as requeue); how many."""
    cur = store.db.execute(f"update {TABLE} set status = 'pending', next_at = ?, attempts = 0"
                           " where status = 'failed' and payload is not null", [now])
    return int(cur.rowcount)
