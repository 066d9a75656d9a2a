"""Issue 16: several workers, one PostgreSQL, and every screen sees every
call, whichever worker monitors it (store/relay.py: LISTEN/NOTIFY, no
extra server), numbered the same on every worker, so a browser moved from
one worker to another resumes without loss or duplicates."""
from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from screenkit import PASSWORD, PRACTICE, Client

from intervene.screen.hub import Hub, Push, PushKind, Subscription
from intervene.screen.web import save_user
from intervene.store.db import Store
from intervene.store.relay import Relay
from intervene.vocab import Category, Intervention, Mode, Severity, Speaker, Utterance
from intervene_harness.soak_service import ServiceProcess

ROOT = Path(__file__).resolve().parents[2]


def everyone(call: dict[str, Any]) -> bool:
    return True


async def take(sub: Subscription, n: int, timeout: float = 10.0) -> list[Push]:
    out: list[Push] = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        push = await asyncio.wait_for(sub.queue.get(), max(0.01, deadline - time.monotonic()))
        assert push is not None, "the stream was cut"
        out.append(push)
    return out


async def until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def utter(i: int, text: str, final: bool = True) -> Utterance:
    return Utterance(i, Speaker.REP if i % 2 == 0 else Speaker.LEAD, float(i), float(i) + 0.9, text, final)


def card() -> Intervention:
    return Intervention(at=5.0, utterance=2, category=Category.ACCURACY, severity=Severity.HIGH,
                        mode=Mode.WHISPER, trigger="two years of support", detected="2 years",
                        say="Standard has three years of support.")


class Worker:
    """One worker's screen side: its Store, relay and hub."""

    def __init__(self, url: str, poll_s: float = 1.0) -> None:
        self.store = Store(url)
        self.relay = Relay(url, poll_s=poll_s)
        self.hub = Hub()

    async def __aenter__(self) -> "Worker":
        await self.hub.join(self.relay)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.hub.close()
        self.store.close()


def publish_call(hub: Hub, cid: str, lines: int) -> int:
    """A call on `hub`: header, briefing, lines (an interim first), a card. Returns how many pushes."""
    hub.call(cid, rep="rep1", team="sales", state="live")
    hub.briefing(cid, "Dana, 40 seats, asked about support")
    hub.line(cid, utter(0, "Hi Dana", final=False))
    for i in range(lines):
        hub.line(cid, utter(i, f"line {i}"))
    hub.card(cid, 1, card(), time.time())             # a card and the call's count: two pushes
    return 3 + lines + 2


def test_schema_has_the_pushes_table_on_both_databases(store_target: str) -> None:
    store = Store(store_target)
    assert {"seq", "worker", "kind", "call_id", "data", "at"} <= set(store.db.columns("screen_pushes"))
    store.close()


def test_a_call_on_one_worker_reaches_the_other_in_order_with_the_same_ids(pg_url: str) -> None:
    async def go() -> None:
        async with Worker(pg_url) as a, Worker(pg_url) as b:
            assert a.hub.cluster and a.hub.epoch == b.hub.epoch != ""
            sub_a, sub_b = a.hub.subscribe(everyone, "a"), b.hub.subscribe(everyone, "b")
            n = publish_call(a.hub, "c1", 12)
            got_b = await take(sub_b, n)
            got_a = await take(sub_a, n)
            assert [(p.id, p.kind, p.data) for p in got_a] == [(p.id, p.kind, p.data) for p in got_b]
            assert [p.id for p in got_b] == sorted(p.id for p in got_b)
            kinds = [p.kind for p in got_b]
            assert kinds[:3] == [PushKind.CALL, PushKind.BRIEFING, PushKind.LINE] and kinds[-2:] == [
                PushKind.CARD, PushKind.CALL]
            assert [json.loads(p.data)["text"] for p in got_b[3:15]] == [f"line {i}" for i in range(12)]
            assert [a.hub.event_id(p.id) for p in got_a] == [b.hub.event_id(p.id) for p in got_b]
            # worker B's views hold the call whole (snapshots, the API), as A's do
            assert b.hub.views["c1"].full() == a.hub.views["c1"].full()
            assert b.hub.views["c1"].call["interventions"] == 1 and b.hub.views["c1"].interims == {}
            # and B's pushes (a rep's feedback on a card, say) reach A the same way
            b.hub.update_card("c1", 1, feedback="useful")
            back = await take(sub_a, 1)
            assert json.loads(back[0].data)["feedback"] == "useful"
            assert a.hub.views["c1"].cards[1]["feedback"] == "useful"
            assert (await take(sub_b, 1))[0].id == back[0].id
    asyncio.run(go())


def test_a_browser_moved_to_another_worker_resumes_exactly(pg_url: str) -> None:
    """Read part of the stream on B, resume on A with B's last id: exactly the rest."""
    async def go() -> None:
        async with Worker(pg_url) as a, Worker(pg_url) as b:
            sub_b = b.hub.subscribe(everyone, "b")
            n = publish_call(a.hub, "c1", 20)
            n += publish_call(b.hub, "c2", 5)              # pushes of both workers, interleaved in the log
            got = await take(sub_b, n)
            await until(lambda: a.hub.last >= got[-1].id)
            cut = got[9]
            rest = a.hub.since(b.hub.event_id(cut.id))
            assert rest is not None
            assert [(p.id, p.data) for p in rest] == [(p.id, p.data) for p in got[10:]]
            assert a.hub.since(b.hub.event_id(got[-1].id)) == []
            # an id from another run (another epoch) still gets a snapshot
            assert a.hub.since(f"0000-{cut.id}") is None
    asyncio.run(go())


def test_a_resume_waits_for_what_the_other_worker_already_sent(pg_url: str) -> None:
    """A browser may come from a worker that is a few ms ahead: `reach`
    waits for those pushes instead of answering with a snapshot."""
    async def go() -> None:
        async with Worker(pg_url) as a, Worker(pg_url, poll_s=30.0) as b:
            loop = asyncio.get_running_loop()
            b.relay._deliver = lambda rows, lost: loop.call_later(0.3, b.hub.deliver, rows, lost)  # B lags
            sub_a = a.hub.subscribe(everyone, "a")
            n = publish_call(a.hub, "c1", 3)
            got = await take(sub_a, n)
            last = a.hub.event_id(got[-1].id)
            assert b.hub.last < got[-1].id
            await b.hub.reach(last)
            assert b.hub.last >= got[-1].id and b.hub.since(last) == []
            t0 = time.monotonic()
            await b.hub.reach(f"{b.hub.epoch}-{got[-1].id + 1000}", timeout=0.3)   # never comes: gives up
            assert time.monotonic() - t0 < 2.0 and b.hub.since(f"{b.hub.epoch}-{got[-1].id + 1000}") is None
    asyncio.run(go())


class SlowCommit(Relay):
    """Commits a while after taking its numbers: another worker's insert
    commits in between. Rows must still be read in full."""

    def _announce(self, db: Any) -> None:
        time.sleep(random.uniform(0.0, 0.01))
        super()._announce(db)


def test_no_row_is_skipped_when_workers_commit_out_of_order(pg_url: str) -> None:
    """Two workers publishing at once, a third listening: it sees every row
    in the table, in seq order (an insert takes the relay's advisory lock,
    so numbers are taken and committed in one order)."""
    async def go() -> None:
        store = Store(pg_url)
        a, b, c = Hub(), Hub(), Hub()
        await a.join(SlowCommit(pg_url, poll_s=60.0))
        await b.join(SlowCommit(pg_url, poll_s=60.0))
        await c.join(Relay(pg_url, poll_s=60.0))        # no polling: only NOTIFY drives the reads
        sub = c.subscribe(everyone)
        a.call("ca", state="live")
        b.call("cb", state="live")
        for i in range(300):
            a.line("ca", utter(i, f"a{i}"))
            b.line("cb", utter(i, f"b{i}"))
            if i % 20 == 0:
                await asyncio.sleep(0.005)
        got = await take(sub, 602, timeout=30)
        seqs = [r["seq"] for r in store.db.query("select seq from screen_pushes order by seq")]
        assert [p.id for p in got] == seqs
        for hub in (a, b, c):
            await hub.close()
        store.close()
    asyncio.run(go())


def test_a_listener_that_lost_its_connection_catches_up(pg_url: str) -> None:
    async def go() -> None:
        async with Worker(pg_url) as a, Worker(pg_url) as b:
            sub_b = b.hub.subscribe(everyone, "b")
            first = await take(sub_b, publish_call(a.hub, "c1", 2))
            pid = b.relay.listener_pid
            with psycopg.connect(pg_url, autocommit=True) as admin:
                assert admin.execute("select pg_terminate_backend(%s)", [pid]).fetchone()[0]
            n = publish_call(a.hub, "c2", 30)             # published while B's listener is down
            await until(lambda: a.relay.pending == 0)
            got = await take(sub_b, n, timeout=15)
            assert b.relay.reconnects >= 1 and b.relay.listener_pid != pid
            ids = [p.id for p in first + got]
            assert ids == sorted(set(ids))                  # no loss reordered, no duplicate
            assert [json.loads(p.data)["text"] for p in got if p.kind is PushKind.LINE][1:] == [
                f"line {i}" for i in range(30)]
            assert sub_b.queue.empty()
    asyncio.run(go())


def test_a_worker_that_starts_late_shows_the_calls_in_progress(pg_url: str) -> None:
    """A worker restarted (or added) mid-call learns the call from the rows
    kept, so its screens show it whole, and resumes ids from before it started."""
    async def go() -> None:
        async with Worker(pg_url) as a:
            sub_a = a.hub.subscribe(everyone, "a")
            got = await take(sub_a, publish_call(a.hub, "c1", 4))
            async with Worker(pg_url) as late:
                assert late.hub.views["c1"].full() == a.hub.views["c1"].full()
                rest = late.hub.since(a.hub.event_id(got[1].id))
                assert rest is not None and [p.id for p in rest] == [p.id for p in got[2:]]
    asyncio.run(go())


def test_publishing_waits_out_a_dropped_connection(pg_url: str) -> None:
    """The sender's connection killed: its pushes are kept and sent when it is back."""
    async def go() -> None:
        async with Worker(pg_url) as a, Worker(pg_url) as b:
            sub_b = b.hub.subscribe(everyone, "b")
            await take(sub_b, publish_call(a.hub, "c1", 1))
            pid = int(a.relay._send_db.conn.info.backend_pid)   # type: ignore[union-attr]
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("select pg_terminate_backend(%s)", [pid])
            n = publish_call(a.hub, "c2", 10)
            got = await take(sub_b, n, timeout=15)
            assert [json.loads(p.data)["text"] for p in got if p.kind is PushKind.LINE][1:] == [
                f"line {i}" for i in range(10)]
    asyncio.run(go())


def test_old_rows_are_pruned(pg_url: str) -> None:
    async def go() -> None:
        store = Store(pg_url)
        relay = Relay(pg_url, keep=10, prune_s=0.1)
        hub = Hub()
        await hub.join(relay)
        sub = hub.subscribe(everyone)
        await take(sub, publish_call(hub, "c1", 30))
        await asyncio.sleep(0.3)
        hub.call("c1", state="ended")                  # wakes the sender, which prunes
        await take(sub, 1)
        await until(lambda: store.db.query("select count(*) as n from screen_pushes")[0]["n"] <= 11)
        await hub.close()
        store.close()
    asyncio.run(go())


def test_a_single_box_hub_numbers_pushes_itself() -> None:
    """No relay: exactly as before (synchronous, its own epoch and numbers)."""
    hub = Hub()
    assert not hub.cluster
    hub.call("c1", state="live")
    assert hub.last == 1 and hub.since(hub.event_id(0)) is not None
    asyncio.run(hub.reach(hub.event_id(5)))           # a no-op on a single box
    asyncio.run(hub.close())


def test_a_relay_needs_postgresql(tmp_path) -> None:
    from intervene.store.relay import RelayError
    with pytest.raises(RelayError):
        Relay(str(tmp_path / "x.db"))


# ------------------------------------------------------- two real workers
WORKER_CONFIG = """[serve]
ari_url = "http://127.0.0.1:9"
app = "intervene-{name}"
worker = "{name}"
"""


def test_two_real_workers_share_their_screens(pg_url: str, tmp_path: Path) -> None:
    """Two `intervene serve` processes on one PostgreSQL (no Asterisk: the
    screens work without it): a practice call started through worker A's API
    is seen whole on worker B's /api/events, and a browser moved from B to A
    with B's Last-Event-ID gets exactly the rest on A."""
    store = Store(pg_url)
    save_user(store, {"login": "rep1", "name": "Rep", "role": "rep", "team": "sales", "password": PASSWORD})
    store.close()
    env = {"INTERVENE_SECRET": "cluster-secret-" + "0" * 40, "INTERVENE_ARI_PASSWORD": "x",
           "INTERVENE_ARI_URL": "http://127.0.0.1:9", "INTERVENE_DB": pg_url}
    procs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        svc = ServiceProcess(tmp_path / name, str(ROOT / "kb"), WORKER_CONFIG.format(name=name), env)
        svc.env["INTERVENE_DB"] = pg_url
        procs.append(svc)
    try:
        for svc in procs:
            svc.start()
        for svc in procs:
            svc.wait_up(240)

        async def go() -> None:
            ca, cb = Client(procs[0].url), Client(procs[1].url)
            assert await ca.login("rep1") == 303 and await cb.login("rep1") == 303
            ended = lambda got: any(k == "call" and d.get("state") == "ended" for _, k, d in got)  # noqa: E731
            watch = asyncio.create_task(cb.events(ended, timeout=120))
            await asyncio.sleep(1.0)
            status, body = await ca.post("/api/practice", {"transcript": PRACTICE, "speed": 20})
            assert status == 200, body
            cid = body["call_id"]
            got, last = await watch
            mine = [(i, k, d) for i, k, d in got if k != "hello" and (d.get("call_id") or d.get("id")) == cid]
            assert len([d for _, k, d in mine if k == "line" and d["final"]]) == 6
            assert any(k == "card" for _, k, _ in mine)
            ids = [int(i.split("-")[1]) for i, _, _ in mine]
            assert ids == sorted(set(ids))
            # the browser moves from B to A halfway through: A gives exactly the rest
            cut = len(mine) // 2
            upto = ids[-1]
            rest, _ = await ca.events(lambda g: any(i and int(i.split("-")[1]) >= upto for i, _, _ in g),
                                      last_id=mine[cut][0], timeout=30)
            assert rest[0][1] == "hello" and rest[0][2]["snapshot"] is False
            assert [(i, k, d) for i, k, d in rest[1:]] == mine[cut + 1:]
            await ca.close()
            await cb.close()
        asyncio.run(go())
    finally:
        for svc in procs:
            assert svc.stop(), svc.log_tail()
    for svc in procs:
        assert "Traceback" not in svc.log_text(), svc.log_tail(60)
