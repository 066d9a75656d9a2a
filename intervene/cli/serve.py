"""`intervene serve`: the service (systemd runs it) until SIGTERM/SIGINT."""
from __future__ import annotations

import asyncio
from typing import Optional

import click

from intervene.app import Runtime, build_controller, serve
from intervene.cli.logs import FORMATS, choose_format, setup_logging
from intervene.logctx import WORKER


@click.command(name="serve")
@click.option("--kb", "kb_path", type=click.Path(), help="KB YAML file or directory (default: [serve] kb, "
                                                         "else the imported KB).")
@click.option("--listen", default=None, help="HOST:PORT for media and /api (default [serve] listen, 127.0.0.1:8090).")
@click.option("--public-url", default=None, help="How Asterisk reaches this service (default http://LISTEN).")
@click.option("--app", default=None, help="Stasis app name (default intervene).")
@click.option("-v", "--verbose", is_flag=True)
@click.option("--log-format", type=click.Choice(FORMATS), default=None, envvar="INTERVENE_LOG_FORMAT",
              help="text (default: [serve] log_format, else text) or json: one object a line, "
                   "with call and worker on every line about a call.")
@click.pass_obj
def serve_cmd(rt: Runtime, kb_path: Optional[str], listen: Optional[str], public_url: Optional[str],
              app: Optional[str], verbose: bool, log_format: Optional[str]) -> None:
    """Run the ARI controller: monitor every call the dialplan hands to the
    Stasis app. ARI password from INTERVENE_ARI_PASSWORD (or [serve])."""
    setup_logging(log_format or "text", verbose)
    cfg = rt.config
    if not log_format and cfg.serve.log_format:    # the file's choice, once the file is read
        setup_logging(choose_format(None, cfg.serve.log_format), verbose)

    async def main() -> None:
        controller = await build_controller(rt, cfg, kb_path, listen, public_url, app)
        WORKER.set(controller.s.worker)           # every line of the service names its worker
        await serve(controller)

    asyncio.run(main())

