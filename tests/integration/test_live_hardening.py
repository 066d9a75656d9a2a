"""Live calls against a real SQLite store, without Asterisk (issue 15):
the store is touched only off the event loop, a locked store loses nothing
and stops nothing, one failing poll step does not end the call's listening,
calls belong to the person who took them (not to the phone), and numbers
stay out of the logs."""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest

from intervene.accounts.auth import User, can_see
from intervene.config.live import LiveOptions
from intervene.pbx.ari import AriError
from intervene.pbx.call import LiveCall
from intervene.pbx.controller import Controller, Services, account_for
from intervene.pbx.media import MediaStore
from intervene.screen.hub import Hub
from intervene.store.db import Store
from intervene.vocab import AudioChunk, Category, Intervention, Mode, Severity, Speaker, Utterance

# every Store method a live call or the controller may reach
_WATCHED = {"start_call", "update_call", "call", "add_utterance", "add_intervention", "set_delivery", "finish_call",
            "users", "user", "utterances", "interventions"}


class WatchedStore(Store):
    """A real store that notes each call made on the event loop's thread and
    can play "another process holds the write lock" for add_utterance."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.on_loop: list[str] = []
        self.loop_thread: Optional[threading.Thread] = None
        self.locked_until = 0.0
        self.refused = 0

    def __getattribute__(self, name: str) -> Any:
        attr = super().__getattribute__(name)
        if name not in _WATCHED:
            return attr

        def watched(*args: Any, **kwargs: Any) -> Any:       # where it runs, not where it is handed over
            if threading.current_thread() is self.loop_thread:
                self.on_loop.append(name)
            return attr(*args, **kwargs)
        return watched

    def add_utterance(self, call_id: str, u: Utterance) -> None:
        if time.monotonic() < self.locked_until:
            self.refused += 1
            raise sqlite3.OperationalError("database is locked")
        super().add_utterance(call_id, u)


class FakeAri:
    """Asterisk as far as a call's set-up, a played clip and re-adoption go."""

    def __init__(self, waiters: Any, channels: list[dict[str, Any]] = (), bridges: list[dict[str, Any]] = (),
                 ring_fails: bool = False) -> None:
        self.waiters = waiters
        self.s = SimpleNamespace(app="iv-test", url="http://pbx")
        self.channels, self.bridges, self.ring_fails = list(channels), list(bridges), ring_fails
        self.log: list[tuple[str, str]] = []

    async def call(self, method: str, path: str, **params: Any) -> Any:
        self.log.append((method, path))
        if method == "GET":
            return self.channels if path == "/channels" else self.bridges
        if path == "/channels" and self.ring_fails:
            raise AriError(400, f"{method} {path}", "Allocation failed")
        if path.endswith("/play"):
            asyncio.get_running_loop().call_soon(self.waiters.resolve, f"played:{params['playbackId']}", "done")
        return {}

    async def quiet(self, method: str, path: str, **params: Any) -> Any:
        return await self.call(method, path, **params)

    async def close(self) -> None:
        return None


class ScriptedPipeline:
    """The listening pipeline as the call sees it: each poll runs the next
    step of a script - a line (said through on_utterance, with a card) or
    an exception - then nothing."""

    def __init__(self, on_utterance: Callable[[Utterance], None], script: list[Any]) -> None:
        self.on_utterance = on_utterance
        self.script = list(script)
        self.transcript: list[Utterance] = []
        quiet = SimpleNamespace(speaking=False)
        self.parties = {Speaker.LEAD: SimpleNamespace(segmenter=quiet), Speaker.REP: SimpleNamespace(segmenter=quiet)}
        self.polls = 0

    def poll(self, now: float) -> list[Intervention]:
        self.polls += 1
        if not self.script:
            return []
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        u = Utterance(len(self.transcript), Speaker.REP, float(step), float(step) + 1, f"line {step}")
        self.transcript.append(u)
        self.on_utterance(u)
        return [Intervention(now, u.index, Category.ACCURACY, Severity.LOW, Mode.SILENT, "claim", f"line {step}",
                             "A card.")]

    def finish(self, now: float) -> list[Intervention]:
        return []

    def ai_said(self, start: float, end: float, text: str) -> None:
        return None

    @property
    def done(self) -> bool:
        return not self.script


def services(store: Store, script: list[Any], **ari: Any) -> Services:
    s = Services(ari=None, store=store, kb=SimpleNamespace(source="kb/"), index=None, config=None, asr=None,  # type: ignore[arg-type]
                 voice=None, media=MediaStore(), public_url="http://svc",  # type: ignore[arg-type]
                 options=LiveOptions(briefing=False, poll_ms=5), screen=Hub())
    s.ari = FakeAri(s.waiters, **ari)  # type: ignore[assignment]
    engine = SimpleNamespace(profile=SimpleNamespace(name="standard"), speech_started=lambda sp, now: [],
                             speech_ended=lambda sp, end, now: [])

    def new_pipeline(args: dict[str, str], on_u: Callable[[Utterance], None], on_i: Any) -> Any:
        return "standard", lambda: (engine, ScriptedPipeline(on_u, script))

    async def synthesize(key: str, text: str, tone_first: bool = False) -> None:
        s.media.put(key, b"RIFF")

    s.new_pipeline = new_pipeline  # type: ignore[method-assign,assignment]
    s.synthesize = synthesize  # type: ignore[method-assign]
    return s


def poll_task(call: LiveCall) -> Optional["asyncio.Task[Any]"]:
    return next((t for t in call._tasks if t.get_name().endswith("-poll")), None)


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _user(store: Store, login: str) -> User:
    row = store.user(login)
    assert row is not None
    return User.from_row(row)


# ------------------------------------------------------------- 1 and 2
def test_a_locked_store_loses_no_line_and_no_card_and_the_loop_never_touches_it(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "t.db")
    store.put_user("alice", name="Alice", role="rep", endpoint="PJSIP/rep7")
    s = services(store, list(range(12)))

    async def go() -> tuple[bool, LiveCall]:
        store.loop_thread = threading.current_thread()
        call = LiveCall(s, "c1", "lead-ch", {"rep": "PJSIP/rep7", "lead": "+15551234567", "team": "east"})
        await call.start()
        store.locked_until = time.monotonic() + 0.6         # another process holds the write lock meanwhile
        call.start_clock()
        pipeline: ScriptedPipeline = call.pipeline  # type: ignore[assignment]
        await until(lambda: pipeline.done and all(e["delivery"] == "shown" for e in call.delivered))
        polling = (task := poll_task(call)) is not None and not task.done()
        await call.end("lead hung up")
        await until(lambda: "c1" not in s.calls)            # forgotten once what it handed over is written
        store.loop_thread = None
        s.db.close()
        return polling, call

    polling, call = asyncio.run(go())
    assert store.refused > 0                                 # the lock was really met
    assert polling                                           # and the call kept listening through it
    assert [u["text"] for u in store.utterances("c1")] == [f"line {i}" for i in range(12)]
    ivs = store.interventions("c1")
    assert [i["seq"] for i in ivs] == list(range(12)) and {i["delivery"] for i in ivs} == {"shown"}
    row = store.call("c1")
    assert row is not None and row["duration_s"] is not None and row["conversation_started"] is not None
    assert store.on_loop == []                               # not one SQLite call on the event loop


def test_one_failing_poll_step_is_logged_once_and_the_call_keeps_listening(tmp_path: Path,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path / "t.db")
    script: list[Any] = [0, RuntimeError("boom"), 1, RuntimeError("boom"), ValueError("bad"), 2, 3]
    s = services(store, script)

    async def go() -> bool:
        call = LiveCall(s, "c2", "lead-ch", {"rep": "PJSIP/rep1"})
        await call.start()
        call.start_clock()
        pipeline: ScriptedPipeline = call.pipeline  # type: ignore[assignment]
        await until(lambda: pipeline.done)
        await asyncio.sleep(0.05)
        alive = (task := poll_task(call)) is not None and not task.done()
        await call.end("done")
        await until(lambda: "c2" not in s.calls)
        s.db.close()
        return alive

    with caplog.at_level(logging.INFO, logger="intervene.call"):
        alive = asyncio.run(go())
    assert alive
    assert [u["text"] for u in store.utterances("c2")] == ["line 0", "line 1", "line 2", "line 3"]
    assert len(store.interventions("c2")) == 4
    failures = [r.getMessage() for r in caplog.records if "failed" in r.getMessage() and r.levelno >= logging.ERROR]
    assert len([m for m in failures if "RuntimeError" in m]) == 1 and len([m for m in failures if "ValueError" in m]) == 1
    assert all("c2" in m for m in failures)


def test_a_readopted_call_reads_what_was_stored_off_the_loop_and_keeps_its_owner(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = WatchedStore(tmp_path / "t.db")
    store.put_user("alice", name="Alice", role="rep", endpoint="PJSIP/rep7")
    store.start_call("c9", source="live", rep="alice", rep_endpoint="PJSIP/rep7", team="east",
                     conversation_started=time.time() - 30)
    for i in range(3):
        store.add_utterance("c9", Utterance(i, Speaker.LEAD, float(i), i + 1.0, f"before {i}"))
    store.add_intervention("c9", 0, Intervention(1.0, 0, Category.ACCURACY, Severity.LOW, Mode.SILENT, "c", "d", "s"))
    store.put_user("alice", endpoint="PJSIP/rep9")           # she moved desks while the service was down
    store.put_user("bob", name="Bob", role="rep", endpoint="PJSIP/rep7")
    channels = [{"id": "lead-1", "caller": {"number": "+15551234567"}}, {"id": "iv-c9-rep"}]
    s = services(store, [], channels=channels, bridges=[{"id": "iv-c9", "channels": ["lead-1", "iv-c9-rep"]}])

    async def no_taps(self: LiveCall) -> None:
        return None
    monkeypatch.setattr(LiveCall, "open_taps", no_taps)

    async def go() -> LiveCall:
        store.loop_thread = threading.current_thread()
        await Controller(s, web=None).readopt()  # type: ignore[arg-type]
        call = s.calls["c9"]
        await call.end("test over")
        await until(lambda: "c9" not in s.calls)
        store.loop_thread = None
        s.db.close()
        return call

    call = asyncio.run(go())
    assert (call.utt_offset, call.seq, call.owner, call.args["rep"]) == (3, 1, "alice", "PJSIP/rep7")
    assert s.screen.views["c9"].call["rep"] == "alice"
    assert store.on_loop == []


# ------------------------------------------------------------------- 3
def test_a_call_belongs_to_the_person_who_took_it_not_to_the_phone(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.put_user("alice", name="Alice", role="rep", team="east", endpoint="PJSIP/rep7")
    store.put_user("rep7", name="Named after a phone", role="rep", team="east")
    s = services(store, [])

    async def go(call_id: str) -> None:
        call = LiveCall(s, call_id, "lead-ch", {"rep": "PJSIP/rep7", "team": "east"})
        await call.start()
        await call.end("done")
        await until(lambda: call_id not in s.calls)

    asyncio.run(go("before"))
    row = store.call("before")
    assert row is not None and (row["rep"], row["rep_endpoint"]) == ("alice", "PJSIP/rep7")
    view = s.screen.views["before"].call
    assert view["rep"] == "alice"
    # the desk move: alice takes rep9, bob takes her old phone
    store.put_user("alice", endpoint="PJSIP/rep9")
    store.put_user("bob", name="Bob", role="rep", team="east", endpoint="PJSIP/rep7")
    alice, bob, rep7 = _user(store, "alice"), _user(store, "bob"), _user(store, "rep7")
    for seen in (row, view):
        assert can_see(alice, seen)
        assert not can_see(bob, seen) and not can_see(rep7, seen)
    asyncio.run(go("after"))                                 # the next call on that phone is bob's
    after = store.call("after")
    assert after is not None and after["rep"] == "bob" and can_see(bob, after) and not can_see(alice, after)
    s.db.close()


def test_the_account_is_the_holder_of_the_phone_or_a_phoneless_login_named_after_it() -> None:
    rows = [{"login": "rep7", "role": "rep", "endpoint": "PJSIP/rep9"},
            {"login": "zed", "role": "rep", "endpoint": "PJSIP/rep7"},
            {"login": "rep5", "role": "rep", "endpoint": ""},
            {"login": "boss", "role": "supervisor", "endpoint": "PJSIP/rep8"}]
    owner = account_for(rows, {"rep": "PJSIP/rep7"})
    assert owner is not None and owner.login == "zed"        # not the login that merely shares the phone's name
    found = account_for(rows, {"rep": "PJSIP/rep5"})
    assert found is not None and found.login == "rep5"       # installs that name logins after phones
    assert account_for(rows, {"rep": "PJSIP/rep9"}) is not None
    assert account_for(rows, {"rep": "PJSIP/rep8"}) is None  # a supervisor takes no calls
    assert account_for([{"login": "rep9", "role": "rep", "endpoint": "PJSIP/rep1"}], {"rep": "PJSIP/rep9"}) is None


# ------------------------------------------------------------------- 4
def test_numbers_and_dialplan_arguments_stay_out_of_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path / "t.db")
    s = services(store, [], ring_fails=True)
    ev = {"type": "StasisStart", "channel": {"id": "1733.42", "caller": {"number": "+15559876543"}},
          "args": ["rep=PJSIP/+15551112233@trunk", "lead=+15551234567", "name=Jane Doe", "team=east"]}

    async def go() -> None:
        await Controller(s, web=None)._dispatch(ev)  # type: ignore[arg-type]
        await until(lambda: any(v.call["state"] == "ended" for v in s.screen.views.values()) and not s.calls)
        s.db.close()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    text = caplog.text
    assert "arrived" in text and "cannot ring the rep" in text          # the lines are there ...
    for secret in ("9876543", "1234567", "1112233", "Jane"):             # ... without the numbers and names
        assert secret not in text, text
    assert "*********43" in text and "*********67" in text


# ------------------------------------------------- the engine off the loop
class SlowEngine:
    """The engine as slow as the claim checker on a loaded machine (sentence
    embeddings, the cross-encoder): 300 ms a line. Notes where each step ran
    and whether two steps of the call ever overlapped."""

    STEP_S = 0.3
    profile = SimpleNamespace(name="standard")

    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.inside = 0
        self.overlapped = False

    def _step(self, seconds: float) -> None:
        self.inside += 1
        self.overlapped |= self.inside > 1
        self.threads.add(threading.current_thread().name)
        time.sleep(seconds)                          # inference: the models release the GIL
        self.inside -= 1

    def utterance(self, u: Utterance, now: float) -> list[Intervention]:
        self._step(self.STEP_S)
        return [Intervention(now, u.index, Category.ACCURACY, Severity.LOW, Mode.SILENT, "claim", u.text, "A card.")]

    def speech_started(self, sp: Speaker, now: float) -> list[Intervention]:
        self._step(0.0)
        return []

    def speech_ended(self, sp: Speaker, end: float, now: float) -> list[Intervention]:
        self._step(0.0)
        return []

    def end(self, now: float) -> list[Intervention]:
        self._step(self.STEP_S)
        return [Intervention(now, -1, Category.ACCURACY, Severity.LOW, Mode.SILENT, "claim", "at the end", "Last.")]


class SlowPipeline(ScriptedPipeline):
    """One line a poll, each through the slow engine; frames fed are kept in order."""

    def __init__(self, on_utterance: Callable[[Utterance], None], engine: SlowEngine, lines: int) -> None:
        super().__init__(on_utterance, list(range(lines)))
        self.engine = engine
        self.fed: list[float] = []

    def feed(self, chunk: Any) -> None:
        self.engine._step(0.0)
        self.fed.append(chunk.t)

    def poll(self, now: float) -> list[Intervention]:
        self.engine._step(0.0)
        if not self.script:
            return []
        step = self.script.pop(0)
        u = Utterance(len(self.transcript), Speaker.LEAD, float(step), float(step) + 1, f"line {step}")
        self.transcript.append(u)
        self.on_utterance(u)
        return self.engine.utterance(u, now)

    def finish(self, now: float) -> list[Intervention]:
        return self.engine.end(now)


def test_a_slow_engine_leaves_the_loop_free_and_loses_nothing_of_the_call(tmp_path: Path) -> None:
    store = WatchedStore(tmp_path / "t.db")
    s = services(store, [])
    engine = SlowEngine()
    lines = 8

    built_on: list[str] = []

    def new_pipeline(args: dict[str, str], on_u: Callable[[Utterance], None], on_i: Any) -> Any:
        def build() -> tuple[SlowEngine, SlowPipeline]:          # building an engine is slow too
            built_on.append(threading.current_thread().name)
            time.sleep(SlowEngine.STEP_S)
            return engine, SlowPipeline(on_u, engine, lines)
        return "standard", build
    s.new_pipeline = new_pipeline  # type: ignore[method-assign,assignment]

    async def go() -> tuple[list[float], LiveCall, SlowPipeline]:
        store.loop_thread = threading.current_thread()
        late: list[float] = []
        running = True

        async def ticks() -> None:                   # how late the loop wakes a 10 ms sleep
            while running:
                t = time.perf_counter()
                await asyncio.sleep(0.01)
                late.append(time.perf_counter() - t - 0.01)

        ticking = asyncio.create_task(ticks())
        call = LiveCall(s, "c5", "lead-ch", {"rep": "PJSIP/rep1"})
        await call.start()
        pipeline: SlowPipeline = call.pipeline  # type: ignore[assignment]
        call.start_clock()

        async def taps() -> None:                    # a tap's frames, as they arrive
            for i in range(200):
                call.hear(AudioChunk(Speaker.LEAD, i * 0.02, b"\0" * 640))
                await asyncio.sleep(0.005)

        feeding = asyncio.create_task(taps())
        await until(lambda: feeding.done() and len(call.delivered) == lines
                    and all(e["delivery"] == "shown" for e in call.delivered))
        call._assistant(speaking=True)               # the assistant's speech: the engine hears it, off the loop
        await call.end("lead hung up")               # finish: the engine's last step, off the loop too
        await until(lambda: "c5" not in s.calls)
        running = False
        await ticking
        store.loop_thread = None
        s.db.close()
        return late, call, pipeline

    late, call, pipeline = asyncio.run(go())
    assert max(late) < 0.05, f"the loop stalled {max(late) * 1000:.0f} ms"
    assert not engine.overlapped and engine.threads == {next(iter(engine.threads))}
    assert next(iter(engine.threads)).startswith("call-c5")                   # the call's own thread, not the loop's
    assert len(built_on) == 1 and built_on[0].startswith("call-c5")
    assert pipeline.fed == [i * 0.02 for i in range(200)]                     # every frame, in order
    assert [u["text"] for u in store.utterances("c5")] == [f"line {i}" for i in range(lines)]
    ivs = store.interventions("c5")
    assert [(i["seq"], i["detected"]) for i in ivs] == [(i, f"line {i}") for i in range(lines)] + [(lines, "at the end")]
    assert [i["delivery"] for i in ivs] == ["shown"] * lines + ["call-ended"]
    assert call.listening.closed and store.on_loop == []
