"""`intervene users`: the admin's accounts, from the shell (the first admin
has to come from somewhere; the admin page does the same afterwards)."""
from __future__ import annotations

import sys
from typing import Optional

import click

from intervene.accounts.auth import ROLES, User
from intervene.cli._runtime import fail
from intervene.screen.web import save_user, service_secret, signed_link


@click.group(name="users")
def users() -> None:
    """Who may open the screens: reps, supervisors, admins."""


@users.command(name="add")
@click.argument("login")
@click.option("--name", default=None, help="Display name (default: the login).")
@click.option("--role", type=click.Choice(ROLES), default=None, help="rep (default for a new user), supervisor, admin.")
@click.option("--team", default=None, help="Team: a supervisor sees their team's calls.")
@click.option("--endpoint", default=None, help="The rep's phone as the dialplan names it, e.g. PJSIP/rep1.")
@click.option("--sip-message/--no-sip-message", default=None, help="Also send cards to the phone as SIP MESSAGE.")
@click.option("--password-stdin", is_flag=True, help="Read a password (8+ characters) from standard input.")
@click.pass_obj
def add(rt, login: str, name: Optional[str], role: Optional[str], team: Optional[str], endpoint: Optional[str],
        sip_message: Optional[bool], password_stdin: bool) -> None:
    """Create or update a user (only the options given change)."""
    body = {"login": login, **{k: v for k, v in (("name", name), ("role", role), ("team", team),
                                                 ("endpoint", endpoint), ("sip_message", sip_message))
                               if v is not None}}
    if password_stdin:
        body["password"] = sys.stdin.readline().rstrip("\n")
    try:
        row = save_user(rt.store, body)
    except ValueError as e:
        fail(str(e))
    click.echo(_line(row))


@users.command(name="list")
@click.pass_obj
def list_(rt) -> None:
    """Every user, one per line."""
    for row in rt.store.users():
        click.echo(_line(row))


@users.command(name="link")
@click.argument("login")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True)
@click.option("--url", "base", default=None, help="How reps reach the service (default [serve] public_url, "
                                                  "else http://[serve] listen).")
@click.pass_obj
def link(rt, login: str, days: int, base: Optional[str]) -> None:
    """A signed link that logs LOGIN in (for a rep's phone: no password to type)."""
    row = rt.store.user(login)
    if row is None:
        fail(f"no user {login!r} (intervene users add {login} ...)")
    so = rt.config.serve
    base = base or so.public_url or f"http://{so.listen}"
    url, _ = signed_link(service_secret(rt.store, rt.env.secret or so.secret), User.from_row(row), base, days)
    click.echo(url)


@users.command(name="revoke")
@click.argument("login")
@click.pass_obj
def revoke(rt, login: str) -> None:
    """End every session and link LOGIN holds."""
    row = rt.store.user(login)
    if row is None:
        fail(f"no user {login!r}")
    rt.store.put_user(login, epoch=int(row["epoch"]) + 1)
    click.echo(f"{login}: sessions and links revoked")


@users.command(name="remove")
@click.argument("login")
@click.pass_obj
def remove(rt, login: str) -> None:
    if not rt.store.remove_user(login):
        fail(f"no user {login!r}")
    click.echo(f"{login}: removed")


def _line(row: dict) -> str:
    u = User.from_row(row)
    extra = [f"team={u.team}" if u.team else "", f"endpoint={u.endpoint}" if u.endpoint else "",
             "sip-message" if u.sip_message else "", "" if row.get("pw") else "no-password"]
    return f"{u.login}\t{u.role}\t{u.name}\t" + " ".join(x for x in extra if x)
