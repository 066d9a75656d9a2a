"""A live call's listening (VAD, transcripts applied, the engine) on a
thread of its own. The claim checker can take a second on a loaded machine
(sentence embeddings, sometimes the cross-encoder); on the event loop that
second would stall every other call, every screen and every webhook.

One thread per call, not a shared pool: a call's pipeline and engine are
not thread-safe, and they must see its frames, polls and the assistant's
lines in the order they happened. With a thread each, nothing of one call
ever runs beside itself, and a slow step of one call delays only that call.
What the pipeline hands out (lines, interim words, decisions) goes back to
the loop, where the screens' queues and the call's bookkeeping live, in the
order the thread produced it.
"""
from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

from intervene.errors import InterveneError

T = TypeVar("T")
U = TypeVar("U")


class ListeningFailed(InterveneError):
    """A call's engine or pipeline could not be built: the call cannot be monitored."""


def _nothing() -> None:
    """A job that only waits its turn."""


class CallThread:
    """One call's pipeline and engine, reached only through here. Submit
    from the event loop's thread; everything runs on the call's thread in
    the order submitted, and whatever comes back runs on the loop."""

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop,
                 on_error: Callable[[str, Exception], None],
                 context: contextvars.Context | None = None) -> None:
        self.loop = loop
        self.on_error = on_error          # (where, exception), on the loop: the call logs it and goes on
        # Context variables do not cross into threads: every job runs in this one (the call's log
        # context, logctx.py), entered by one thread at a time since the pool has a single thread.
        # What a job hands back to the loop runs in it too (call_soon_threadsafe copies it).
        self._context = context if context is not None else contextvars.copy_context()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)   # its thread starts on first use
        self.closed = False

    def to_loop(self, fn: Callable[[U], None]) -> Callable[[U], None]:
        """`fn` as a callback the call's thread may call: it runs on the loop
        (the screens' queues, the store worker's hand-over are the loop's)."""
        def handed_over(arg: U) -> None:
            self._on_loop(fn, arg)
        return handed_over

    def post(self, where: str, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` after everything submitted before; nobody waits
        (an audio frame, the assistant's line). A failure is reported, not raised."""
        if not self.closed:
            self._submit(where, fn, args, None)

    def ask(self, where: str, fn: Callable[..., T], *args: Any,
            then: Callable[[T], None] | None = None) -> "asyncio.Future[None]":
        """Run `fn(*args)` in turn and hand its result to `then` on the loop.
        The result is handed over even if nobody awaits the returned future
        (or its awaiter is cancelled): what the engine decided is never lost.
        The future is done once `then` has run; a closed call thread runs nothing."""
        if self.closed:
            done = self.loop.create_future()
            done.set_result(None)
            return done
        return asyncio.wrap_future(self._submit(where, fn, args, then), loop=self.loop)

    async def idle(self) -> None:
        """Once everything submitted so far has run and handed its results over."""
        await self.ask("idle", _nothing)

    def close(self) -> None:
        """No more jobs; those already submitted still run (the call's end
        submits `finish` first), then the thread exits."""
        if not self.closed:
            self.closed = True
            self._pool.shutdown(wait=False)

    def _submit(self, where: str, fn: Callable[..., T], args: tuple[Any, ...],
                then: Callable[[T], None] | None) -> "Future[None]":
        def job() -> None:
            try:
                out = fn(*args)
            except Exception as e:       # one failed step: the call goes on with the next
                self._on_loop(self.on_error, where, e)
                return
            if then is not None:
                self._on_loop(then, out)
        return self._pool.submit(self._context.run, job)

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:             # the loop is closed: the service is gone, nobody to tell
            pass
