"""Per-party speech segmentation with webrtcvad.

Each party is its own stream (the lead's and the rep's audio come from separate
snoop channels, or separate WAV channels), so who spoke is never guessed.

The moment the segmenter decides an utterance has ended is where our latency
budget starts, so the end hangover is short (300 ms by default, ~0.34-0.41 s
after the last word measured here), while a start needs several voiced frames
so clicks and line noise do not open an utterance. A level floor and a spectral
flatness ceiling keep hiss and static that webrtcvad calls "speech" from ever
reaching Whisper, which would invent words for them.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Optional, Protocol, Union

import numpy as np

from intervene.listen.dsp import level_db
from intervene.vocab import Speaker


@dataclass(frozen=True)
class VadOptions:
    aggressiveness: int = 3         # webrtcvad 0-3; 3 rejects the most non-speech
    frame_ms: int = 20
    start_frames: int = 4           # voiced frames ...
    start_window: int = 6           # ... within this many, to start an utterance
    end_ms: int = 300               # unvoiced this long ends it
    min_speech_ms: int = 160        # less voiced speech than this is a click, not an utterance
    pre_roll_ms: int = 200          # audio kept from before the start, so the first syllable is whole
    tail_ms: int = 100              # audio kept after the last voiced frame
    max_utterance_s: float = 25.0   # cut a monologue here (Whisper's window is 30 s)
    interim_after_s: float = 3.0    # a long utterance gets an interim transcript after this ...
    interim_every_s: float = 2.5    # ... and again this often
    min_level_db: float = -55.0     # frames quieter than this are never speech
    max_flatness: float = 0.45      # frames whose spectrum is this flat are hiss, not voice


def flatness(pcm: np.ndarray, rate: int) -> float:
    """Spectral flatness in the telephone band (0 = a pure tone, ~0.56 = white
    noise). webrtcvad calls loud hiss and static "speech"; voiced speech has
    harmonics and formants, so its spectrum is far from flat."""
    x = pcm.astype(np.float64) * np.hanning(len(pcm))
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(pcm), 1 / rate)
    band = p[(f >= 300) & (f <= 3400)] + 1e-9
    return float(np.exp(np.mean(np.log(band))) / np.mean(band))


@dataclass(frozen=True)
class SpeechStart:
    speaker: Speaker
    start: float            # call time of the first voiced frame
    decided: float          # call time we knew


@dataclass(frozen=True)
class SpeechEnd:
    speaker: Speaker
    start: float
    end: float              # end of the last voiced frame: the true end of speech
    decided: float          # end + hangover: when we knew
    pcm: np.ndarray         # int16 at the stream's rate, pre-roll to tail
    voiced_s: float

    @property
    def is_speech(self) -> bool:
        return self.voiced_s > 0


@dataclass(frozen=True)
class InterimAudio:
    speaker: Speaker
    start: float
    decided: float
    pcm: np.ndarray


QUIET_FRAMES = 500          # 10 s of 20 ms frames between utterances: the noise floor's window
MIN_QUIET_FRAMES = 25      # half a second of them before the floor means anything

VadEvent = Union[SpeechStart, SpeechEnd, InterimAudio]


class _Vad(Protocol):
    """What the segmenter uses of webrtcvad.Vad (which ships no type information)."""

    def is_speech(self, buf: bytes, sample_rate: int) -> bool: ...


@dataclass
class Segmenter:
    speaker: Speaker
    rate: int
    options: VadOptions = VadOptions()
    _vad: _Vad = field(init=False, repr=False)
    _buf: bytes = b""
    _t: float = 0.0                                     # call time of the next sample to frame
    _recent: deque[tuple[float, bytes, bool]] = field(init=False)  # (t, frame, voiced) before a start: pre-roll+window
    _frames: list[bytes] = field(default_factory=list)  # frame bytes of the open utterance
    _start: Optional[float] = None
    _last_voiced_end: float = 0.0
    _voiced: int = 0
    _next_interim: float = 0.0
    _quiet: deque[float] = field(init=False)            # levels (dBFS) of recent frames between utterances

    def __post_init__(self) -> None:
        import webrtcvad
        if self.rate not in (8000, 16000):
            raise ValueError(f"webrtcvad needs 8000 or 16000 Hz, got {self.rate}")
        self._vad = webrtcvad.Vad(self.options.aggressiveness)
        self._quiet = deque(maxlen=QUIET_FRAMES)
        self._recent = deque(maxlen=self.options.pre_roll_ms // self.options.frame_ms + self.options.start_window)
        self._frame_bytes = self.rate * self.options.frame_ms // 1000 * 2
        self._frame_s = self.options.frame_ms / 1000

    def feed(self, pcm: bytes, t: Optional[float] = None) -> list[VadEvent]:
        """16-bit little-endian mono samples; t = call time of the first one
        (None = continues where the last chunk ended)."""
        if t is not None and not self._buf:
            self._t = t
        self._buf += pcm
        out: list[VadEvent] = []
        fb = self._frame_bytes
        while len(self._buf) >= fb:
            frame, self._buf = self._buf[:fb], self._buf[fb:]
            out += self._frame(frame, self._t)
            self._t += self._frame_s
        return out

    @property
    def speaking(self) -> bool:
        """Inside an utterance (until end_ms of silence closed it): live
        delivery waits for every party to be out of one before it talks."""
        return self._start is not None

    @property
    def noise_db(self) -> Optional[float]:
        """The line's noise floor on this party's side: the median level of the
        unvoiced frames between utterances over the last ~10 s (None until half a
        second of them was heard). Speech level over it is the line's SNR, which
        says how far the transcript of a number can be trusted."""
        if len(self._quiet) < MIN_QUIET_FRAMES:
            return None
        return float(np.median(np.fromiter(self._quiet, float)))

    def flush(self) -> list[VadEvent]:
        """End of stream: close an open utterance."""
        if self._start is None:
            return []
        return [self._close(self._t)]

    # ---------------------------------------------------------------- internals
    def _is_voiced(self, frame: bytes, pcm: np.ndarray, level: float) -> bool:
        if level < self.options.min_level_db:
            return False
        return self._vad.is_speech(frame, self.rate) and flatness(pcm, self.rate) <= self.options.max_flatness

    def _frame(self, frame: bytes, t: float) -> list[VadEvent]:
        o = self.options
        pcm = np.frombuffer(frame, "<i2")
        level = level_db(pcm)
        voiced = self._is_voiced(frame, pcm, level)
        end_t = t + self._frame_s
        if self._start is None:
            if not voiced:
                self._quiet.append(level)
            self._recent.append((t, frame, voiced))
            window = list(self._recent)[-o.start_window:]
            if sum(v for _, _, v in window) < o.start_frames:
                return []
            first = next(ts for ts, _, v in window if v)
            self._start = first
            kept = [(ts, f) for ts, f, _ in self._recent if ts >= first - o.pre_roll_ms / 1000 - 1e-9]
            self._frames = [f for _, f in kept]
            self._frames_t0 = kept[0][0]
            self._voiced = sum(v for _, _, v in window)
            self._last_voiced_end = end_t
            self._next_interim = first + o.interim_after_s
            self._recent.clear()
            return [SpeechStart(self.speaker, first, end_t)]
        self._frames.append(frame)
        if voiced:
            self._voiced += 1
            self._last_voiced_end = end_t
        out: list[VadEvent] = []
        if end_t - self._last_voiced_end >= o.end_ms / 1000:
            out.append(self._close(end_t))
        elif end_t - self._start >= o.max_utterance_s:
            out.append(self._close(end_t))
        elif voiced and end_t >= self._next_interim:
            self._next_interim = end_t + o.interim_every_s
            out.append(InterimAudio(self.speaker, self._start, end_t, self._pcm()))
        return out

    def _pcm(self, upto: Optional[float] = None) -> np.ndarray:
        pcm = np.frombuffer(b"".join(self._frames), "<i2")
        if upto is not None:
            pcm = pcm[: max(0, int(round((upto - self._frames_t0) * self.rate)))]
        return pcm

    def _close(self, decided: float) -> SpeechEnd:
        assert self._start is not None          # only an open utterance is closed (flush and _frame check)
        o = self.options
        voiced_s = self._voiced * self._frame_s
        pcm = self._pcm(self._last_voiced_end + o.tail_ms / 1000)
        ev = SpeechEnd(self.speaker, self._start, self._last_voiced_end, decided, pcm,
                       voiced_s if voiced_s * 1000 >= o.min_speech_ms else 0.0)
        self._start, self._frames, self._voiced = None, [], 0
        return ev
