"""A throwaway intervene cluster on this machine: a PostgreSQL of its own,
the local Asterisk, and N `intervene serve` workers (real processes, each
with its own Stasis app and HTTP port), for the cluster tests and
`intervene bench cluster`. Calls come in through the dialplan's cluster
hook (lead phone dials 7 + the rep's number), which goes round the workers'
apps named in the global INTERVENE_APPS.

    async with Cluster(tmp, workers=2) as c:
        r = await c.call(utterances, out, pair=3, during=kill_after_4s)
"""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Coroutine, Optional

import aiohttp

from intervene.store.db import Store
from intervene.vocab import Utterance
from intervene_harness import localpbx
from intervene_harness.calls import LEAD_IN_S, CallResult, collect, phones
from intervene_harness.pg import ThrowawayPostgres
from intervene_harness.soak_service import ServiceProcess
from intervene_harness.voices import render_parties

ROOT = Path(__file__).resolve().parents[1]

DEFAULTS = """\
[defaults]
profile = "standard"
[defaults.modes]
accuracy = "voice"
"""
WORKER_CONFIG = """\
[serve]
app = "{app}"
worker = "{name}"
listen = "127.0.0.1:{{port}}"
""" + DEFAULTS.replace("{", "{{").replace("}", "}}")


@dataclass
class Worker:
    name: str
    app: str
    proc: ServiceProcess


class Cluster:
    def __init__(self, work: Path, workers: int = 2, kb: Optional[str] = None,
                 env: Optional[dict[str, str]] = None, config: str = "") -> None:
        self.work = work
        self.n = workers
        self.kb = kb or str(ROOT / "kb")
        self.extra_env = env or {}
        self.extra_config = config            # more config sections, the same for every worker
        self.pg: Optional[ThrowawayPostgres] = None
        self.workers: list[Worker] = []
        self.pbx_env: dict[str, str] = {}
        self.secret = secrets.token_hex(16)
        self._store: Optional[Store] = None
        self.ari: Any = None

    @property
    def url(self) -> str:
        assert self.pg is not None
        return self.pg.url

    @property
    def store(self) -> Store:
        """The test's own connection to the shared database (for reading what the workers stored)."""
        if self._store is None:
            self._store = Store(self.url)
        return self._store

    async def __aenter__(self) -> "Cluster":
        self.pg = await asyncio.to_thread(lambda: ThrowawayPostgres().start())
        self.pbx_env = await asyncio.to_thread(localpbx.start)
        Store(self.url).close()                             # the schema, once, before the workers race for it
        env = {k: v for k, v in self.pbx_env.items() if k.startswith("INTERVENE_ARI_")}
        env.update({"INTERVENE_SECRET": self.secret, **self.extra_env})
        for i in range(1, self.n + 1):
            name = f"w{i}"
            wdir = self.work / name
            wdir.mkdir(parents=True, exist_ok=True)
            text = WORKER_CONFIG.format(app=f"intervene-{name}", name=name) + self.extra_config
            svc = ServiceProcess(wdir, self.kb, text, env)     # it fills in {port}; {number} stays for [leads] dial
            svc.env["INTERVENE_DB"] = self.url
            self.workers.append(Worker(name, f"intervene-{name}", svc))
        await self.set_apps()
        for w in self.workers:
            w.proc.start()
        await asyncio.gather(*(self.wait_registered(w) for w in self.workers))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for w in self.workers:
            await asyncio.to_thread(w.proc.stop)
        if self._store is not None:
            self._store.close()
        if self.pg is not None:
            await asyncio.to_thread(self.pg.stop)

    # ------------------------------------------------------------ Asterisk
    async def ari_call(self, method: str, path: str, **params: Any) -> Any:
        """ARI as the tests' own client (not a worker's)."""
        e = self.pbx_env
        auth = {"Authorization": aiohttp.encode_basic_auth(e["INTERVENE_ARI_USER"], e["INTERVENE_ARI_PASSWORD"])}
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.request(method, f"{e['INTERVENE_ARI_URL'].rstrip('/')}/ari{path}", params=params) as r:
                if r.status >= 300:
                    raise RuntimeError(f"ARI {method} {path}: {r.status} {await r.text()}")
                return await r.json() if r.content_type == "application/json" else None

    async def set_apps(self, apps: Optional[list[str]] = None) -> None:
        """The dialplan's INTERVENE_APPS: the apps the cluster hook goes round (default: every worker's)."""
        value = "&".join(apps if apps is not None else [w.app for w in self.workers])
        await self.ari_call("POST", "/asterisk/variable", variable="INTERVENE_APPS", value=value)

    async def start_worker(self, name: str, apps: list[str]) -> Worker:
        """One more worker, connected to the local Asterisk once per app in
        `apps` ([[serve.asterisk]] entries: as if each were another Asterisk)."""
        wdir = self.work / name
        wdir.mkdir(parents=True, exist_ok=True)
        url = self.pbx_env["INTERVENE_ARI_URL"]
        entries = "".join(f'[[serve.asterisk]]\nurl = "{url}"\napp = "{a}"\n' for a in apps)
        text = (f'[serve]\nworker = "{name}"\nlisten = "127.0.0.1:{{port}}"\n{entries}'
                + DEFAULTS + self.extra_config)
        env = {k: v for k, v in self.pbx_env.items() if k.startswith("INTERVENE_ARI_")}
        env.update({"INTERVENE_SECRET": self.secret, **self.extra_env})
        svc = ServiceProcess(wdir, self.kb, text, env)
        svc.env["INTERVENE_DB"] = self.url
        w = Worker(name, apps[0], svc)
        self.workers.append(w)
        svc.start()
        await self.wait_registered(w)
        for a in apps[1:]:
            while a not in await self.registered():
                await asyncio.sleep(0.2)
        return w

    async def registered(self) -> list[str]:
        return [a["name"] for a in await self.ari_call("GET", "/applications")]

    async def wait_registered(self, w: Worker, timeout: float = 180.0) -> None:
        """Until the worker serves HTTP and its Stasis app is there. (The app alone says
        little after a kill: Asterisk keeps listing a dead worker's app for a while.)"""
        deadline = time.monotonic() + timeout
        await asyncio.to_thread(w.proc.wait_up, timeout)
        while w.app not in await self.registered():
            if w.proc.proc is None or w.proc.proc.poll() is not None:
                raise RuntimeError(f"worker {w.name} exited:\n{w.proc.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {w.name} never registered its app:\n{w.proc.log_tail()}")
            await asyncio.sleep(0.3)

    async def leftovers(self) -> list[str]:
        return ([c["id"] for c in await self.ari_call("GET", "/channels")]
                + [b["id"] for b in await self.ari_call("GET", "/bridges")])

    def worker(self, name: str) -> Worker:
        return next(w for w in self.workers if w.name == name)

    # ---------------------------------------------------------------- calls
    async def wait_call(self, rep_endpoint: str, timeout: float, after: float) -> dict[str, Any]:
        """The stored row of the monitored call to that phone once its conversation started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = await asyncio.to_thread(
                self.store.db.query,
                "select * from calls where rep_endpoint = ? and conversation_started is not null "
                "and conversation_started >= ? order by conversation_started desc", [rep_endpoint, after])
            if rows:
                return rows[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no monitored call reached {rep_endpoint} within {timeout}s")

    async def wait_finished(self, call_id: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = await asyncio.to_thread(self.store.call, call_id)
            if row and row.get("duration_s") is not None:
                return row
            await asyncio.sleep(0.1)
        raise TimeoutError(f"call {call_id} was not finished within {timeout}s")

    async def call(self, utterances: list[Utterance], out: Path, pair: int = 1, tail_s: float = 4.0,
                   during: Optional[Callable[[dict[str, Any], float], Coroutine[Any, Any, None]]] = None
                   ) -> CallResult:
        """Lead phone `lead<pair>` dials 7<pair> (the cluster hook); `rep<pair>` answers.
        `during(call_row, play_wall)` runs while the script plays (to kill a worker, say)."""
        out.mkdir(parents=True, exist_ok=True)
        spans = await asyncio.to_thread(render_parties, utterances, out / "lead-says.wav", out / "rep-says.wav")
        t_dial = time.time()
        async with phones(self.pbx_env.get("INTERVENE_SIP_PASSWORD"), out, pair, f"7{pair:02d}") as (lead, rep):
            row = await self.wait_call(f"PJSIP/rep{pair}", 30, t_dial - 1)
            t0_wall = float(row["conversation_started"])
            play_at = t0_wall + LEAD_IN_S
            for ph in (lead, rep):
                await ph.send({"cmd": "play", "at": play_at})
            side = asyncio.create_task(during(row, play_at)) if during is not None else None
            await asyncio.gather(lead.wait_event("played", spans["duration"] + 30),
                                 rep.wait_event("played", spans["duration"] + 30))
            if side is not None:
                await side
            await asyncio.sleep(tail_s)
            await lead.send({"cmd": "hangup"})
            await self.wait_finished(row["id"], 30)
            lead_rec = (await lead.wait_event("confirmed", 1))["t"]
            rep_rec = (await rep.wait_event("confirmed", 1))["t"]
        return await asyncio.to_thread(collect, self.store, row["id"], out, play_at, play_at - t0_wall,
                                       lead_rec, rep_rec, spans)
