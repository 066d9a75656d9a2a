"""`intervene models deploy | status | remove`: Whisper and the sentence
encoder on a Ray cluster, from the config's [models] (and [asr]) sections.

An admin deploys once from any machine that reaches the cluster; every
worker whose config says `[models] backend = "ray"` then sends its utterances
and sentences there. Deploying again with changed options updates the
replicas in place (Serve replaces them a few at a time).
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Optional

import click

from intervene.app import Runtime
from intervene.config.models import ModelsOptions, check_models
from intervene.serving import deploy as serving


@click.group(name="models")
def models() -> None:
    """The speech and sentence models served on Ray ([models] backend = "ray")."""


def _options(rt: Runtime, address: Optional[str]) -> tuple[Any, ModelsOptions]:
    cfg = rt.config
    o = cfg.models
    if address:
        o = check_models(replace(o, address=address))
    return cfg, o


def _show(st: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"cluster {st['address']}: {len(st['nodes'])} node(s)")
    for n in st["nodes"]:
        click.echo(f"  node {n['node']} {n['address']} {'alive' if n['alive'] else 'DEAD'} "
                   f"cpus={n['cpus']:g} gpus={n['gpus']:g}")
    for name, app in st["applications"].items():
        click.echo(f"{name}: {app['status']}")
        for d, ds in (app.get("deployments") or {}).items():
            reps = ", ".join(f"{k.lower()} {v}" for k, v in ds["replicas"].items()) or "no replicas"
            click.echo(f"  {d}: {ds['status']} ({reps})")


@models.command(name="deploy")
@click.option("--address", default=None, help="Ray cluster address (default: [models] address).")
@click.option("--json", "as_json", is_flag=True, help="The status as JSON.")
@click.pass_obj
def deploy_cmd(rt: Runtime, address: Optional[str], as_json: bool) -> None:
    """Start (or update) both deployments with [models] and [asr]; waits until they run."""
    cfg, o = _options(rt, address)
    env = rt.env
    st = serving.deploy(o, cfg.asr, embed_model=env.embed_model or "", embed_backend=env.embed_backend or "",
                        cache_directory=env.cache_directory or "")
    _show(st, as_json)


@models.command(name="status")
@click.option("--address", default=None, help="Ray cluster address (default: [models] address).")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_obj
def status_cmd(rt: Runtime, address: Optional[str], as_json: bool) -> None:
    """The cluster's nodes, and each model's application and replicas."""
    _, o = _options(rt, address)
    _show(serving.status(o), as_json)


@models.command(name="remove")
@click.option("--address", default=None, help="Ray cluster address (default: [models] address).")
@click.pass_obj
def remove_cmd(rt: Runtime, address: Optional[str]) -> None:
    """Delete both applications (workers on backend = "ray" then fail their requests)."""
    _, o = _options(rt, address)
    serving.shutdown(o)
    click.echo(f"removed {', '.join(serving.app_names(o))} from {o.address}")
