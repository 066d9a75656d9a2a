"""Leads and the do-not-call list, in the project's one store (SQLite or PostgreSQL).

A lead is written the moment it arrives (status "received"), before anyone
is told about it, so a crash after Facebook got its 200 never loses one.
Every later step is a status change; `claim` is the only way to "calling"
and is a conditional UPDATE, so a lead is dialled once even when two tasks,
or a restart, race for it. The same UPDATE refuses a number that another
lead is calling, or called within the redial window (`called_at`), so one
person who fills in two forms, or a replayed webhook, is rung once.

`webhook_inbox` keeps correctly signed webhook bodies we could not take
(answered 400), for a person to look at: at most INBOX_KEEP rows, each body
cut to INBOX_BODY_MAX bytes (`size` says how long it was).

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
    duplicate-number  its number was called (or is about to be) within [leads] redial_window_s: not called
    erase-requested   the lead asked on the call for their data to be deleted: privacy.forget is due
    erased            privacy.forget ran (if it kept the row)

The dialler may add statuses of its own (update takes any); these are the
ones intake and the CLI know. It may add columns too: update adds a column
it has not seen. The tables are made by the store's schema (store/schema.py).
"""
from __future__ import annotations

import builtins
import json
import re
import time
from typing import Any, Iterable, NamedTuple, Optional

from intervene.store.db import Store
from intervene.store.sql import add_columns

_list = list                                  # `list` below is this module's (leads.list), not the builtin
_Rows = builtins.list[dict[str, Any]]         # ... and so annotations name the builtin through `builtins`

STATUSES = ("received", "ready", "calling", "done", "no-phone", "dnc", "unknown-campaign", "paused",
            "failed", "fetch-failed", "duplicate-number", "erase-requested", "erased")
SOURCES = ("facebook", "webhook", "cli")
OPEN = ("received", "ready", "paused", "fetch-failed")   # not yet called: DNC stops these
JSON_COLUMNS = ("fields", "raw")
REDIAL_WINDOW_S = 86400.0     # the default of [leads] redial_window_s
INBOX_KEEP = 1000             # webhook_inbox rows kept (the oldest go first)
INBOX_BODY_MAX = 65536        # bytes of each refused body kept

class Added(NamedTuple):
    id: int
    duplicate: bool      # True: that leadgen_id was already stored; id is the existing row


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
    with store.transaction():
        return _insert(store, source=source, status=status, leadgen_id=leadgen_id, page_id=page_id,
                       form_id=form_id, campaign=campaign, team=team, reason=reason, name=name, phone=phone,
                       email=email, fields=fields, raw=raw, next_at=next_at, now=now)


def add_leads(store: Store, leads: Iterable[dict[str, Any]]) -> builtins.list[Added]:
    """add_lead for each (its keyword arguments as a dict), all in one
    transaction: a batch of 3,000 Facebook leads is one commit, not 3,000,
    and either every lead of the batch is on disk or none is (then the
    sender, told of the failure, sends the batch again)."""
    with store.transaction():
        return [_insert(store, **lead) for lead in leads]


def _insert(store: Store, *, source: str, status: str = "received", leadgen_id: Optional[str] = None,
            page_id: Optional[str] = None, form_id: Optional[str] = None, campaign: Optional[str] = None,
            team: Optional[str] = None, reason: str = "", name: Optional[str] = None,
            phone: Optional[str] = None, email: Optional[str] = None,
            fields: Optional[dict[str, Any]] = None, raw: Any = None,
            next_at: Optional[float] = None, now: Optional[float] = None) -> Added:
    """One insert inside the caller's transaction."""
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
    cur = store.db.execute(f"insert into leads ({cols}) values ({marks}) on conflict(leadgen_id) do nothing "
                           "returning id", _list(row.values()))
    added = cur.fetchall()                    # all of it: SQLite finishes the statement as it is read
    if added:
        return Added(int(added[0][0]), False)
    got = store.db.execute("select id from leads where leadgen_id = ?", [leadgen_id]).fetchone()
    return Added(int(got[0]), True)


def get_lead(store: Store, lead_id: int) -> Optional[dict[str, Any]]:
    rows = _list(store.db.query("select * from leads where id = ?", [lead_id]))
    return _decode(rows[0]) if rows else None


def list_leads(store: Store, status: Optional[str | Iterable[str]] = None, campaign: Optional[str] = None,
               source: Optional[str] = None, phone: Optional[str] = None,
               limit: Optional[int] = None) -> _Rows:
    """Newest first, filtered by any of the arguments given."""
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
    return store.db.execute(sql, args).rowcount == 1


def due(store: Store, now: float, limit: int = 10) -> _Rows:
    """Ready leads whose time has come, the longest-waiting first."""
    return [_decode(r) for r in store.db.query(
        "select * from leads where status = 'ready' and next_at <= ? order by next_at, id limit ?", [now, limit])]


def pending_intake(store: Store, now: float, limit: int = 50) -> _Rows:
    """Leads intake still owes a look: fetch-failed ones whose retry time has
    come, and received ones left behind (a restart between the webhook's
    commit and the fetch) once their next_at passes."""
    return [_decode(r) for r in store.db.query(
        "select * from leads where status in ('received', 'fetch-failed') and next_at <= ? "
        "order by next_at, id limit ?", [now, limit])]


def claim(store: Store, lead_id: int, call_id: Optional[str] = None, now: Optional[float] = None,
          redial_window_s: float = REDIAL_WINDOW_S, worker: Optional[str] = None,
          max_calling: Optional[int] = None) -> bool:
    """ready -> calling, atomically; True for exactly one claimant. This is
    what makes "called exactly once" hold across tasks and restarts. (It
    does not count attempts: the dialler does, when it settles the call.)
    A lead whose number another lead is calling, or called less than
    `redial_window_s` ago, is not claimed but filed as duplicate-number:
    intake checks this too, but a CLI in another process or two leads made
    ready at once can slip past intake, never past this.

    `max_calling`: not while that many leads are being called already, by
    any worker: the limit of outbound calls holds for the whole cluster.
    The count and the claim are one serial transaction, so two workers
    claiming at once cannot both take the last place. (A row lock with SKIP
    LOCKED would keep two claimers off one lead, which the conditional
    UPDATE does already, but not off the count.)"""
    now = time.time() if now is None else now
    sets = "status = 'calling', updated = ?, called_at = ?" + (", call_id = ?" if call_id is not None else "")
    args: builtins.list[Any] = [now, now, *([call_id] if call_id is not None else [])]
    if worker is not None:
        sets += ", worker = ?"
        args.append(worker)
    args.append(lead_id)
    sql = f"update leads set {sets} where id = ? and status = 'ready'"
    if max_calling is not None:
        sql += " and (select count(*) from leads c where c.status = 'calling') < ?"
        args.append(int(max_calling))
    if redial_window_s > 0:
        sql += (" and (phone is null or not exists (select 1 from leads o where o.phone = leads.phone"
                f" and o.id != leads.id and (o.status = 'calling' or {_CALLED_AT} >= ?)))")
        args.append(now - redial_window_s)
    with store.transaction():
        if store.db.execute(sql, args).rowcount == 1:
            return True
        if redial_window_s > 0:
            row = store.db.execute("select phone from leads where id = ? and status = 'ready'", [lead_id]).fetchone()
            other = _blocking(store, row[0], lead_id, now, redial_window_s, ("calling",)) if row else None
            if other is not None:
                store.db.execute("update leads set status = 'duplicate-number', reason = ?, updated = ? "
                                 "where id = ? and status = 'ready'",
                                 [duplicate_reason(other, now, redial_window_s), now, lead_id])
    return False


# the time a lead was last dialled; rows from before `called_at` existed: their last change, if they had a call
_CALLED_AT = "coalesce(o.called_at, case when o.call_id is not null then o.updated end)"


def redial_blocker(store: Store, phone: Optional[str], lead_id: int, now: float,
                   redial_window_s: float = REDIAL_WINDOW_S) -> Optional[dict[str, Any]]:
    """Another lead with this number that is waiting to be called, being
    called, or was called less than `redial_window_s` ago (None: this one may
    be called). Intake files a lead with one as duplicate-number."""
    if not phone or redial_window_s <= 0:
        return None
    return _blocking(store, phone, lead_id, now, redial_window_s, ("ready", "calling"))


def _blocking(store: Store, phone: str, lead_id: int, now: float, window: float,
              statuses: tuple[str, ...]) -> Optional[dict[str, Any]]:
    marks = ", ".join("?" * len(statuses))
    rows = _list(store.db.query(
        f"select o.id, o.status, {_CALLED_AT} as called_at from leads o where o.phone = ? and o.id != ? "
        f"and (o.status in ({marks}) or {_CALLED_AT} >= ?) order by o.id limit 1",
        [phone, lead_id, *statuses, now - window]))
    return rows[0] if rows else None


def duplicate_reason(other: dict[str, Any], now: float, window: float) -> str:
    """Why a lead is duplicate-number, for `leads list` (no number in it: it goes to logs too)."""
    if other["status"] == "calling":
        what = "is being called"
    elif other["status"] == "ready" and not other.get("called_at"):
        what = "is waiting to be called"
    else:
        ago = max(0.0, now - float(other.get("called_at") or now))
        what = f"was called {ago / 3600:.1f} h ago" if ago >= 3600 else f"was called {ago / 60:.0f} min ago"
    return (f"lead {other['id']} with the same number {what}; not called again within "
            f"[leads] redial_window_s ({window:g} s)")


def recover_calling(store: Store, now: Optional[float] = None, worker: Optional[str] = None) -> int:
    """At start-up: leads still "calling" were on a call when the service
    stopped. Whether the lead was reached is unknown, so they are not dialled
    again by themselves (exactly once): failed, with a reason a person can act on.
    With `worker`, only the leads that worker claimed (and those claimed
    before workers had names): the other workers' calls are still going on."""
    now = time.time() if now is None else now
    sql = "update leads set status = 'failed', reason = ?, updated = ? where status = 'calling'"
    args: builtins.list[Any] = ["the service stopped during the call; not called again automatically "
                                "(check the call, then make it ready by hand)", now]
    if worker is not None:
        sql += " and (worker = ? or worker is null or worker = '')"
        args.append(worker)
    return store.db.execute(sql, args).rowcount


def calling(store: Store) -> int:
    """Leads being called now, by every worker."""
    return int(store.db.execute("select count(*) from leads where status = 'calling'").fetchone()[0])


def counts(store: Store) -> dict[str, int]:
    """How many leads are in each status."""
    return {r["status"]: r["n"] for r in store.db.query("select status, count(*) as n from leads group by status")}


# ---------------------------------------------------------------------- dnc
def dnc_add(store: Store, phone: str, reason: str = "", now: Optional[float] = None) -> int:
    """Put an E.164 number on the list, and stop every lead with that number
    not yet called (status dnc). Returns how many leads it stopped."""
    now = time.time() if now is None else now
    marks = ", ".join("?" * len(OPEN))
    with store.transaction():
        store.db.execute("insert into dnc (phone, added, reason) values (?, ?, ?) "
                         "on conflict(phone) do update set reason = excluded.reason", [phone, now, reason])
        cur = store.db.execute(f"update leads set status = 'dnc', reason = ?, updated = ? "
                               f"where phone = ? and status in ({marks})",
                               ["on the do-not-call list" + (f": {reason}" if reason else ""), now, phone, *OPEN])
    return cur.rowcount


def dnc_remove(store: Store, phone: str) -> bool:
    """Take a number off (leads already marked dnc stay so: re-add them deliberately)."""
    return store.db.execute("delete from dnc where phone = ?", [phone]).rowcount == 1


def dnc_list(store: Store) -> _Rows:
    return _list(store.db.query("select * from dnc order by added, phone"))


def dnc_contains(store: Store, phone: Optional[str]) -> bool:
    if not phone:
        return False
    return store.db.execute("select 1 from dnc where phone = ?", [phone]).fetchone() is not None


# -------------------------------------------------------------- webhook inbox
def inbox_add(store: Store, path: str, status: int, error: str, body: bytes, now: Optional[float] = None,
              keep: int = INBOX_KEEP, body_max: int = INBOX_BODY_MAX) -> int:
    """Keep a signed body we refused (or failed on), for a person to look at;
    bounded in rows and bytes so a sender in a loop cannot fill the disk.
    Returns its id."""
    now = time.time() if now is None else now
    with store.transaction():
        new = int(store.db.execute("insert into webhook_inbox (received_at, path, status, error, size, body) "
                                   "values (?, ?, ?, ?, ?, ?) returning id",
                                   [now, path, status, error[:2000], len(body), bytes(body[:body_max])]
                                   ).fetchall()[0][0])
        store.db.execute("delete from webhook_inbox where id <= ?", [new - keep])
    return new


def inbox_list(store: Store, limit: int = 100) -> _Rows:
    """Newest first."""
    return _list(store.db.query("select * from webhook_inbox order by id desc limit ?", [int(limit)]))


# the names the brief gave them: leads.get / leads.list / leads.update
get = get_lead
list = list_leads      # noqa: A001 (module attribute; inside this module use _list for the builtin)
update = update_lead


# ------------------------------------------------------------------ helpers
def _columns(store: Store, vals: dict[str, Any]) -> None:
    """Add a column for a key the table does not have yet (the dialler's own fields)."""
    for k in vals:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", k):
            raise ValueError(f"not a column name: {k!r}")
    add_columns(store.db, "leads", vals)


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
