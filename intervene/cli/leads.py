"""`intervene leads` and `intervene dnc`: leads typed in by hand (a walk-in,
a test call) and the do-not-call list, from the shell. Same store, same
intake rules as the webhooks: a lead added here is called like any other."""
from __future__ import annotations

import json
import time
from typing import Optional

import click

from intervene.app import Runtime
from intervene.cli._runtime import fail
from intervene.leads.intake import normalize_phone
from intervene.leads.webhooks import settle
from intervene.store import leads as db


@click.group(name="leads")
def leads() -> None:
    """Leads waiting to be called, and how they got there."""


@leads.command(name="add")
@click.option("--name", required=True, help="The lead's name.")
@click.option("--phone", required=True, help="Their number; without +country code it is read as [leads] "
                                             "default_region's.")
@click.option("--email", default=None)
@click.option("--campaign", default=None, help="A [campaigns.<id>] of the config (default: \"default\").")
@click.option("--field", "field_", multiple=True, metavar="KEY=VALUE", help="A form answer; repeatable.")
@click.pass_obj
def add(rt: Runtime, name: str, phone: str, email: Optional[str], campaign: Optional[str],
        field_: tuple[str, ...]) -> None:
    """Store a lead (source cli) and put it through intake. A number we
    cannot dial is kept, with status no-phone and the reason."""
    cfg = rt.config
    if not name.strip():
        fail("--name must not be empty")
    if campaign and campaign not in cfg.campaigns:
        known = ", ".join(sorted(cfg.campaigns)) or "none configured"
        fail(f"unknown campaign {campaign!r} (configured: {known})")
    fields: dict[str, str] = {}
    for f in field_:
        key, eq, value = f.partition("=")
        if not eq or not key.strip():
            fail(f"--field {f!r}: expected KEY=VALUE, e.g. --field budget=5000")
        fields[key.strip()] = value.strip()
    now = time.time()
    added = db.add_lead(rt.store, source="cli", campaign=campaign, name=name.strip(), email=email,
                        fields=fields, raw={"cli": {"name": name, "phone": phone, "email": email}}, now=now)
    row = settle(rt.store, cfg.leads, cfg.campaigns, added.id, name.strip(), phone, email, fields, now) or {}
    click.echo(f"{added.id}\t{row.get('status')}\t{row.get('phone') or '-'}"
               + (f"\t{row['reason']}" if row.get("reason") else ""))
    if row.get("status") in ("no-phone", "duplicate-number"):
        click.echo(f"warning: lead {added.id} kept but will not be called: {row.get('reason')}", err=True)


@leads.command(name="inbox")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--show", "show_id", type=int, default=None, metavar="ID", help="Print that body as it arrived.")
@click.pass_obj
def inbox(rt: Runtime, limit: int, show_id: Optional[int]) -> None:
    """Signed webhook bodies that were refused (400), newest first: id, time,
    path, status, size, error. The last {keep} are kept, each cut to {cut} KB."""
    if show_id is not None:
        row = next((r for r in db.inbox_list(rt.store, limit=db.INBOX_KEEP) if r["id"] == show_id), None)
        if row is None:
            fail(f"no webhook_inbox entry {show_id} (see `intervene leads inbox`)")
        click.echo(bytes(row["body"]).decode("utf-8", errors="replace"))
        return
    for row in db.inbox_list(rt.store, limit=limit):
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["received_at"]))
        click.echo(f"{row['id']}\t{when}\t{row['path']}\t{row['status']}\t{row['size']}\t{row['error']}")


if inbox.help:
    inbox.help = inbox.help.format(keep=db.INBOX_KEEP, cut=db.INBOX_BODY_MAX // 1024)


@leads.command(name="list")
@click.option("--status", default=None, help=f"Only these: {', '.join(db.STATUSES)} (or the dialler's own).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (without the raw payload).")
@click.pass_obj
def list_(rt: Runtime, status: Optional[str], limit: int, as_json: bool) -> None:
    """Newest first: id, status, phone, name, campaign, attempts, reason."""
    for row in db.list_leads(rt.store, status=status, limit=limit):
        if as_json:
            click.echo(json.dumps({k: v for k, v in row.items() if k != "raw"}, ensure_ascii=False))
            continue
        click.echo("\t".join(str(x) for x in (row["id"], row["status"], row["phone"] or "-", row["name"] or "-",
                                               row["campaign"] or "-", row["attempts"], row["reason"] or "")))


@click.group(name="dnc")
def dnc() -> None:
    """The do-not-call list: numbers intervene never dials."""


def _number(rt: Runtime, phone: str) -> str:
    e164, why = normalize_phone(phone, rt.config.leads.default_region)
    if e164 is None:
        fail(why)
    return e164


@dnc.command(name="add")
@click.argument("phone")
@click.option("--reason", default="", help="Why (kept with the number).")
@click.pass_obj
def dnc_add(rt: Runtime, phone: str, reason: str) -> None:
    """Add PHONE; leads with it that were not called yet are stopped."""
    e164 = _number(rt, phone)
    stopped = db.dnc_add(rt.store, e164, reason)
    click.echo(f"{e164}: on the do-not-call list" + (f" ({stopped} waiting lead(s) stopped)" if stopped else ""))


@dnc.command(name="remove")
@click.argument("phone")
@click.pass_obj
def dnc_remove(rt: Runtime, phone: str) -> None:
    e164 = _number(rt, phone)
    if not db.dnc_remove(rt.store, e164):
        fail(f"{e164} is not on the do-not-call list")
    click.echo(f"{e164}: removed from the do-not-call list")


@dnc.command(name="list")
@click.pass_obj
def dnc_list(rt: Runtime) -> None:
    for row in db.dnc_list(rt.store):
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["added"]))
        click.echo(f"{row['phone']}\t{added}\t{row['reason']}")
