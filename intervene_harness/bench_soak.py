"""`intervene bench soak`: one real service under waves of load for N
minutes, while the things that froze or duplicated before happen on a
schedule; one JSON line says whether it stayed responsive and lost nothing.

Every wave (a sixth of the run, 6-60 s): each live-style rep starts a
practice call at speed 1 (overlapping, as a floor's calls do) unless still
on the last one, and leads arrive by both webhooks, every body replayed
(plain with an id x3, plain without an id x2 with and x2 without a signed
timestamp, Facebook with the answers inline x3, all for one new number).
Every second wave a 40 KB practice call plays at high speed (if none is
still playing) while bursts of 12 concurrent wrong logins hit /login; every
third wave the bench holds SQLite's write lock (BEGIN IMMEDIATE) for up to
10 s; at 40% of the run (and every 30 minutes on long runs) the service is
SIGKILLed mid-wave and started again.

Measured: /healthz every 20 ms (soak_service.Probe) for the loop, /proc for
memory and descriptors, the admin's event stream for what the screens were
shown, and the database (read after the service stopped) for what was kept.
"""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import aiohttp
import click

from intervene.cli._runtime import fail
from intervene.formats.transcript import parse_transcript
from intervene.leads.intake import sign
from intervene.screen.web import save_user
from intervene.store.db import Store
from intervene_harness.soak_service import Probe, ProcStats, ServiceProcess

ROOT = Path(__file__).resolve().parents[1]
CALLS = sorted((ROOT / "kb" / "calls").glob("*.jsonl"))
PASSWORD = "soak-password-1"
LEADS_SECRET, FB_SECRET = "soak-leads-secret", "soak-fb-secret"
DIALABLE = ("ready", "calling", "done")          # a lead in one of these was, or is about to be, dialled
RESTART_GRACE_S = 2.0                            # after a (re)start answers: models warm, first lead sweep
KILL_MARGIN_S = 5.0                              # a call that ended this soon before a kill was cut by it
CONFIG = """[serve]
ari_url = "http://127.0.0.1:9"
app = "intervene-soak"
practice_max_lines = 5000
practice_max_s = 7200
practice_max_speed = 50
practice_per_user = 2
practice_total = 32

[leads]
call_hours = "00:00-24:00"
call_days = "mon-sun"

[campaigns.default]
"""
ENV = {"INTERVENE_ARI_PASSWORD": "soak", "INTERVENE_ARI_URL": "http://127.0.0.1:9",
       "INTERVENE_SECRET": "soak-secret-" + "0" * 40, "INTERVENE_LEADS_SECRET": LEADS_SECRET,
       "INTERVENE_FB_APP_SECRET": FB_SECRET}
HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


@dataclass
class Started:
    call_id: str
    lines: int
    life: int
    rep: str


@dataclass
class Seen:
    """What the admin's event stream showed of one call."""
    ended: bool = False
    ended_at: float = 0.0                            # monotonic, when the end was pushed
    cards: set[int] = field(default_factory=set)


@dataclass
class Tally:
    started: list[Started] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    seen: dict[str, Seen] = field(default_factory=dict)
    logins: int = 0
    webhooks: int = 0
    webhook_status: dict[str, int] = field(default_factory=dict)
    acked_numbers: set[str] = field(default_factory=set)
    numbers: int = 0
    locks: int = 0
    lock_held_s: float = 0.0


def transcript(kb_min: float) -> str:
    """The example calls back to back, until at least `kb_min` KB."""
    out: list[str] = []
    offset, size, i = 0.0, 0, 0
    while size < kb_min * 1024 or not out:
        lines = [json.loads(x) for x in CALLS[i % len(CALLS)].read_text().splitlines() if x.strip()]
        for d in lines:
            line = json.dumps({**d, "start": round(d["start"] + offset, 2), "end": round(d["end"] + offset, 2)})
            out.append(line)
            size += len(line) + 1
        offset += max(d["end"] for d in lines) + 2.0
        i += 1
    return "\n".join(out) + "\n"


class Soak:
    def __init__(self, svc: ServiceProcess, minutes: float, reps: int, live_speed: float, big_kb: float,
                 big_speed: float, flood: int, leads: int, drain_s: float) -> None:
        self.svc, self.total_s = svc, minutes * 60
        self.reps = [f"soak-rep{i + 1}" for i in range(reps)]
        self.live_speed, self.big_speed, self.flood, self.leads = live_speed, big_speed, flood, leads
        self.big = transcript(big_kb) if big_kb > 0 else ""
        self.calls = [c.read_text() for c in CALLS]
        self.drain_s = drain_s
        self.wave_s = min(60.0, max(6.0, self.total_s / 6))
        self.t = Tally()
        self.up = asyncio.Event()
        self.stopping = False
        self.http: dict[str, aiohttp.ClientSession] = {}
        self.current: dict[str, Started] = {}         # rep -> their latest call
        self.stats: list[ProcStats] = []
        self.lives: list[tuple[float, float]] = []    # (answered, ended) of each start of the service
        self.excluded: list[tuple[float, float]] = []
        self.number_base = int(time.time()) % 5000
        self.t0 = 0.0
        self.bursts = 0

    # --------------------------------------------------------------- users
    def add_users(self) -> None:
        store = Store(self.svc.db)
        try:
            save_user(store, {"login": "soak-admin", "role": "admin", "password": PASSWORD, "name": "Soak admin"})
            for login in [*self.reps, "soak-big", "soak-victim"]:
                save_user(store, {"login": login, "role": "rep", "password": PASSWORD, "name": login})
        finally:
            store.close()

    async def login(self, http: aiohttp.ClientSession, login: str, password: str) -> bool:
        """The login form as a browser posts it (its hidden fields too, whatever they are)."""
        base = self.svc.url
        async with http.get(f"{base}/login") as r:
            page = await r.text()
        form = {**dict(HIDDEN.findall(page)), "login": login, "password": password}
        async with http.post(f"{base}/login", data=form, allow_redirects=False, headers={"Origin": base}) as r:
            return r.status in (302, 303) and "error" not in r.headers.get("Location", "error")

    async def session(self, login: str) -> aiohttp.ClientSession:
        """A logged-in session for `login` (logged in again if the service forgot it)."""
        http = self.http.get(login)
        if http is None:
            http = self.http[login] = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                                            timeout=aiohttp.ClientTimeout(total=60))
        async with http.get(f"{self.svc.url}/api/me") as r:
            if r.status == 200:
                return http
        if not await self.login(http, login, PASSWORD):
            raise RuntimeError("a rep could not log in")
        return http

    # ------------------------------------------------------------- load
    async def practice(self, rep: str, text: str, speed: float) -> None:
        await self.up.wait()
        try:
            http = await self.session(rep)
            async with http.post(f"{self.svc.url}/api/practice", json={"transcript": text, "speed": speed},
                                 headers={"X-Intervene": "1", "Origin": self.svc.url}) as r:
                body = await r.json(content_type=None)
                if r.status == 200 and "call_id" in body:
                    s = Started(body["call_id"], len(parse_transcript(text)), self.svc.life, rep)
                    self.t.started.append(s)
                    self.current[rep] = s
                    return
                why = f"{r.status} {str(body.get('error', ''))[:80]}"
        except RuntimeError as e:
            why = str(e)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
            why = f"{type(e).__name__}"
        self.t.refused[why] = self.t.refused.get(why, 0) + 1

    def busy(self, rep: str) -> bool:
        s = self.current.get(rep)
        return s is not None and s.life == self.svc.life and not self.t.seen.get(s.call_id, Seen()).ended

    async def flood_logins(self, seconds: float) -> None:
        """Bursts of `flood` concurrent wrong logins (unknown names and one real
        login nobody uses), each burst as soon as the last is answered."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and not self.stopping:
            await self.up.wait()
            self.bursts += 1
            got = await asyncio.gather(*(self.bad_login(i) for i in range(self.flood)), return_exceptions=True)
            self.t.logins += len(got)
            await asyncio.sleep(0.2)

    async def bad_login(self, i: int) -> bool:
        """From its own loopback address (127.1.x.y): a floor of guessers, so
        the per-address limit does not turn the flood into cheap refusals."""
        b = self.bursts
        addr = f"127.{1 + b // 256 % 250}.{b % 256}.{i % 250 + 1}"
        name = "soak-victim" if i % 4 == 0 else f"nobody{b}-{i}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(addr, 0)),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True),
                                         timeout=aiohttp.ClientTimeout(total=60)) as http:
            return await self.login(http, name, "wrong-password")

    async def post(self, http: aiohttp.ClientSession, path: str, body: bytes, header: str, secret: str,
                   number: str) -> None:
        try:
            async with http.post(f"{self.svc.url}{path}", data=body,
                                 headers={"Content-Type": "application/json", header: sign(secret, body)}) as r:
                await r.read()
                key = str(r.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            key = type(e).__name__
        self.t.webhooks += 1
        self.t.webhook_status[key] = self.t.webhook_status.get(key, 0) + 1
        if key == "200":
            self.t.acked_numbers.add(number)

    async def lead(self, http: aiohttp.ClientSession, n: int) -> None:
        """One new number by every route, each body sent more than once."""
        number = f"+1212555{(self.number_base + n) % 10000:04d}"
        name = f"Soak Lead {n}"
        with_id = json.dumps({"name": name, "phone": number, "id": f"soak-{self.number_base}-{n}"}).encode()
        no_id = json.dumps({"name": name, "phone": number}).encode()
        stamped = json.dumps({"name": name, "phone": number, "timestamp": time.time()}).encode()
        fb = json.dumps({"object": "page", "entry": [{"id": "777", "time": int(time.time()), "changes": [
            {"field": "leadgen", "value": {"leadgen_id": f"9{self.number_base:05d}{n:08d}", "page_id": "777",
                                           "form_id": "888", "created_time": int(time.time()),
                                           "field_data": [{"name": "full_name", "values": [name]},
                                                          {"name": "phone_number", "values": [number]}]}}]}]}).encode()
        sends = ([("/webhooks/leads", with_id, "X-Intervene-Signature-256", LEADS_SECRET)] * 3
                 + [("/webhooks/leads", no_id, "X-Intervene-Signature-256", LEADS_SECRET)] * 2
                 + [("/webhooks/leads", stamped, "X-Intervene-Signature-256", LEADS_SECRET)] * 2
                 + [("/webhooks/facebook", fb, "X-Hub-Signature-256", FB_SECRET)] * 3)
        self.t.numbers += 1
        for i, (path, body, header, secret) in enumerate(sends):
            await self.up.wait()
            await self.post(http, path, body, header, secret, number)
            await asyncio.sleep(0.3 if i % 3 == 2 else 0.02)

    async def hold_lock(self, seconds: float) -> None:
        """Another process (the CLI, a backup) holding SQLite's write lock."""
        def hold() -> None:
            conn = sqlite3.connect(str(self.svc.db), timeout=30, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                t = time.monotonic()
                time.sleep(seconds)
                conn.execute("ROLLBACK")
                self.t.lock_held_s += time.monotonic() - t
                self.t.locks += 1
            finally:
                conn.close()
        await asyncio.to_thread(hold)

    async def wave(self, k: int, http: aiohttp.ClientSession) -> None:
        jobs = [self.practice(rep, self.calls[(k + i) % len(self.calls)], self.live_speed)
                for i, rep in enumerate(self.reps) if not self.busy(rep)]
        jobs += [self.lead(http, k * self.leads + j) for j in range(self.leads)]
        if k % 2 == 1:
            if self.big and not self.busy("soak-big"):
                jobs.append(self.practice("soak-big", self.big, self.big_speed))
            jobs.append(self.flood_logins(min(10.0, self.wave_s / 2)))
        if k % 3 == 2:
            jobs.append(self.hold_lock(min(10.0, self.wave_s / 2)))
        await asyncio.gather(*jobs)

    # ----------------------------------------------------------- watching
    async def watch_events(self) -> None:
        """The admin's screen: every call's state and cards, reconnecting after a restart."""
        last = ""
        while not self.stopping:
            await self.up.wait()
            try:
                http = await self.session("soak-admin")
                headers = {"Last-Event-ID": last} if last else {}
                async with http.get(f"{self.svc.url}/api/events", headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as r:
                    kind = ""
                    async for raw in r.content:
                        line = raw.decode().rstrip("\n")
                        if line.startswith("id: "):
                            last = line[4:]
                        elif line.startswith("event: "):
                            kind = line[7:]
                        elif line.startswith("data: ") and kind in ("call", "card"):
                            self.saw(kind, json.loads(line[6:]))
            except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, ValueError):
                pass
            await asyncio.sleep(0.3)

    def saw(self, kind: str, data: dict[str, Any]) -> None:
        call_id = data.get("id") if kind == "call" else data.get("call_id")
        if not isinstance(call_id, str):
            return
        seen = self.t.seen.setdefault(call_id, Seen())
        if kind == "call" and data.get("state") == "ended" and not seen.ended:
            seen.ended, seen.ended_at = True, time.monotonic()
        elif kind == "card" and isinstance(data.get("seq"), int):
            seen.cards.add(data["seq"])

    async def sample_proc(self) -> None:
        while not self.stopping:
            s = self.svc.stats()
            if s is not None:
                self.stats.append(s)
            await asyncio.sleep(1.0)

    # ------------------------------------------------------------ the run
    async def start_service(self) -> None:
        self.up.clear()
        self.svc.start()
        await asyncio.to_thread(self.svc.wait_up)
        self.lives.append((time.monotonic(), 0.0))
        self.up.set()

    async def kill_and_restart(self) -> None:
        self.up.clear()
        killed = time.monotonic()
        self.svc.kill()
        self.lives[-1] = (self.lives[-1][0], killed)
        await self.start_service()
        self.excluded.append((killed, time.monotonic() + RESTART_GRACE_S))

    async def run(self) -> dict[str, Any]:
        self.add_users()
        started = time.monotonic()
        probe = Probe(self.svc.port)
        await self.start_service()
        probe.start()
        await asyncio.sleep(RESTART_GRACE_S + 2.0)              # idle: the probe's baseline
        baseline_until = time.monotonic()
        self.excluded.append((started, self.lives[0][0] + RESTART_GRACE_S))
        for login in ["soak-admin", *self.reps, "soak-big"]:       # before any flood
            await self.session(login)
        watchers = [asyncio.create_task(self.watch_events()), asyncio.create_task(self.sample_proc())]
        n_kills = max(1, int(self.total_s // 1800))
        kills = [self.total_s * (i + 0.4) / n_kills for i in range(n_kills)]
        self.t0 = time.monotonic()
        waves: list[asyncio.Task[None]] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as hooks:
            k = 0
            while (now := time.monotonic() - self.t0) < self.total_s:
                if kills and now >= kills[0]:
                    kills.pop(0)
                    await self.kill_and_restart()
                    continue
                if now >= k * self.wave_s:
                    waves.append(asyncio.create_task(self.wave(k, hooks)))
                    k += 1
                await asyncio.sleep(0.1)
            load_s = time.monotonic() - self.t0
            await asyncio.gather(*waves)
            drain_end = time.monotonic() + self.drain_s                # the calls still playing finish
            while time.monotonic() < drain_end and any(self.busy(r) for r in [*self.reps, "soak-big"]):
                await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)                                       # the last pushes, samples
        stopped = time.monotonic()
        self.stopping = True
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for http in self.http.values():
            await http.close()
        probe.stop()
        self.lives[-1] = (self.lives[-1][0], stopped)
        clean = await asyncio.to_thread(self.svc.stop)
        return self.result(probe, baseline_until, clean, load_s, time.monotonic() - started, k)

    # ------------------------------------------------------------ figures
    def growth(self) -> tuple[Optional[float], Optional[int]]:
        """Per start of the service: (median of its last 5 s) - (median of 5 s
        after its warm-up, a fifth of the run); the largest of the starts."""
        rss: list[float] = []
        fds: list[int] = []
        for life, (up, end) in enumerate(self.lives):
            warm = up + 0.2 * self.total_s
            base = [s for s in self.stats if s.life == life and warm <= s.t <= warm + 5]
            last = [s for s in self.stats if s.life == life and end - 5 <= s.t <= end and s.t > warm + 5]
            if base and last:
                rss.append(statistics.median(s.rss_mb for s in last) - statistics.median(s.rss_mb for s in base))
                fds.append(round(statistics.median(s.fds for s in last) - statistics.median(s.fds for s in base)))
        return (round(max(rss), 1) if rss else None), (max(fds) if fds else None)

    def stored(self) -> tuple[dict[str, int], dict[str, set[int]], int, int]:
        conn = sqlite3.connect(f"file:{self.svc.db}?mode=ro", uri=True)
        try:
            utt = dict(conn.execute("select call_id, count(distinct idx) from utterances group by call_id"))
            ivs: dict[str, set[int]] = {}
            for call_id, seq in conn.execute("select call_id, seq from interventions"):
                ivs.setdefault(call_id, set()).add(seq)
            cols = {r[1] for r in conn.execute("pragma table_info(leads)")}
            called = " or ".join([f"status in ({', '.join('?' * len(DIALABLE))})", "attempts > 0",
                                  "call_id is not null", *(["called_at is not null"] if "called_at" in cols else [])])
            twice = conn.execute(f"select count(*) from (select phone from leads where phone is not null and "
                                 f"({called}) group by phone having count(*) > 1)", DIALABLE).fetchone()[0]
            numbers = {r[0] for r in conn.execute("select phone from leads where phone is not null")}
        finally:
            conn.close()
        lost = len(self.t.acked_numbers - numbers)
        return utt, ivs, int(twice), lost

    def result(self, probe: Probe, baseline_until: float, clean: bool, load_s: float, wall_s: float,
               waves: int) -> dict[str, Any]:
        base, stalls = probe.stalls(baseline_until, self.excluded)
        stalls.sort()
        p99 = stalls[min(len(stalls) - 1, int(len(stalls) * 0.99))] if stalls else None
        worst = sorted(((ms - base, t) for t, ms in probe.samples if t >= baseline_until
                        and not any(a <= t <= b for a, b in self.excluded)), reverse=True)[:5]
        restart = [ms - base for t, ms in probe.samples if any(a <= t <= b for a, b in self.excluded[1:])]
        utt, ivs, twice, leads_lost = self.stored()
        ended = [s for s in self.t.started if self.t.seen.get(s.call_id, Seen()).ended]
        near = [s for s in ended if any(0 <= b - self.t.seen[s.call_id].ended_at <= KILL_MARGIN_S
                                        for _a, b in self.lives[:-1])]
        finished = [s for s in ended if s not in near]

        def lost(calls: list[Started]) -> tuple[int, int]:
            return (sum(max(0, s.lines - utt.get(s.call_id, 0)) for s in calls),
                    sum(len(self.t.seen[s.call_id].cards - ivs.get(s.call_id, set())) for s in calls))
        utterances_lost, interventions_lost = lost(finished)
        near_lost = lost(near)
        rss, fds = self.growth()
        log = self.svc.log_text()
        return {"bench": "soak", "minutes": round(self.total_s / 60, 2),
                "loop_stall_p99_ms": round(p99, 1) if p99 is not None else None,
                "loop_stall_max_ms": round(stalls[-1], 1) if stalls else None,
                "rss_growth_mb": rss, "open_fds_growth": fds,
                "utterances_lost": utterances_lost, "interventions_lost": interventions_lost,
                "leads_called_twice": twice,
                "probe_idle_ms": round(base, 2), "probes": len(stalls),
                "worst_stalls": [[round(t - self.t0, 1), round(ms, 1)] for ms, t in worst],
                "restart_stall_max_ms": round(max(restart), 1) if restart else None,
                "waves": waves, "wave_s": round(self.wave_s, 1),
                "calls_started": len(self.t.started), "calls_finished": len(finished),
                "calls_cut": len(self.t.started) - len(finished), "practice_refused": self.t.refused,
                "ended_just_before_kill": len(near), "utterances_lost_at_kill": near_lost[0],
                "interventions_lost_at_kill": near_lost[1],
                "cards_shown": sum(len(self.t.seen[s.call_id].cards) for s in finished),
                "logins_tried": self.t.logins, "webhooks_sent": self.t.webhooks,
                "webhook_status": self.t.webhook_status, "lead_numbers": self.t.numbers, "leads_lost": leads_lost,
                "write_locks": self.t.locks, "write_lock_held_s": round(self.t.lock_held_s, 1),
                "restarts": len(self.lives) - 1, "clean_stop": clean,
                "rss_mb_end": round(self.stats[-1].rss_mb, 1) if self.stats else None,
                "tracebacks_in_log": log.count("Traceback"),
                "load_s": round(load_s, 1), "wall_s": round(wall_s, 1)}


@click.command(name="soak")
@click.option("--minutes", default=10.0, show_default=True, help="Length of the load (the start and the "
                                                                 "final drain come on top).")
@click.option("--reps", default=6, show_default=True, help="Live-style reps, one practice call each at a time.")
@click.option("--live-speed", default=1.0, show_default=True, help="Their calls' speed (x real time).")
@click.option("--big-kb", default=40.0, show_default=True, help="Size of the long practice call (0: none).")
@click.option("--big-speed", default=50.0, show_default=True, help="Its speed.")
@click.option("--flood", default=12, show_default=True, help="Concurrent wrong logins per burst.")
@click.option("--leads", default=3, show_default=True, help="New numbers per wave (each sent 10 times).")
@click.option("--drain-s", default=120.0, show_default=True, help="After the load, wait this long at most "
                                                                  "for the calls still playing.")
@click.option("--kb", "kb_path", type=click.Path(), default=None, help="KB (default: kb/ of the source tree).")
@click.option("--keep", type=click.Path(file_okay=False), default=None,
              help="Keep the database and the service's log here.")
def bench_soak(minutes: float, reps: int, live_speed: float, big_kb: float, big_speed: float, flood: int,
               leads: int, drain_s: float, kb_path: Optional[str], keep: Optional[str]) -> None:
    """Loop stalls, memory, descriptors and losses of one service under
    waves of calls, login floods, replayed webhooks, a held write lock and
    a kill, as a JSON line."""
    if not CALLS:
        fail(f"no practice transcripts in {ROOT / 'kb' / 'calls'}")
    if minutes <= 0 or reps < 0 or flood < 0 or leads < 0 or live_speed <= 0 or big_speed <= 0:
        fail("--minutes, --live-speed and --big-speed must be more than 0; --reps, --flood, --leads not negative")
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="intervene-bench-soak-")
    work = Path(keep) if keep else Path(tmp.name)          # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    svc = ServiceProcess(work, kb_path or str(ROOT / "kb"), CONFIG, ENV)
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)          # the probe thread gets the GIL back quickly
    try:
        result = asyncio.run(Soak(svc, minutes, reps, live_speed, big_kb, big_speed, flood, leads, drain_s).run())
    except RuntimeError as e:
        fail(str(e))
    finally:
        sys.setswitchinterval(old)
        svc.kill()
        if tmp is not None:
            tmp.cleanup()
    click.echo(json.dumps(result))
