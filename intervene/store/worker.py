"""The service's one door to the database: every database call the running
service makes goes through one thread, in order, never on the event loop.

Why: database calls block (SQLite's and PostgreSQL's alike). A write waits for a lock another process holds
(the CLI importing a KB, a backup) and, on the loop, every call, screen and
webhook would wait with it. So coroutines hand their database work to this
thread and await the answer (`run`), or, for what a live call records as it
goes (utterances, cards, deliveries), hand it over and carry on (`write`).

A write that fails because the database is locked, busy or briefly
unavailable is kept, in order, and tried again with backoff until it goes
in: a call that loses the store for a minute keeps its transcript in memory
and writes it when the store is back, instead of losing it. Only one thread
touches the connection, so transactions never interleave, and work handed
over later never overtakes work handed over earlier (a read sees every
write queued before it).

The CLI and tests keep calling the Store directly: they own their process.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Deque, Optional, Protocol, TypeVar

from intervene.store.db import Store, StoreError

log = logging.getLogger("intervene.store")

T = TypeVar("T")

BUSY_TIMEOUT_MS = 200        # how long one SQLite call waits for a lock before the retry loop takes over
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0
RUN_TIMEOUT_S = 20.0         # an awaited call that cannot get the lock this long fails with StoreBusy


class StoreBusy(StoreError):
    """The database stayed locked or unavailable longer than the caller could wait."""


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    future: Optional[Future[Any]]          # None: a write nobody waits for (kept until it goes in)
    deadline: float                        # monotonic; only for awaited jobs
    queued_at: float


class StoreWorker:
    """One thread, one queue, the store's connection. Start is lazy (the
    first job starts the thread), so building one costs nothing."""

    def __init__(self, store: Store, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.store = store
        self.busy_timeout_ms = busy_timeout_ms
        self._jobs: Deque[_Job] = collections.deque()
        self._cv = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._closing = False
        self._idle = threading.Event()
        self._idle.set()
        self.failing_since: Optional[float] = None     # wall time the current run of failures began
        self.last_error = ""
        self.retries = 0                               # failed attempts so far (for the soak bench and logs)
        self.dropped = 0                               # writes that raised a non-transient error (bugs)

    # ------------------------------------------------------------ hand over
    async def run(self, fn: Callable[..., T], *args: Any, timeout: Optional[float] = RUN_TIMEOUT_S,
                  **kwargs: Any) -> T:
        """fn(*args, **kwargs) on the store thread, after everything queued
        before it; its result or its exception. A lock that outlasts
        `timeout` raises StoreBusy (answer "try again", don't hang)."""
        fut: Future[T] = Future()
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        self._put(_Job(fn, args, kwargs, fut, deadline, time.monotonic()))
        return await asyncio.wrap_future(fut)

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """fn(*args, **kwargs) on the store thread, in order, retried while
        the database is locked or unavailable; the caller does not wait."""
        self._put(_Job(fn, args, kwargs, None, float("inf"), time.monotonic()))

    async def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until everything handed over so far is done (True), or `timeout` passed (False)."""
        return await asyncio.to_thread(self._wait_idle, timeout)

    def close(self, timeout: float = 10.0) -> int:
        """Finish what is queued (up to `timeout`), stop the thread; returns
        how many writes could not be written (logged: they are lost)."""
        self._wait_idle(timeout)
        with self._cv:
            self._closing = True
            left = sum(1 for j in self._jobs if j.future is None)
            for j in self._jobs:
                if j.future is not None and not j.future.done():
                    j.future.set_exception(StoreBusy("the service is stopping"))
            self._jobs.clear()
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if left:
            log.error("%d database writes were still waiting at shutdown (%s)", left, self.last_error or "busy")
        return left

    @property
    def pending(self) -> int:
        """Jobs handed over and not yet done."""
        with self._cv:
            return len(self._jobs)

    def behind_s(self) -> float:
        """Age of the oldest job still waiting: how far the store lags the calls."""
        with self._cv:
            return time.monotonic() - self._jobs[0].queued_at if self._jobs else 0.0

    # --------------------------------------------------------------- thread
    def _put(self, job: _Job) -> None:
        with self._cv:
            if self._closing:
                raise StoreError("the store is closed")
            self._jobs.append(job)
            self._idle.clear()
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="intervene-store", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _wait_idle(self, timeout: Optional[float]) -> bool:
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        try:
            self.store.db.set_lock_timeout(self.busy_timeout_ms)
        except Exception as e:                           # the first job will meet it again and retry
            log.warning("store thread: cannot set the lock timeout (%s)", e)
        while True:
            with self._cv:
                while not self._jobs and not self._closing:
                    self._idle.set()
                    self._cv.wait()
                if self._closing and not self._jobs:
                    self._idle.set()
                    return
                job = self._jobs[0]
            self._do(job)
            with self._cv:
                if self._jobs and self._jobs[0] is job:
                    self._jobs.popleft()

    def _do(self, job: _Job) -> None:
        """Run one job to its end: done, failed for good, or (a write) retried until it goes in."""
        if job.future is not None and not job.future.set_running_or_notify_cancel():
            return                                       # the awaiting task was cancelled
        delay = RETRY_FIRST_S
        while True:
            try:
                result = job.fn(*job.args, **job.kwargs)
            except self.store.db.transient as e:         # locked, busy, disk I/O, connection lost: transient
                self._rollback()
                self._failed(e)
                if job.future is not None and time.monotonic() + delay > job.deadline:
                    job.future.set_exception(StoreBusy(f"the database is busy or unavailable ({e})"))
                    return
                if self._closing:
                    return
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            except Exception as e:                       # a bug or bad data: retrying cannot help
                self._rollback()
                if job.future is not None:
                    job.future.set_exception(e)
                else:
                    self.dropped += 1
                    log.exception("database write %s failed and was dropped",
                                  getattr(job.fn, "__qualname__", job.fn))
                self._recovered()
                return
            if job.future is not None:
                job.future.set_result(result)
            self._recovered()
            return

    def _rollback(self) -> None:
        try:
            self.store.db.rollback()
        except Exception:                                # a broken connection: it is opened again on next use
            pass

    def _failed(self, e: BaseException) -> None:
        self.retries += 1
        self.last_error = str(e)
        if self.failing_since is None:
            self.failing_since = time.time()
            log.warning("database unavailable (%s): keeping writes in memory and retrying", e)

    def _recovered(self) -> None:
        if self.failing_since is not None:
            log.warning("database back after %.1fs; %d jobs waiting", time.time() - self.failing_since,
                        len(self._jobs))
            self.failing_since = None
            self.last_error = ""


class DbRunner(Protocol):
    """Where database work runs: a StoreWorker in the service, Inline where
    no event loop serves others. Code that takes one reads the same in both."""

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]: ...

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None: ...


class Inline:
    """Database work run right away, on the caller's thread: only where no
    event loop serves others (tests, the CLI). The service passes its worker."""

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        fn(*args, **kwargs)
