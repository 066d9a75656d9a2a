"""`intervene db status` and `intervene db upgrade`: the database's schema
version, and the migrations it lacks.

The service and every command upgrade the database as they open it, so a
single box never needs these. A cluster does: upgrade once, before the new
version's workers start (they refuse a database newer than they are, and an
older worker must not keep writing into a schema it does not know).
"""
from __future__ import annotations

import click

from intervene.app import Runtime
from intervene.store import schema


@click.group(name="db")
def db() -> None:
    """The database: schema version and upgrades (SQLite or PostgreSQL)."""


@db.command(name="status")
@click.pass_obj
def status_cmd(rt: Runtime) -> None:
    """Where the database is, its schema version, and the migrations it lacks."""
    store = rt.open_store(upgrade=False)
    try:
        have = schema.current(store.db)
        click.echo(f"database: {store.url} ({store.db.dialect})")
        click.echo(f"schema version: {have} (this intervene: {schema.LATEST})")
        if have > schema.LATEST:
            click.echo("newer than this intervene: upgrade intervene on this machine")
        for m in schema.pending(store.db):
            click.echo(f"  pending {m.version}: {m.name}")
    finally:
        store.close()


@db.command(name="upgrade")
@click.pass_obj
def upgrade_cmd(rt: Runtime) -> None:
    """Apply the migrations the database lacks (each once, even with workers running)."""
    store = rt.open_store(upgrade=False)
    try:
        done = schema.upgrade(store.db)
        for m in done:
            click.echo(f"applied {m.version}: {m.name}")
        click.echo(f"{store.url}: schema version {schema.current(store.db)}"
                   + ("" if done else " (already up to date)"))
    finally:
        store.close()
