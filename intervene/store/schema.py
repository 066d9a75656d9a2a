"""The store's schema, as numbered migrations, the same for SQLite and
PostgreSQL.

`schema_version` holds one row per migration applied. `upgrade` applies the
missing ones in order, each in one serial transaction (DDL is transactional
on both databases), so several workers starting at once against one
PostgreSQL apply each migration exactly once and the others wait for it.
A database newer than this code is refused: an older worker must not write
into a schema it does not know.

Migration 1 is the schema as it stood before migrations were numbered. It
creates what is missing and adds the columns older SQLite files lack (each
was added by hand, release by release, before), so an existing install
upgrades in place and a new one starts complete.

The DDL uses three words each database spells its own way: {real} (a
float: PostgreSQL's `real` is 4 bytes, too short for a Unix time), {blob}
and {serial} (an auto-numbered integer key).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from intervene.errors import InterveneError
from intervene.store.sql import Sql

CALLS_BY_LOGIN = "migrated.calls-by-login"    # the settings key of the one-off fix in _calls_by_login


class SchemaError(InterveneError):
    pass


_BASE = """
create table if not exists kb_meta (key text primary key, value text);
create table if not exists kb_items (section text, id text, position bigint, data text, text_hash text,
    source text, updated {real}, primary key (section, id));
create table if not exists embeddings (model text, hash text, text text, dim bigint, vec {blob},
    primary key (model, hash));
create table if not exists calls (id text primary key, started text, source text, rep text, team text,
    profile text, mode text, kb text, duration_s {real}, outcome text, value {real}, lead text,
    outcome_note text, outcome_by text, outcome_at {real}, lead_id bigint, captured text,
    rep_endpoint text, conversation_started {real}{call_order});
create table if not exists utterances (call_id text references calls (id), idx bigint, speaker text,
    start {real}, "end" {real}, text text, primary key (call_id, idx));
create table if not exists interventions (call_id text references calls (id), seq bigint, at {real},
    utterance bigint, category text, severity text, mode text, trigger text, detected text, say text,
    evidence text, feedback text, feedback_text text, feedback_at {real}, feedback_by text,
    delivery text, delivered_at {real}, primary key (call_id, seq));
create table if not exists users (login text primary key, name text, role text, team text, endpoint text,
    sip_message bigint, pw text, epoch bigint, created {real}, nonce text);
create table if not exists settings (key text primary key, value text);
create table if not exists spent_tokens (id text primary key, expires {real});
create index if not exists spent_tokens_expires on spent_tokens (expires);
create table if not exists leads (
    id {serial},
    leadgen_id text unique,
    source text not null,
    page_id text, form_id text, campaign text, team text,
    received_at {real} not null,
    status text not null,
    reason text not null default '',
    name text, phone text, email text,
    fields text not null default '{{}}',
    raw text not null default '{{}}',
    attempts bigint not null default 0,
    next_at {real},
    call_id text,
    called_at {real},
    updated {real} not null
);
create index if not exists leads_due on leads (status, next_at);
create index if not exists leads_phone on leads (phone);
create table if not exists webhook_inbox (id {serial}, received_at {real} not null, path text not null,
    status bigint not null, error text not null, size bigint not null, body {blob} not null);
create table if not exists dnc (phone text primary key, added {real} not null, reason text not null default '');
create table if not exists capi_outbox (event_id text primary key, lead_id text, call_id text,
    payload text not null, status text not null default 'pending', attempts bigint default 0,
    next_at {real}, last_error text, created {real}, sent_at {real}, response text);
create index if not exists capi_outbox_due on capi_outbox (status, next_at);
"""

# columns older SQLite files may lack: (table, column, type)
_LATE_COLUMNS = (
    ("interventions", "feedback_text", "text"), ("interventions", "feedback_at", "{real}"),
    ("interventions", "feedback_by", "text"), ("interventions", "delivery", "text"),
    ("interventions", "delivered_at", "{real}"),
    ("calls", "outcome_note", "text"), ("calls", "outcome_by", "text"), ("calls", "outcome_at", "{real}"),
    ("calls", "lead_id", "bigint"), ("calls", "captured", "text"), ("calls", "rep_endpoint", "text"),
    ("calls", "conversation_started", "{real}"),
    ("users", "nonce", "text"),                 # logins from before stay "" (see accounts/auth.py)
    ("leads", "called_at", "{real}"),
)


def _words(db: Sql) -> dict[str, str]:
    return {"real": db.real, "blob": db.blob, "serial": db.serial_pk,
            "call_order": (", ord bigint generated by default as identity" if db.dialect == "postgresql" else "")}


def _statements(db: Sql, ddl: str) -> list[str]:
    return [s.strip() for s in ddl.format(**_words(db)).split(";") if s.strip()]


def _base(db: Sql) -> None:
    for stmt in _statements(db, _BASE):
        db.execute(stmt)
    for table, column, typ in _LATE_COLUMNS:
        if column not in db.columns(table):
            db.execute(f"alter table {table} add column {column} {typ.format(**_words(db))}")
    _calls_by_login(db)


def _calls_by_login(db: Sql) -> None:
    """Calls stored before ownership went by login carry the phone's name in
    `rep` (`rep7` of `PJSIP/rep7`). Each goes to the one rep or admin who
    holds that phone now; a name that is a login already, or a phone held by
    nobody or by several, is left as it was. Once only: later, a phone's
    holder is not who took its earlier calls."""
    if db.query("select 1 from settings where key = ?", [CALLS_BY_LOGIN]):
        return
    holders = "from users u where u.endpoint = calls.rep_endpoint and u.role in ('rep', 'admin')"
    db.execute(f"update calls set rep = (select u.login {holders}) "
               f"where coalesce(rep_endpoint, '') != '' "
               f"and (rep is null or rep not in (select login from users)) "
               f"and (select count(*) {holders}) = 1")
    db.execute("insert into settings (key, value) values (?, ?)", [CALLS_BY_LOGIN, "1"])


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Sql], None]


def _workers(db: Sql) -> None:
    """Several workers share one database: a lead remembers which worker
    claimed it, so a worker that restarts settles its own unfinished calls
    and never another's that is still on the phone."""
    if "worker" not in db.columns("leads"):
        db.execute("alter table leads add column worker text")


def _leases(db: Sql) -> None:
    """Calls monitored by one of several workers: each call's lease (who
    monitors it, until when), the workers' heartbeats, and each call's gaps
    in monitoring (a worker died and another took over)."""
    db.execute(f"create table if not exists call_leases (call_id text primary key, worker text not null, "
               f"app text not null, expires {db.real} not null, renewed {db.real} not null)")
    db.execute(f"create table if not exists workers (name text primary key, seen {db.real} not null)")
    for col in ("worker", "gaps"):
        if col not in db.columns("calls"):
            db.execute(f"alter table calls add column {col} text")


def _screen_pushes(db: Sql) -> None:
    """Several workers, one floor: every screen push goes through this table
    (store/relay.py), so a rep's screen sees every call, whichever worker
    monitors it, numbered the same on every worker. Unused on SQLite."""
    db.execute(f"create table if not exists screen_pushes (seq {db.serial_pk}, worker text not null, "
               f"kind text not null, call_id text not null, data text not null, at {db.real} not null)")


def _lease_asterisk(db: Sql) -> None:
    """A floor with several Asterisk servers: a worker can only take over a
    call on the Asterisk it is connected to (the channels are there), so
    each lease says which one (its ARI URL)."""
    if "asterisk" not in db.columns("call_leases"):
        db.execute("alter table call_leases add column asterisk text")


def _crm_outbox(db: Sql) -> None:
    """CRM write-back (leads/crm.py): each delivery to a webhook or HubSpot,
    one row per (target, event, subject), kept across restarts like the
    Conversions API's outbox. call_id / lead_id are there for erasure;
    `remote` keeps what the CRM made (a HubSpot call's id), so a later
    event of the same call updates it instead of logging a second one."""
    db.execute(f"create table if not exists crm_outbox (delivery_id text primary key, target text not null, "
               f"event text not null, subject text not null, call_id text, lead_id text, payload text, "
               f"status text not null default 'pending', attempts bigint not null default 0, "
               f"next_at {db.real} not null, created {db.real} not null, sent_at {db.real}, last_error text, "
               f"remote text)")
    db.execute("create index if not exists crm_outbox_due on crm_outbox (status, next_at)")
    db.execute("create index if not exists crm_outbox_call on crm_outbox (call_id)")


MIGRATIONS: tuple[Migration, ...] = tuple(sorted((
    Migration(1, "base: calls, transcripts, cards, users, settings, KB, leads, DNC, inbox, outbox", _base),
    Migration(2, "workers: the worker that claimed each lead", _workers),
    Migration(3, "screens: pushes shared by workers", _screen_pushes),
    Migration(4, "leases: which worker monitors each live call, and gaps in monitoring", _leases),
    Migration(5, "leases: the Asterisk each leased call is on", _lease_asterisk),
    Migration(6, "crm: the outbox of webhook and HubSpot deliveries", _crm_outbox),
), key=lambda m: m.version))
LATEST = MIGRATIONS[-1].version


def _ensure_table(db: Sql) -> None:
    db.execute(f"create table if not exists schema_version (version bigint primary key, name text not null, "
               f"applied {db.real} not null)")


def applied(db: Sql) -> set[int]:
    """The migrations this database has had (each one's number)."""
    if "schema_version" not in db.tables():
        return set()
    return {int(r["version"]) for r in db.query("select version from schema_version")}


def current(db: Sql) -> int:
    """The version this database is at (0: nothing applied yet)."""
    return max(applied(db), default=0)


def pending(db: Sql) -> list[Migration]:
    """Those not applied yet, by number: a release may bring one numbered
    below another that is already in (two branches of work), and it still goes in."""
    have = applied(db)
    return [m for m in MIGRATIONS if m.version not in have]


def upgrade(db: Sql, now: Optional[float] = None) -> list[Migration]:
    """Apply every migration this database lacks; returns those applied."""
    done: list[Migration] = []
    have = current(db)
    if have > LATEST or applied(db) - {m.version for m in MIGRATIONS}:
        raise SchemaError(f"the database {db.url} is at schema version {have}, newer than this intervene "
                          f"knows ({LATEST}): upgrade intervene on this machine first")
    if not pending(db):
        return done
    for m in MIGRATIONS:
        with db.transaction():
            _ensure_table(db)
            if m.version in applied(db):           # applied already (or by another worker while we waited)
                continue
            m.apply(db)
            db.execute("insert into schema_version (version, name, applied) values (?, ?, ?)",
                       [m.version, m.name, time.time() if now is None else now])
            done.append(m)
    return done
