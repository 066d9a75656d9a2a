"""Leads and the do-not-call list, in the project's one SQLite store.

A lead is written the moment it arrives (status "received"), before anyone
is told about it, so a crash after Facebook got its 200 never loses one.
Every later step is a status change; `claim` is the only way to "calling"
and is a conditional UPDATE, so a lead is dialled once even when two tasks,
or a restart, race for it.

Statuses:
    received          stored, details not fetched yet
    ready             may be called; next_at says from when
    calling           claimed by the dialler (it counts attempts)
    done              finished (whatever the outcome)
    no-phone          no usable number (reason says why); kept
    dnc               on the do-not-call list
    unknown-campaign  its page/form is not in any [campaigns.*]; kept, not called
    paused            its campaign is disabled; back to ready when it is enabled again
    failed            gave up (reason says why)
    fetch-failed      Graph kept failing; tried again at next_at

The dialler may add statuses of its own (update takes any); these are the
ones intake and the CLI know. It may add columns too: update adds a column
it has not seen (as sqlite-utils' alter=True does).
"""
from __future__ import annotations

import builtins
import json
import re
import time
from typing import Any, Iterable, NamedTuple, Optional

from intervene.store.db import Store

_list = list                                  # `list` below is this module's (leads.list), not the builtin
_Rows = builtins.list[dict[str, Any]]         # ... and so annotations name the builtin through `builtins`

STATUSES = ("received", "ready", "calling", "done", "no-phone", "dnc", "unknown-campaign", "paused",
            "failed", "fetch-failed")
SOURCES = ("facebook", "webhook", "cli")
OPEN = ("received", "ready", "paused", "fetch-failed")   # not yet called: DNC stops these
JSON_COLUMNS = ("fields", "raw")

_SCHEMA = """
create table if not exists leads (
    id integer primary key autoincrement,
    leadgen_id text unique,
    source text not null,
    page_id text, form_id text, campaign text, team text,
    received_at real not null,
    status text not null,
    reason text not null default '',
    name text, phone text, email text,
    fields text not null default '{}',
    raw text not null default '{}',
    attempts integer not null default 0,
    next_at real,
    call_id text,
    updated real not null
);
create index if not exists leads_due on leads (status, next_at);
create index if not exists leads_phone on leads (phone);
create table if not exists dnc (
    phone text primary key,
    added real not null,
    reason text not null default ''
);
"""


class Added(NamedTuple):
    id: int
    duplicate: bool      # True: that leadgen_id was already stored; id is the existing row


def ensure(store: Store) -> None:
    """Create the tables on first use (once per Store object)."""
    if getattr(store, "_leads_schema", False):
        return
    with store.db.conn:
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                store.db.execute(stmt)
    store._leads_schema = True            # type: ignore[attr-defined]


# -------------------------------------------------------------------- leads
def add_lead(store: Store, *, source: str, status: str = "received", leadgen_id: Optional[str] = None,
             page_id: Optional[str] = None, form_id: Optional[str] = None, campaign: Optional[str] = None,
             team: Optional[str] = None, reason: str = "", name: Optional[str] = None,
             phone: Optional[str] = None, email: Optional[str] = None,
             fields: Optional[dict[str, Any]] = None, raw: Any = None,
             next_at: Optional[float] = None, now: Optional[float] = None) -> Added:
    """Insert a lead and commit; a leadgen_id seen before adds nothing and
    returns the existing row's id with duplicate=True (Facebook retries a
    webhook it thinks failed, and one lead must never be called twice)."""
    ensure(store)
    _check_status(status)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    now = time.time() if now is None else now
    row = {"leadgen_id": leadgen_id, "source": source, "page_id": page_id, "form_id": form_id,
           "campaign": campaign, "team": team, "received_at": now, "status": status, "reason": reason,
           "name": name, "phone": phone, "email": email, "fields": json.dumps(fields or {}, ensure_ascii=False),
           "raw": json.dumps(raw if raw is not None else {}, ensure_ascii=False), "attempts": 0,
           "next_at": next_at, "updated": now}
    cols = ", ".join(row)
    marks = ", ".join("?" * len(row))
    with store.db.conn:
        cur = store.db.execute(f"insert into leads ({cols}) values ({marks}) on conflict(leadgen_id) do nothing",
                               _list(row.values()))
        if cur.rowcount == 1:
            assert cur.lastrowid is not None          # an insert that added a row has its rowid
            return Added(cur.lastrowid, False)
        got = store.db.execute("select id from leads where leadgen_id = ?", [leadgen_id]).fetchone()
    return Added(int(got[0]), True)


def get_lead(store: Store, lead_id: int) -> Optional[dict[str, Any]]:
    ensure(store)
    rows = _list(store.db.query("select * from leads where id = ?", [lead_id]))
    return _decode(rows[0]) if rows else None


def list_leads(store: Store, status: Optional[str | Iterable[str]] = None, campaign: Optional[str] = None,
               source: Optional[str] = None, phone: Optional[str] = None,
               limit: Optional[int] = None) -> _Rows:
    """Newest first, filtered by any of the arguments given."""
    ensure(store)
    where: builtins.list[str] = []
    args: builtins.list[str | int] = []
    if status is not None:
        statuses = [status] if isinstance(status, str) else _list(status)
        where.append(f"status in ({', '.join('?' * len(statuses))})")
        args += statuses
    for col, val in (("campaign", campaign), ("source", source), ("phone", phone)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    sql = "select * from leads" + (f" where {' and '.join(where)}" if where else "") + " order by id desc"
    if limit is not None:
        sql += " limit ?"
        args.append(int(limit))
    return [_decode(r) for r in store.db.query(sql, args)]


def update_lead(store: Store, lead_id: int, only_if: Optional[str | Iterable[str]] = None,
                now: Optional[float] = None, **fields: Any) -> bool:
    """Change a lead's columns (fields/raw as Python objects) and commit.
    With `only_if`, only while its status is one of those: a step that was
    overtaken (the lead got claimed, or put on DNC) changes nothing.
    Returns whether a row changed."""
    ensure(store)
    if "id" in fields or "leadgen_id" in fields:
        raise ValueError("a lead's id and leadgen_id never change")
    vals = {k: (json.dumps(v, ensure_ascii=False) if k in JSON_COLUMNS else v) for k, v in fields.items()}
    _columns(store, vals)
    vals["updated"] = time.time() if now is None else now
    sql = f"update leads set {', '.join(f'{k} = ?' for k in vals)} where id = ?"
    args = [*vals.values(), lead_id]
    if only_if is not None:
        allowed = [only_if] if isinstance(only_if, str) else _list(only_if)
        sql += f" and status in ({', '.join('?' * len(allowed))})"
        args += allowed
    with store.db.conn:
        return store.db.execute(sql, args).rowcount == 1


def due(store: Store, now: float, limit: int = 10) -> _Rows:
    """Ready leads whose time has come, the longest-waiting first."""
    ensure(store)
    return [_decode(r) for r in store.db.query(
        "select * from leads where status = 'ready' and next_at <= ? order by next_at, id limit ?", [now, limit])]


def pending_intake(store: Store, now: float, limit: int = 50) -> _Rows:
    """Leads intake still owes a look: fetch-failed ones whose retry time has
    come, and received ones left behind (a restart between the webhook's
    commit and the fetch) once their next_at passes."""
    ensure(store)
    return [_decode(r) for r in store.db.query(
        "select * from leads where status in ('received', 'fetch-failed') and next_at <= ? "
        "order by next_at, id limit ?", [now, limit])]


def claim(store: Store, lead_id: int, call_id: Optional[str] = None, now: Optional[float] = None) -> bool:
    """ready -> calling, atomically; True for exactly one claimant. This is
    what makes "called exactly once" hold across tasks and restarts. (It
    does not count attempts: the dialler does, when it settles the call.)"""
    ensure(store)
    now = time.time() if now is None else now
    sets = "status = 'calling', updated = ?" + (", call_id = ?" if call_id is not None else "")
    args = [now, *([call_id] if call_id is not None else []), lead_id]
    with store.db.conn:
        cur = store.db.execute(f"update leads set {sets} where id = ? and status = 'ready'", args)
    return cur.rowcount == 1


def recover_calling(store: Store, now: Optional[float] = None) -> int:
    """At start-up: leads still "calling" were on a call when the service
    stopped. Whether the lead was reached is unknown, so they are not dialled
    again by themselves (exactly once): failed, with a reason a person can act on."""
    ensure(store)
    now = time.time() if now is None else now
    with store.db.conn:
        return store.db.execute("update leads set status = 'failed', reason = ?, updated = ? where status = 'calling'",
                                ["the service stopped during the call; not called again automatically "
                                 "(check the call, then make it ready by hand)", now]).rowcount


def counts(store: Store) -> dict[str, int]:
    """How many leads are in each status."""
    ensure(store)
    return {r["status"]: r["n"] for r in store.db.query("select status, count(*) as n from leads group by status")}


# ---------------------------------------------------------------------- dnc
def dnc_add(store: Store, phone: str, reason: str = "", now: Optional[float] = None) -> int:
    """Put an E.164 number on the list, and stop every lead with that number
    not yet called (status dnc). Returns how many leads it stopped."""
    ensure(store)
    now = time.time() if now is None else now
    marks = ", ".join("?" * len(OPEN))
    with store.db.conn:
        store.db.execute("insert into dnc (phone, added, reason) values (?, ?, ?) "
                         "on conflict(phone) do update set reason = excluded.reason", [phone, now, reason])
        cur = store.db.execute(f"update leads set status = 'dnc', reason = ?, updated = ? "
                               f"where phone = ? and status in ({marks})",
                               ["on the do-not-call list" + (f": {reason}" if reason else ""), now, phone, *OPEN])
    return cur.rowcount


def dnc_remove(store: Store, phone: str) -> bool:
    """Take a number off (leads already marked dnc stay so: re-add them deliberately)."""
    ensure(store)
    with store.db.conn:
        return store.db.execute("delete from dnc where phone = ?", [phone]).rowcount == 1


def dnc_list(store: Store) -> _Rows:
    ensure(store)
    return _list(store.db.query("select * from dnc order by added, phone"))


def dnc_contains(store: Store, phone: Optional[str]) -> bool:
    ensure(store)
    if not phone:
        return False
    return store.db.execute("select 1 from dnc where phone = ?", [phone]).fetchone() is not None


# the names the brief gave them: leads.get / leads.list / leads.update
get = get_lead
list = list_leads      # noqa: A001 (module attribute; inside this module use _list for the builtin)
update = update_lead


# ------------------------------------------------------------------ helpers
def _columns(store: Store, vals: dict[str, Any]) -> None:
    """Add a column for a key the table does not have yet (the dialler's own fields)."""
    have = store.db.table("leads").columns_dict
    for k, v in vals.items():
        if k in have:
            continue
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", k):
            raise ValueError(f"not a column name: {k!r}")
        typ = float if isinstance(v, float) else int if isinstance(v, (int, bool)) else str
        with store.db.conn:
            store.db.table("leads").add_column(k, typ)


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for k in JSON_COLUMNS:
        try:
            out[k] = json.loads(out[k]) if out.get(k) else {}
        except json.JSONDecodeError:
            pass
    return out


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
