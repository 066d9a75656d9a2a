"""Replaying a recorded call through the same engine a live call uses.

A transcript (formats.md section 2) becomes the event stream a live call
would produce - someone starts talking at `start`, their final transcript
arrives at `end` - and a simulated clock advances between events so dead
air, deadlines and turn ends fire at the call time they would fire live.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from intervene.engine import CallEngine
from intervene.vocab import Intervention, Speaker, Utterance

if TYPE_CHECKING:
    from intervene.audio.wav import CallAudio
    from intervene.pipeline import CallPipeline


class TranscriptError(Exception):
    """Names the file, the line and what is wrong: 'call.jsonl:7: `end` ...'."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


def read_transcript(path: str | Path) -> list[Utterance]:
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TranscriptError(str(p), None, "no such file")
    except (OSError, UnicodeDecodeError) as e:
        raise TranscriptError(str(p), None, f"cannot read: {e}")
    return parse_transcript(raw, str(p))


def parse_transcript(raw: str, name: str = "<transcript>") -> list[Utterance]:
    out: list[Utterance] = []
    prev_start = -math.inf
    for no, line in enumerate(raw.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise TranscriptError(name, no, f"not valid JSON ({e.msg} at column {e.colno})")
        if not isinstance(obj, dict):
            raise TranscriptError(name, no, "expected a JSON object with start, end, speaker, text")
        for key in ("start", "end", "speaker", "text"):
            if key not in obj:
                raise TranscriptError(name, no, f"missing `{key}`")
        start, end = obj["start"], obj["end"]
        for key, val in (("start", start), ("end", end)):
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val) or val < 0:
                raise TranscriptError(name, no, f"`{key}` must be a non-negative number of seconds, got {val!r}")
        if end < start:
            raise TranscriptError(name, no, f"`end` ({end}) is before `start` ({start})")
        if start < prev_start:
            raise TranscriptError(name, no, f"utterances must be in time order: `start` {start} is before the previous line's {prev_start}")
        try:
            speaker = Speaker(obj["speaker"])
        except ValueError:
            raise TranscriptError(name, no, f"`speaker` must be lead, rep or ai, got {obj['speaker']!r}")
        if not isinstance(obj["text"], str):
            raise TranscriptError(name, no, "`text` must be a string")
        prev_start = start
        out.append(Utterance(len(out), speaker, float(start), float(end), obj["text"]))
    return out


@dataclass(frozen=True)
class _Event:
    t: float
    order: int            # at equal times: finals before starts, keeps causality
    utterance: Utterance
    kind: str             # "start" | "final"


def events(utterances: Iterable[Utterance]) -> list[_Event]:
    ev: list[_Event] = []
    for u in utterances:
        ev.append(_Event(u.start, 1, u, "start"))
        ev.append(_Event(u.end, 0, u, "final"))
    return sorted(ev, key=lambda e: (e.t, e.order, e.utterance.index))


def replay(engine: CallEngine, utterances: list[Utterance]) -> list[Intervention]:
    """Run a whole transcript; interventions come back in time order."""
    out: list[Intervention] = []
    for e in events(utterances):
        if e.kind == "start":
            out += engine.speech_started(e.utterance.speaker, e.t)
        else:
            out += engine.utterance(e.utterance, now=e.t)
    end = max((u.end for u in utterances), default=0.0)
    out += engine.end(end)
    return sorted(out, key=lambda i: i.at)


# ------------------------------------------------------------------- audio
# How far the audio feed may run ahead of the engine during replay: lets the
# two parties' transcriptions overlap on the ASR threads, changes no result.
LOOKAHEAD_S = 6.0
CHUNK_S = 0.1


def replay_audio(pipeline: "CallPipeline", audio: "CallAudio") -> list[Intervention]:
    """Feed a recorded call through the live pipeline on a simulated clock."""
    from intervene.vocab import AudioChunk, Speaker
    step = int(audio.rate * CHUNK_S)
    out: list[Intervention] = []
    n = len(audio.lead)
    for i in range(0, n, step):
        t = i / audio.rate
        pipeline.feed(AudioChunk(Speaker.LEAD, t, audio.lead[i:i + step].tobytes()))
        pipeline.feed(AudioChunk(Speaker.REP, t, audio.rep[i:i + step].tobytes()))
        out += pipeline.poll(t - LOOKAHEAD_S, block=True)
    out += pipeline.finish(n / audio.rate)
    return sorted(out, key=lambda i: i.at)


def write_transcript(path: str | Path, utterances: Iterable[Utterance]) -> None:
    """Format 2 of formats.md: one {"start","end","speaker","text"} per line."""
    lines = [json.dumps({"start": round(u.start, 2), "end": round(u.end, 2), "speaker": u.speaker.value,
                         "text": u.text}, ensure_ascii=False) for u in utterances]
    Path(path).write_text("".join(line + "\n" for line in lines))
