"""`intervene outbox`: what the two durable outboxes (the Conversions API's,
store/outbox.py, and the CRM's, store/crm_outbox.py) could not deliver and
why, and sending it again once the admin fixed the cause (a wrong token, a
property the CRM refused).

It runs against the live service's database while the service runs: each
change is one conditional UPDATE, which a sender's claim either precedes
(then the row is left to the sender) or follows (then the sender takes the
re-queued row at its next poll, within a second or so).

Nothing personal is printed: no payload (a CRM's holds the lead's contact
details and the transcript), only ids, targets, event names, counts, times
and errors. The senders already keep personal data out of errors; what a
receiver echoed back into one is masked here once more, because a webhook's
error body is the receiver's to choose."""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional

import click

from intervene.app import Runtime
from intervene.cli._runtime import fail
from intervene.leads.capi import MAX_AGE_S
from intervene.nlp.redact import mask_contacts
from intervene.store import crm_outbox, outbox
from intervene.store.db import Store

OUTBOXES = ("capi", "crm")
EXIT_NOT_ALL = 1                # some named rows were not re-queued (sent, being sent, too old)
ERROR_WIDTH = 160               # of last_error on a text line; --json has it whole


_WHY_NOT = {
    "sent": "already sent; a delivered event is never sent twice",
    "sending": "being sent right now (or the service stopped mid-send: it goes again when the service starts)",
    "too-old": "older than 7 days: Facebook no longer takes it, so it stays failed",
    "no-payload": "its payload is gone (sent or erased): nothing to send",
}


def _span(seconds: float) -> str:
    s = max(0.0, seconds)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def _next_try(row: dict[str, Any], now: float) -> str:
    if row["status"] != "pending" or row["next_at"] is None:
        return "-"
    wait = float(row["next_at"]) - now
    return "now" if wait <= 0 else f"in {_span(wait)}"


def _chosen(which: Optional[str]) -> tuple[str, ...]:
    return (which,) if which else OUTBOXES


def _overview(name: str) -> Callable[..., list[dict[str, Any]]]:
    return outbox.overview if name == "capi" else crm_outbox.overview


def _counts(store: Store, name: str) -> dict[str, int]:
    return outbox.counts(store) if name == "capi" else crm_outbox.counts(store)


@click.group(name="outbox")
def outbox_group() -> None:
    """Deliveries to Facebook's Conversions API (capi) and to the CRM (crm):
    which failed and why, and sending them again."""


@outbox_group.command(name="list", short_help="Deliveries and counts per status (never a payload).")
@click.option("--outbox", "which", type=click.Choice(OUTBOXES), default=None, help="One outbox (default: both).")
@click.option("--status", type=click.Choice(outbox.STATUSES), default=None, help="Only rows in this state.")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True, help="Newest rows per outbox.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: rows (errors whole) and counts.")
@click.pass_obj
def list_cmd(rt: Runtime, which: Optional[str], status: Optional[str], limit: int, as_json: bool) -> None:
    """Oldest first: outbox, id, event (capi) or target and event (crm),
    status, attempts, age, next try, last error; then the counts per status.
    Never a payload."""
    now = time.time()
    rows: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    for name in _chosen(which):
        for r in _overview(name)(rt.store, status, limit):
            rows.append({"outbox": name, **r, "last_error": mask_contacts(r["last_error"])})
        counts[name] = _counts(rt.store, name)
    if as_json:
        click.echo(json.dumps({"rows": rows, "counts": counts}, ensure_ascii=False))
        return
    for r in rows:
        what = r["event"] if r["outbox"] == "capi" else f"{r['target']} {r['event']}"
        error = r["last_error"] if len(r["last_error"]) <= ERROR_WIDTH else r["last_error"][:ERROR_WIDTH - 1] + "…"
        click.echo("\t".join((r["outbox"], r["id"], what, r["status"], str(r["attempts"]),
                              _span(now - float(r["created"])), _next_try(r, now), error or "-")))
    for name, by_status in counts.items():
        parts = [f"{by_status[s]} {s}" for s in outbox.STATUSES if by_status.get(s)]
        shown = sum(1 for r in rows if r["outbox"] == name)
        more = sum(by_status.get(s, 0) for s in ([status] if status else outbox.STATUSES)) - shown
        click.echo(f"{name}: {', '.join(parts) or 'empty'}" + (f" ({more} older not shown: --limit)" if more > 0 else ""))


@outbox_group.command(name="retry", short_help="Send failed (or waiting) deliveries again.")
@click.argument("ids", nargs=-1)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed row (of --outbox, or both).")
@click.option("--outbox", "which", type=click.Choice(OUTBOXES), default=None, help="One outbox (default: both).")
@click.pass_obj
def retry_cmd(rt: Runtime, ids: tuple[str, ...], all_failed: bool, which: Optional[str]) -> None:
    """Send failed rows again (or waiting ones now): IDS as `intervene outbox
    list` shows them, or --failed. They go back to pending, due at once, with
    their count of attempts reset; the running service's sender takes them at
    its next poll. A sent row is never sent again."""
    if bool(ids) == all_failed:
        fail("name the rows to retry (IDS, as `intervene outbox list` shows them) or give --failed, not both")
    store, now = rt.store, time.time()
    if all_failed:
        for name in _chosen(which):
            n = (outbox.requeue_failed(store, now, MAX_AGE_S) if name == "capi"
                 else crm_outbox.requeue_failed(store, now))
            left = _counts(store, name).get("failed", 0)
            click.echo(f"{name}: {n} re-queued" + (f", {left} left failed (older than 7 days: Facebook no longer "
                                                    "takes them)" if name == "capi" and left else ""))
        return
    wanted = list(dict.fromkeys(ids))
    where = _locate(store, wanted, which)
    unknown = [i for i in wanted if i not in where]
    if unknown:
        fail(f"no such row in the {which or 'capi or crm'} outbox: {', '.join(unknown)} (see `intervene outbox list`)")
    results: dict[str, str] = {}
    for name in _chosen(which):
        mine = [i for i in wanted if where[i] == name]
        if mine:
            results.update(outbox.requeue(store, mine, now, MAX_AGE_S) if name == "capi"
                           else crm_outbox.requeue(store, mine, now))
    for i in wanted:
        if results[i] == "requeued":
            click.echo(f"{where[i]} {i}: re-queued")
        else:
            click.echo(f"{where[i]} {i}: not re-queued: {_WHY_NOT.get(results[i], results[i])}", err=True)
    if any(v != "requeued" for v in results.values()):
        raise SystemExit(EXIT_NOT_ALL)


def _locate(store: Store, ids: list[str], which: Optional[str]) -> dict[str, str]:
    """Which outbox holds each id (an id is in one: event ids start iv-, delivery ids crm-)."""
    out: dict[str, str] = {}
    if which in (None, "crm"):
        out.update(dict.fromkeys(crm_outbox.known(store, ids), "crm"))
    if which in (None, "capi"):
        out.update(dict.fromkeys(outbox.known(store, ids), "capi"))
    return out
