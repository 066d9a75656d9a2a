"""`intervene serve`: build the shared pieces once and run the controller
until SIGTERM/SIGINT (systemd stops it with SIGTERM)."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Optional

import click

from intervene.live.ari import Ari, AriSettings
from intervene.live.controller import Controller, Services
from intervene.live.voice import Voice, VoiceError, VoiceOptions
from intervene.leads.service import LeadService
from intervene.live.web import MediaStore, WebServer
from intervene.screen.web import build_screen


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen: expected HOST:PORT, got {listen!r}")
    return host, int(port)


async def build_controller(rt, cfg, kb_path: Optional[str] = None, listen: Optional[str] = None,
                           public_url: Optional[str] = None, app: Optional[str] = None) -> Controller:
    """Everything the service shares between calls: KB index, Whisper, voice, store."""
    from intervene.cli import _transcriber, fail
    from intervene.pipeline import AsrPool, asr_prompt
    so = cfg.serve
    settings = AriSettings.from_env(url=so.ari_url, user=so.ari_user, password=so.ari_password,
                                    app=app or so.app)
    try:
        host, port = split_listen(listen or so.listen)
        ari = Ari(settings)
        voice = Voice(VoiceOptions(engine=so.voice_engine, model=so.voice_model))
    except (ValueError, VoiceError) as e:
        fail(str(e))
    kb = rt.kb(kb_path or so.kb or None)
    index = await asyncio.to_thread(rt.index, kb)
    if index.judge is not None:
        await asyncio.to_thread(index.judge.warm)
    asr = AsrPool(_transcriber(cfg, None, asr_prompt(kb)))
    media = MediaStore()
    services = Services(ari=ari, store=rt.store, kb=kb, index=index, config=cfg, asr=asr, voice=voice,
                        media=media, public_url="", options=cfg.live,
                        sip_from=so.sip_from or "intervene")
    leads = LeadService(services, cfg.leads, cfg.campaigns)
    screen = build_screen(rt.store, services.screen, cfg, index, kb.source,
                          api_token=os.environ.get("INTERVENE_API_TOKEN") or so.api_token,
                          public_url=lambda: (public_url or so.public_url or services.public_url), secret=so.secret,
                          on_outcome=leads.outcome)
    web = WebServer(media, host, port, screen, live=lambda: [c.snapshot() for c in services.calls.values()],
                    more_routes=[leads.add_routes])
    controller = Controller(services, web, public_url or so.public_url, background=[leads.run])
    controller.leads = leads
    if not rt.store.users():                       # once listening (the port may be chosen then)
        controller.on_started.append(lambda: first_admin(rt.store, screen, public_url or so.public_url or web.url))
    leads.flow.ready = controller.connected.is_set
    return controller


def first_admin(store, screen, base_url: str) -> None:
    """A new installation has no users, so nobody could open the screens:
    make an `admin` without a password and log a one-day link that signs in
    as them (then: set a password or add users on /admin)."""
    from intervene.screen.auth import User
    from intervene.screen.web import save_user, signed_link
    row = save_user(store, {"login": "admin", "name": "Administrator", "role": "admin"})
    url, _ = signed_link(screen.secret, User.from_row(row), base_url, 1)
    logging.getLogger("intervene.serve").warning(
        "no users yet: sign in as the first admin within a day with %s (or: intervene users add NAME "
        "--role admin --password-stdin)", url)


async def serve(controller: Controller) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, controller.stop)
    try:
        await controller.run()
    finally:
        controller.s.asr.close()


@click.command(name="serve")
@click.option("--kb", "kb_path", type=click.Path(), help="KB YAML file or directory (default: [serve] kb, "
                                                         "else the imported KB).")
@click.option("--listen", default=None, help="HOST:PORT for media and /api (default [serve] listen, 127.0.0.1:8090).")
@click.option("--public-url", default=None, help="How Asterisk reaches this service (default http://LISTEN).")
@click.option("--app", default=None, help="Stasis app name (default intervene).")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_obj
def serve_cmd(rt, kb_path: Optional[str], listen: Optional[str], public_url: Optional[str],
              app: Optional[str], verbose: bool) -> None:
    """Run the ARI controller: monitor every call the dialplan hands to the
    Stasis app. ARI password from INTERVENE_ARI_PASSWORD (or [serve])."""
    from intervene.cli import fail
    from intervene.config import ConfigError, load_config
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    try:
        cfg = load_config(rt.config_path)
    except ConfigError as e:
        fail(str(e))

    async def main() -> None:
        controller = await build_controller(rt, cfg, kb_path, listen, public_url, app)
        await serve(controller)

    asyncio.run(main())

