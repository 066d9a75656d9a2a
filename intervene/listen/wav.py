"""Reading call audio (format 3): a two-channel WAV, lead left and rep right,
or one mono file per party. 16-bit PCM at 8 or 16 kHz - what Asterisk's
slin/slin16 carry - so nothing is guessed: anything else is refused with the
file and the problem named, rather than transcribed into nonsense."""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from intervene.errors import InterveneError

RATES = (8000, 16000)


class AudioError(InterveneError, ValueError):
    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = str(path), problem


@dataclass(frozen=True)
class CallAudio:
    lead: np.ndarray        # int16 mono
    rep: np.ndarray         # int16 mono, same rate and length as lead
    rate: int
    source: str

    @property
    def duration_s(self) -> float:
        return len(self.lead) / self.rate


@dataclass(frozen=True)
class _Wav:
    rate: int
    channels: int
    samples: np.ndarray     # int16, shape (frames, channels)


def _parse(path: Path) -> _Wav:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AudioError(path, f"cannot read: {e.strerror or e}") from None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError(path, "not a WAV file (no RIFF/WAVE header)")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise AudioError(path, "truncated fmt chunk")
            fmt = struct.unpack("<HHIIHH", body[:16])
            if fmt[0] == 0xFFFE and len(body) >= 26:             # WAVE_FORMAT_EXTENSIBLE: real tag in the GUID
                fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
        elif cid == b"data":
            if len(body) < size:
                raise AudioError(path, f"truncated: the data chunk promises {size} bytes, the file holds {len(body)}")
            pcm = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioError(path, "no fmt chunk")
    if pcm is None:
        raise AudioError(path, "no data chunk (truncated?)")
    tag, channels, rate, _, align, bits = fmt
    if tag != 1:
        raise AudioError(path, f"unsupported encoding (format tag {tag}); need 16-bit linear PCM")
    if bits != 16:
        raise AudioError(path, f"unsupported sample width {bits} bits; need 16-bit PCM")
    if rate not in RATES:
        raise AudioError(path, f"unsupported sample rate {rate} Hz; need 8000 or 16000")
    if channels < 1 or align != 2 * channels:
        raise AudioError(path, f"inconsistent header ({channels} channels, block align {align})")
    usable = len(pcm) - len(pcm) % align
    samples = np.frombuffer(pcm[:usable], dtype="<i2").reshape(-1, channels)
    return _Wav(rate, channels, samples)


def read_call(path: str | Path) -> CallAudio:
    """Two-channel call: channel 0 the lead, channel 1 the rep."""
    p = Path(path)
    w = _parse(p)
    if w.channels != 2:
        raise AudioError(p, f"{w.channels} channel(s); a call needs 2 (lead left, rep right) "
                            "- or pass one file per party with --lead and --rep")
    return CallAudio(w.samples[:, 0].copy(), w.samples[:, 1].copy(), w.rate, str(p))


def read_parties(lead: str | Path, rep: str | Path) -> CallAudio:
    """One mono file per party; the shorter is padded with silence."""
    parts = []
    for path in (Path(lead), Path(rep)):
        w = _parse(path)
        if w.channels != 1:
            raise AudioError(path, f"{w.channels} channels; --lead/--rep take one mono file per party")
        parts.append((path, w))
    (lp, lw), (rp, rw) = parts
    if lw.rate != rw.rate:
        raise AudioError(rp, f"sample rate {rw.rate} Hz differs from {lp}'s {lw.rate} Hz")
    n = max(len(lw.samples), len(rw.samples))
    pad = lambda s: np.concatenate([s[:, 0], np.zeros(n - len(s), np.int16)])  # noqa: E731
    return CallAudio(pad(lw.samples), pad(rw.samples), lw.rate, f"{lp}+{rp}")


def write_wav(path: str | Path, channels: list[np.ndarray], rate: int) -> None:
    """For tests and tools: int16 channels of equal length into one WAV."""
    import wave
    data = np.stack(channels, axis=1).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
