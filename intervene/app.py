"""The composition root: builds the shared pieces (store, models, KB index,
Whisper, voice, Asterisk client, screens, lead flow) once, for the command
line and the service alike. Nothing below this module builds anything it
does not own; nothing above it builds the parts again."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Optional

import yaml

from intervene.accounts.auth import User
from intervene.config import Config, ConfigError, load_config
from intervene.config.env import Env
from intervene.config.live import ServeOptions
from intervene.errors import InterveneError
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb, load_kb_text
from intervene.leads.service import LeadService
from intervene.listen.asr import Transcriber
from intervene.listen.pipeline import AsrPool, asr_prompt
from intervene.metrics import CALLS_IN_PROGRESS, watch_loop_lag
from intervene.nlp.embed import SentenceEmbedder
from intervene.nlp.judge import CrossEncoderJudge
from intervene.pbx.ari import Ari, AriSettings
from intervene.pbx.controller import Controller, Services
from intervene.pbx.media import MediaStore, WebServer
from intervene.pbx.voice import Voice, VoiceError, VoiceOptions
from intervene.screen.web import build_screen, save_user, signed_link
from intervene.screen.web.metrics import Metrics
from intervene.screen.web.session import write_private
from intervene.serving.client import RayEmbedder, RayTranscriber
from intervene.store.db import Store, default_db_path
from intervene.store.privacy import daily as daily_purge
from intervene.store.relay import Relay
from intervene.store.sql import is_url
from intervene.vocab import KnowledgeBase


class Runtime:
    """Lazily opened shared pieces: the store, the embedder, the judge, indexes.
    Lazy because most commands need only one of them, and the models take seconds."""

    def __init__(self, db: Optional[str], config: Optional[str], env: Optional[Env] = None) -> None:
        self.env = env if env is not None else Env.read()
        self._db_arg = db or self.env.db
        local = self._db_arg if self._db_arg and not is_url(self._db_arg) else None
        self.db_path = default_db_path(local, self.env.state_directory)
        self.config_path = config or self.env.config
        self._store: Optional[Store] = None
        self._embedder: Optional[SentenceEmbedder] = None
        self._judge: Optional[CrossEncoderJudge] = None
        self._config: Optional[Config] = None

    @property
    def config(self) -> Config:
        """The config file's settings (built-in defaults without one), read once
        per command; a bad file is a ConfigError, which the CLI prints as one line."""
        if self._config is None:
            self._config = load_config(self.config_path, self.env)
        return self._config

    @property
    def db_target(self) -> str:
        """Which database: --db / INTERVENE_DB (a path or a postgresql:// URL),
        else the config's [store] url, else the SQLite file (db_path)."""
        if self._db_arg:
            return self._db_arg
        return self.config.store.url or str(self.db_path)

    def open_store(self, upgrade: bool = True) -> Store:
        """A new connection (the `db` commands open one without upgrading it)."""
        return Store(self.db_target, local=self.db_path, upgrade=upgrade)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self.open_store()
        return self._store

    @property
    def db_label(self) -> str:
        """The database, for messages (a URL without its password)."""
        return self._store.url if self._store is not None else str(self.db_path)

    @property
    def embedder(self) -> SentenceEmbedder:
        if self._embedder is None:
            models = self.config.models
            if models.remote:                                # [models] backend = "ray"
                self._embedder = RayEmbedder(models, self.env.embed_model)
            else:
                self._embedder = SentenceEmbedder(self.env.embed_model, backend=self.env.embed_backend,
                                                  cache_directory=self.env.cache_directory)
        return self._embedder

    @property
    def judge(self) -> Optional[CrossEncoderJudge]:
        """The claim checker's second opinion, unless `INTERVENE_JUDGE=off`
        (or its weights are missing: the rules then decide alone)."""
        if self._judge is None and self.env.judge:
            weights = self.env.judge_weights
            self._judge = CrossEncoderJudge(Path(weights) if weights else None, backend=self.env.embed_backend,
                                            cache_directory=self.env.cache_directory)
        return self._judge if self._judge is not None and self._judge.available() else None

    def kb(self, path: Optional[str]) -> KnowledgeBase:
        if path:
            return load_kb(path)
        doc = self.store.kb_document()
        if doc is None:
            raise InterveneError(f"no knowledge base: pass --kb FILE or run `intervene kb import FILE` "
                                 f"(database {self.db_label})")
        return load_kb_text(yaml.safe_dump(doc, sort_keys=False), source=f"{self.db_label} (imported KB)")

    def index(self, kb: KnowledgeBase, progress: Optional[Callable[[int, int], None]] = None) -> KBIndex:
        """The KB's index; `progress(done, total)` hears about the texts it has to embed (cli/progress.py)."""
        return KBIndex(kb, self.embedder, self.store, self.judge, progress)


def transcriber(cfg: Config, model: Optional[str], prompt: str) -> Transcriber:
    """Whisper with the config's [asr] options; --asr-model / INTERVENE_ASR_MODEL win.
    With [models] backend = "ray" the cluster's deployment (its model is the deploying config's)."""
    options = replace(cfg.asr, model=model) if model else cfg.asr
    if cfg.models.remote:
        return RayTranscriber(cfg.models, options, prompt=prompt)
    try:
        return Transcriber(options, prompt=prompt)
    except (RuntimeError, ValueError, OSError) as e:
        raise ConfigError(f"cannot load the speech model {options.model or '(default tiny.en)'}: {e}") from e


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen: expected HOST:PORT, got {listen!r}")
    return host, int(port)


async def build_controller(rt: Runtime, cfg: Config, kb_path: Optional[str] = None, listen: Optional[str] = None,
                           public_url: Optional[str] = None, app: Optional[str] = None) -> Controller:
    """Everything the service shares between calls: KB index, Whisper, voice, store."""
    so = cfg.serve
    servers = ari_settings(rt.env.raw, so, app)
    try:
        host, port = split_listen(listen or so.listen)
        ari = Ari(servers[0])
        voice = Voice(VoiceOptions(engine=so.voice_engine, model=so.voice_model))
    except (ValueError, VoiceError) as e:
        raise ConfigError(str(e)) from e
    kb = rt.kb(kb_path or so.kb or None)
    index = await asyncio.to_thread(rt.index, kb)
    if index.judge is not None:
        await asyncio.to_thread(index.judge.warm)
    asr = AsrPool(transcriber(cfg, None, asr_prompt(kb)))
    media = MediaStore()
    services = Services(ari=ari, store=rt.store, kb=kb, index=index, config=cfg, asr=asr, voice=voice,
                        media=media, public_url="", options=cfg.live,
                        sip_from=so.sip_from or "intervene")
    if rt.store.shared:          # several workers: every screen sees every worker's calls (store/relay.py)
        await services.screen.join(Relay(rt.db_target, name=services.worker))
    leads = LeadService(services, cfg.leads, cfg.campaigns, ready=services.connected.is_set)
    screen = build_screen(rt.store, services.screen, cfg, index, kb.source,
                          api_token=rt.env.api_token or so.api_token,
                          public_url=lambda: (public_url or so.public_url or services.public_url), secret=rt.env.secret or so.secret,
                          on_outcome=leads.outcome, db=services.db)
    attended = [services]          # every Asterisk's calls, for /api/calls (more below)
    CALLS_IN_PROGRESS.labels(services.worker).set_function(     # counted when scraped: it cannot drift
        lambda: sum(1 for sv in attended for c in sv.calls.values() if not c.ended))
    web = WebServer(media, host, port, screen, live=lambda: [c.snapshot() for sv in attended for c in sv.calls.values()],
                    more_routes=[leads.add_routes,         # /metrics: the API token or [serve] metrics_allow
                                 Metrics(screen.state, screen.access, so.metrics_allow).add_routes])
    on_started = [] if rt.store.users() else [     # once listening (the port may be chosen then)
        lambda: first_admin(rt.store, screen, public_url or so.public_url or web.url)]
    purge = daily_purge(services.db, rt.store, cfg.retention)     # [retention], daily, on the store's thread
    controller = Controller(services, web, public_url or so.public_url, background=[leads.run, purge, watch_loop_lag],
                            on_started=on_started, leads=leads)
    for more in servers[1:]:        # [[serve.asterisk]]: the same worker on another Asterisk (the lead flow dials the first)
        other = Services(ari=Ari(more), store=rt.store, kb=kb, index=index, config=cfg, asr=asr, voice=voice,
                         media=media, public_url="", options=cfg.live, sip_from=so.sip_from or "intervene",
                         screen=services.screen, worker=services.worker, shared_db=services.db)
        controller.more.append(Controller(other, web, public_url or so.public_url))
        attended.append(other)
    return controller


def ari_settings(env: Mapping[str, str], so: ServeOptions, app: Optional[str] = None) -> list[AriSettings]:
    """The Asterisk servers this worker connects to: each [[serve.asterisk]]
    entry, else the one of [serve] ari_url / ari_user / app and the
    INTERVENE_ARI_* variables. `app` (--app) names this worker's app on all."""
    if not so.asterisk:
        return [AriSettings.from_env(env, url=so.ari_url, user=so.ari_user, password=so.ari_password,
                                     app=app or so.app)]
    out = []
    for a in so.asterisk:
        var = a.password_env or "INTERVENE_ARI_PASSWORD"
        if not env.get(var) and not so.ari_password:
            raise ConfigError(f"[[serve.asterisk]] {a.url}: no ARI password: set {var} in the environment")
        out.append(AriSettings.from_env(env, url=a.url, user=a.user or so.ari_user,
                                        password=env.get(var) or so.ari_password, app=app or a.app or so.app))
    return out


def first_admin(store, screen, base_url: str) -> None:
    """A new installation has no users, so nobody could open the screens:
    make an `admin` without a password and a one-day, one-use link that signs
    in as them (then: set a password or add users on /admin). The link goes to
    a file only the service's user can read, beside the database, and to the
    terminal if there is one; never to the journal, which others may read."""
    row = save_user(store, {"login": "admin", "name": "Administrator", "role": "admin"})
    url, _ = signed_link(screen.secret, User.from_row(row), base_url, 1)
    path = store.path.with_name(f"{store.path.stem}.first-admin-link")
    write_private(path, url + "\n")
    logging.getLogger("intervene.serve").warning(
        "no users yet: a one-day sign-in link for the first admin is in %s (or: intervene users add NAME "
        "--role admin --password-stdin)", path)
    if sys.stderr.isatty():
        print(f"Sign in as the first admin within a day: {url}", file=sys.stderr)


async def serve(controller: Controller) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, controller.stop)
    try:
        await controller.run()
    finally:
        controller.s.asr.close()
