"""Which worker monitors each live call, for how long, in the shared store.

A worker that takes a call writes a lease (call id, its name, its Stasis
app, an expiry) and renews it every second or so while the call lasts. A
worker that dies stops renewing; once the lease has expired, any other
worker may take it over with one conditional UPDATE (exactly one wins),
move the call's channels into its own Stasis app and monitor it from there.
The call row keeps each interruption (`gaps`, in wall-clock seconds), so the
record says how long nobody was listening.

Workers also keep a row of their own (name, app, last seen), so a worker
can tell a live colleague's call from a dead one's without waiting for
every lease, and `intervene workers` (status) has something to show.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from intervene.store.db import Store
from intervene.store.sql import upsert

LEASE_S = 5.0          # a lease not renewed this long is free for another worker


def take(store: Store, call_id: str, worker: str, app: str, now: float, lease_s: float = LEASE_S,
         asterisk: str = "") -> None:
    """This worker monitors the call (a new call, or one it adopted after its
    own restart) on the Asterisk whose ARI is at `asterisk`."""
    upsert(store.db, "call_leases", {"call_id": call_id, "worker": worker, "app": app, "asterisk": asterisk,
                                     "expires": now + lease_s, "renewed": now}, ("call_id",))


def renew(store: Store, worker: str, call_ids: list[str], now: float, lease_s: float = LEASE_S) -> list[str]:
    """Extend this worker's leases; the calls whose lease another worker took
    meanwhile (this one was too slow: stalled, cut off) are returned - this
    worker must let go of them."""
    kept: set[str] = set()
    for i in range(0, len(call_ids), 500):              # one statement per 500 calls, not one per call
        chunk = call_ids[i:i + 500]
        kept |= {r[0] for r in store.db.execute(
            f"update call_leases set expires = ?, renewed = ? where worker = ? "
            f"and call_id in ({', '.join('?' * len(chunk))}) returning call_id",
            [now + lease_s, now, worker, *chunk]).fetchall()}
    upsert(store.db, "workers", {"name": worker, "seen": now}, ("name",))
    return [cid for cid in call_ids if cid not in kept]


def release(store: Store, call_id: str, worker: str) -> None:
    """The call ended here: nobody needs to take it over."""
    store.db.execute("delete from call_leases where call_id = ? and worker = ?", [call_id, worker])


def expired(store: Store, now: float, asterisk: Optional[str] = None) -> list[dict[str, Any]]:
    """Leases nobody renewed in time: calls whose worker is gone. With
    `asterisk`, only the calls on that Asterisk (and those of leases that
    do not say: from before the column)."""
    if asterisk is None:
        return store.db.query("select * from call_leases where expires < ? order by expires", [now])
    return store.db.query("select * from call_leases where expires < ? and coalesce(asterisk, '') in ('', ?) "
                          "order by expires", [now, asterisk])


def held_by_others(store: Store, worker: str, now: float) -> set[str]:
    """Calls another worker is monitoring right now (their lease is live):
    a worker cleaning up after its own restart must leave them alone."""
    return {r["call_id"] for r in store.db.query(
        "select call_id from call_leases where worker != ? and expires >= ?", [worker, now])}


def steal(store: Store, call_id: str, worker: str, app: str, now: float,
          lease_s: float = LEASE_S) -> Optional[dict[str, Any]]:
    """Take over an expired lease: the old lease row if this worker won it,
    None if it was renewed meanwhile or another worker was quicker."""
    with store.transaction():
        rows = store.db.query("select * from call_leases where call_id = ? and expires < ?", [call_id, now])
        if not rows:
            return None
        n = store.db.execute("update call_leases set worker = ?, app = ?, expires = ?, renewed = ? "
                             "where call_id = ? and expires < ?",
                             [worker, app, now + lease_s, now, call_id, now]).rowcount
        return rows[0] if n == 1 else None


def get(store: Store, call_id: str) -> Optional[dict[str, Any]]:
    rows = store.db.query("select * from call_leases where call_id = ?", [call_id])
    return rows[0] if rows else None


def add_gap(store: Store, call_id: str, start: float, end: float) -> None:
    """Record that nobody monitored the call from `start` to `end` (wall clock)."""
    rows = store.db.query("select gaps from calls where id = ?", [call_id])
    if not rows:
        return
    gaps = json.loads(rows[0]["gaps"] or "[]")
    gaps.append([round(start, 3), round(end, 3)])
    store.db.execute("update calls set gaps = ? where id = ?", [json.dumps(gaps), call_id])


def close_orphan(store: Store, call_id: str, last_monitored: float) -> None:
    """A call whose worker died and whose parties were gone by the time
    another worker looked: it ended unmonitored. Its record gets the gap and
    a length up to the last moment it was monitored (when it really ended is
    unknown); a call that was finished already is left as it is."""
    with store.transaction():
        rows = store.db.query("select conversation_started, duration_s from calls where id = ?", [call_id])
        if rows and rows[0]["duration_s"] is None:
            t0 = rows[0]["conversation_started"]
            add_gap(store, call_id, last_monitored, last_monitored)
            store.db.execute("update calls set duration_s = ? where id = ?",
                             [round(max(0.0, last_monitored - float(t0)), 2) if t0 else 0.0, call_id])
        store.db.execute("delete from call_leases where call_id = ?", [call_id])


def workers(store: Store) -> list[dict[str, Any]]:
    return store.db.query("select * from workers order by name")
