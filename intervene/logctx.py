"""Which call (and which worker) a log line is about, without passing either
to every `log.info`.

A live call's work is spread over asyncio tasks, the call's own listening
thread and store jobs; the call id reaches their log lines through context
variables instead. Tasks copy the context they are created in, and
`call_context` gives a call a context of its own, so a call's lines carry its
id while the controller's shared tasks (ARI events, leases) carry none. The
values are ids and a host name, never personal data. `LogContextFilter` puts
them on each record as `call` and `worker` (None when unset), for the
formatters the command line chooses (cli/logs.py).
"""
from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager
from typing import Iterator, Optional

CALL: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("intervene_call", default=None)
WORKER: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("intervene_worker", default=None)


def _set(call_id: Optional[str], worker: Optional[str]) -> None:
    CALL.set(call_id)
    WORKER.set(worker or None)


def call_context(call_id: str, worker: Optional[str] = None) -> contextvars.Context:
    """A copy of the current context in which log lines are about `call_id`
    on `worker`. Run a call's tasks in copies of it (`create_task(...,
    context=ctx.copy())`) and its thread's jobs with `ctx.run`: a context
    can be entered by one thread at a time, and copies keep one task's own
    settings from leaking into another."""
    ctx = contextvars.copy_context()
    ctx.run(_set, call_id, worker)
    return ctx


@contextmanager
def about_call(call_id: str, worker: Optional[str] = None) -> Iterator[None]:
    """Log lines in this block (and tasks started in it) are about `call_id`:
    for the shared code that handles one call's event (a hang-up, an arrival)."""
    call_token = CALL.set(call_id)
    worker_token = WORKER.set(worker or None)
    try:
        yield
    finally:
        WORKER.reset(worker_token)
        CALL.reset(call_token)


class LogContextFilter(logging.Filter):
    """Copies the current call id and worker onto every record (`record.call`,
    `record.worker`). Put it on the handler, not a logger: a logger's filters
    miss the records that propagate to it from its children. A record that
    already carries them (`extra={"call": ...}`) keeps its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call", None) is None:
            record.call = CALL.get()
        if getattr(record, "worker", None) is None:
            record.worker = WORKER.get()
        return True
