"""The screens' pushes, shared by every worker of a cluster through
PostgreSQL itself (LISTEN/NOTIFY): no broker to run.

A worker's hub hands each push to `publish`; a thread of the relay's own
inserts it into `screen_pushes` and NOTIFYs in the same transaction (a
NOTIFY is delivered on commit, so it never announces a row that is not
there yet). Each worker's listener, on a connection of its own, wakes on
the NOTIFY and reads every row after the last one it saw, in `seq` order,
and hands them to the hub on the event loop. The database's numbering is
the screens' numbering, so every worker gives a push the same SSE id and a
browser moved to another worker resumes where it was.

Why the inserts hold an advisory lock: a sequence hands out numbers at
insert time, but transactions commit in their own order. Without the lock,
worker A could take seq 10, worker B seq 11 and commit first; a listener
reading "after 9" would see 11, move on, and never read 10. Under the lock
numbers are taken and committed in one order, so "everything after the last
seq I saw" is exact. The lock is held for one short insert.

A NOTIFY is not stored: a listener whose connection drops misses those sent
meanwhile. It does not matter: it connects again, LISTENs, then reads the
table after its last seq, so nothing published during the blip is lost. It
also reads every POLL_S without a notification, so even a lost NOTIFY
costs at most that. Rows are pruned (the newest KEEP_ROWS, none older than
KEEP_S); a listener away longer than that is told its history is lost,
and its hub sends every screen a snapshot.
"""
from __future__ import annotations

import asyncio
import collections
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Deque, Optional

from intervene.errors import InterveneError
from intervene.store.sql import Sql, SqlError, connect, is_url

log = logging.getLogger("intervene.relay")

CHANNEL = "intervene_screen"
SCREEN_LOCK = 0x1E7E5C        # the advisory lock key taken by each insert (see the module's docstring)
EPOCH_KEY = "screen.epoch"     # the settings key of the cluster's SSE epoch
KEEP_ROWS = 20000              # rows kept for listeners that lag and workers that start
KEEP_S = 3600.0
BATCH = 500                    # rows per insert and per read
POLL_S = 1.0                   # a listener reads this often even when no NOTIFY came
WAKE_S = 0.2                   # and looks this often whether it is closing
PRUNE_S = 30.0
PENDING_MAX = 50000            # pushes waiting for a database that is down; the oldest go first beyond this
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 2.0


class RelayError(InterveneError):
    pass


@dataclass(frozen=True)
class Row:
    """One push as stored: `data` is the JSON the screens get, `obj` the
    same parsed (on the relay's thread, not the event loop)."""
    seq: int
    worker: str
    kind: str
    call_id: str
    data: str
    at: float
    obj: dict[str, Any]


Deliver = Callable[[list[Row], bool], None]     # (rows in seq order, history lost)


class Relay:
    """One worker's end: `open` (blocking), `start`, `publish` (any
    thread, never blocks), `close`."""

    def __init__(self, url: str, name: str = "", keep: int = KEEP_ROWS, keep_s: float = KEEP_S,
                 poll_s: float = POLL_S, prune_s: float = PRUNE_S) -> None:
        if not is_url(url):
            raise RelayError("the screens' relay needs a PostgreSQL URL (a single box needs none)")
        self.url = url
        # unique per run, not per worker: rows of this worker's earlier run are someone else's (applied on start)
        self.worker = f"{name}-{uuid.uuid4().hex[:8]}" if name else uuid.uuid4().hex[:12]
        self.keep, self.keep_s, self.poll_s, self.prune_s = keep, keep_s, poll_s, prune_s
        self.epoch = ""
        self.last = 0                       # the newest seq read (and handed over)
        self.dropped = 0                    # pushes given up (database down too long, or refused)
        self.reconnects = 0
        self._pending: Deque[tuple[str, str, str, float]] = collections.deque()
        self._cv = threading.Condition()
        self._closing = False
        self._stop = threading.Event()
        self._listen_db: Optional[Sql] = None
        self._send_db: Optional[Sql] = None
        self._threads: list[threading.Thread] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._deliver: Optional[Deliver] = None

    # ------------------------------------------------------------- life
    def open(self) -> list[Row]:
        """Blocking (run it off the loop): connect, LISTEN, the cluster's
        epoch, and the rows kept so far (a worker that starts late learns
        the calls in progress from them)."""
        db = self._listen_db = self._listener()
        db.execute("insert into settings (key, value) values (?, ?) on conflict (key) do nothing",
                   [EPOCH_KEY, secrets.token_hex(4)])
        self.epoch = str(db.query("select value from settings where key = ?", [EPOCH_KEY])[0]["value"])
        top = db.query("select coalesce(max(seq), 0) as top from screen_pushes")[0]["top"]
        rows = self._rows(db, "where seq > ? order by seq", [int(top) - self.keep])
        self.last = max(int(top), rows[-1].seq if rows else 0)
        self._send_db = connect(self.url)
        return rows

    def start(self, loop: asyncio.AbstractEventLoop, deliver: Deliver) -> None:
        """Listen and send, each on a thread of its own; rows after `open`'s
        go to `deliver` on `loop`."""
        self._loop, self._deliver = loop, deliver
        for name, target in (("intervene-relay-listen", self._listen), ("intervene-relay-send", self._send)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def close(self, timeout: float = 5.0) -> int:
        """Send what is waiting (up to `timeout`), stop; how many pushes were not sent."""
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        if len(self._threads) > 1:
            self._threads[1].join(timeout)
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.poll_s + 2.0)
        with self._cv:
            left = len(self._pending)
            self._pending.clear()
        for db in (self._listen_db, self._send_db):
            if db is not None:
                try:
                    db.close()
                except Exception:
                    pass
        if left:
            log.error("%d screen pushes could not be shared with the other workers before stopping", left)
        return left

    # ---------------------------------------------------------- publish
    def publish(self, kind: str, call_id: str, data: str) -> None:
        with self._cv:
            if self._closing:
                return
            self._pending.append((kind, call_id, data, time.time()))
            while len(self._pending) > PENDING_MAX:
                self._pending.popleft()
                self.dropped += 1
            self._cv.notify()

    @property
    def pending(self) -> int:
        with self._cv:
            return len(self._pending)

    def _send(self) -> None:
        pruned = time.monotonic()
        delay = RETRY_FIRST_S
        while not self._stop.is_set():
            with self._cv:
                if not self._pending:
                    if self._closing:
                        return
                    self._cv.wait(self.prune_s)
                batch = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
            db = self._send_db
            assert db is not None
            try:
                if batch:
                    self._insert(db, batch)
                if time.monotonic() - pruned >= self.prune_s:
                    self._prune(db)
                    pruned = time.monotonic()
                delay = RETRY_FIRST_S
            except db.transient as e:            # connection lost, server restarting: keep them, try again
                self._rollback(db)
                with self._cv:
                    self._pending.extendleft(reversed(batch))
                log.warning("screen relay: cannot publish (%s); retrying in %.2fs", e, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception:                     # refused for good (a bug): dropped, said so
                self._rollback(db)
                self.dropped += len(batch)
                log.exception("screen relay: %d pushes refused by the database and dropped", len(batch))

    def _insert(self, db: Sql, batch: list[tuple[str, str, str, float]]) -> None:
        marks = ", ".join(["(?, ?, ?, ?, ?)"] * len(batch))
        args: list[Any] = []
        for kind, call_id, data, at in batch:
            args += [self.worker, kind, call_id, data, at]
        with db.transaction(serial=False):
            db.execute("select pg_advisory_xact_lock(?)", [SCREEN_LOCK])
            db.execute(f"insert into screen_pushes (worker, kind, call_id, data, at) values {marks}", args)
            self._announce(db)

    def _announce(self, db: Sql) -> None:
        """Inside the insert's transaction: delivered on its commit."""
        db.execute("select pg_notify(?, ?)", [CHANNEL, self.worker])

    def _prune(self, db: Sql) -> None:
        db.execute("delete from screen_pushes where seq <= (select max(seq) from screen_pushes) - ? or at < ?",
                   [self.keep, time.time() - self.keep_s])

    @staticmethod
    def _rollback(db: Sql) -> None:
        try:
            db.rollback()
        except Exception:
            pass

    # ----------------------------------------------------------- listen
    def _listener(self) -> Sql:
        db = connect(self.url)
        if db.dialect != "postgresql":
            raise RelayError("the screens' relay needs PostgreSQL")
        db.execute(f"listen {CHANNEL}")
        return db

    @property
    def listener_pid(self) -> int:
        """The listener's backend (tests end it to prove a reconnect loses nothing)."""
        db = self._listen_db
        return int(db.conn.info.backend_pid) if db is not None and hasattr(db, "conn") else 0

    def _listen(self) -> None:
        delay = RETRY_FIRST_S
        fresh = False
        retry: tuple[type[BaseException], ...] = (SqlError, RelayError, *self._transient())
        while not self._stop.is_set():
            try:
                db = self._listen_db
                if db is None:
                    db = self._listen_db = self._listener()        # LISTEN first, then read: nothing slips between
                    fresh = True
                    self.reconnects += 1
                lost = fresh and self._lost(db)
                rows = self._rows(db, "where seq > ? order by seq limit ?", [self.last, BATCH])
                fresh = False
                if rows or lost:
                    self.last = rows[-1].seq if rows else self.last
                    self._hand(rows, lost)
                if len(rows) < BATCH:
                    self._wait(db)
                delay = RETRY_FIRST_S
            except retry as e:
                self._drop_listener()
                log.warning("screen relay: listener lost its connection (%s); reconnecting in %.2fs", e, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)
            except Exception:
                self._drop_listener()
                log.exception("screen relay: listener")
                self._stop.wait(RETRY_MAX_S)

    def _wait(self, db: Sql) -> None:
        """Until a NOTIFY, POLL_S, or close (checked every WAKE_S: a close never waits a whole poll)."""
        until = time.monotonic() + self.poll_s
        while not self._stop.is_set() and time.monotonic() < until:
            wait = min(WAKE_S, max(0.0, until - time.monotonic()))
            if any(True for _ in db.conn.notifies(timeout=wait, stop_after=1)):   # type: ignore[attr-defined]
                return

    def _transient(self) -> tuple[type[BaseException], ...]:
        db = self._send_db or self._listen_db
        return db.transient if db is not None else ()

    def _drop_listener(self) -> None:
        db, self._listen_db = self._listen_db, None
        if db is not None:
            try:
                db.close()
            except Exception:
                pass

    def _lost(self, db: Sql) -> bool:
        """After a reconnect: were rows we never read pruned meanwhile?"""
        lo = db.query("select min(seq) as lo from screen_pushes")[0]["lo"]
        return self.last > 0 and lo is not None and int(lo) > self.last + 1

    def _rows(self, db: Sql, where: str, args: list[Any]) -> list[Row]:
        out = []
        for r in db.query(f"select seq, worker, kind, call_id, data, at from screen_pushes {where}", args):
            try:
                obj = json.loads(r["data"])
            except (TypeError, ValueError):
                obj = {}
            out.append(Row(int(r["seq"]), str(r["worker"]), str(r["kind"]), str(r["call_id"]), str(r["data"]),
                           float(r["at"] or 0.0), obj if isinstance(obj, dict) else {}))
        return out

    def _hand(self, rows: list[Row], lost: bool) -> None:
        loop, deliver = self._loop, self._deliver
        if loop is None or deliver is None:
            return
        try:
            loop.call_soon_threadsafe(deliver, rows, lost)
        except RuntimeError:                     # the loop is closed: the service is gone
            self._stop.set()
