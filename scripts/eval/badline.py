#!/usr/bin/env python3
"""Turn clean two-channel call audio into a bad telephone line.

Usage: badline.py IN.wav OUT.wav [--seed N] [--snr 18] [--quiet-db 9] [--loss 0.02]

What a real PSTN/VoIP leg does to a call, in the order it happens:
- one party much quieter than the other (a random one, up to --quiet-db down);
- mains hum (50/60 Hz and harmonics) and hiss, together --snr dB below the speech;
- G.711 mu-law companding (8-bit, as the line carries it);
- --loss of 20 ms packets lost, in short bursts, with no concealment (silence).
Deterministic for a seed, so a figure can be reproduced. Part of the evaluation
harness, not of the product.
"""
import argparse
import wave

import numpy as np

MU = 255.0


def mulaw(x: np.ndarray) -> np.ndarray:
    """Encode to 8-bit mu-law and back: the quantisation a G.711 line applies."""
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    q = np.round((y + 1) / 2 * 255) / 255 * 2 - 1
    return np.sign(q) * ((1 + MU) ** np.abs(q) - 1) / MU


def degrade(ch: np.ndarray, rate: int, rnd: np.random.Generator, snr_db: float, gain_db: float,
            loss: float) -> np.ndarray:
    x = ch.astype(np.float64) / 32768.0 * 10 ** (-gain_db / 20)
    speech = x[np.abs(x) > 0.01]
    level = np.sqrt(np.mean(speech ** 2)) if len(speech) else 0.05
    t = np.arange(len(x)) / rate
    hz = rnd.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * hz * k * t + rnd.uniform(0, 6.28)) / k for k in (1, 2, 3))
    hiss = rnd.normal(0, 1, len(x))
    noise = 0.5 * hum / np.sqrt(np.mean(hum ** 2)) + hiss
    noise *= level * 10 ** (-snr_db / 20) / np.sqrt(np.mean(noise ** 2))
    y = mulaw(np.clip(x + noise, -1, 1))
    frame = rate // 50
    n = len(y) // frame
    lost = np.zeros(n, bool)
    k = 0
    while k < n:                               # bursts of 1-3 packets, `loss` of them overall
        if rnd.random() < loss / 2:
            lost[k:k + rnd.integers(1, 4)] = True
        k += 1
    for i in np.flatnonzero(lost):
        y[i * frame:(i + 1) * frame] = 0.0
    return (np.clip(y, -1, 1) * 32767).astype(np.int16)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snr", type=float, default=18.0)
    ap.add_argument("--quiet-db", type=float, default=9.0)
    ap.add_argument("--loss", type=float, default=0.02)
    a = ap.parse_args()
    with wave.open(a.src) as w:
        rate, chans = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, chans)
    rnd = np.random.default_rng(a.seed)
    quiet = rnd.integers(0, chans)
    out = np.stack([degrade(pcm[:, c], rate, rnd, a.snr, rnd.uniform(3, a.quiet_db) if c == quiet else 0.0, a.loss)
                    for c in range(chans)], axis=1)
    with wave.open(a.dst, "wb") as w:
        w.setnchannels(chans)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(out.tobytes())


if __name__ == "__main__":
    main()
