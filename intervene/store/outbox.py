"""The Conversions API outbox: call outcomes waiting to go to Facebook.

An outcome is written here in the same moment it is known, and a sender
(leads/capi.py) delivers it later. So a Facebook outage, a slow network or a
restart delays an event, never loses it. One row per event_id, which is the
event's own deduplication key on Facebook's side: enqueueing the same event
again is a no-op, so a retried outcome never makes a second row.

    pending --claim--> sending --mark_sent--> sent
                          |----mark_retry---> pending (next_at later)
                          '----mark_failed--> failed   (Facebook refused it: a retry would not help)

`claim` is a single conditional UPDATE, so of two senders (two tasks, or two
processes on the same file) exactly one gets a row. Rows hold only what goes
to Facebook (hashed contact data, never the raw phone or email).

Functions on the project's Store; the table is in the store's schema.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from intervene.store.db import Store

TABLE = "capi_outbox"
STATUSES = ("pending", "sending", "sent", "failed")


def _row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["payload"] = json.loads(r["payload"])
    r["response"] = json.loads(r["response"]) if r.get("response") else None
    return r


def enqueue(store: Store, event: dict[str, Any], lead_id: Optional[str], call_id: Optional[str],
            now: float) -> bool:
    """Queue one event (as made by leads.capi.conversion_event) for sending.
    False when its event_id is already queued, in whatever state: never twice."""
    cur = store.db.execute(
        f"insert into {TABLE} (event_id, lead_id, call_id, payload, status, attempts,"
        " next_at, created) values (?, ?, ?, ?, 'pending', 0, ?, ?) on conflict (event_id) do nothing",
        [event["event_id"], None if lead_id is None else str(lead_id), call_id,
         json.dumps(event, sort_keys=True), now, now])
    return cur.rowcount == 1


def due(store: Store, now: float, limit: int = 100) -> list[dict[str, Any]]:
    """Pending rows whose next attempt time has come, oldest first."""
    return [_row(r) for r in store.db.query(
        f"select * from {TABLE} where status = 'pending' and next_at <= ? order by next_at, created"
        " limit ?", [now, limit])]


def claim(store: Store, event_id: str) -> bool:
    """pending -> sending, atomically; True only for the one caller that got it.
    Counts the attempt now, so a send that crashes the process still counts."""
    cur = store.db.execute(f"update {TABLE} set status = 'sending', attempts = attempts + 1"
                           " where event_id = ? and status = 'pending'", [event_id])
    return cur.rowcount == 1


def mark_sent(store: Store, event_id: str, response: dict[str, Any], now: float) -> None:
    """Facebook took it. Unconditional: a delivered event is sent whatever else happened to its row."""
    store.db.execute(f"update {TABLE} set status = 'sent', sent_at = ?, response = ?, last_error = null"
                     " where event_id = ?", [now, json.dumps(response), event_id])


def mark_retry(store: Store, event_id: str, error: str, next_at: float) -> bool:
    """Back to pending, to be tried again at next_at. Only from sending: never un-sends a row."""
    cur = store.db.execute(f"update {TABLE} set status = 'pending', next_at = ?, last_error = ?"
                           " where event_id = ? and status = 'sending'", [next_at, error, event_id])
    return cur.rowcount == 1


def mark_failed(store: Store, event_id: str, error: str) -> bool:
    """Given up: Facebook refused it (or it is too old to be accepted). Only from sending."""
    cur = store.db.execute(f"update {TABLE} set status = 'failed', last_error = ?"
                           " where event_id = ? and status = 'sending'", [error, event_id])
    return cur.rowcount == 1


def reset_sending(store: Store) -> int:
    """Start-up: rows a crashed sender left in `sending` go back to pending, due now.
    They may or may not have reached Facebook; sending again is safe because
    Facebook deduplicates on event_id. Returns how many."""
    cur = store.db.execute(f"update {TABLE} set status = 'pending' where status = 'sending'")
    return cur.rowcount


def rows(store: Store, status: Optional[str] = None) -> list[dict[str, Any]]:
    """Every row (or those in one status), oldest first: for the admin screen and tests."""
    if status is None:
        found = store.db.query(f"select * from {TABLE} order by created, event_id")
    else:
        found = store.db.query(f"select * from {TABLE} where status = ? order by created, event_id", [status])
    return [_row(r) for r in found]
