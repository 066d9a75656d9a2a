"""`intervene bench lead`: bursts of signed Lead Ads webhooks (1, 10, 50 leads
at once) against the service on the local Asterisk; each lead's number rings
one of 24 softphones. Measures webhook -> the lead's phone ringing, and
checks that no lead is lost: each is called, or waits its turn under the
outbound limit (`[leads] max_outbound`).

The phones answer and hang up at once (the lead "hangs up during the
greeting"): the benchmark is about intake and dialling, not qualification.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import click

from intervene.app import Runtime
from intervene.cli._runtime import fail
from intervene.store import leads as lead_store
from intervene_harness.calls import SIP
from intervene_harness.flow import FORM_ID, PAGE_ID, FlowHarness, lead_number, post_webhook
from intervene_harness.localpbx import PbxError
from intervene_harness.phone import PhoneProcess

PHONES = 24


@click.command(name="lead")
@click.option("--bursts", default="1,10,50", show_default=True, help="Leads per burst, comma-separated.")
@click.option("--max-outbound", default=8, show_default=True, help="[leads] max_outbound for the run.")
@click.option("--kb", "kb_path", type=click.Path(), default=None, help="KB (default: kb/ of the source tree).")
@click.pass_obj
def bench_lead(rt: Runtime, bursts: str, max_outbound: int, kb_path: Optional[str]) -> None:
    """Webhook -> lead's phone ringing (p50/p95 ms), leads called, held back, lost."""
    try:
        sizes = [int(x) for x in bursts.split(",") if x.strip()]
    except ValueError:
        fail(f"--bursts: numbers separated by commas, got {bursts!r}")
    root = Path(__file__).resolve().parents[1]
    try:
        result = asyncio.run(_run(sizes, max_outbound, kb_path or str(root / "kb")))
    except PbxError as e:
        fail(str(e))
    click.echo(json.dumps(result))


async def _run(sizes: list[int], max_outbound: int, kb: str) -> dict[str, Any]:
    out: dict[str, Any] = {"bench": "lead", "max_outbound": max_outbound, "bursts": {}}
    all_lat: list[float] = []
    lost_total = 0
    with tempfile.TemporaryDirectory(prefix="intervene-bench-lead-") as tmp:
        async with FlowHarness(Path(tmp) / "bench.db", kb, Path(tmp), max_outbound=max_outbound,
                               stop_pbx=True, redial_window_s=0) as h:     # its numbers repeat on purpose
            pw = h.env.get("INTERVENE_SIP_PASSWORD")
            phones = [await PhoneProcess(f"lead{n}").start(user=f"lead{n}", password=pw, registrar=SIP,
                                                           register=True, answer_delay=0.3)
                      for n in range(1, PHONES + 1)]
            stop = asyncio.Event()

            async def hang_up_on_answer(ph: PhoneProcess) -> None:
                seen = 0
                while not stop.is_set():
                    try:
                        await ph.wait_event("confirmed", 0.5, since=seen)
                    except (TimeoutError, asyncio.TimeoutError):
                        continue
                    seen = len(ph.events)
                    await ph.send({"cmd": "hangup"})
            watchers = [asyncio.create_task(hang_up_on_answer(ph)) for ph in phones]
            try:
                await asyncio.gather(*(ph.wait_event("registered", 15) for ph in phones))
                seq = 0
                for size in sizes:
                    events: list[dict[str, Any]] = []
                    h.flow.timeline.listeners.append(events.append)
                    ids: list[str] = []
                    for _i in range(size):
                        seq += 1
                        leadgen = f"8{seq:014d}"
                        h.fb.graph.add_lead(leadgen, form_id=FORM_ID, full_name=f"Lead {seq}",
                                            phone_number=lead_number((seq - 1) % PHONES + 1))
                        ids.append(leadgen)
                    posted = await asyncio.gather(*(post_webhook(h.url, [{"leadgen_id": g, "page_id": PAGE_ID,
                                                                          "form_id": FORM_ID}]) for g in ids))
                    sent = {a["ids"][0]: t for t, a in posted if a.get("ids")}
                    deadline = time.monotonic() + 90 + size * 2
                    while time.monotonic() < deadline:          # every lead settled (busy phones: retried)
                        rows = [lead_store.get(h.services.store, i) for i in sent]
                        if all(r and r["status"] not in ("received", "ready", "calling") for r in rows):
                            break
                        await asyncio.sleep(0.2)
                    while h.flow.calls:                          # let the last calls end
                        await asyncio.sleep(0.2)
                    h.flow.timeline.listeners.remove(events.append)
                    lat: list[float] = []
                    for lead_id, t_sent in sent.items():
                        for dial in (e for e in events if e["lead_id"] == lead_id and e["event"] == "lead-dialled"):
                            n = int(dial["endpoint"][-2:])
                            ring = next((pe["t"] for pe in phones[n - 1].events if pe.get("event") == "incoming"
                                         and dial["t"] - 0.05 <= pe["t"] <= dial["t"] + 3), None)
                            if ring is not None:                 # the first dial that rang (not busy)
                                lat.append((ring - t_sent) * 1000)
                                break
                    held = len({e["lead_id"] for e in events if e["event"] == "held-back"})
                    stored = {r["leadgen_id"] for r in lead_store.list(h.services.store, limit=100000)}
                    lost = len([g for g in ids if g not in stored])
                    lost += sum(1 for i in sent if (lead_store.get(h.services.store, i) or {}).get("status")
                                in (None, "received"))
                    lost_total += lost
                    all_lat += lat
                    out["bursts"][str(size)] = {"leads": size, "rang": len(lat), "held_back": held, "lost": lost,
                                                **_pct(lat)}
            finally:
                stop.set()
                for w in watchers:
                    w.cancel()
                for ph in phones:
                    await ph.close()
    out.update({"webhook_to_ring_p50_ms": _pct(all_lat).get("p50_ms"),
                "webhook_to_ring_p95_ms": _pct(all_lat).get("p95_ms"),
                "leads_called": len(all_lat), "leads_lost": lost_total})
    return out


def _pct(xs: list[float]) -> dict[str, float]:
    if not xs:
        return {}
    xs = sorted(xs)
    p95 = statistics.quantiles(xs, n=20)[18] if len(xs) > 1 else xs[0]
    return {"p50_ms": round(statistics.median(xs), 1), "p95_ms": round(p95, 1), "max_ms": round(xs[-1], 1)}
