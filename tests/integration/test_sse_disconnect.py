"""A closed screen leaves the live push at once (issue 17): the stream
handler notices its client going away while it waits for the next push,
so `intervene_sse_clients` and the per-user stream count fall within a
second - not at the next 15 s ping - and what a stream sends is unchanged."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from intervene.metrics import REGISTRY
from intervene.pbx.media import MediaStore, WebServer
from intervene.screen.hub import Hub
from intervene.screen.web import ScreenApp
from intervene.store.db import Store

TOKEN = "t" * 32


def clients() -> float:
    return REGISTRY.get_sample_value("intervene_sse_clients") or 0.0


async def _fall_to(target: float, within: float) -> float:
    t0 = time.monotonic()
    while clients() != target:
        assert time.monotonic() - t0 < within, f"intervene_sse_clients still {clients()}, expected {target}"
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


def test_a_closed_stream_leaves_the_gauge_within_a_second(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    hub = Hub()
    screen = ScreenApp(store, hub, b"s" * 32, api_token=TOKEN)
    assert screen.events.ping_s >= 15            # the ping is not what notices the close

    async def go() -> list[float]:
        server = WebServer(MediaStore(), "127.0.0.1", 0, screen)
        await server.start()
        took: list[float] = []
        try:
            before = clients()
            async with aiohttp.ClientSession() as http:
                for _ in range(2):                   # a reload: open, close, open again, close
                    r = await http.get(server.url + "/api/events", headers={"Authorization": f"Bearer {TOKEN}"})
                    assert r.status == 200
                    assert (await r.content.readline()).startswith(b"retry: 1000")     # the wire as before
                    assert (await r.content.readline()) == b"event: hello\n"
                    assert clients() == before + 1
                    hub.call("c1", state="live")         # a push while it is open still arrives
                    seen = b""
                    while b"event: call" not in seen:
                        seen += await asyncio.wait_for(r.content.readline(), 5)
                    r.close()                            # the tab closes
                    took.append(await _fall_to(before, within=1.0))
                    assert not screen.events._open          # and out of the per-user count
        finally:
            await server.stop()
            screen.state.db.close()
        return took

    took = asyncio.run(go())
    assert all(t < 1.0 for t in took), took
    store.close()
