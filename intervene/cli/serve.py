"""`intervene serve`: the service (systemd runs it) until SIGTERM/SIGINT."""
from __future__ import annotations

import asyncio
import logging
from typing import Optional

import click

from intervene.app import Runtime, build_controller, serve
from intervene.config import load_config


@click.command(name="serve")
@click.option("--kb", "kb_path", type=click.Path(), help="KB YAML file or directory (default: [serve] kb, "
                                                         "else the imported KB).")
@click.option("--listen", default=None, help="HOST:PORT for media and /api (default [serve] listen, 127.0.0.1:8090).")
@click.option("--public-url", default=None, help="How Asterisk reaches this service (default http://LISTEN).")
@click.option("--app", default=None, help="Stasis app name (default intervene).")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_obj
def serve_cmd(rt: Runtime, kb_path: Optional[str], listen: Optional[str], public_url: Optional[str],
              app: Optional[str], verbose: bool) -> None:
    """Run the ARI controller: monitor every call the dialplan hands to the
    Stasis app. ARI password from INTERVENE_ARI_PASSWORD (or [serve])."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    cfg = load_config(rt.config_path)

    async def main() -> None:
        controller = await build_controller(rt, cfg, kb_path, listen, public_url, app)
        await serve(controller)

    asyncio.run(main())

