"""How things were said: loudness, pitch, speaking rate and overlap, per party.

Levels and pitch are compared with the same speaker's own median so far: a
loud talker or a bad line is not an upset lead, but a lead suddenly 6 dB
louder and higher-pitched than their own baseline often is. Overlap comes
from both parties' VAD, so it is measured on audio, not transcripts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from intervene.listen.dsp import pitch_hz, to_float
from intervene.listen.vad import SpeechEnd, SpeechStart
from intervene.vocab import Cues, Speaker

MIN_BASELINE = 2        # utterances before "louder than usual" means anything


@dataclass
class CueTracker:
    rate: int
    intervals: dict[Speaker, list[list[float]]] = field(default_factory=lambda: {Speaker.LEAD: [], Speaker.REP: []})
    loudness: dict[Speaker, list[float]] = field(default_factory=lambda: {Speaker.LEAD: [], Speaker.REP: []})
    pitches: dict[Speaker, list[float]] = field(default_factory=lambda: {Speaker.LEAD: [], Speaker.REP: []})

    def started(self, ev: SpeechStart) -> None:
        self.intervals[ev.speaker].append([ev.start, float("inf")])

    def speech(self, ev: SpeechEnd) -> None:
        iv = self.intervals[ev.speaker]
        if iv and iv[-1][1] == float("inf"):
            iv[-1][1] = ev.end
        else:
            iv.append([ev.start, ev.end])

    def measure(self, speaker: Speaker, start: float, end: float, pcm: np.ndarray,
                voiced_s: float, n_words: int, noise_db: Optional[float] = None) -> Cues:
        other = Speaker.REP if speaker == Speaker.LEAD else Speaker.LEAD
        overlap = sum(max(0.0, min(end, e) - max(start, s)) for s, e in self.intervals[other])
        interrupted = any(s < start and min(e, end) - start >= 0.3 for s, e in self.intervals[other])
        loud = _speech_level_db(pcm, self.rate)
        f0 = pitch_hz(pcm, self.rate)
        base_l, base_p = self.loudness[speaker], self.pitches[speaker]
        rise_db = loud - float(np.median(base_l)) if len(base_l) >= MIN_BASELINE else 0.0
        rise_p = f0 / float(np.median(base_p)) - 1 if len(base_p) >= MIN_BASELINE and f0 > 0 else 0.0
        base_l.append(loud)
        if f0 > 0:
            base_p.append(f0)
        return Cues(round(loud, 1), round(rise_db, 1), round(f0, 1), round(rise_p, 3),
                    round(n_words / max(voiced_s, 0.3), 2), round(overlap, 2), interrupted,
                    None if noise_db is None else round(loud - noise_db, 1))


def _speech_level_db(pcm: np.ndarray, rate: int, frame_s: float = 0.02) -> float:
    """Level of the louder half of 20 ms frames: the speech, not the pauses."""
    n = int(rate * frame_s)
    if len(pcm) < n:
        return -96.0
    frames = to_float(pcm[: len(pcm) // n * n]).reshape(-1, n).astype(np.float64)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    top = np.sort(rms)[len(rms) // 2:]
    return float(20 * np.log10(max(float(top.mean()), 1.6e-5)))
