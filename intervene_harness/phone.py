"""The asyncio side of a softphone: PhoneProcess spawns one
`python -m intervene_harness.softphone` child per phone and talks to it in
JSON lines over its stdin/stdout (the protocol is in that module).

Why the phone is not in this process: pjsua2 owns its thread and event loop
(it must be polled from the thread that created it, and calls back from C),
and a crash or a hang in it must not take the test, the demo or the service
down. So the tests, the demo and the benches import only this module, which
never loads pjsua2; a dead phone is an exit status and a PhoneError here.
"""
from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

from intervene.errors import InterveneError
from intervene_harness import softphone


class PhoneError(InterveneError, RuntimeError):
    """The phone reported an error, or exited, while we waited for something else."""

    def __init__(self, message: str, event: Optional[dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.event = event


class PhoneProcess:
    """One phone process.

        ph = PhoneProcess("rep1")
        await ph.start(user="rep1", password="pw", registrar="127.0.0.1:5060", register=True,
                       play="rep.wav", record="rep-heard.wav")      # returns after "ready"
        ev = await ph.wait_event("confirmed", 10)                   # ev["t"]: recording starts
        await ph.send({"cmd": "play", "at": time.time() + 0.5})
        await ph.wait_event("played", 60)
        await ph.close()                                            # quit; exit status

    Every event is kept in `events` (dicts, as sent, plus "rx": time.time()
    when it arrived)."""

    def __init__(self, name: str = "phone") -> None:
        self.name = name
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.events: list[dict[str, Any]] = []
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=200)
        self._changed: Optional[asyncio.Condition] = None
        self._tasks: list[asyncio.Task[None]] = []
        self.returncode: Optional[int] = None

    async def start(self, user: str, password: Optional[str] = None, registrar: Optional[str] = None,
                    register: bool = False, dial: Optional[str] = None, answer_delay: float = 0.5,
                    play: Optional[str | Path] = None, record: Optional[str | Path] = None,
                    listen_port: Optional[int] = None, extra_args: tuple[str, ...] = (),
                    wait_ready: float | None = 15.0, env: Optional[dict[str, str]] = None) -> "PhoneProcess":
        args = ["--user", user, "--answer-delay", str(answer_delay)]
        for flag, val in (("--password", password), ("--registrar", registrar), ("--dial", dial),
                          ("--play", play), ("--record", record), ("--listen-port", listen_port)):
            if val is not None:
                args += [flag, str(val)]
        if register:
            args.append("--register")
        args += list(extra_args)
        self._changed = asyncio.Condition()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", softphone.__name__, *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env)
        err = asyncio.create_task(self._read_stderr())
        self._tasks = [asyncio.create_task(self._read_events(err)), err]
        if wait_ready:
            await self.wait_event("ready", wait_ready)
        return self

    async def _read_events(self, stderr_task: asyncio.Task[None]) -> None:
        assert self.proc and self.proc.stdout and self._changed is not None
        changed = self._changed
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                ev = json.loads(line)
            except ValueError:
                self.stderr_tail.append("stdout: " + line.decode(errors="replace").rstrip())
                continue
            ev["rx"] = time.time()
            async with changed:
                self.events.append(ev)
                changed.notify_all()
        try:                                   # so an exit's PhoneError can quote the whole stderr
            await asyncio.wait_for(asyncio.shield(stderr_task), 1.0)
        except asyncio.TimeoutError:
            pass
        self.returncode = await self.proc.wait()
        async with changed:
            changed.notify_all()

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                break
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    def find(self, name: str, since: int = 0) -> Optional[dict[str, Any]]:
        """The first event called `name` at index >= since, if it has arrived."""
        for ev in self.events[since:]:
            if ev.get("event") == name:
                return ev
        return None

    async def wait_event(self, name: str, timeout: float = 10.0, since: int = 0) -> dict[str, Any]:
        """The first event called `name` (at index >= `since` in `events`), waiting
        for it up to `timeout` s. Raises PhoneError if a fatal error event arrives or
        the process ends first (unless that is what was asked for; non-fatal
        error events, e.g. a bad command, are only recorded), and
        asyncio.TimeoutError on timeout."""
        assert self._changed is not None, "start() first"
        changed = self._changed

        def check() -> Optional[dict[str, Any]]:
            for ev in self.events[since:]:
                if ev.get("event") == name:
                    return ev
            for ev in self.events[since:]:
                if ev.get("event") == "error" and ev.get("fatal"):
                    raise PhoneError(f"{self.name}: {ev.get('message')}", ev)
            if self.returncode is not None:
                raise PhoneError(f"{self.name}: exited with {self.returncode} before {name!r}; "
                                 f"stderr: {' | '.join(list(self.stderr_tail)[-5:])}")
            return None

        async def wait() -> dict[str, Any]:
            async with changed:
                while True:
                    ev = check()
                    if ev is not None:
                        return ev
                    await changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except asyncio.TimeoutError:
            raise asyncio.TimeoutError(f"{self.name}: no {name!r} event within {timeout} s "
                                       f"(got {[e.get('event') for e in self.events]})") from None

    async def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()

    async def close(self, timeout: float = 5.0) -> Optional[int]:
        """Quit (hanging up if in a call), wait; SIGTERM then SIGKILL if it hangs.
        Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            try:
                await self.send({"cmd": "quit"})
                assert self.proc.stdin is not None          # send() has checked it
                self.proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError, RuntimeError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.proc.terminate()
                try:
                    await asyncio.wait_for(self.proc.wait(), 2.0)
                except asyncio.TimeoutError:
                    self.proc.kill()
                    await self.proc.wait()
        for t in self._tasks:
            try:
                await asyncio.wait_for(t, 2.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                t.cancel()
        self.returncode = self.proc.returncode
        return self.returncode

    async def __aenter__(self) -> "PhoneProcess":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
