"""`intervene bench audio`: how fast and how well the call is heard.

Two parts:
1. Quality and throughput, replayed as fast as possible: word error rate of
   the transcripts against each call's reference transcript, Whisper's
   real-time factor, and how many times faster than real time a call replays
   (models already loaded; load times printed separately).
2. Latency under a real-time feed: N calls (two streams each) fed in 100 ms
   chunks on the wall clock, sharing one Whisper model, as the live service
   runs them. For every final utterance: end of speech -> final transcript;
   for every intervention: end of the speech that triggered it -> the engine
   had decided it ("ready"), and separately the deliberate wait the policy
   adds after that (a voice correction waits for the rep's turn to end).
   N grows until p95 end of speech -> intervention passes 1 s.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Optional

import click
import numpy as np

from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.formats.transcript import read_transcript
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb
from intervene.listen.asr import AsrOptions, Transcriber
from intervene.listen.pipeline import AsrPool, CallPipeline, asr_prompt, replay_audio
from intervene.listen.wav import CallAudio, read_call
from intervene.nlp.embed import SentenceEmbedder
from intervene.nlp.lexicon import normalize_numbers
from intervene.vocab import AudioChunk, Intervention, KnowledgeBase, Speaker


def _words(text: str) -> list[str]:
    t = normalize_numbers(text.lower()).replace("-", " ")
    return re.findall(r"[a-z0-9$%.]+(?<!\.)", t)


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance in words, reference words). Numbers are normalised
    first, so "forty-nine" and "49" are the same word."""
    r, h = _words(ref), _words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)], len(r)


LEVEL1_CALLS = 3        # calls played one after another for the single-call figures


def _pct(xs: list[float], q: float) -> Optional[float]:
    return round(float(np.percentile(xs, q)), 1) if xs else None


def _calls(root: Path) -> list[tuple[Path, Path, Optional[Path]]]:
    out: list[tuple[Path, Path, Optional[Path]]] = []
    for wav in sorted(root.glob("*.wav")):
        ref = wav.with_suffix(".jsonl")
        exp = wav.with_name(wav.stem + ".expect.json")
        if ref.exists():
            out.append((wav, ref, exp if exp.exists() else None))
    return out


def _kb_for(exp: Optional[Path], default: str) -> KnowledgeBase:
    if exp is not None:
        return load_kb((exp.parent / json.loads(exp.read_text())["kb"]).resolve())
    return load_kb(default)


@click.command(name="audio")
@click.option("--calls", "calls_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of CALL.wav + CALL.jsonl (reference transcript) [+ CALL.expect.json]; "
                   "default: the synthesized calls shipped in kb/calls/audio.")
@click.option("--kb", "kb_path", default=None, help="KB for calls without an expect.json (default kb/).")
@click.option("--seconds", type=float, default=50.0, help="Audio fed per concurrency level (wall-clock time).")
@click.option("--max-calls", type=int, default=32,
              help="Stop the concurrency search here (0: quality and replay speed only).")
@click.option("--asr-model", default=None, envvar="INTERVENE_ASR_MODEL")
def bench_audio(calls_dir: Optional[str], kb_path: Optional[str], seconds: float, max_calls: int,
                asr_model: Optional[str]) -> None:
    """Speech: WER, ASR real-time factor, replay speed, end-of-speech latencies, concurrent calls."""

    repo = Path(__file__).resolve().parent.parent
    root = Path(calls_dir) if calls_dir else repo / "kb" / "calls" / "audio"
    calls = _calls(root)
    if not calls:
        raise click.ClickException(f"no CALL.wav with a CALL.jsonl reference in {root}")
    t0 = time.perf_counter()
    embedder = SentenceEmbedder()
    embedder.warm()
    embed_s = time.perf_counter() - t0
    transcriber = Transcriber(AsrOptions(model=asr_model or ""))
    click.echo(f"models: embeddings {embed_s:.1f} s, Whisper {transcriber.load_s:.1f} s to load")
    pool = AsrPool(transcriber)
    indexes: dict[str, KBIndex] = {}

    def engine_for(exp: Optional[Path]) -> tuple[KnowledgeBase, CallEngine]:
        kb = _kb_for(exp, kb_path or str(repo / "kb"))
        if kb.source not in indexes:
            indexes[kb.source] = KBIndex(kb, embedder)
        profile = json.loads(exp.read_text()).get("profile", "standard") if exp else "standard"
        return kb, CallEngine(indexes[kb.source], PROFILES[profile])

    # ---------------------------------------------------------- 1. as fast as possible
    errs = ref_words = 0
    audio_total = replay_wall = asr_ms = asr_audio = 0.0
    audios = [read_call(wav) for wav, _, _ in calls]
    for (wav, ref, exp), audio in zip(calls, audios):
        kb, engine = engine_for(exp)
        transcriber.set_prompt(asr_prompt(kb))
        pipe = CallPipeline(engine, pool, audio.rate)
        s = time.perf_counter()
        replay_audio(pipe, audio)
        replay_wall += time.perf_counter() - s
        audio_total += audio.duration_s
        asr_ms += sum(pipe.latency.asr_compute_ms)
        asr_audio += pipe.latency.audio_s
        reference = read_transcript(ref)
        for who in ("lead", "rep"):
            e, n = word_errors(" ".join(u.text for u in reference if u.speaker.value == who),
                               " ".join(u.text for u in pipe.transcript if u.speaker.value == who))
            errs, ref_words = errs + e, ref_words + n
        click.echo(f"{wav.name}: {audio.duration_s:.0f} s audio, replay {time.perf_counter() - s:.2f} s, "
                   f"{len(pipe.transcript)} utterances")
    wer = errs / max(1, ref_words)
    rtf = asr_ms / 1000 / max(asr_audio, 1e-9)
    speed = audio_total / max(replay_wall, 1e-9)
    click.echo(f"WER {wer:.3f} over {ref_words} words; ASR real-time factor {rtf:.3f} "
               f"(compute / speech); replay {speed:.1f}x real time over {audio_total:.0f} s of calls")

    # ---------------------------------------------------------- 2. real-time feed
    def level(n: int) -> dict[str, Any]:
        if n == 1:      # one call at a time, every call of the set in turn: enough samples for a p95
            parts = [run(1, i, max(seconds, a.duration_s)) for i, a in enumerate(audios[:LEVEL1_CALLS])]
            return merge(parts)
        return merge([run(n, 0, seconds)])

    def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
        keys = ("transcript", "ready", "hold", "final")
        data = {k: [x for p in parts for x in p[k]] for k in keys}
        return {"calls": parts[0]["calls"], "utterances": len(data["transcript"]), "interventions": len(data["ready"]),
                "eos_to_transcript_p50_ms": _pct(data["transcript"], 50),
                "eos_to_transcript_p95_ms": _pct(data["transcript"], 95),
                "eos_to_intervention_p50_ms": _pct(data["ready"], 50),
                "eos_to_intervention_p95_ms": _pct(data["ready"], 95),
                "policy_hold_p50_ms": _pct(data["hold"], 50), "eos_to_final_p95_ms": _pct(data["final"], 95)}

    def run(n: int, first: int, seconds: float) -> dict[str, Any]:
        pipes: list[CallPipeline] = []
        feeds: list[tuple[CallAudio, int]] = []
        for i in range(n):
            audio = audios[(first + i) % len(audios)]
            engine = engine_for(calls[(first + i) % len(calls)][2])[1]
            pipe = CallPipeline(engine, pool, audio.rate)
            offset = int(((i * 3.7) % max(1.0, audio.duration_s - seconds)) * audio.rate) if i else 0  # stagger
            pipes.append(pipe)
            feeds.append((audio, offset))
        # 20 ms frames, each fed when it would have arrived on a live call (as RTP does), so
        # "end of speech" on the wall clock is exact to a frame
        step_s = 0.02
        emitted: list[tuple[CallPipeline, Intervention, float]] = []
        start = time.perf_counter()
        k = 0
        while k * step_s < seconds:
            now = (k + 1) * step_s
            sleep = start + now - time.perf_counter()
            if sleep > 0:
                time.sleep(sleep)
            for pipe, (audio, off) in zip(pipes, feeds):
                a, b = off + int(k * step_s * audio.rate), off + int(now * audio.rate)
                pipe.feed(AudioChunk(Speaker.LEAD, k * step_s, audio.lead[a:b].tobytes()))
                pipe.feed(AudioChunk(Speaker.REP, k * step_s, audio.rep[a:b].tobytes()))
                for iv in pipe.poll(now, block=False):
                    emitted.append((pipe, iv, time.perf_counter()))
            k += 1
        # let the last transcriptions land (still on the real clock), then stop
        tail = time.perf_counter()
        while any(p.queue for p in pipes) and time.perf_counter() - tail < 5:
            now = (time.perf_counter() - start)
            for pipe in pipes:
                for iv in pipe.poll(now, block=False):
                    emitted.append((pipe, iv, time.perf_counter()))
            time.sleep(0.02)
        transcript = [x for p in pipes for x in p.latency.eos_to_transcript_ms]
        ready, hold = [], []
        for pipe, iv, wall in emitted:
            t = pipe.timing.get(iv.utterance)
            if t is None:
                continue
            eos, decided = t
            ready.append((decided - eos) * 1000)
            hold.append(max(0.0, wall - decided) * 1000)
        return {"calls": n, "transcript": transcript, "ready": ready, "hold": hold,
                "final": [x for p in pipes for x in p.latency.eos_to_decision_ms]}

    results = []
    n = 1
    best = 0
    while n <= max_calls:
        r = level(n)
        results.append(r)
        click.echo(json.dumps(r))
        within = (r["eos_to_final_p95_ms"] or 0) <= 1000 and (r["eos_to_intervention_p95_ms"] or 0) <= 1000
        if not within:
            break
        best = n
        n = {1: 4, 4: 8, 8: 16}.get(n, n + 4)
    pool.close()
    one = results[0] if results else {k: None for k in ("eos_to_transcript_p50_ms", "eos_to_transcript_p95_ms",
                                                       "eos_to_intervention_p50_ms", "eos_to_intervention_p95_ms",
                                                       "policy_hold_p50_ms")}
    click.echo(json.dumps({
        "asr_rtf": round(rtf, 4), "wer": round(wer, 4),
        "eos_to_transcript_p50_ms": one["eos_to_transcript_p50_ms"],
        "eos_to_transcript_p95_ms": one["eos_to_transcript_p95_ms"],
        "eos_to_intervention_p50_ms": one["eos_to_intervention_p50_ms"],
        "eos_to_intervention_p95_ms": one["eos_to_intervention_p95_ms"],
        "policy_hold_p50_ms": one["policy_hold_p50_ms"],
        "max_concurrent_calls": best if results else None, "replay_speed_x": round(speed, 1),
        "whisper_load_s": round(transcriber.load_s, 2), "calls": len(calls), "reference_words": ref_words,
    }))
