"""`intervene doctor`: everything admins get wrong, checked in the order a
call needs it, each with a verdict line and the fix. It reads the same
config and environment as `intervene serve` (Runtime, ari_settings), so it
checks what the service would use, not what the admin thinks it uses."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Optional

from intervene.app import Runtime, ari_settings, split_listen
from intervene.config import Config, ConfigError
from intervene.doctor.asterisk import AsteriskDoctor, Target, media_plan, port_free, service_serves_clip
from intervene.doctor.local import database_check, kb_check, model_checks, open_store, reps_phones
from intervene.doctor.verdict import FAIL, PASS, SKIP, Check


@dataclass(frozen=True)
class Options:
    kb: Optional[str] = None            # --kb, else [serve] kb, else the imported KB
    listen: Optional[str] = None        # --listen, else [serve] listen
    public_url: Optional[str] = None    # --public-url, else [serve] public_url
    app: Optional[str] = None           # --app, else [serve] app / each [[serve.asterisk]] app
    models: bool = True                 # --no-models: skip the seconds-long model loads
    timeout_s: float = 5.0              # each network call


def targets(rt: Runtime, cfg: Config, app: Optional[str]) -> list[Target]:
    """The Asterisk servers of this worker, as `build_controller` connects to
    them, with where each password comes from (named in the fixes)."""
    so = cfg.serve
    settings = ari_settings(rt.env.raw, so, app)
    if not so.asterisk:
        source = "[serve] ari_password" if so.ari_password else "INTERVENE_ARI_PASSWORD"
        return [Target(settings[0], source)]
    out = []
    for a, s in zip(so.asterisk, settings):
        var = a.password_env or "INTERVENE_ARI_PASSWORD"
        out.append(Target(s, var if rt.env.raw.get(var) else "[serve] ari_password", label=f"[{a.url}]"))
    return out


async def run_doctor(rt: Runtime, opts: Options, emit: Callable[[Check], None] = lambda c: None) -> list[Check]:
    """Every check, each handed to `emit` as it is decided (a terminal sees progress)."""
    checks: list[Check] = []

    def add(*cs: Check) -> None:
        for c in cs:
            checks.append(c)
            emit(c)
    try:
        cfg = rt.config
        servers = targets(rt, cfg, opts.app)
        host, port = split_listen(opts.listen or cfg.serve.listen)
        db_target = rt.db_target
    except (ConfigError, ValueError) as e:
        add(Check("config", FAIL, str(e), "fix the config file (--config / INTERVENE_CONFIG) or the environment"))
        return checks
    add(Check("config", PASS, f"{rt.config_path or 'no config file (built-in defaults)'}; "
                                f"{len(servers)} Asterisk server(s); listen {host}:{port}"))

    db = await asyncio.to_thread(database_check, db_target)
    add(db)
    store = await asyncio.to_thread(open_store, rt) if db.status != FAIL else None
    try:
        kb_line, kb = await asyncio.to_thread(kb_check, opts.kb or cfg.serve.kb or None, store, rt.db_label
                                              if store is None else store.url)
        add(kb_line)
        if opts.models:
            add(*await asyncio.to_thread(model_checks, rt, cfg, kb))
        else:
            add(Check("models", SKIP, "skipped (--no-models)"))
        reps = await asyncio.to_thread(reps_phones, store)
    finally:
        if store is not None:
            store.close()

    free = port_free(host, port)
    service = not free and await service_serves_clip(host, port, opts.timeout_s)
    plan = media_plan(host, port, opts.public_url or cfg.serve.public_url, free, service)
    for t in servers:
        doc = AsteriskDoctor(t, opts.timeout_s)
        for c in await doc.run(plan, reps, several=len(servers) > 1):
            add(c)
    return checks
