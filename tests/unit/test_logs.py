"""The service's log formats (issue 17): JSON Lines with the call and the
worker on a call's lines, the text line tagged the same way, and the call
context reaching tasks and threads without any log call passing it."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from typing import Any, Iterator

import pytest

from intervene.cli.logs import JsonFormatter, LogFormatError, TextFormatter, choose_format, setup_logging
from intervene.logctx import CALL, WORKER, LogContextFilter, about_call, call_context


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("intervene.test.logs")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log, out, handler
    log.removeHandler(handler)
    log.propagate = True


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_message_and_the_call_when_there_is_one(captured: Any) -> None:
    log, out, _ = captured
    log.info("service up on %s", "127.0.0.1:8090")
    with about_call("c-42", "w1"):
        log.warning("call %s: rep %s did not answer", "c-42", "PJSIP/***")
    first, second = _lines(out)
    assert first["message"] == "service up on 127.0.0.1:8090" and first["level"] == "INFO"
    assert first["logger"] == "intervene.test.logs" and "call" not in first and "worker" not in first
    assert first["ts"].endswith("Z") and first["ts"][10] == "T"          # ISO 8601, UTC
    assert (second["call"], second["worker"], second["level"]) == ("c-42", "w1", "WARNING")
    assert CALL.get() is None and WORKER.get() is None                      # the block put them back


def test_an_exception_goes_in_one_field_of_the_same_line(captured: Any) -> None:
    log, out, _ = captured
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("handling %s failed", "StasisStart")
    (line,) = _lines(out)
    assert line["message"] == "handling StasisStart failed"
    assert "Traceback" in line["exception"] and "RuntimeError: boom" in line["exception"]
    assert len(out.getvalue().splitlines()) == 1


def test_the_text_line_shows_the_call_and_worker_before_the_message() -> None:
    fmt = TextFormatter()
    record = logging.LogRecord("intervene.call", logging.INFO, __file__, 1, "call %s: ending", ("c-1",), None)
    LogContextFilter().filter(record)
    assert fmt.format(record).endswith(" INFO intervene.call: call c-1: ending")     # no call set: as before
    with about_call("c-1", "w2"):
        record = logging.LogRecord("intervene.call", logging.INFO, __file__, 1, "ending", (), None)
        LogContextFilter().filter(record)
    assert fmt.format(record).endswith(" INFO intervene.call: [call=c-1 worker=w2] ending")


def test_tasks_and_threads_started_in_a_call_context_carry_it(captured: Any) -> None:
    log, out, _ = captured

    async def go() -> None:
        ctx = call_context("c-7", "w3")
        log.info("before")                                             # the controller's own line
        async def in_task() -> None:
            log.info("in a task")
        await asyncio.create_task(in_task(), context=ctx.copy())

        def on_thread() -> None:
            log.info("on the call's thread")
        t = threading.Thread(target=ctx.run, args=(on_thread,))
        t.start()
        t.join()
        log.info("after")
    asyncio.run(go())
    lines = {line["message"]: line for line in _lines(out)}
    assert "call" not in lines["before"] and "call" not in lines["after"]
    assert lines["in a task"]["call"] == "c-7" and lines["in a task"]["worker"] == "w3"
    assert lines["on the call's thread"]["call"] == "c-7" and lines["on the call's thread"]["worker"] == "w3"


def test_an_explicit_call_on_the_record_wins(captured: Any) -> None:
    log, out, _ = captured
    with about_call("c-1", "w1"):
        log.info("about another", extra={"call": "c-2"})
    assert _lines(out)[0]["call"] == "c-2"


def test_the_format_comes_from_the_option_then_the_config_file() -> None:
    assert choose_format("json", "text") == "json"
    assert choose_format(None, "JSON") == "json"
    assert choose_format(None, "") == "text"
    with pytest.raises(LogFormatError, match="log_format"):
        choose_format(None, "xml")


def test_setting_up_twice_leaves_one_handler() -> None:
    root = logging.getLogger()
    level = root.level
    try:
        first = setup_logging("json")
        second = setup_logging("text", verbose=True)
        assert first not in root.handlers and root.handlers.count(second) == 1
        assert isinstance(second.formatter, TextFormatter) and root.level == logging.DEBUG
        with pytest.raises(LogFormatError):
            setup_logging("xml")
    finally:
        for h in [h for h in root.handlers if h.get_name() == "intervene"]:
            root.removeHandler(h)
        root.setLevel(level)
