"""Retention and erasure of personal data.

    forget(store, who, now, dry_run=False) -> dict[str, int]
        who: a phone number (E.164 or as dialled), an email, or a lead id;
        removes or anonymises everything about that person; returns counts
        per kind of record removed.
    purge(store, options, now, dry_run=False) -> dict[str, int]
        what [retention] says is too old to keep, gone.

Why anonymise some rows instead of deleting them:
- a forgotten lead keeps its row (no name, number, email, answers or raw
  webhook body; status "erased") because its `leadgen_id` is what stops a
  Facebook retry of the same webhook from adding, and calling, the person again;
- a forgotten call keeps its row (rep, outcome, value, duration) without its
  lead, transcript, cards or notes, so the sales figures stay whole;
- the do-not-call list is never touched: it is what keeps the person from
  being called again, which is the point of asking to be forgotten. A number
  on it holds no name, only the number, when and why.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Coroutine, Optional

import phonenumbers

from intervene.store import crm_outbox, outbox
from intervene.store import leads as lead_store
from intervene.store.db import Store
from intervene.store.worker import StoreWorker

log = logging.getLogger("intervene.store")

DAY_S = 86400.0
ERASED = "erased"
LEAD_ID_MAX_DIGITS = 6        # `forget 1234`: a lead id; 7 digits and more: a phone number


@dataclass(frozen=True)
class RetentionOptions:
    """[retention]: days to keep each kind of record; 0 keeps it for ever."""
    transcripts: float = 0.0        # what was said on calls (utterances)
    interventions: float = 0.0      # the cards and spoken corrections of calls
    leads: float = 0.0              # lead records (the do-not-call list is never purged)
    webhook_inbox: float = 0.0      # refused webhook bodies kept for inspection

    @property
    def any(self) -> bool:
        return any(d > 0 for d in (self.transcripts, self.interventions, self.leads, self.webhook_inbox))


# ---------------------------------------------------------------------- purge

def purge(store: Store, options: RetentionOptions, now: float, dry_run: bool = False) -> dict[str, int]:
    """Delete what is older than [retention] allows, in one transaction.
    Calls are dated by when they started, leads by their last change (a lead
    still being called is kept), inbox bodies by when they came. A call whose
    transcript and cards are both past their time goes with them. Returns
    how many of each went (or, dry_run, would go)."""
    counts = {"utterances": 0, "interventions": 0, "calls": 0, "leads": 0, "webhook_inbox": 0}
    old_t = _old_calls(store, now - options.transcripts * DAY_S) if options.transcripts > 0 else []
    old_i = _old_calls(store, now - options.interventions * DAY_S) if options.interventions > 0 else []
    with store.transaction():
        counts["utterances"] = _delete_in(store, "utterances", "call_id", old_t, dry_run)
        counts["interventions"] = _delete_in(store, "interventions", "call_id", old_i, dry_run)
        both = sorted(set(old_t) & set(old_i))
        counts["calls"] = _delete_in(store, "calls", "id", both, dry_run)
        if options.leads > 0:
            cutoff = now - options.leads * DAY_S
            where = f"{store.db.greatest}(received_at, coalesce(updated, 0)) < ? and status != 'calling'"
            counts["leads"] = _count_or_delete(store, "leads", where, [cutoff], dry_run)
        if options.webhook_inbox > 0:
            counts["webhook_inbox"] = _count_or_delete(store, "webhook_inbox", "received_at < ?",
                                                       [now - options.webhook_inbox * DAY_S], dry_run)
        crm = _purge_crm(store, options, now, dry_run)
        if crm:                                        # only when there was any: the keys callers know stay as they were
            counts["crm_outbox"] = crm
    if not dry_run and any(counts.values()):
        log.info("retention: removed %s", ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    return counts


def _purge_crm(store: Store, options: RetentionOptions, now: float, dry_run: bool) -> int:
    """CRM deliveries hold a call's transcript and cards and the lead's
    contact details together, so they are kept no longer than the shortest
    of those three retentions (by when they were queued)."""
    days = [d for d in (options.transcripts, options.interventions, options.leads) if d > 0]
    if not days:
        return 0
    return _count_or_delete(store, crm_outbox.TABLE, "created < ?", [now - min(days) * DAY_S], dry_run)


def _old_calls(store: Store, cutoff: float) -> list[str]:
    """Ids of calls started before `cutoff` (a start time that does not parse is kept)."""
    out = []
    for row in store.db.query("select id, started from calls"):
        t = _epoch(row["started"])
        if t is not None and t < cutoff:
            out.append(row["id"])
    return out


def _epoch(started: Optional[str]) -> Optional[float]:
    if not started:
        return None
    try:
        t = datetime.fromisoformat(str(started).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _delete_in(store: Store, table: str, column: str, values: list[Any], dry_run: bool) -> int:
    n = 0
    for i in range(0, len(values), 500):
        chunk = values[i:i + 500]
        where = f"{column} in ({', '.join('?' * len(chunk))})"
        n += _count_or_delete(store, table, where, chunk, dry_run)
    return n


def _count_or_delete(store: Store, table: str, where: str, args: list[Any], dry_run: bool) -> int:
    if table not in store.db.tables():
        return 0
    if dry_run:
        return int(store.db.execute(f"select count(*) from {table} where {where}", args).fetchone()[0])
    return int(store.db.execute(f"delete from {table} where {where}", args).rowcount)


def daily(worker: StoreWorker, store: Store, options: RetentionOptions, every_s: float = DAY_S,
          clock: Callable[[], float] = time.time) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The service's background job: purge at start, then every `every_s`,
    on the store's thread (never on the event loop), until `stop` is set.
    A failed purge is logged and tried again next time."""
    async def job(stop: asyncio.Event) -> None:
        if not options.any:
            return
        while not stop.is_set():
            try:
                await worker.run(purge, store, options, clock())
            except Exception as e:
                log.warning("retention: purge failed (%s: %s); trying again in %.0f s",
                            type(e).__name__, e, every_s)
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except asyncio.TimeoutError:
                pass
    return job


# --------------------------------------------------------------------- forget

@dataclass(frozen=True)
class Who:
    """One person, in the forms they may be stored under."""
    lead_ids: frozenset[int] = frozenset()
    phones: frozenset[str] = frozenset()      # E.164 and as given
    digits: frozenset[str] = frozenset()      # the number's digits: international, national, as given
    email: str = ""


def who_is(who: str, region: str = "US") -> Who:
    """`who` read as an email (has @), a lead id (`lead:N`, or a number of
    up to 6 digits) or a phone number (anything else with 7+ digits). A
    phone without its country code is read as `region`'s."""
    text = (who or "").strip()
    if not text:
        raise ValueError("who: expected a phone number, an email or a lead id, got nothing")
    if "@" in text:
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", text):
            raise ValueError(f"who: not an email address: {text!r}")
        return Who(email=text.lower())
    low = text.lower()
    if low.startswith("lead:") or (text.isdigit() and len(text) <= LEAD_ID_MAX_DIGITS):
        n = low.removeprefix("lead:").strip()
        if not n.isdigit():
            raise ValueError(f"who: a lead id is a number, got {text!r}")
        return Who(lead_ids=frozenset({int(n)}))
    raw_digits = re.sub(r"\D", "", text)
    if len(raw_digits) < 7 or re.search(r"[A-Za-z]", text):
        raise ValueError(f"who: expected a phone number, an email or a lead id, got {text!r}")
    phones, digits = {text}, {raw_digits}
    try:
        num = phonenumbers.parse(text, region.upper())
        e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        phones.add(e164)
        digits |= {e164.lstrip("+"), str(num.national_number)}
    except phonenumbers.NumberParseException:
        pass
    return Who(phones=frozenset(phones), digits=frozenset(digits))


def forget(store: Store, who: str, now: float, dry_run: bool = False, region: str = "US") -> dict[str, int]:
    """Remove or anonymise everything about one person (see the module's
    docstring for what stays and why), in one transaction: their leads,
    the calls linked to those leads or dialled to their number (transcript,
    cards, lead and notes), outbox events of theirs not yet sent, and
    refused webhook bodies naming them. Returns counts per kind (no personal
    data in them); `dnc_kept` says the number stays on the do-not-call list."""
    person = who_is(who, region)
    db = store.db
    leads = _matching_leads(store, person)
    lead_ids = [r["id"] for r in leads]
    linked = {r["call_id"] for r in leads if r.get("call_id")}
    linked = {c for c in linked if store.call(c) is not None}
    call_ids = sorted(linked | _matching_calls(store, person, lead_ids))
    counts = {"leads": len(lead_ids), "calls": len(call_ids), "utterances": 0, "interventions": 0,
              "outbox": 0, "webhook_inbox": 0}
    needles = sorted({*person.phones, *person.digits, person.email,
                      *(r["phone"] for r in leads if r.get("phone")), *(r["email"] for r in leads if r.get("email")),
                      *(r["leadgen_id"] for r in leads if r.get("leadgen_id"))} - {""})
    with store.transaction():
        counts["utterances"] = _delete_in(store, "utterances", "call_id", call_ids, dry_run)
        counts["interventions"] = _delete_in(store, "interventions", "call_id", call_ids, dry_run)
        counts["outbox"] = _forget_outbox(store, [str(i) for i in lead_ids], call_ids, dry_run)
        counts["webhook_inbox"] = _forget_inbox(store, needles, dry_run)
        crm = _forget_crm(store, [str(i) for i in lead_ids], call_ids, dry_run)
        if not dry_run:
            for i in range(0, len(call_ids), 500):
                chunk = call_ids[i:i + 500]
                db.execute(f"update calls set lead = null, outcome_note = null "
                           f"where id in ({', '.join('?' * len(chunk))})", chunk)
            for lid in lead_ids:
                db.execute("update leads set name = null, phone = null, email = null, fields = '{}', raw = '{}', "
                           "status = ?, reason = 'personal data erased', updated = ? where id = ?",
                           [ERASED, now, lid])
    if crm:
        counts["crm_outbox"] = crm
    phones = sorted(person.phones | {r["phone"] for r in leads if r.get("phone")})
    kept = sum(1 for p in phones if lead_store.dnc_contains(store, p))
    if kept:
        counts["dnc_kept"] = kept
    return counts


def _matching_leads(store: Store, person: Who) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    cols = "id, leadgen_id, phone, email, call_id"
    for lid in person.lead_ids:
        for r in store.db.query(f"select {cols} from leads where id = ?", [lid]):
            found[r["id"]] = r
    if person.email:
        for r in store.db.query(f"select {cols} from leads where lower(email) = ?", [person.email]):
            found[r["id"]] = r
    if person.digits:
        for r in store.db.query(f"select {cols} from leads where phone is not null"):
            if _digits(r["phone"]) in person.digits:
                found[r["id"]] = r
    return [found[k] for k in sorted(found)]


def _matching_calls(store: Store, person: Who, lead_ids: list[int]) -> set[str]:
    """Calls whose `lead` is this person: the number the dialplan gave, or
    the lead object an imported record carries (its id, or a field holding
    their number or email)."""
    ids = {str(i) for i in lead_ids}
    out = set()
    for r in store.db.query("select id, lead from calls where lead is not null and lead != ''"):
        value = str(r["lead"])
        if person.digits and _digits(value) in person.digits:
            out.add(r["id"])
            continue
        obj = _json(value)
        if not isinstance(obj, dict):
            continue
        fields = obj.get("fields")
        strings = [str(obj.get("id", ""))] + ([str(v) for v in fields.values() if isinstance(v, (str, int))]
                                              if isinstance(fields, dict) else [])
        if any(s in ids or (person.digits and _digits(s) in person.digits)
               or (person.email and s.strip().lower() == person.email) for s in strings):
            out.add(r["id"])
    return out


def _forget_outbox(store: Store, lead_ids: list[str], call_ids: list[str], dry_run: bool) -> int:
    """Every event of theirs but one a sender holds right now (`sending`: it
    is on its way; Facebook has only hashes of the number and email)."""
    return _forget_queued(store, outbox.TABLE, lead_ids, call_ids, dry_run, "status != 'sending' and ")


def _forget_crm(store: Store, lead_ids: list[str], call_ids: list[str], dry_run: bool) -> int:
    """Every CRM delivery of theirs, in any state: pending and failed ones
    hold their contact details and calls in the clear; sent ones only ids,
    but ids that still tie them to calls. One being sent right now reaches
    the CRM regardless: erasure there is the CRM's own (say so to the admin)."""
    return _forget_queued(store, crm_outbox.TABLE, lead_ids, call_ids, dry_run, "")


def _forget_queued(store: Store, table: str, lead_ids: list[str], call_ids: list[str], dry_run: bool,
                   only: str) -> int:
    """An outbox's rows of these leads or calls (`only`: a further condition, ending in `and `)."""
    if table not in store.db.tables() or not (lead_ids or call_ids):
        return 0
    n = 0
    for i in range(0, max(len(lead_ids), len(call_ids)), 250):
        a, b = lead_ids[i:i + 250], call_ids[i:i + 250]
        ors = [f"{col} in ({', '.join('?' * len(ids))})" for col, ids in (("lead_id", a), ("call_id", b)) if ids]
        where = f"{only}({' or '.join(ors)})"        # never `in ()`: PostgreSQL refuses it
        n += _count_or_delete(store, table, where, [*a, *b], dry_run)
    return n


def _forget_inbox(store: Store, needles: list[str], dry_run: bool) -> int:
    """Refused webhook bodies that hold their number, email or lead id."""
    if "webhook_inbox" not in store.db.tables() or not needles:
        return 0
    where = " or ".join(store.db.bytes_contain("body") for _ in needles)
    args: list[Any] = [n.encode("utf-8") for n in needles]
    return _count_or_delete(store, "webhook_inbox", f"({where})", args, dry_run)


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


def _json(value: str) -> Any:
    if not value.lstrip().startswith("{"):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None
