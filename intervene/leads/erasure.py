"""A lead who asks on the qualification call for their data to be deleted.

The call ends without a rep; the lead is filed "erase-requested" (a status,
so the request survives a restart), and once the call is over its records
are gone through `privacy.forget` - the same erasure as `intervene forget`.
It runs on the store's thread after everything the call handed over, so
what the call wrote last is erased too. A failure leaves the lead
"erase-requested" and the lead service's sweep tries again.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from intervene.store import leads as lead_store
from intervene.store.db import Store
from intervene.store.privacy import forget

log = logging.getLogger("intervene.leads")

STATUS = "erase-requested"


def erase(store: Store, lead_id: int, now: float) -> Optional[dict[str, int]]:
    """Forget everything about an erase-requested lead: by its number (every
    lead and call with it) and its email (its id when it has neither). Counts of what went, or
    None when the lead is not (or no longer) waiting for erasure."""
    lead = lead_store.get_lead(store, lead_id)
    if lead is None or lead["status"] != STATUS:
        return None
    done: dict[str, int] = {}
    for who in _who(lead):
        for kind, n in forget(store, who, now).items():
            done[kind] = done.get(kind, 0) + n
    lead_store.update_lead(store, lead_id, only_if=STATUS, now=now, status="erased",
                           reason="the lead asked for their data to be deleted; erased")
    log.info("lead %d: erased as asked on the call (%s)", lead_id,
             ", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "nothing left")
    return done


def erase_due(store: Store, now: float, warned: Optional[set[int]] = None) -> int:
    """Every lead still waiting for erasure (the sweep, after a restart or
    a failure); returns how many were erased. A lead that fails is logged
    once (per `warned` set) and left for the next sweep."""
    n = 0
    for row in lead_store.list_leads(store, status=STATUS):
        try:
            if erase(store, row["id"], now) is not None:
                n += 1
        except Exception as e:
            if warned is None or row["id"] not in warned:
                log.warning("lead %d: erasure asked on the call is still waiting (%s: %s); "
                            "`intervene forget %d` does it by hand", row["id"], type(e).__name__, e, row["id"])
                if warned is not None:
                    warned.add(row["id"])
    return n


def _who(lead: dict[str, Any]) -> list[str]:
    out = [str(lead[k]).strip() for k in ("phone", "email") if lead.get(k) and str(lead[k]).strip()]
    return [*dict.fromkeys(out)] or [str(lead["id"])]     # by number and email, every lead and call goes
