"""`intervene calls`: the recorded calls, as call records (formats.md section 6).

Export and import move calls between installations and into analysis tools.
Import is all or nothing per file: every record is validated first and one bad
record means nothing is imported (each bad one is named with its line and key),
like `kb import` - a half-imported file is harder to fix than a rejected one.
Call ids already in the store are skipped and reported, never overwritten.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import click

from intervene.report.record import call_record, import_records, parse_records, write_records


@click.group(name="calls")
def calls() -> None:
    """Recorded calls: list, show, export and import call records."""


@calls.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="The newest N calls.")
@click.pass_obj
def list_(rt, limit: int) -> None:
    """The newest calls, oldest first: id, start, length, rep, outcome, score."""
    store = rt.store
    for row in store.calls(limit=limit):
        rec = call_record(store, row["id"])
        click.echo(f"{rec['call_id']}  {rec['started']}  {rec['duration_s']:7.1f}s  {rec['rep'] or '-':<10}  "
                   f"{rec.get('outcome_detail') or rec['outcome']:<12}  {len(rec['transcript']):4d} utt  "
                   f"{len(rec['interventions']):3d} iv  score {rec['score']['total']:3d}")


@calls.command(name="show")
@click.argument("call_id")
@click.pass_obj
def show(rt, call_id: str) -> None:
    """One call's record, as JSON."""
    from intervene.cli import fail
    try:
        rec = call_record(rt.store, call_id)
    except KeyError:
        fail(f"no call {call_id!r} (intervene calls list)")
    click.echo(json.dumps(rec, ensure_ascii=False, indent=2))


@calls.command(name="export")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here (default: standard output).")
@click.option("--since", default=None, help="Only calls started at or after this ISO time, e.g. 2026-11-01.")
@click.pass_obj
def export(rt, out: Optional[str], since: Optional[str]) -> None:
    """Every call as JSON Lines, one record per line (oldest first)."""
    from intervene.cli import fail
    cutoff = None
    if since:
        cutoff = _when(since)
        if cutoff is None:
            fail(f"--since: expected an ISO time like 2026-11-24 or 2026-11-24T15:02:11Z, got {since!r}")
    store = rt.store
    records = (call_record(store, row["id"]) for row in store.calls() if _after(row["started"], cutoff))
    if out:
        try:
            n = write_records(out, records)
        except OSError as e:
            fail(f"{out}: cannot write ({e.strerror or e})")
        click.echo(f"{n} calls written to {out}", err=True)
    else:
        for rec in records:
            click.echo(json.dumps(rec, ensure_ascii=False))


@calls.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def import_(rt, file: str) -> None:
    """Call records from FILE (one JSON object, a JSON list, or JSON Lines).

    Validated completely first: a bad record names its line and key, and
    nothing is imported (exit 2). Calls already stored are skipped."""
    from intervene.cli import fail
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{file}: cannot read ({getattr(e, 'strerror', None) or e})")
    records, errors = parse_records(text, file)
    if errors:
        for message in errors[:-1]:
            click.echo(f"error: {message}", err=True)
        fail(errors[-1] + (f"\n{len(errors)} bad records in {file}, nothing imported" if len(errors) > 1
                           else f" (nothing imported from {file})"))
    done = import_records(rt.store, records)
    for call_id in done["skipped"]:
        click.echo(f"skipped {call_id}: already stored (not overwritten)", err=True)
    click.echo(f"{len(done['imported'])} calls imported, {len(done['skipped'])} skipped")


def _when(text: str) -> Optional[datetime]:
    """An ISO time, naive ones taken as UTC (the store writes UTC)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _after(started: Optional[str], cutoff: Optional[datetime]) -> bool:
    if cutoff is None:
        return True
    t = _when(started or "")
    return t is not None and t >= cutoff
