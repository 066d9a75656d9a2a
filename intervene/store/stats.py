"""What the database holds that an admin watches: leads by status and each
outbox's backlog. Read at scrape time (`/metrics`) on the store's thread,
with two small grouped queries per table, so a scrape costs the same
whatever the tables' size beyond an index scan.

The outboxes are the Conversions API's (`capi_outbox`) and, where the store
has it, the CRM webhooks' (`crm_outbox`, the same status/created columns)."""
from __future__ import annotations

from dataclasses import dataclass, field

from intervene.store.db import Store
from intervene.store.leads import counts

OUTBOXES = {"capi": "capi_outbox", "crm": "crm_outbox"}     # label -> table
WAITING = ("pending", "sending")                            # not yet delivered


@dataclass(frozen=True)
class Outbox:
    backlog: int = 0              # rows pending or sending
    oldest_s: float = 0.0         # age of the oldest of them (0 when none)
    failed: int = 0               # given up on


@dataclass(frozen=True)
class Backlog:
    leads: dict[str, int] = field(default_factory=dict)        # status -> count
    outboxes: dict[str, Outbox] = field(default_factory=dict)  # label -> its state


def backlog(store: Store, now: float) -> Backlog:
    """Leads by status, and each outbox present: one grouped query per table."""
    db = store.db
    tables = db.tables()
    leads = {str(k): int(n) for k, n in counts(store).items()}
    boxes = {}
    for label, table in OUTBOXES.items():
        if table not in tables:
            continue
        rows = db.query(f"select status, count(*) as n, min(created) as oldest from {table} group by status")
        waiting = [r for r in rows if r["status"] in WAITING]
        oldest = min((float(r["oldest"]) for r in waiting if r["oldest"] is not None), default=None)
        boxes[label] = Outbox(backlog=sum(int(r["n"]) for r in waiting),
                              oldest_s=max(0.0, now - oldest) if oldest is not None else 0.0,
                              failed=sum(int(r["n"]) for r in rows if r["status"] == "failed"))
    return Backlog(leads, boxes)
