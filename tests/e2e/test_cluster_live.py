"""A sales floor of two workers on the real Asterisk, real phones and a
throwaway PostgreSQL: calls go round both workers, and a worker killed
mid-call (SIGKILL) has its call taken over by the other, whose correction
after the kill is still spoken and heard on the phones."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Optional

import aiohttp
import pytest
from screenkit import PASSWORD, Client, sse

from intervene.formats.transcript import parse_transcript
from intervene.leads.intake import sign
from intervene.report.record import call_record
from intervene.screen.web import save_user
from intervene.store import leases
from intervene_harness.bench_cluster import CALL as LONG_CALL
from intervene_harness.bench_cluster import KILL_AT_S, LEADS_SECRET, leads_config
from intervene_harness.calls import heard
from intervene_harness.cluster import Cluster
from intervene_harness.pg import pg_bin

pytestmark = pytest.mark.skipif(pg_bin() is None, reason="no PostgreSQL server binaries (apt-get install postgresql)")

SHORT_CALL = """\
{"start": 0.0, "end": 2.6, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 3.0, "end": 5.2, "speaker": "lead", "text": "Hi Mark, thanks for calling."}
"""
MAX_OUTBOUND = 5
LEADS = leads_config(MAX_OUTBOUND)     # both workers dial a carrier that rings 3 s and never answers


TOKEN = "cluster-api-token"
CLAIM_CALL = """\
{"start": 0.0, "end": 2.6, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 3.0, "end": 6.2, "speaker": "rep", "text": "The Standard package includes two years of support."}
{"start": 17.0, "end": 18.6, "speaker": "lead", "text": "Okay, good to know."}
"""


@pytest.fixture(scope="module")
def cluster(loop, tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"), workers=2, config=LEADS, env={"INTERVENE_API_TOKEN": TOKEN})
    loop.run(c.__aenter__(), timeout=400)
    yield c
    loop.run(c.__aexit__(None, None, None), timeout=120)


async def read_events(base: str, stop: asyncio.Event, last_id: str = "",
                      rep: Optional[str] = None) -> list[tuple[str, str, dict]]:
    """A screen's SSE stream until `stop`: [(id, kind, data)]. The API
    token's view (every call), or with `rep` that rep's own, signed in."""
    got: list[tuple[str, str, dict]] = []
    headers = {"Last-Event-ID": last_id} if last_id else {}
    client = Client(base)
    if rep is None:
        headers["Authorization"] = f"Bearer {TOKEN}"
    else:
        assert await client.login(rep) == 303

    async def read(r: aiohttp.ClientResponse) -> None:
        async for event in sse(r):
            got.append(event)
    try:
        async with client.http.get(f"{base}/api/events", headers=headers) as r:
            assert r.status == 200, r.status
            reading = asyncio.ensure_future(read(r))
            await stop.wait()
            reading.cancel()
    finally:
        await client.close()
    return got


def test_calls_go_round_both_workers_and_every_screen_sees_both(loop, cluster, tmp_path):
    """Two calls in a row through the cluster hook land on different
    workers; a screen on either worker shows both calls, their transcript
    and the card; a browser moved from one worker to the other mid-stream
    resumes with exactly what it had not seen yet."""
    save_user(cluster.store, {"login": "rep12", "name": "Rep Twelve", "role": "rep", "team": "sales",
                              "endpoint": "PJSIP/rep12", "password": PASSWORD})
    stop = asyncio.Event()
    readers = {w.name: loop.run(_start(read_events(w.proc.url, stop))) for w in cluster.workers}
    rep_screens = {w.name: loop.run(_start(read_events(w.proc.url, stop, rep="rep12"))) for w in cluster.workers}
    results = []
    for pair, script in ((11, SHORT_CALL), (12, CLAIM_CALL)):
        results.append(loop.run(cluster.call(parse_transcript(script), tmp_path / f"c{pair}", pair=pair,
                                             tail_s=1.0), timeout=120))
    time.sleep(1.0)
    loop.run(_set(stop))
    streams = {name: loop.run(_wait(task)) for name, task in readers.items()}
    mine = {name: loop.run(_wait(task)) for name, task in rep_screens.items()}
    workers = [cluster.store.call(r.call_id)["worker"] for r in results]
    assert sorted(workers) == ["w1", "w2"], workers
    assert len(results[0].transcript) >= 2, results[0].transcript
    assert loop.run(cluster.leftovers()) == []
    ids = {r.call_id for r in results}
    for name, events in streams.items():                     # each worker's screen: both workers' calls
        lines = {d["call_id"] for _, k, d in events if k == "line" and d.get("final", True)}
        cards = {d["call_id"] for _, k, d in events if k == "card"}
        assert ids <= lines, (name, lines)
        assert results[1].call_id in cards, (name, cards)
    for name, events in mine.items():                        # the rep's own screen, on either worker:
        seen = {d["id"] if k == "call" else d["call_id"] for _, k, d in events if k in ("line", "card", "call")}
        assert results[1].call_id in seen and results[0].call_id not in seen, (name, seen)   # their call only
        assert any(k == "card" for _, k, _ in events) and any(k == "line" for _, k, _ in events), name
    a, b = streams["w1"], streams["w2"]
    assert [e[0] for e in a if e[0]] == [e[0] for e in b if e[0]]          # one numbering on every worker
    numbered = [e for e in b if e[0]]
    cut = numbered[len(numbered) // 2][0]                                  # the browser leaves w2 here ...
    stop2 = asyncio.Event()
    task = loop.run(_start(read_events(cluster.worker("w1").proc.url, stop2, last_id=cut)))
    time.sleep(2.0)
    loop.run(_set(stop2))
    resumed = loop.run(_wait(task))                                        # ... and comes back on w1
    assert resumed[0][1] == "hello" and resumed[0][2]["snapshot"] is False, resumed[:1]
    rest = [e for e in numbered if int(e[0].rsplit("-", 1)[1]) > int(cut.rsplit("-", 1)[1])]
    assert [e[0] for e in resumed[1:]] == [e[0] for e in rest]             # nothing lost, nothing twice


async def _start(coro):
    task = asyncio.ensure_future(coro)
    await asyncio.sleep(0.5)                                               # connected before the calls
    return task


async def _set(ev: asyncio.Event) -> None:
    ev.set()


async def _wait(task):
    return await asyncio.wait_for(task, 10)


def test_a_killed_worker_s_call_is_taken_over_and_still_corrected(loop, cluster, tmp_path, transcriber):
    """SIGKILL the worker monitoring a call 4 s in: the other takes it over
    within the lease, the rep's wrong claim after the kill is corrected
    aloud and both phones hear it, the record is whole and says how long
    monitoring paused, and nothing is left behind in Asterisk."""
    killed: dict = {}

    async def kill(row, play_at):
        await asyncio.sleep(max(0.0, play_at + KILL_AT_S - time.time()))
        w = cluster.worker(row["worker"])
        killed.update(name=w.name, at=time.time())
        await asyncio.to_thread(w.proc.kill)
        deadline = time.time() + 20
        while time.time() < deadline:
            lease = await asyncio.to_thread(cluster.store.db.query,
                                            "select worker from call_leases where call_id = ?", [row["id"]])
            if lease and lease[0]["worker"] != w.name:
                killed["adopted_after_s"] = time.time() - killed["at"]
                killed["by"] = lease[0]["worker"]
                return
            await asyncio.sleep(0.1)

    r = loop.run(cluster.call(parse_transcript(LONG_CALL), tmp_path / "kill", pair=13, during=kill), timeout=200)
    try:
        assert killed.get("by") and killed["by"] != killed["name"], killed
        assert killed["adopted_after_s"] < leases.LEASE_S + 4, killed          # lease + one renewal + the move
        record = call_record(cluster.store, r.call_id)
        assert record["monitoring_paused_s"] > 0 and record["monitoring_gaps"], record.get("monitoring_gaps")
        gap_from, gap_to = record["monitoring_gaps"][0]
        assert gap_from <= KILL_AT_S + 1.5 and gap_to - gap_from < leases.LEASE_S + 5, record["monitoring_gaps"]
        idx = [u["idx"] for u in cluster.store.utterances(r.call_id)]
        assert idx == list(range(len(idx)))                                 # nothing overwritten, no holes
        said = " ".join(u["text"] for u in r.transcript).lower()
        assert "dana" in said or "mark" in said                             # before the kill ...
        assert "support" in said                                            # ... and after the take-over
        acc = [d for d in r.deliveries if d["category"] == "accuracy"]
        assert acc and acc[0]["delivery"] == "spoken", r.deliveries
        spoken_at = acc[0]["delivered_at"]
        assert spoken_at is not None and r.offset_s + 18.0 < spoken_at < r.offset_s + 24.0, acc
        wall = r.play_wall - r.offset_s + spoken_at
        for wav, rec in ((r.lead_heard, r.lead_rec_wall), (r.rep_heard, r.rep_rec_wall)):
            text = heard(transcriber, wav, rec, wall, wall + 9.0)
            assert "support" in text or "standard" in text, text             # both phones heard the correction
        assert loop.run(cluster.leftovers()) == []
    finally:
        w = cluster.worker(killed.get("name", "w1"))
        w.proc.start()                                                      # back for whatever runs next
        loop.run(cluster.wait_registered(w), timeout=200)


async def rung_counts(cluster, numbers: list[str]) -> list[int]:
    """How often [dev-no-answer] was dialled for each number, so far."""
    got = await asyncio.gather(*(cluster.ari_call("GET", "/asterisk/variable", variable=f"RUNG_{n[1:]}")
                                 for n in numbers))
    return [int(v["value"] or 0) for v in got]


def test_two_diallers_ring_each_of_50_leads_once_and_keep_the_global_limit(loop, cluster):
    """50 signed webhooks at once, half to each worker: every lead is rung
    exactly once (counted by Asterisk), by one worker or the other, and the
    leads being called at any moment never exceed max_outbound across both."""
    numbers = [f"+1212555{200 + i:04d}" for i in range(50)]
    samples: list[int] = []
    before = loop.run(rung_counts(cluster, numbers))        # Asterisk's counters outlive earlier runs

    async def post(http: aiohttp.ClientSession, i: int, number: str) -> int:
        body = json.dumps({"id": f"cl-{i}", "name": f"Lead {i}", "phone": number}).encode()
        w = cluster.workers[i % len(cluster.workers)]
        async with http.post(f"{w.proc.url}/webhooks/leads", data=body,
                             headers={"Content-Type": "application/json",
                                      "X-Intervene-Signature-256": sign(LEADS_SECRET, body)}) as r:
            return r.status

    def open_leads() -> tuple[int, int]:
        rows = cluster.store.db.query("select status, count(*) as n from leads where leadgen_id like 'cl-%' "
                                      "or phone like '+1212555%' group by status")
        by = {r["status"]: int(r["n"]) for r in rows}
        return by.get("calling", 0), sum(v for k, v in by.items() if k in ("received", "ready", "calling"))

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            codes = await asyncio.gather(*(post(http, i, n) for i, n in enumerate(numbers)))
        assert set(codes) == {200}, codes
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            calling, still_open = await asyncio.to_thread(open_leads)
            samples.append(calling)
            if still_open == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"leads still open after 150 s: {await asyncio.to_thread(open_leads)}")

    loop.run(scenario(), timeout=200)
    rows = cluster.store.db.query("select phone, status, attempts, worker from leads where phone like '+1212555%'")
    assert sorted(r["phone"] for r in rows) == numbers                      # one lead per webhook
    assert all(r["attempts"] == 1 for r in rows), rows
    assert {r["worker"] for r in rows} == {"w1", "w2"}                      # both diallers worked
    assert max(samples) <= MAX_OUTBOUND, max(samples)
    assert max(samples) == MAX_OUTBOUND                                     # the limit was reached, not idle
    rung = [a - b for a, b in zip(loop.run(rung_counts(cluster, numbers)), before)]
    assert rung == [1] * len(numbers)                                       # Asterisk saw each rung once


def test_one_worker_on_two_asterisk_connections_monitors_calls_on_both(loop, cluster, tmp_path):
    """[[serve.asterisk]]: one worker connected twice (as to two Asterisk
    servers, each with its app); calls through either app are monitored by
    that worker, each call leased on the connection it came in on."""
    apps = ["intervene-w3a", "intervene-w3b"]
    loop.run(cluster.start_worker("w3", apps), timeout=240)
    loop.run(cluster.set_apps(apps))
    try:
        results = [loop.run(cluster.call(parse_transcript(SHORT_CALL), tmp_path / f"c{pair}", pair=pair,
                                         tail_s=1.0), timeout=120) for pair in (14, 15)]
        rows = [cluster.store.call(r.call_id) for r in results]
        assert [r["worker"] for r in rows] == ["w3", "w3"], rows
        assert all(len(r.transcript) >= 2 for r in results), [r.transcript for r in results]
        log = cluster.worker("w3").proc.log_text()
        assert all(f"arrived in app {a}," in log for a in apps), log[-3000:]     # one call through each
        assert loop.run(cluster.leftovers()) == []
    finally:
        loop.run(cluster.set_apps([w.app for w in cluster.workers if w.name != "w3"]))
