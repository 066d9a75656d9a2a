"""`intervene bench cluster`: the figures a sales floor is sized from.

Four parts, each on this machine, each starting (and stopping) what it needs:
1. Models on Ray Serve (bench_models): the latency remote Whisper and
   embeddings add per utterance (p50/p95 vs in-process), and utterances per
   second at batch 1, 4, 8 and 16.
2. Per-stream costs, in-process: CPU-ms of VAD, Whisper and the engine per
   second of call audio, from the example calls (kb/calls/audio).
3. A live cluster (a throwaway PostgreSQL, the local Asterisk, two workers,
   real phones): one monitored call for the database's writes and the
   screens' events per call-minute, one call whose worker is SIGKILLed for
   `failover_s` (kill -> the other worker holds the call's lease and has
   moved it), and N signed webhooks at once to two diallers for
   `leads_called_twice` (Asterisk counts each number dialled).
4. The last line: one JSON object with every figure.
"""
from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import click

from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.formats.transcript import parse_transcript
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb
from intervene.leads.intake import sign
from intervene.listen.asr import Transcriber
from intervene.listen.dsp import to_16k
from intervene.listen.vad import Segmenter, SpeechEnd
from intervene.listen.wav import read_call
from intervene.nlp.embed import SentenceEmbedder
from intervene.vocab import Speaker, Utterance
from intervene_harness.bench_models import bench_models
from intervene_harness.cluster import Cluster

ROOT = Path(__file__).resolve().parents[1]
AUDIO = ROOT / "kb" / "calls" / "audio"
LEADS_SECRET = "bench-cluster-leads"

CALL = """\
{"start": 0.0, "end": 2.6, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 3.0, "end": 6.2, "speaker": "lead", "text": "Hi Mark. What kind of support comes with Standard?"}
{"start": 7.0, "end": 9.6, "speaker": "rep", "text": "Good question, let me walk you through it."}
{"start": 15.0, "end": 18.2, "speaker": "rep", "text": "The Standard package includes two years of support."}
{"start": 31.0, "end": 32.6, "speaker": "lead", "text": "Okay, good to know."}
"""
KILL_AT_S = 4.0
STATS_FLUSH_S = 2.0      # PostgreSQL publishes a backend's row counts at most once a second


def leads_config(max_outbound: int) -> str:
    return f"""
[leads]
leads_secret = "{LEADS_SECRET}"
dial = "Local/{{number}}@dev-no-answer"
call_hours = "00:00-24:00"
call_days = "mon-sun"
max_outbound = {max_outbound}
retry_s = []
team = "sales"
[campaigns.default]
team = "sales"
"""


# ------------------------------------------------------------ per stream
def stream_costs(transcriber: Transcriber, embedder: SentenceEmbedder) -> dict[str, float]:
    """CPU-ms per second of call audio (both parties' streams together) of
    VAD, Whisper and the engine, over the example calls."""
    kb = load_kb(ROOT / "kb")
    index = KBIndex(kb, embedder)
    seconds = vad_cpu = asr_cpu = engine_cpu = 0.0
    for wav in sorted(AUDIO.glob("*.wav")):
        audio = read_call(wav)
        seconds += len(audio.lead) / audio.rate
        ends: list[SpeechEnd] = []
        t = time.process_time()
        for speaker, pcm in ((Speaker.LEAD, audio.lead), (Speaker.REP, audio.rep)):
            seg = Segmenter(speaker, audio.rate)
            step = audio.rate // 50
            for i in range(0, len(pcm), step):
                ends += [e for e in seg.feed(pcm[i:i + step].tobytes(), i / audio.rate) if isinstance(e, SpeechEnd)]
            ends += [e for e in seg.flush() if isinstance(e, SpeechEnd)]
        vad_cpu += time.process_time() - t
        utterances: list[Utterance] = []
        t = time.process_time()
        for e in sorted((e for e in ends if e.is_speech), key=lambda e: e.start):
            text = transcriber.transcribe(to_16k(e.pcm, audio.rate), word_timings=False).text
            if text.strip():
                utterances.append(Utterance(len(utterances), e.speaker, e.start, e.end, text))
        asr_cpu += time.process_time() - t
        engine = CallEngine(index, PROFILES["standard"])
        t = time.process_time()
        replay(engine, utterances)
        engine_cpu += time.process_time() - t
    per_s = 1000.0 / max(seconds, 1e-9)
    return {"call_audio_s": round(seconds, 1), "vad_cpu_ms_per_s": round(vad_cpu * per_s, 2),
            "asr_cpu_ms_per_s": round(asr_cpu * per_s, 1), "engine_cpu_ms_per_s": round(engine_cpu * per_s, 2)}


# ------------------------------------------------------------- the cluster
def _rows_written(cluster: Cluster) -> int:
    """Rows inserted, updated and deleted in the database so far (PostgreSQL's own count)."""
    rows = cluster.store.db.query("select tup_inserted + tup_updated + tup_deleted as n from pg_stat_database "
                                  "where datname = current_database()")
    return int(rows[0]["n"])


def _pushes(cluster: Cluster) -> int:
    rows = cluster.store.db.query("select count(*) as n from screen_pushes")
    return int(rows[0]["n"])


async def live_figures(work: Path, leads: int, max_outbound: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with Cluster(work, workers=2, config=leads_config(max_outbound)) as c:
        # 1. database writes: idle (two workers' heartbeats and lease renewals), then over a whole call
        await asyncio.sleep(3.0)                     # start-up writes settle
        idle_s = 15.0
        w0 = await asyncio.to_thread(_rows_written, c)
        await asyncio.sleep(idle_s)
        await asyncio.sleep(STATS_FLUSH_S)
        idle_per_min = (await asyncio.to_thread(_rows_written, c) - w0 - 0) * 60 / (idle_s + STATS_FLUSH_S)
        w0, p0, t0 = await asyncio.to_thread(_rows_written, c), await asyncio.to_thread(_pushes, c), time.monotonic()
        r = await c.call(parse_transcript(CALL), work / "plain", pair=21, tail_s=1.0)
        await asyncio.sleep(STATS_FLUSH_S)
        took_s = time.monotonic() - t0
        w1, p1 = await asyncio.to_thread(_rows_written, c), await asyncio.to_thread(_pushes, c)
        minutes = took_s / 60
        out["db_rows_per_idle_worker_min"] = round(idle_per_min / len(c.workers), 1)
        out["db_rows_per_call_min"] = round(((w1 - w0) - idle_per_min * minutes) / minutes, 1)
        out["screen_events_per_call_min"] = round((p1 - p0) / minutes, 1)
        out["plain_call_interventions"] = len(r.interventions)
        # 2. failover on a live call
        killed: dict[str, Any] = {}

        async def kill(row: dict[str, Any], play_at: float) -> None:
            await asyncio.sleep(max(0.0, play_at + KILL_AT_S - time.time()))
            w = c.worker(row["worker"])
            killed.update(name=w.name, at=time.time())
            await asyncio.to_thread(w.proc.kill)
            while time.time() < killed["at"] + 30:
                lease = await asyncio.to_thread(c.store.db.query,
                                                "select worker from call_leases where call_id = ?", [row["id"]])
                if lease and lease[0]["worker"] != w.name:
                    killed["adopted_s"] = time.time() - killed["at"]
                    return
                await asyncio.sleep(0.05)

        r = await c.call(parse_transcript(CALL), work / "failover", pair=22, during=kill)
        out["failover_s"] = round(killed["adopted_s"], 2) if "adopted_s" in killed else None
        spoken = [d for d in r.deliveries if d["category"] == "accuracy" and d["delivery"] == "spoken"]
        out["failover_correction_spoken"] = bool(spoken)
        w = c.worker(killed["name"])
        w.proc.start()
        await c.wait_registered(w)
        # 3. two diallers, N webhooks at once
        out.update(await diallers(c, leads, max_outbound))
    return out


async def diallers(c: Cluster, n: int, max_outbound: int) -> dict[str, Any]:
    numbers = [f"+1212555{300 + i:04d}" for i in range(n)]

    async def rung() -> list[int]:
        got = await asyncio.gather(*(c.ari_call("GET", "/asterisk/variable", variable=f"RUNG_{x[1:]}")
                                     for x in numbers))
        return [int(v["value"] or 0) for v in got]

    before = await rung()
    stamp = time.time()

    async def post(http: aiohttp.ClientSession, i: int, number: str) -> int:
        body = json.dumps({"id": f"bench-{stamp}-{i}", "name": f"Lead {i}", "phone": number}).encode()
        async with http.post(f"{c.workers[i % len(c.workers)].proc.url}/webhooks/leads", data=body,
                             headers={"Content-Type": "application/json",
                                      "X-Intervene-Signature-256": sign(LEADS_SECRET, body)}) as r:
            return r.status

    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(post(http, i, x) for i, x in enumerate(numbers)))
    peak = 0
    while time.monotonic() - t0 < 300:
        rows = await asyncio.to_thread(c.store.db.query, "select status, count(*) as n from leads "
                                       "where phone like '+1212555%' group by status")
        by = {r["status"]: int(r["n"]) for r in rows}
        peak = max(peak, by.get("calling", 0))
        if not any(by.get(s) for s in ("received", "ready", "calling")):
            break
        await asyncio.sleep(0.05)
    counts = [a - b for a, b in zip(await rung(), before)]
    return {"leads": n, "leads_called_twice": sum(1 for x in counts if x > 1),
            "leads_never_called": sum(1 for x in counts if x == 0), "max_outbound": max_outbound,
            "calling_peak": peak, "leads_drain_s": round(time.monotonic() - t0, 1)}


@click.command(name="cluster")
@click.option("--leads", default=50, show_default=True, help="Webhooks posted at once to the two diallers.")
@click.option("--max-outbound", default=5, show_default=True, help="[leads] max_outbound (for the whole cluster).")
@click.option("--skip-models", is_flag=True, help="Leave out the Ray Serve part (it starts a Ray cluster).")
@click.option("--skip-live", is_flag=True, help="Leave out the live cluster (Asterisk, phones, PostgreSQL).")
def bench_cluster(leads: int, max_outbound: int, skip_models: bool, skip_live: bool) -> None:
    """Sizing figures for a cluster; the last line is JSON."""
    figures: dict[str, Any] = {}
    if not skip_models:
        click.echo("models on Ray Serve (starts a two-node Ray cluster) ...", err=True)
        models = bench_models()
        figures.update({k: v for k, v in models.items() if not isinstance(v, (dict, list))})
        figures["asr_utt_per_s"] = models.get("asr_utt_per_s")
    click.echo("per-stream costs, in-process ...", err=True)
    emb = SentenceEmbedder()
    emb.warm()
    figures.update(stream_costs(Transcriber(), emb))
    if not skip_live:
        click.echo("live cluster: PostgreSQL, Asterisk, two workers, phones ...", err=True)
        with tempfile.TemporaryDirectory(prefix="intervene-bench-cluster-") as tmp:
            figures.update(asyncio.run(live_figures(Path(tmp), leads, max_outbound)))
    for k, v in figures.items():
        click.echo(f"{k:32} {v}")
    click.echo(json.dumps(figures))
