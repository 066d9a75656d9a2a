"""The service's database thread: order, answers, and writes that survive a
database locked by another process, with the event loop free meanwhile."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from intervene.store.db import Store
from intervene.store.worker import StoreBusy, StoreWorker
from intervene.vocab import Speaker, Utterance


def _utt(i: int) -> Utterance:
    return Utterance(i, Speaker.REP, float(i), float(i) + 1, f"line {i}")


def _hold_lock(path: Path, seconds: float, ready: threading.Event) -> None:
    """Another process's writer (the CLI importing a KB): BEGIN IMMEDIATE held."""
    conn = sqlite3.connect(str(path), timeout=0)
    conn.execute("BEGIN IMMEDIATE")
    ready.set()
    time.sleep(seconds)
    conn.rollback()
    conn.close()


def test_run_answers_in_order_after_queued_writes(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    w = StoreWorker(store)

    async def go() -> list[dict[str, object]]:
        w.write(store.start_call, "c1", source="live")
        for i in range(50):
            w.write(store.add_utterance, "c1", _utt(i))
        return await w.run(store.utterances, "c1")         # sees every write handed over before it

    rows = asyncio.run(go())
    assert [r["idx"] for r in rows] == list(range(50))
    w.close()


def test_run_raises_what_the_function_raises(tmp_path: Path) -> None:
    w = StoreWorker(Store(tmp_path / "t.db"))

    def boom() -> None:
        raise ValueError("bad input")

    async def go() -> None:
        with pytest.raises(ValueError, match="bad input"):
            await w.run(boom)
        assert await w.run(lambda: 7) == 7                  # the thread goes on

    asyncio.run(go())
    w.close()


def test_writes_survive_a_held_lock_and_the_loop_stays_free(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = Store(path)
    store.start_call("c1", source="live")
    w = StoreWorker(store)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 1.5, ready))
    holder.start()
    ready.wait(5)

    async def go() -> float:
        worst = 0.0
        for i in range(20):                                 # a call goes on talking while the lock is held
            w.write(store.add_utterance, "c1", _utt(i))
            t = time.perf_counter()
            await asyncio.sleep(0.05)
            worst = max(worst, time.perf_counter() - t - 0.05)
        assert w.pending > 0                                # still held: kept in memory, not lost
        assert await w.flush(10)
        return worst

    worst = asyncio.run(go())
    holder.join()
    assert [r["idx"] for r in store.utterances("c1")] == list(range(20))
    assert w.retries > 0 and w.failing_since is None      # it did fail, and it recovered
    assert worst < 0.1, f"the loop stalled {worst * 1000:.0f} ms"
    w.close()


def test_an_awaited_call_gives_up_with_storebusy(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = Store(path)
    w = StoreWorker(store)
    ready = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 2.0, ready))
    holder.start()
    ready.wait(5)

    async def go() -> None:
        with pytest.raises(StoreBusy, match="busy"):
            await w.run(store.put_setting, "k", "v", timeout=0.3)

    asyncio.run(go())
    holder.join()
    w.close()


def test_a_broken_write_is_dropped_and_the_rest_go_in(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    store.start_call("c1", source="live")
    w = StoreWorker(store)

    def broken() -> None:
        raise KeyError("a bug")

    async def go() -> None:
        w.write(store.add_utterance, "c1", _utt(0))
        w.write(broken)
        w.write(store.add_utterance, "c1", _utt(1))
        assert await w.flush(5)

    asyncio.run(go())
    assert len(store.utterances("c1")) == 2 and w.dropped == 1
    w.close()


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = Store(path)
    store.start_call("c1", source="live")
    w = StoreWorker(store)
    for i in range(100):
        w.write(store.add_utterance, "c1", _utt(i))
    assert w.close() == 0
    assert len(Store(path).utterances("c1")) == 100
