"""`intervene serve --log-format json` on a call (issue 17): every line
about the call - from the controller handling its events, its tasks, and its
own listening thread - is one JSON object carrying the call id and the
worker, with no log call passing them. Asterisk is faked as in
test_live_hardening.py."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import pytest
from test_live_hardening import FakeAri, ScriptedPipeline, services, until

from intervene.cli.logs import JsonFormatter
from intervene.config.leads import LeadOptions
from intervene.leads.flow import LeadFlow
from intervene.logctx import LogContextFilter
from intervene.pbx.ari import AriUnavailable
from intervene.pbx.call import LiveCall
from intervene.pbx.cluster import LeaseKeeper
from intervene.pbx.controller import Controller
from intervene.store import leads as lead_store
from intervene.store import leases
from intervene.store.db import Store
from intervene.vocab import Intervention, Utterance

thread_log = logging.getLogger("intervene.test.listening")


class TalkingPipeline(ScriptedPipeline):
    """Logs from the call's own thread, as the engine and pipeline do."""

    def poll(self, now: float) -> list[Intervention]:
        if self.script:
            thread_log.info("polled on the call's thread")
        return super().poll(now)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def _about(out: io.StringIO, call_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.getvalue().splitlines()]      # every line parses
    return [line for line in lines if call_id in line["message"] or line.get("call") == call_id]


def test_every_line_about_an_arriving_call_names_it_and_the_worker(tmp_path: Path, json_log: io.StringIO) -> None:
    store = Store(tmp_path / "t.db")
    s = services(store, [], ring_fails=True)
    s.worker = "w-east"
    ev = {"type": "StasisStart", "channel": {"id": "1733.42", "caller": {"number": "+15559876543"}},
          "args": ["rep=PJSIP/rep7", "lead=+15551234567", "team=east"]}

    async def go() -> str:
        await Controller(s, web=None)._dispatch(ev)  # type: ignore[arg-type]
        await until(lambda: any(v.call["state"] == "ended" for v in s.screen.views.values()) and not s.calls)
        await Controller(s, web=None)._dispatch({"type": "StasisStart",  # type: ignore[arg-type]
                                                 "channel": {"id": "1733.43"}, "args": ["rep=PJSIP/rep8"]})
        await until(lambda: len(s.screen.views) == 2 and not s.calls)
        s.db.close()
        return next(iter(s.screen.views))

    call_id = asyncio.run(go())
    lines = _about(json_log, call_id)
    messages = " | ".join(line["message"] for line in lines)
    assert "arrived" in messages and "cannot ring the rep" in messages and "ending" in messages, messages
    assert all(line.get("call") == call_id and line.get("worker") == "w-east" for line in lines), lines
    other = [json.loads(x) for x in json_log.getvalue().splitlines() if "1733.43" in x]
    assert other and all(line.get("call") != call_id for line in other)   # the next call's lines are its own
    assert "9876543" not in json_log.getvalue() and "1234567" not in json_log.getvalue()


def test_the_call_thread_and_the_calls_tasks_log_with_its_id(tmp_path: Path, json_log: io.StringIO) -> None:
    store = Store(tmp_path / "t.db")
    script: list[Any] = [0, RuntimeError("boom"), 1]
    s = services(store, script)
    s.worker = "w-west"

    base = s.new_pipeline

    def talking(args: dict[str, str], on_u: Callable[[Utterance], None], on_i: Any) -> Any:
        name, build = base(args, on_u, on_i)

        def built() -> Any:
            engine, _ = build()
            return engine, TalkingPipeline(on_u, script)
        return name, built
    s.new_pipeline = talking  # type: ignore[method-assign,assignment]

    async def go() -> None:
        logging.getLogger("intervene.test").info("before the call")
        call = LiveCall(s, "c-log", "lead-ch", {"rep": "PJSIP/rep1"})
        await call.start()
        call.start_clock()
        pipeline: ScriptedPipeline = call.pipeline  # type: ignore[assignment]
        await until(lambda: pipeline.done)
        await call.end("done")
        await until(lambda: "c-log" not in s.calls)
        logging.getLogger("intervene.test").info("after the call")
        s.db.close()

    asyncio.run(go())
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    polled = [line for line in lines if line["logger"] == "intervene.test.listening"]
    failed = [line for line in lines if "RuntimeError" in line["message"]]
    assert polled and failed
    for line in polled + failed + _about(json_log, "c-log"):
        assert (line.get("call"), line.get("worker")) == ("c-log", "w-west"), line
    shared = [line for line in lines if line["message"] in ("before the call", "after the call")]
    assert len(shared) == 2 and all("call" not in line for line in shared)


# ------------------------------------------ take-over and the lead flow (issue 17)
def test_take_over_and_letting_go_lines_name_the_call(tmp_path: Path, json_log: io.StringIO) -> None:
    """The lease keeper is a shared job of the worker; its lines about one
    call (taking it over, letting it go) are that call's."""
    store = Store(tmp_path / "t.db")
    s = services(store, [], channels=[{"id": "lead-ch"}, {"id": "iv-c9-rep"}],
                 bridges=[{"id": "iv-c9", "channels": ["lead-ch", "iv-c9-rep"]}])
    s.worker = "w-b"
    s.connected.set()
    adopted: list[str] = []

    async def adopt(cid: str, lead: str, rep: str, channel: dict[str, Any]) -> None:
        logging.getLogger("intervene.test.adopt").info("adopting")
        adopted.append(cid)

    let_go: list[str] = []

    async def go() -> None:
        keeper = LeaseKeeper(s, adopt)
        await s.db.run(leases.take, store, "c9", "w-a", "iv-other", 100.0, 1.0, "http://pbx")     # w-a died
        await keeper.tick(200.0)
        await s.db.run(leases.take, store, "c7", "w-a", "iv-other", 300.0, 1000.0, "http://pbx")  # w-a took c7

        async def gone() -> None:
            logging.getLogger("intervene.test.adopt").info("let go")
            let_go.append("c7")
        s.calls["c7"] = SimpleNamespace(ended=False, let_go=gone)  # type: ignore[assignment]
        await keeper.tick(301.0)
        s.calls.pop("c7")
        logging.getLogger("intervene.cluster").info("after")
        s.db.close()

    asyncio.run(go())
    assert adopted == ["c9"] and let_go == ["c7"]
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    c9 = [line for line in lines if "c9" in line["message"] or line["message"] == "adopting"]
    assert any("taking the call over" in x["message"] for x in c9) and any("taken over" in x["message"] for x in c9)
    assert all((x.get("call"), x.get("worker")) == ("c9", "w-b") for x in c9), c9
    c7 = [line for line in lines if "c7" in line["message"] or line["message"] == "let go"]
    assert any("letting go" in x["message"] for x in c7)
    assert all((x.get("call"), x.get("worker")) == ("c7", "w-b") for x in c7), c7
    [after] = [line for line in lines if line["message"] == "after"]
    assert "call" not in after                                   # the keeper's own lines are no call's


class UnreachableAri(FakeAri):
    """Asterisk gone the moment the lead is dialled."""

    async def call(self, method: str, path: str, **params: Any) -> Any:
        if method == "POST" and path == "/channels":
            raise AriUnavailable("cannot reach Asterisk")
        return await super().call(method, path, **params)


def test_a_lead_calls_lines_name_its_call(tmp_path: Path, json_log: io.StringIO) -> None:
    store = Store(tmp_path / "t.db")
    s = services(store, [])
    s.ari = UnreachableAri(s.waiters)  # type: ignore[assignment]
    s.worker = "w-leads"
    lead_id = lead_store.add_lead(store, source="cli", status="ready", phone="+12125550123", next_at=0.0).id
    options = LeadOptions(call_hours="00:00-24:00", call_days="mon-sun")
    flow = LeadFlow(s, options, {}, ready=lambda: True)

    async def go() -> str:
        await flow.tick(time.time())
        [call] = flow.calls.values()
        assert call.task is not None
        await call.task
        logging.getLogger("intervene.leads").info("scheduler line")
        s.db.close()
        return call.id

    call_id = asyncio.run(go())
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    failed = [x for x in lines if f"lead {lead_id}: call failed" in x["message"]]
    assert failed and all((x.get("call"), x.get("worker")) == (call_id, "w-leads") for x in failed), lines
    [scheduler] = [x for x in lines if x["message"] == "scheduler line"]
    assert "call" not in scheduler
    assert "2125550123" not in json_log.getvalue()
