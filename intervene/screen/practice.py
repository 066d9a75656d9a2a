"""Practice calls: a recorded transcript played onto a rep's screen in real
time, through the real engine, as if the call were happening.

For training (a new rep sees which cards a real call raises and practises
using them), for trying the screen without a phone, and for measuring the
screen's latency (`intervene bench screen`). Every card is silent: there is
nobody on a bridge to speak to.

The service's one event loop carries every live call, so a practice call
must never take it: each runs as its own task, its engine work (parsing,
detectors, the sentence model) on a small thread pool, one step at a time
per call, and its rows go through the store's worker. Caps from [serve]
(practice_*) bound what one request can ask for: lines, length, speed, and
how many run at once per rep and in all. A watchdog ends a call that runs
well past its own length, whatever the engine does.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, TypeVar, Union

from intervene.accounts.auth import User
from intervene.core.engine import CallEngine
from intervene.core.replay import events
from intervene.errors import InterveneError
from intervene.formats.transcript import parse_transcript
from intervene.nlp.redact import redact_lines
from intervene.screen.hub import Hub
from intervene.screen.record import record_intervention
from intervene.store.db import StoreError
from intervene.store.worker import StoreWorker
from intervene.vocab import Category, Intervention, Mode, Redact, Speaker, Utterance, new_call_id

log = logging.getLogger("intervene.screen")

T = TypeVar("T")

TICK_S = 0.02          # real seconds between engine clock advances (dead air, deadlines)
MIN_SPEED = 0.1
OVERRUN = 1.5          # the watchdog: a call may take this times its length at its speed ...
GRACE_S = 120.0        # ... plus this (a slow engine lags), then it is ended
FINISH_WAIT_S = 5.0    # how long a call's end waits for the store to catch up before it shows
POOL_MAX = 4           # engine threads: more would only fight over the GIL and two cores

Out = Union[Utterance, Intervention]     # what one engine step gives the loop to publish, in order


class PracticeRefused(InterveneError):
    """Over a practice cap. `status`: 400 (this call asks too much) or 429 (too many running now)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PracticeLimits:
    max_lines: int = 2000
    max_s: float = 7200.0
    max_speed: float = 20.0
    per_user: int = 2
    total: int = 8

    @classmethod
    def of(cls, config: Any) -> "PracticeLimits":
        """From the config's [serve] practice_* (a Config without them: the defaults)."""
        serve = getattr(config, "serve", None)
        d = cls()
        return cls(max(1, int(getattr(serve, "practice_max_lines", d.max_lines))),
                   max(1.0, float(getattr(serve, "practice_max_s", d.max_s))),
                   max(MIN_SPEED, float(getattr(serve, "practice_max_speed", d.max_speed))),
                   max(1, int(getattr(serve, "practice_per_user", d.per_user))),
                   max(1, int(getattr(serve, "practice_total", d.total))))


class _Player:
    """One practice call's engine side: everything here runs on a pool
    thread, one step at a time, and never touches the hub or the store."""

    def __init__(self, engine: CallEngine, utterances: list[Utterance]) -> None:
        self.engine = engine
        self.evs = events(utterances)
        self.end = max((u.end for u in utterances), default=0.0)
        self.i = 0
        self.speaking: dict[int, Utterance] = {}     # started, not yet final: their words appear as "spoken"
        self.shown: dict[int, int] = {}              # utterance -> words shown so far (interim)

    def step(self, now: float) -> tuple[list[Out], bool]:
        """The engine up to `now`: what to publish, in order, and whether the call is over."""
        out: list[Out] = []
        while self.i < len(self.evs) and self.evs[self.i].t <= now:
            e = self.evs[self.i]
            self.i += 1
            u = e.utterance
            if e.kind == "start":
                self.speaking[u.index] = u
                out += self.engine.speech_started(u.speaker, e.t)
            else:
                self.speaking.pop(u.index, None)
                out.append(u)
                out += self.engine.utterance(u, now=e.t)
        for u in list(self.speaking.values()):
            if u.start <= now < u.end and u.speaker is not Speaker.AI:
                words = u.text.split()
                k = math.ceil(len(words) * (now - u.start) / max(u.end - u.start, 1e-3))
                if 0 < k < len(words) and self.shown.get(u.index) != k:
                    self.shown[u.index] = k
                    out.append(Utterance(u.index, u.speaker, u.start, now, " ".join(words[:k]), final=False))
        out += self.engine.advance(now)
        return out, self.i >= len(self.evs) and now >= self.end


class Practice:
    def __init__(self, db: StoreWorker, hub: Hub, index: Any, config: Any, kb_source: str = "",
                 limits: Optional[PracticeLimits] = None) -> None:
        self.db, self.hub, self.index, self.config = db, hub, index, config
        self.kb_source = kb_source
        self.limits = limits or PracticeLimits.of(config)
        self.tasks: set[asyncio.Task[None]] = set()
        self.running: dict[str, str] = {}            # call id -> the rep whose screen it is on
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(self.limits.total, POOL_MAX)),
                                        thread_name_prefix="intervene-practice")

    async def _off(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _room(self, login: str) -> None:
        lim = self.limits
        if len(self.running) >= lim.total:
            raise PracticeRefused(f"{len(self.running)} practice calls are running, the most at once "
                                  f"(practice_total = {lim.total}): try again when one ends", 429)
        mine = sum(1 for r in self.running.values() if r == login)
        if mine >= lim.per_user:
            raise PracticeRefused(f"{login} has {mine} practice calls running, the most at once "
                                  f"(practice_per_user = {lim.per_user}): try again when one ends", 429)

    async def start(self, rep: User, transcript: str, speed: float = 1.0) -> str:
        """Check the caps (PracticeRefused names the one exceeded), parse
        (TranscriptError names the line), then run in the background."""
        lim = self.limits
        if not MIN_SPEED <= speed <= lim.max_speed:
            raise PracticeRefused(f"speed must be a number from {MIN_SPEED:g} to {lim.max_speed:g} "
                                  f"(practice_max_speed), got {speed:g}")
        lines = sum(1 for line in transcript.splitlines() if line.strip())
        if lines > lim.max_lines:
            raise PracticeRefused(f"the transcript has {lines} lines; a practice call may have at most "
                                  f"{lim.max_lines} (practice_max_lines)")
        self._room(rep.login)
        utterances = await self._off(_read, transcript, self.config.redaction)
        if len(utterances) > lim.max_lines:
            raise PracticeRefused(f"the transcript has {len(utterances)} utterances; a practice call may have "
                                  f"at most {lim.max_lines} (practice_max_lines)")
        end = max((u.end for u in utterances), default=0.0)
        if end > lim.max_s:
            raise PracticeRefused(f"the transcript's last line ends at {end:.0f} s; a practice call may last "
                                  f"at most {lim.max_s:.0f} s (practice_max_s)")
        if end / speed > lim.max_s:
            raise PracticeRefused(f"at speed {speed:g} this call would run {end / speed:.0f} s; a practice call "
                                  f"may run at most {lim.max_s:.0f} s (practice_max_s): play it faster")
        try:
            a = self.config.resolve(rep=rep.login, team=rep.team or None)
        except InterveneError as e:                # a config naming an unknown profile: say so, don't 500
            raise PracticeRefused(f"{rep.login}'s settings: {e}")
        engine = await self._off(CallEngine, self.index, a.profile, {c: Mode.SILENT for c in Category})
        self._room(rep.login)                      # again: others may have started while we parsed
        call_id = "practice-" + new_call_id()
        self.running[call_id] = rep.login
        try:
            await self.db.run(self.db.store.start_call, call_id, source="practice", rep=rep.login,
                              team=rep.team or None, profile=a.profile.name, mode="silent", kb=self.kb_source,
                              lead="practice", rep_endpoint=rep.endpoint or None)
        except BaseException:
            self.running.pop(call_id, None)
            raise
        self.hub.call(call_id, rep=rep.login, rep_name=rep.name, team=rep.team or None, lead="practice",
                      lead_name="Practice call", profile=a.profile.name, practice=True, state="live",
                      rep_endpoint=rep.endpoint or None)
        task = asyncio.create_task(self._watched(call_id, _Player(engine, utterances), speed),
                                   name=f"practice-{call_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return call_id

    async def _watched(self, call_id: str, player: _Player, speed: float) -> None:
        """The call, ended for sure: at its end, on an error, or by the watchdog."""
        limit = player.end / speed * OVERRUN + GRACE_S
        try:
            async with asyncio.timeout(limit):
                await self._run(call_id, player, speed)
        except TimeoutError:
            log.warning("practice call %s still running after %.0f s: ended", call_id, limit)
        except Exception:
            log.exception("practice call %s failed: ended", call_id)
        finally:
            self.running.pop(call_id, None)
            try:
                await self._finish(call_id, round(player.end, 2))
            finally:
                self.hub.call(call_id, state="ended", ended_at=time.time())

    async def _finish(self, call_id: str, duration_s: float) -> None:
        """The call's length, stored after everything it wrote (the worker
        keeps order), so a screen that sees it end finds it all stored. A
        store that lags: written later, the call ends on screens now."""
        try:
            await asyncio.wait_for(self.db.run(self.db.store.finish_call, call_id, duration_s), FINISH_WAIT_S)
        except (asyncio.TimeoutError, StoreError):
            self.db.write(self.db.store.finish_call, call_id, duration_s)

    async def _run(self, call_id: str, player: _Player, speed: float) -> None:
        seq = 0

        def publish(outs: list[Out]) -> None:
            nonlocal seq
            for x in outs:
                if isinstance(x, Utterance):
                    if x.final:
                        self.db.write(self.db.store.add_utterance, call_id, x)
                    self.hub.line(call_id, x)
                    continue
                record_intervention(self.db, self.hub, call_id, seq, x, delivery="shown")
                self.db.write(self.db.store.set_delivery, call_id, seq, "shown", round(x.at, 2))
                seq += 1

        t0 = time.monotonic()
        while True:
            outs, done = await self._off(player.step, (time.monotonic() - t0) * speed)
            publish(outs)
            if done:
                break
            await asyncio.sleep(TICK_S)
        publish(list(await self._off(player.engine.end, player.end)))


def _read(transcript: str, kinds: frozenset[Redact]) -> list[Utterance]:
    """The transcript, its card numbers and the like taken out before anything
    is stored or shown (a practice call is often a real call pasted in)."""
    utterances = parse_transcript(transcript, "transcript")
    texts = redact_lines([(u.speaker.value, u.text) for u in utterances], kinds)
    return [u if u.text == t else replace(u, text=t) for u, t in zip(utterances, texts)]
