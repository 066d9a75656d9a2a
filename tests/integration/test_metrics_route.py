"""Issue 17, metrics: /metrics answers the API token or an allowed address
and refuses everyone else cleanly; the database gauges (leads by status,
the outboxes) are read at scrape time on SQLite and PostgreSQL; the SSE,
webhook and ASR counters move where those things happen."""
from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

import aiohttp
import numpy as np
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from intervene.config.leads import Campaign, LeadOptions
from intervene.leads.intake import sign
from intervene.leads.webhooks import LeadWebhooks
from intervene.listen.asr import AsrResult
from intervene.listen.pipeline import AsrPool
from intervene.metrics import REGISTRY
from intervene.pbx.media import MediaStore, WebServer
from intervene.screen.hub import Hub
from intervene.screen.web import ScreenApp
from intervene.screen.web.metrics import Metrics, apply
from intervene.store import leads as leads_db
from intervene.store import outbox
from intervene.store.db import Store
from intervene.store.stats import backlog
from intervene_harness.graph import leadgen_payload, signed

TOKEN = "scrape-token"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def server(store: Store, token: str = "", allow: tuple[str, ...] = ()) -> AsyncIterator[str]:
    """The service's web server (screens + /metrics), as app.py wires it."""
    screen = ScreenApp(store, Hub(), b"s" * 32, api_token=token)
    web_ = WebServer(MediaStore(), "127.0.0.1", 0, screen,
                     more_routes=[Metrics(screen.state, screen.access, allow).add_routes])
    await web_.start()
    try:
        yield web_.url
    finally:
        await web_.stop()
        screen.state.db.close()


async def get(url: str, headers: Optional[dict[str, str]] = None) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/metrics", headers=headers or {}) as r:
            return r.status, r.headers.get("Content-Type", ""), await r.text()


# ------------------------------------------------------------------ who
def test_metrics_need_the_token_or_an_allowed_address(tmp_path):
    store = Store(tmp_path / "m.db")

    async def go() -> None:
        async with server(store) as url:                          # neither configured: off, and says how
            status, ctype, body = await get(url)
            assert status == 403 and "metrics_allow" in json.loads(body)["error"]
            assert (await get(url, {"Authorization": "Bearer anything"}))[0] == 403
        async with server(store, token=TOKEN) as url:
            status, _, body = await get(url)
            assert status == 401 and "API token" in json.loads(body)["error"]
            assert (await get(url, {"Authorization": "Bearer wrong"}))[0] == 401
            status, ctype, body = await get(url, {"Authorization": f"Bearer {TOKEN}"})
            assert status == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype
            names = {f.name for f in text_string_to_metric_families(body)}
            async with aiohttp.ClientSession() as http:          # a Prometheus that asks for OpenMetrics gets it
                async with http.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Accept":
                                    "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}) as r:
                    assert r.headers["Content-Type"].startswith("application/openmetrics-text")
                    assert (await r.text()).rstrip().endswith("# EOF")
            assert {"intervene_leads", "intervene_sse_clients", "intervene_event_loop_lag_seconds",
                    "intervene_store_pending_jobs"} <= names
        async with server(store, allow=("127.0.0.1/32",)) as url:   # Prometheus on this host, no token
            assert (await get(url))[0] == 200
        async with server(store, token=TOKEN, allow=("10.0.0.0/8",)) as url:
            status, _, body = await get(url)                      # 127.0.0.1 is not in 10/8: the token then
            assert status == 401 and "Traceback" not in body
            # through a proxy on this host: the address it forwarded for is what counts
            assert (await get(url, {"X-Forwarded-For": "10.4.5.6"}))[0] == 200
            assert (await get(url, {"X-Forwarded-For": "192.168.0.9"}))[0] == 401
        async with server(store, allow=("10.0.0.0/8",)) as url:
            status, _, body = await get(url)
            assert status == 403 and "not in [serve] metrics_allow" in json.loads(body)["error"]
    asyncio.run(go())
    store.close()


# --------------------------------------------------------- database gauges
def _crm_failed(store: Store, created: float) -> None:
    """One failed row in the CRM outbox (schema migration 6), whatever its other columns."""
    row = {c: ("failed" if c == "status" else created if c == "created" else 0 if c == "attempts" else
               created if c in ("next_at", "sent_at") else "c1")
           for c in store.db.columns("crm_outbox")}
    store.db.execute(f"insert into crm_outbox ({', '.join(row)}) values ({', '.join('?' * len(row))})",
                     list(row.values()))


def test_database_gauges_on_both_stores(store_target):
    store = Store(store_target)
    now = time.time()
    try:
        assert backlog(store, now).leads == {} and set(backlog(store, now).outboxes) == {"capi", "crm"}
        for i, status in enumerate(["received", "ready", "ready", "done", "dnc"]):
            leads_db.add_lead(store, source="webhook", status=status, leadgen_id=f"m-{i}", now=now)
        for i, age in enumerate([600, 30, 5]):
            outbox.enqueue(store, {"event_id": f"ev-{i}"}, None, None, now - age)
        outbox.claim(store, "ev-1")                              # sending: still not delivered
        outbox.mark_sent(store, "ev-2", {"ok": True}, now)
        _crm_failed(store, now - 9)

        b = backlog(store, now)
        assert b.leads == {"received": 1, "ready": 2, "done": 1, "dnc": 1}
        capi, crm = b.outboxes["capi"], b.outboxes["crm"]
        assert capi.backlog == 2 and 599 <= capi.oldest_s <= 601 and capi.failed == 0
        assert crm.backlog == 0 and crm.oldest_s == 0.0 and crm.failed == 1

        apply(b)
        assert value("intervene_leads", status="ready") == 2
        assert value("intervene_outbox_backlog", outbox="capi") == 2
        assert value("intervene_outbox_oldest_pending_age_seconds", outbox="capi") >= 599
        assert value("intervene_outbox_failed", outbox="crm") == 1
        # a status that is gone drops out instead of keeping its last count
        leads_db.update_lead(store, leads_db.list_leads(store, status="dnc")[0]["id"], status="done")
        apply(backlog(store, now))
        assert REGISTRY.get_sample_value("intervene_leads", {"status": "dnc"}) is None
        assert value("intervene_leads", status="done") == 2
    finally:
        store.close()


def test_a_scrape_reads_the_database_off_the_loop(tmp_path):
    """The counts come through the store thread, not the event loop's."""
    store = Store(tmp_path / "m.db")
    leads_db.add_lead(store, source="webhook", status="ready", leadgen_id="x", now=time.time())
    threads: list[str] = []
    real = store.db.query

    def spy(sql, args=()):
        threads.append(threading.current_thread().name)
        return real(sql, args)

    async def go() -> str:
        store.db.query = spy                                      # type: ignore[method-assign]
        async with server(store, allow=("127.0.0.1/32",)) as url:
            return (await get(url))[2]
    body = asyncio.run(go())
    assert 'intervene_leads{status="ready"} 1.0' in body
    assert threads and set(threads) == {"intervene-store"}
    store.close()


# ------------------------------------------------------------ counters
def test_sse_clients_count_open_streams(tmp_path):
    store = Store(tmp_path / "m.db")

    async def go() -> None:
        async with server(store, token=TOKEN) as url:
            before = value("intervene_sse_clients")
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/api/events", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    assert r.status == 200
                    await r.content.readline()
                    assert value("intervene_sse_clients") == before + 1
            for _ in range(100):                                  # the server notices the closed stream
                if value("intervene_sse_clients") == before:
                    break
                await asyncio.sleep(0.02)
        assert value("intervene_sse_clients") == before
    asyncio.run(go())
    store.close()


def test_webhook_results_are_counted(tmp_path):
    store = Store(tmp_path / "m.db")
    options = LeadOptions(app_secret="app", leads_secret="plain")
    hooks = LeadWebhooks(store, options, {"solar": Campaign(id="solar", team="east", form_ids=("22",))})
    lead = {"leadgen_id": "w1", "page_id": "11", "form_id": "22"}

    async def go() -> None:
        app = web.Application()
        hooks.add_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = "http://127.0.0.1:%d" % runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            body, headers = signed("app", leadgen_payload([lead]))
            for hdrs in (headers, headers, {**headers, "X-Hub-Signature-256": "sha256=00"}):
                async with http.post(url + "/webhooks/facebook", data=body, headers=hdrs) as r:
                    await r.read()
            bad = b"{not json"
            async with http.post(url + "/webhooks/leads", data=bad,
                                 headers={"X-Intervene-Signature-256": sign("plain", bad)}) as r:
                assert r.status == 400
        await runner.cleanup()

    before = {k: value("intervene_webhooks_total", endpoint=e, result=k.split(":")[1])
              for k, e in (("fb:accepted", "facebook"), ("fb:duplicate", "facebook"),
                           ("fb:bad-signature", "facebook"), ("plain:invalid", "leads"))}
    asyncio.run(go())
    assert value("intervene_webhooks_total", endpoint="facebook", result="accepted") == before["fb:accepted"] + 1
    assert value("intervene_webhooks_total", endpoint="facebook", result="duplicate") == before["fb:duplicate"] + 1
    assert value("intervene_webhooks_total", endpoint="facebook",
                 result="bad-signature") == before["fb:bad-signature"] + 1
    assert value("intervene_webhooks_total", endpoint="leads", result="invalid") == before["plain:invalid"] + 1
    store.close()


class SlowTranscriber:
    def __init__(self) -> None:
        self.gate = threading.Event()

    def transcribe(self, pcm: np.ndarray, word_timings: bool = True) -> AsrResult:
        self.gate.wait(5)
        return AsrResult("hello", (), 0.0, 1.0, 1.0, 1.0)


def test_asr_queue_depth_and_skipped_interims():
    t = SlowTranscriber()
    pool = AsrPool(t, workers=1, stale_s=0.0)                   # type: ignore[arg-type]
    pcm = np.zeros(1600, dtype=np.int16)
    skipped = value("intervene_asr_interims_skipped_total")
    try:
        first = pool.submit(pcm, 16000)                           # the worker takes it and waits on the gate
        for _ in range(100):
            if first.running():
                break
            time.sleep(0.01)
        depth = value("intervene_asr_queue_depth")
        interims = [pool.submit(pcm, 16000, interim=True) for _ in range(3)]
        assert value("intervene_asr_queue_depth") == depth + 3
        t.gate.set()
        for f in [first, *interims]:
            f.result(5)
        assert all(f.result().dropped == "stale interim" for f in interims)
        assert value("intervene_asr_interims_skipped_total") == skipped + 3
        assert value("intervene_asr_queue_depth") == depth
    finally:
        t.gate.set()
        pool.close()
