"""Call transcripts, formats.md section 2: one {"start","end","speaker","text"} per line.

Read strictly - a bad line is named with its number and what is wrong - because a
transcript a team writes by hand is the first thing they feed the product."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

from intervene.errors import InterveneError
from intervene.vocab import Speaker, Utterance


class TranscriptError(InterveneError):
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


def write_transcript(path: str | Path, utterances: Iterable[Utterance]) -> None:
    """Format 2 of formats.md: one {"start","end","speaker","text"} per line."""
    lines = [json.dumps({"start": round(u.start, 2), "end": round(u.end, 2), "speaker": u.speaker.value,
                         "text": u.text}, ensure_ascii=False) for u in utterances]
    Path(path).write_text("".join(line + "\n" for line in lines))
