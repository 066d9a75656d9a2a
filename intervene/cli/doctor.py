"""`intervene doctor`: is this installation healthy? One line per check,
the fix under each that is not a pass, exit status 1 when any failed."""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

import click

from intervene.app import Runtime
from intervene.doctor.run import Options, run_doctor
from intervene.doctor.verdict import Check, exit_code, format_check, summary, to_json


@click.command(name="doctor")
@click.option("--kb", "kb_path", type=click.Path(), help="KB to check (default: [serve] kb, else the imported KB).")
@click.option("--listen", default=None, help="HOST:PORT the service listens on (default [serve] listen).")
@click.option("--public-url", default=None, help="How Asterisk reaches the service (default [serve] public_url).")
@click.option("--app", default=None, help="The service's Stasis app (default [serve] app).")
@click.option("--no-models", is_flag=True, help="Skip loading the models (they take seconds).")
@click.option("--strict", is_flag=True, help="Warnings fail too (e.g. the service not running).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.5, 60), default=5.0, show_default=True,
              help="Seconds each network call may take.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: ok and every check.")
@click.pass_obj
def doctor_cmd(rt: Runtime, kb_path: Optional[str], listen: Optional[str], public_url: Optional[str],
               app: Optional[str], no_models: bool, strict: bool, timeout_s: float, as_json: bool) -> None:
    """Check ARI and its password, the Stasis app, Asterisk's version and
    modules, that Asterisk fetches the service's media, the database, the
    KB, the models, the clock and the reps' phones, with the fix for each."""
    def show(c: Check) -> None:
        if not as_json:
            for line in format_check(c):
                click.echo(line)
    opts = Options(kb=kb_path, listen=listen, public_url=public_url, app=app, models=not no_models,
                   timeout_s=timeout_s)
    quiet = logging.getLogger("intervene")           # the lines say it all; set back after, for whoever runs us
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        checks = asyncio.run(run_doctor(rt, opts, show))
    finally:
        quiet.setLevel(level)
    if as_json:
        click.echo(to_json(checks, strict))
    else:
        click.echo(summary(checks))
    raise SystemExit(exit_code(checks, strict))
