"""`intervene bench screen`: decision -> card rendered in a real browser.

Practice calls (real engine, real clock) run inside the real screen server;
each rep's Chromium page records when each card reached the screen (the
frame after it was inserted), and the decision's wall-clock time travels
with the card, so the difference is the whole path: hub, SSE over loopback
HTTP, the browser's parsing and rendering.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

import click

from intervene.app import Runtime
from intervene.cli._runtime import fail
from intervene.config import load_config
from intervene.pbx.media import MediaStore, WebServer
from intervene.screen.hub import Hub
from intervene.screen.web import build_screen, save_user
from intervene_harness.browser import launch, login

ROOT = Path(__file__).resolve().parents[1]
CALLS = sorted((ROOT / "kb" / "calls").glob("*.jsonl"))


@click.command(name="screen")
@click.option("--calls", "n_calls", default=8, show_default=True, help="Practice calls to run.")
@click.option("--reps", default=2, show_default=True, help="Reps, each with their own browser page.")
@click.option("--speed", default=6.0, show_default=True, help="Practice call speed (x real time).")
@click.option("--kb", "kb_path", type=click.Path(), default=None, help="KB (default: kb/ of the source tree).")
@click.pass_obj
def bench_screen(rt: Runtime, n_calls: int, reps: int, speed: float, kb_path: Optional[str]) -> None:
    """Card latency on the rep's screen (p50/p95, ms), as a JSON line."""
    if not CALLS:
        fail(f"no practice transcripts in {ROOT / 'kb' / 'calls'}")
    try:
        result = asyncio.run(_run(rt, n_calls, max(1, reps), speed, kb_path or str(ROOT / "kb")))
    except RuntimeError as e:
        fail(str(e))
    click.echo(json.dumps(result))


async def _run(rt: Runtime, n_calls: int, reps: int, speed: float, kb_path: str) -> dict[str, Any]:
    from playwright.async_api import async_playwright


    tmp = tempfile.TemporaryDirectory(prefix="intervene-bench-screen-")
    brt = Runtime(str(Path(tmp.name) / "bench.db"), rt.config_path)
    cfg = load_config(rt.config_path)
    # every call at once, however many: the bench measures the screen, not the service's practice caps
    cfg.serve = replace(cfg.serve, practice_total=max(cfg.serve.practice_total, n_calls),
                        practice_per_user=max(cfg.serve.practice_per_user, n_calls))
    kb = brt.kb(kb_path)
    index = await asyncio.to_thread(brt.index, kb)
    hub = Hub()
    box: dict[str, str] = {}
    screen = build_screen(brt.store, hub, cfg, index, kb.source, api_token="", public_url=lambda: box["url"])
    web = WebServer(MediaStore(), "127.0.0.1", 0, screen)
    await web.start()
    box["url"] = web.url
    logins = [f"bench{i + 1}" for i in range(reps)]
    for name in logins:
        save_user(brt.store, {"login": name, "role": "rep", "password": "bench-password", "name": name})
    try:
        async with async_playwright() as pw:
            browser = await launch(pw)
            pages = [(await login(browser, web.url, name, "bench-password"))[1] for name in logins]
            t0 = time.monotonic()
            sem = asyncio.Semaphore(reps)

            async def one(i: int) -> str:
                page = pages[i % reps]
                async with sem:
                    res = await page.evaluate(
                        """async ([t, s]) => { const r = await fetch('/api/practice', {method: 'POST',
                            headers: {'Content-Type': 'application/json', 'X-Intervene': '1'},
                            body: JSON.stringify({transcript: t, speed: s})}); return await r.json(); }""",
                        [CALLS[i % len(CALLS)].read_text(), speed])
                    if "call_id" not in res:
                        raise RuntimeError(f"practice call refused: {res}")
                    while hub.views[res["call_id"]].call["state"] != "ended":
                        await asyncio.sleep(0.1)
                    return res["call_id"]

            ids = await asyncio.gather(*(one(i) for i in range(n_calls)))
            await asyncio.sleep(0.5)                                   # the last frames
            wall = time.monotonic() - t0
            seen: dict[tuple[str, int], float] = {}
            for page in pages:
                for t in await page.evaluate("window.__ivCardTimes || []"):
                    key = (t["call_id"], t["seq"])
                    if t.get("decided_wall") and key not in seen:
                        seen[key] = (t["rendered_wall"] - t["decided_wall"]) * 1000
            published = sum(len(hub.views[c].cards) for c in ids)
            version = browser.version
            await browser.close()
    finally:
        await web.stop()
        brt.store.close()
        tmp.cleanup()
    lat = sorted(seen.values())
    if not lat:
        raise RuntimeError("no card reached a screen")
    q = statistics.quantiles(lat, n=20) if len(lat) > 1 else [lat[0]] * 19
    return {"bench": "screen", "calls": n_calls, "reps": reps, "speed": speed, "cards": published,
            "cards_rendered": len(lat), "card_latency_p50_ms": round(statistics.median(lat), 1),
            "card_latency_p95_ms": round(q[18], 1), "card_latency_max_ms": round(lat[-1], 1),
            "wall_s": round(wall, 1), "browser": f"chromium {version}"}
