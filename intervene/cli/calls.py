"""`intervene calls`: the recorded calls, as call records (formats.md section 6).

Export and import move calls between installations and into analysis tools.
Import validates every record on its own: a bad one is reported with its file,
line and key and skipped, the good ones of the same file are imported. Call ids
already in the store are skipped and reported, never overwritten, so importing
the same file twice adds nothing. Exit code 0 when no record was bad (even if
every call was already stored), 2 when any record or file was bad - the good
records are imported all the same. `calls outcome` sets a call's outcome and
deal value after the fact. Scores use the config's [score] weights.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

import click

from intervene.app import Runtime
from intervene.cli._runtime import fail
from intervene.cli.progress import offset, progress
from intervene.config import Config, ConfigError, load_config
from intervene.formats.record import read_path, redact_record, write_records
from intervene.report import tune as t
from intervene.report.html import write_report
from intervene.report.record import call_record, import_records, reported
from intervene.store.db import Store
from intervene.vocab import OUTCOMES, Redact

OUTCOME_BY = "cli"          # who the store says set an outcome from the command line


def _weights(rt: Runtime) -> dict[str, float]:
    """The config's [score] weights (a bad config file is one error line, exit 2)."""
    return rt.config.score


def _redaction(rt: Runtime) -> frozenset[Redact]:
    """The config's [redaction] kinds: what is taken out of records coming in and going out."""
    return rt.config.redaction
    raise AssertionError


@click.group(name="calls")
def calls() -> None:
    """Recorded calls: list, show, export, import call records; set outcomes."""


@calls.command(name="list")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="The newest N calls.")
@click.pass_obj
def list_(rt: Runtime, limit: int) -> None:
    """The newest calls, oldest first: id, start, length, rep, outcome, score
    (practice calls left out: they are training, not selling)."""
    store = rt.store
    weights = _weights(rt)
    for row in [r for r in store.calls() if reported(r)][-limit:]:
        rec = call_record(store, row["id"], weights=weights)
        click.echo(f"{rec['call_id']}  {rec['started']}  {rec['duration_s']:7.1f}s  {rec['rep'] or '-':<10}  "
                   f"{rec.get('outcome_detail') or rec['outcome']:<12}  {len(rec['transcript']):4d} utt  "
                   f"{len(rec['interventions']):3d} iv  score {rec['score']['total']:3d}")


@calls.command(name="show")
@click.argument("call_id")
@click.pass_obj
def show(rt: Runtime, call_id: str) -> None:
    """One call's record, as JSON, with its score: the parts and, under
    `score.explain`, why each part is what it is."""
    weights = _weights(rt)
    try:
        rec = call_record(rt.store, call_id, weights=weights)
    except KeyError:
        fail(f"no call {call_id!r} (intervene calls list)")
    click.echo(json.dumps(redact_record(rec, _redaction(rt)), ensure_ascii=False, indent=2))


@calls.command(name="export")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write here (default: standard output).")
@click.option("--since", default=None, help="Only calls started at or after this ISO time, e.g. 2026-11-01.")
@click.option("--rep", default=None, help="Only this rep's calls.")
@click.option("--team", default=None, help="Only this team's calls.")
@click.pass_obj
def export(rt: Runtime, out: Optional[str], since: Optional[str], rep: Optional[str], team: Optional[str]) -> None:
    """Calls as JSON Lines, one record (formats.md section 6) per line, oldest first.
    Card numbers, SSNs and the like are replaced by tags as [redaction] says."""
    cutoff = parse_since(since)
    store = rt.store
    weights = _weights(rt)
    kinds = _redaction(rt)
    records = (redact_record(call_record(store, row["id"], weights=weights), kinds)
               for row in select_calls(store, cutoff, rep, team))
    if out:
        try:
            n = write_records(out, records)
        except OSError as e:
            fail(f"{out}: cannot write ({e.strerror or e})")
        click.echo(f"{n} calls written to {out}", err=True)
    else:
        for rec in records:
            click.echo(json.dumps(rec, ensure_ascii=False))


def parse_since(since: Optional[str]) -> Optional[datetime]:
    """--since as an aware time (None when not given); a bad one is exit 2."""
    if not since:
        return None
    cutoff = _when(since)
    if cutoff is None:
        fail(f"--since: expected an ISO time like 2026-11-24 or 2026-11-24T15:02:11Z, got {since!r}")
    return cutoff


def select_calls(store: Store, cutoff: Optional[datetime] = None, rep: Optional[str] = None,
                 team: Optional[str] = None) -> list[Mapping[str, Any]]:
    """The stored calls (rows) started at or after `cutoff`, of `rep` and of `team`, oldest first;
    never practice calls (report/record.py `reported`): exports, reports and tuning count real calls."""
    return [row for row in store.calls() if reported(row) and _after(row["started"], cutoff)
            and (rep is None or row.get("rep") == rep) and (team is None or row.get("team") == team)]


@calls.command(name="import")
@click.argument("path", metavar="FILE|DIR", type=click.Path())
@click.pass_obj
def import_(rt: Runtime, path: str) -> None:
    """Call records from FILE (one JSON object, a JSON list, or JSON Lines), or
    from every *.json and *.jsonl file in DIR.

    Each record is validated on its own: a bad one is reported (file, line,
    key) and skipped, the rest are imported. Calls already stored are skipped
    and reported, never overwritten. Exit code 0 when nothing was bad, 2 when
    any record or file was (the good records are imported all the same)."""
    files, errors = read_path(path)
    kinds = _redaction(rt)
    for message in errors:
        click.echo(f"error: {message} (skipped)", err=True)
    imported = skipped = 0
    total = sum(len(records) for _file, records in files)
    already: list[str] = []
    with progress("importing calls", total) as bar:          # stderr, on a terminal only
        for _file, records in files:
            done = import_records(rt.store, [redact_record(r, kinds) for r in records],
                                  offset(bar, imported + skipped, total))
            already += done["skipped"]
            imported += len(done["imported"])
            skipped += len(done["skipped"])
    for call_id in already:                                   # after the bar, not through it
        click.echo(f"skipped {call_id}: already stored (not overwritten)", err=True)
    summary = f"{imported} calls imported, {skipped} skipped"
    if len(files) > 1:
        summary += f" from {len(files)} files"
    if errors:
        click.echo(summary + f", {len(errors)} bad (not imported)")
        sys.exit(2)
    click.echo(summary)


@calls.command(name="outcome")
@click.argument("call_id")
@click.argument("outcome", type=click.Choice(OUTCOMES))   # "unknown" clears one
@click.option("--value", type=float, default=None, help="The deal's value, e.g. 12400 (0 or more).")
@click.option("--note", default=None, help="A note stored with the outcome.")
@click.pass_obj
def outcome_cmd(rt: Runtime, call_id: str, outcome: str, value: Optional[float], note: Optional[str]) -> None:
    """Set a call's OUTCOME (won, follow-up, lost, no-decision; unknown clears
    it) and, with --value, the deal value."""
    import math
    if value is not None and (not math.isfinite(value) or value < 0):
        fail(f"--value: expected an amount of 0 or more, got {value}")
    store = rt.store
    if store.call(call_id) is None:
        fail(f"no call {call_id!r} (intervene calls list)")
    store.set_outcome(call_id, outcome, note, OUTCOME_BY)
    if value is not None:
        store.update_call(call_id, value=float(value))
    row = store.call(call_id) or {}
    shown = f", value {row['value']:g}" if row.get("value") is not None else ""
    click.echo(f"{call_id}: {outcome}{shown}" + (f" ({note})" if note else ""))


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


# ------------------------------------------------------------------------ tune

@click.command(name="tune")
@click.option("--profile", "profile", required=True, help="The profile to try new thresholds on.")
@click.option("--set", "settings", multiple=True, required=True, metavar="KEY=VALUE",
              help="A threshold to try, as in [profiles.P]: dead_air_s=12, cooldown_s.emotion=60, "
                   "min_severity.emotion=high (repeatable).")
@click.option("--since", default=None, help="Only calls started at or after this ISO time.")
@click.option("--rep", default=None, help="Only this rep's calls.")
@click.option("--team", default=None, help="Only this team's calls.")
@click.option("--any-profile", is_flag=True,
              help="Replay every selected call under --profile, not only the calls that ran with it.")
@click.option("--kb", "kb_path", type=click.Path(), help="KB YAML file or directory (default: the imported KB).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Config file to read the profile from and, with --apply, to change "
                   "(default: the global --config / INTERVENE_CONFIG; created by --apply if missing).")
@click.option("--apply", "apply_", is_flag=True, help="Write the change into the config file (shows the diff).")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_obj
def tune_cmd(rt: Runtime, profile: str, settings: tuple[str, ...], since: Optional[str], rep: Optional[str],
             team: Optional[str], any_profile: bool, kb_path: Optional[str], config_file: Optional[str],
             apply_: bool, as_json: bool) -> None:
    """What new thresholds would have done to past calls.

    Replays the stored transcripts twice - with --profile as configured now
    and with the --set thresholds - and compares per category: how many fired
    before and now, new and gone ones, and of the interventions the calls got,
    how many the reps dismissed would go away and how many they used or edited
    would be lost. The same intervention = the same category, trigger and
    utterance. --apply then writes [profiles.P] KEY = VALUE into the config
    file (a line-level edit: comments and other settings are kept)."""
    try:
        over = t.parse_settings(settings)
    except t.TuneError as e:
        fail(str(e))
    path = config_file or rt.config_path
    try:
        cfg = load_config(path) if path and Path(path).exists() else Config()
    except ConfigError as e:
        fail(str(e))
    if profile not in cfg.profiles:
        fail(f"--profile: unknown profile {profile!r} (known: {', '.join(sorted(cfg.profiles))})")
    try:
        t.changed_profile(cfg.profiles[profile], over)
    except t.TuneError as e:
        fail(str(e))
    if apply_ and not path:
        fail("--apply needs a config file to write: --config FILE (or the global --config / INTERVENE_CONFIG)")
    old_text = new_text = ""
    if apply_:
        assert path                        # --apply without a config file failed above
        try:
            old_text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
        except (OSError, UnicodeDecodeError) as e:
            fail(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})")
        try:
            new_text = t.edit_config(old_text, profile, over)
        except t.TuneError as e:
            fail(f"{path}: {e}")
    cutoff = parse_since(since)
    store = rt.store
    rows = select_calls(store, cutoff, rep, team)
    others = 0 if any_profile else sum(1 for r in rows if (r.get("profile") or "") != profile)
    if not any_profile:
        rows = [r for r in rows if (r.get("profile") or "") == profile]
    if rows:
        index = rt.index(rt.kb(kb_path))
        with progress("replaying calls", len(rows)) as bar:
            report = t.tune_calls(store, index, cfg, profile, over, rows, bar)
    else:
        report = t.tune_calls(store, None, cfg, profile, over, [])
    report["other_profiles"] = others
    if apply_:
        assert path                        # as above
        diff = t.unified_diff(old_text, new_text, str(path))
        try:
            Path(path).write_text(new_text, encoding="utf-8")
        except OSError as e:
            fail(f"{path}: cannot write ({e.strerror or e})")
        report["config"] = {"file": str(path), "diff": diff, "written": True}
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    what = t.describe(over)
    click.echo(f"{report['calls']} calls replayed with profile {profile} as configured now and with {what}"
               + (f" ({others} calls of other profiles left out: --any-profile)" if others else "") + ".")
    for s in report["skipped"]:
        click.echo(f"skipped {s['call_id']}: {s['why']}")
    if report["categories"]:
        click.echo(t.table(report["categories"]))
    else:
        click.echo("No interventions either way.")
    missed = sum(c["not_reproduced"] for c in report["categories"].values())
    if missed:
        click.echo(f"{missed} of the calls' stored interventions are not reproduced by the current settings "
                   f"either (other settings then, or live timing); they are not counted as gone.")
    changed = [p for p in report["per_call"] if p["new"] or p["gone"]]
    for p in changed:
        bits = [f"+{iv['category']} {iv['trigger']} @{iv['utterance']}" for iv in p["new"]]
        bits += [f"-{iv['category']} {iv['trigger']} @{iv['utterance']}" for iv in p["gone"]]
        click.echo(f"  {p['call_id']}: {', '.join(bits)}")
    if apply_:
        click.echo(report["config"]["diff"] or f"{path}: already has {what}", nl=False)
        click.echo(f"written to {path}")
    else:
        click.echo(f"To keep it: add --apply (writes [profiles.{profile}] {what} into "
                   f"{path or 'the config file given with --config'}).")


@click.command(name="report")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Folder for report.html, report.json and the plots.")
@click.option("--since", default=None, help="Only calls started at or after this ISO time.")
@click.option("--team", default=None, help="Only this team's calls.")
@click.option("--rep", default=None, help="Only this rep's calls.")
@click.option("--min-calls", type=click.IntRange(min=5), default=30, show_default=True,
              help="Fewer calls than this behind a figure: 'not enough calls' instead of a number.")
@click.pass_obj
def report_cmd(rt: Runtime, out_dir: str, since: Optional[str], team: Optional[str], rep: Optional[str],
               min_calls: int) -> None:
    """Which interventions go with better outcomes (adjusted for the rep, Holm-corrected),
    outcome rates by category, mode and profile, score trends, dismiss rates: HTML + JSON + PNG."""
    cutoff = parse_since(since)
    store = rt.store
    weights = _weights(rt)
    rows = select_calls(store, cutoff, rep, team)
    records = []
    with progress("reading calls", len(rows)) as bar:
        for row in rows:
            records.append(call_record(store, row["id"], weights=weights))
            bar(len(records), len(rows))
    what = ", ".join(x for x in (f"team {team}" if team else "", f"rep {rep}" if rep else "",
                                 f"since {since}" if since else "") if x) or "all calls"
    html, js = write_report(records, out_dir, what, min_calls=min_calls)
    result = json.loads(Path(js).read_text())
    click.echo(f"{len(records)} calls ({what}); report: {html}")
    for e in result.get("effects", []):
        name = e["category"] + (f"/{e['trigger']}" if e.get("trigger") else "")
        if e.get("note"):
            click.echo(f"  {name:<28} {e['calls']:>5} calls  {e['note']}")
        else:
            flag = "SIGNIFICANT" if e["significant"] else "not significant"
            click.echo(f"  {name:<28} {e['calls']:>5} calls  used {e['win_rate_used']:.0%} vs not used "
                       f"{e['win_rate_not_used']:.0%}, adjusted difference {e['difference']:+.0%} "
                       f"(p adj {e['p_adjusted']:.3g}): {flag}")
