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


# ------------------------------------------------------------------ the admin's
# `intervene outbox` (cli/outbox.py) works on the live service's database while
# the service runs: each write is one conditional UPDATE, so it never fights the
# sender's claim (a row being sent is left to the sender), and the sender picks
# a re-queued row up at its next poll.

def overview(store: Store, status: Optional[str] = None, limit: int = 200) -> list[dict[str, Any]]:
    """The newest `limit` rows (or those in one status), oldest first, without
    the payload: only the event's name is read out of it, so nothing hashed or
    personal leaves this function."""
    where, args = ("where status = ? ", [status]) if status else ("", [])
    found = store.db.query(f"select event_id, call_id, payload, status, attempts, next_at, created, sent_at,"
                           f" last_error from {TABLE} {where}order by created desc, event_id desc limit ?",
                           [*args, limit])
    out = []
    for r in reversed(found):
        name = json.loads(r.pop("payload")).get("event_name")
        out.append({"id": r.pop("event_id"), "event": str(name or "?"), **r})
    return out


def known(store: Store, ids: list[str]) -> set[str]:
    """Those of `ids` that are rows here."""
    return {i for i in ids if store.db.query(f"select 1 from {TABLE} where event_id = ?", [i])}


def counts(store: Store) -> dict[str, int]:
    """Rows per status (a status with none is left out)."""
    return {str(r["status"]): int(r["n"]) for r in
            store.db.query(f"select status, count(*) as n from {TABLE} group by status order by status")}


def requeue(store: Store, event_ids: list[str], now: float,
            max_age_s: Optional[float] = None) -> dict[str, str]:
    """Failed (or waiting) rows go back to pending, due now, with a fresh
    count of attempts: the admin fixed the cause, so the retries and the
    backoff start over (a kept count would put the next wait at the longest
    step). last_error stays until the next try, for the record.

    Per id: "requeued", or why not: "sent" (never twice), "sending" (the
    sender has it right now), "too-old" (event_time more than max_age_s
    before now: Facebook would refuse it, the sender would fail it at once),
    "unknown"."""
    out: dict[str, str] = {}
    for eid in event_ids:
        if max_age_s is not None and _too_old(store, eid, now - max_age_s):
            out[eid] = "too-old"
            continue
        cur = store.db.execute(f"update {TABLE} set status = 'pending', next_at = ?, attempts = 0"
                               " where event_id = ? and status in ('failed', 'pending')", [now, eid])
        if cur.rowcount == 1:
            out[eid] = "requeued"
        else:
            found = store.db.query(f"select status from {TABLE} where event_id = ?", [eid])
            out[eid] = str(found[0]["status"]) if found else "unknown"
    return out


def _too_old(store: Store, event_id: str, cutoff: float) -> bool:
    for r in store.db.query(f"select payload from {TABLE} where event_id = ? and status in ('failed', 'pending')",
                            [event_id]):
        t = json.loads(r["payload"]).get("event_time")
        return isinstance(t, (int, float)) and t < cutoff
    return False


def requeue_failed(store: Store, now: float, max_age_s: Optional[float] = None) -> int:
    """Every failed row back to pending, due now (as requeue, too old ones
    left failed); how many."""
    if max_age_s is None:
        cur = store.db.execute(f"update {TABLE} set status = 'pending', next_at = ?, attempts = 0"
                               " where status = 'failed'", [now])
        return int(cur.rowcount)
    failed = [str(r["event_id"]) for r in store.db.query(f"select event_id from {TABLE} where status = 'failed'")]
    return sum(1 for v in requeue(store, failed, now, max_age_s).values() if v == "requeued")
