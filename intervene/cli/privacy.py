"""`intervene purge` and `intervene forget`: personal data kept only as long
as [retention] says, and erased for one person on request.

Both print counts only - what went, never whose - so their output can go in
a ticket or a log. `--dry-run` says what would go and changes nothing.
"""
from __future__ import annotations

import time

import click

from intervene.app import Runtime
from intervene.cli._runtime import fail
from intervene.store.privacy import forget, purge


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items() if k != "dnc_kept")


@click.command(name="purge")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.pass_obj
def purge_cmd(rt: Runtime, dry_run: bool) -> None:
    """Remove what is older than [retention] allows: transcripts, interventions,
    lead records, refused webhook bodies (the service does this daily).
    A kind with no days set (or 0) is kept for ever."""
    options = rt.config.retention
    if not options.any:
        click.echo("nothing to purge: [retention] keeps everything for ever (set days in the config)")
        return
    counts = purge(rt.store, options, time.time(), dry_run=dry_run)
    click.echo(("would remove: " if dry_run else "removed: ") + _counts(counts))


@click.command(name="forget")
@click.argument("who", metavar="PHONE|EMAIL|LEAD_ID")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.pass_obj
def forget_cmd(rt: Runtime, who: str, dry_run: bool) -> None:
    """Erase everything about one person: their leads (anonymised: the row
    stays so a retried webhook cannot add them again), the transcripts,
    cards and lead details of their calls, their outbox events not yet sent,
    refused webhook bodies naming them.

    PHONE as dialled or E.164 (without a country code, the [leads]
    default_region's), EMAIL, or LEAD_ID (up to 6 digits, or lead:N). A
    number on the do-not-call list stays on it, so they are not called again."""
    cfg = rt.config
    try:
        counts = forget(rt.store, who, time.time(), dry_run=dry_run, region=cfg.leads.default_region)
    except ValueError as e:
        fail(str(e))
    found = any(v for k, v in counts.items() if k != "dnc_kept")
    if not found:
        click.echo("nothing found for that person")
    else:
        click.echo(("would remove: " if dry_run else "removed: ") + _counts(counts))
    if counts.get("dnc_kept"):
        click.echo("the number stays on the do-not-call list (so it is never called again)")
