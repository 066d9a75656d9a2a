"""The model-serving figures of `intervene bench cluster`: what Ray Serve adds
to each utterance's latency, and what batching buys in throughput.

    bench_models() -> {"remote_asr_added_p95_ms": ..., "remote_embed_added_p95_ms": ...,
                       "batch_gain_x_8": ..., "asr_utt_per_s": {"1": ..., "4": ..., "8": ..., "16": ...}, ...}

Starts its own throwaway two-node Ray cluster (or uses `address`), deploys
both models with one replica each, and compares them with the in-process
models on the example calls' utterances (kb/calls/audio), one at a time for
latency, then in rounds of 1, 4, 8 and 16 concurrent requests for throughput.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from intervene.config.models import ModelsOptions
from intervene.listen.asr import AsrOptions, Transcriber
from intervene.listen.dsp import to_16k
from intervene.listen.wav import read_call
from intervene.nlp.embed import SentenceEmbedder
from intervene.serving import deploy
from intervene.serving.client import RayEmbedder, RayTranscriber
from intervene_harness.raycluster import LocalRayCluster

AUDIO = Path(__file__).resolve().parents[1] / "kb" / "calls" / "audio"
PROMPT = "Acme Business Networks, Standard, Premium, Multi-site, NetCo, FibreLink."


def utterances() -> tuple[list[np.ndarray], list[str]]:
    """Every labelled utterance of the example calls: 16 kHz audio and its reference text."""
    pcms, texts = [], []
    for wav in sorted(AUDIO.glob("*.wav")):
        a = read_call(wav)
        for line in wav.with_suffix(".jsonl").read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                side = a.lead if r["speaker"] == "lead" else a.rep
                pcms.append(to_16k(side[max(0, int(r["start"] * a.rate) - a.rate // 10):
                                        int(r["end"] * a.rate) + a.rate // 10], a.rate))
                texts.append(r["text"])
    return pcms, texts


def _timed(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[float]:
    out = []
    for x in items:
        t0 = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _pct(xs: list[float]) -> dict[str, float]:
    return {"p50": round(float(np.percentile(xs, 50)), 1), "p95": round(float(np.percentile(xs, 95)), 1)}


def _throughput(fn: Callable[[Any], Any], items: Sequence[Any], batch: int, total: int) -> float:
    """Utterances per second with `batch` requests in flight at once (rounds of `batch`)."""
    work = [items[i % len(items)] for i in range(max(total, batch))]
    with ThreadPoolExecutor(batch) as ex:
        t0 = time.perf_counter()
        for i in range(0, len(work), batch):
            list(ex.map(fn, work[i:i + batch]))
        return len(work) / (time.perf_counter() - t0)


def bench_models(address: Optional[str] = None, batches: Sequence[int] = (1, 4, 8, 16), total: int = 32,
                 num_cpus: float = 1.0, batch_wait_ms: float = 10.0) -> dict[str, Any]:
    """The figures, as a dict (the caller prints the JSON line)."""
    cores = max(1, int(num_cpus))
    cluster = None if address else LocalRayCluster(cpus=(cores, cores)).start()
    o = ModelsOptions(backend="ray", address=address or (cluster.address if cluster else ""), num_cpus=num_cpus,
                      max_batch_size=max(batches), batch_wait_ms=batch_wait_ms, timeout_s=120.0)
    try:
        t0 = time.perf_counter()
        deploy.deploy(o, AsrOptions())
        deploy_s = time.perf_counter() - t0
        pcms, _ = utterances()
        local_asr = Transcriber(AsrOptions(cpu_threads=max(1, int(num_cpus))), prompt=PROMPT)
        remote_asr = RayTranscriber(o, prompt=PROMPT)
        for f in (local_asr.transcribe, remote_asr.transcribe):     # first passes set kernels up
            f(pcms[0])
        asr_local, asr_remote = _timed(local_asr.transcribe, pcms), _timed(remote_asr.transcribe, pcms)
        local_emb, remote_emb = SentenceEmbedder(), RayEmbedder(o)
        local_emb.warm()
        remote_emb.warm()
        # distinct texts per side and per pass, so neither LRU cache answers
        emb_local = _timed(lambda i: local_emb.encode([f"utterance {i}: the Standard plan is $49 a month"]),
                           range(40))
        emb_remote = _timed(lambda i: remote_emb.encode([f"utterance {i}: the Standard plan is $49 a month"]),
                            range(40))
        rates = {}
        for b in batches:
            before = remote_asr.info()
            rates[str(b)] = round(_throughput(remote_asr.transcribe, pcms, b, total), 2)
            after = remote_asr.info()
            rates[f"{b}_mean_batch"] = round((after["items"] - before["items"]) /
                                             max(1, after["batches"] - before["batches"]), 2)
        local_rate = round(_throughput(local_asr.transcribe, pcms, 1, total), 2)
        a_l, a_r, e_l, e_r = _pct(asr_local), _pct(asr_remote), _pct(emb_local), _pct(emb_remote)
        return {
            "remote_asr_added_p50_ms": round(a_r["p50"] - a_l["p50"], 1),
            "remote_asr_added_p95_ms": round(a_r["p95"] - a_l["p95"], 1),
            "remote_embed_added_p50_ms": round(e_r["p50"] - e_l["p50"], 1),
            "remote_embed_added_p95_ms": round(e_r["p95"] - e_l["p95"], 1),
            "asr_local_ms": a_l, "asr_remote_ms": a_r, "embed_local_ms": e_l, "embed_remote_ms": e_r,
            "asr_utt_per_s": {k: v for k, v in rates.items() if "_" not in k},
            "asr_mean_batch": {k.split("_")[0]: v for k, v in rates.items() if "_" in k},
            "asr_local_utt_per_s": local_rate,
            "batch_gain_x_8": round(rates["8"] / rates["1"], 2) if "8" in rates and "1" in rates else None,
            "replica_cpus": num_cpus, "batch_wait_ms": batch_wait_ms, "utterances": len(pcms),
            "ray_start_s": round(cluster.start_s, 1) if cluster else None,
            "ray_rss_mb": round(cluster.rss_mb()) if cluster else None, "deploy_s": round(deploy_s, 1),
        }
    finally:
        deploy.disconnect()
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    print(json.dumps(bench_models()))
