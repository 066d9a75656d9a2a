"""Small signal helpers, numpy only: resampling to Whisper's 16 kHz, level and pitch."""
from __future__ import annotations

import numpy as np

# 8 kHz -> 16 kHz: zero-stuff and low-pass at 4 kHz with a windowed sinc.
_TAPS = 48
_n = np.arange(-_TAPS, _TAPS + 1)
_LOWPASS = (np.sinc(_n / 2.0) * np.hamming(len(_n))).astype(np.float32)


def to_float(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float32) / 32768.0


def to_16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    """int16 mono at 8 or 16 kHz -> float32 at 16 kHz."""
    x = to_float(pcm)
    if rate == 16000:
        return x
    if rate != 8000:
        raise ValueError(f"cannot resample from {rate} Hz")
    up = np.zeros(len(x) * 2, np.float32)
    up[::2] = x
    return np.convolve(up, _LOWPASS, mode="same").astype(np.float32)


def level_db(pcm: np.ndarray) -> float:
    """RMS level in dBFS (-96 for digital silence)."""
    if len(pcm) == 0:
        return -96.0
    rms = float(np.sqrt(np.mean(to_float(pcm).astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1.6e-5))


def pitch_hz(pcm: np.ndarray, rate: int, frame_s: float = 0.04, fmin: float = 75, fmax: float = 400) -> float:
    """Median F0 over voiced frames by normalised autocorrelation; 0 if none.
    Coarse on purpose: the emotion detector compares a speaker with their own
    median, so a consistent estimate matters more than an exact one."""
    n = int(rate * frame_s)
    if len(pcm) < n:
        return 0.0
    frames = to_float(pcm[: len(pcm) // n * n]).reshape(-1, n)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames ** 2).sum(axis=1)
    keep = energy > max(1e-6, np.percentile(energy, 50) * 0.5)
    frames, energy = frames[keep], energy[keep]
    if len(frames) == 0:
        return 0.0
    lo, hi = int(rate / fmax), min(n - 1, int(rate / fmin))
    spec = np.fft.rfft(frames, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, : n]
    ac = ac / np.maximum(energy[:, None], 1e-12)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    strength = ac[np.arange(len(lag)), lag]
    voiced = strength > 0.45
    return float(np.median(rate / lag[voiced])) if voiced.any() else 0.0
