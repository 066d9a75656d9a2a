"""Call transcripts, formats.md section 2: one {"start","end","speaker","text"} per line.

Read strictly - a bad line is named with its number and what is wrong - because a
transcript a team writes by hand is the first thing they feed the product."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Iterable

from intervene.errors import InterveneError
from intervene.vocab import Speaker, Utterance

_LINE_END = re.compile(r"\r\n|\r|\n")     # the only line ends JSON cannot hold inside a string


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
    # not str.splitlines(): it also splits at U+2028 and U+0085, which a JSON
    # string may hold as they are (write_transcript writes them so)
    for no, line in enumerate(_LINE_END.split(raw), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise TranscriptError(name, no, f"not valid JSON ({e.msg} at column {e.colno})")
        except ValueError:      # Python's limit on integer digits
            raise TranscriptError(name, no, "not valid JSON (a number of more than 4300 digits)")
        except RecursionError:
            raise TranscriptError(name, no, "not valid JSON (nested too deeply)")
        if not isinstance(obj, dict):
            raise TranscriptError(name, no, "expected a JSON object with start, end, speaker, text")
        for key in ("start", "end", "speaker", "text"):
            if key not in obj:
                raise TranscriptError(name, no, f"missing `{key}`")
        start, end = _seconds(obj, "start", name, no), _seconds(obj, "end", name, no)
        if end < start:
            raise TranscriptError(name, no, f"`end` ({end}) is before `start` ({start})")
        if start < prev_start:
            raise TranscriptError(name, no, f"utterances must be in time order: `start` {start} is before the previous line's {prev_start}")
        try:
            speaker = Speaker(obj["speaker"])
        except ValueError:
            raise TranscriptError(name, no, f"`speaker` must be lead, rep or ai, got {obj['speaker']!r:.80}")
        if not isinstance(obj["text"], str):
            raise TranscriptError(name, no, "`text` must be a string")
        if not _encodable(obj["text"]):
            raise TranscriptError(name, no, "`text` holds a lone surrogate (\\ud800-\\udfff), not Unicode text")
        prev_start = start
        out.append(Utterance(len(out), speaker, float(start), float(end), obj["text"]))
    return out


def _seconds(obj: dict[str, Any], key: str, name: str, no: int) -> float:
    """A time in seconds as a float; an integer too big for one is refused like any bad time."""
    val = obj[key]
    try:
        ok = not isinstance(val, bool) and isinstance(val, (int, float)) and math.isfinite(val) and val >= 0
        seconds = float(val) if ok else math.nan
    except OverflowError:
        ok = False
    if not ok:
        shown = repr(val) if not isinstance(val, int) or val.bit_length() < 128 else "a number too large"
        raise TranscriptError(name, no, f"`{key}` must be a non-negative number of seconds, got {shown[:80]}")
    return seconds


def _encodable(text: str) -> bool:
    """False for text with a lone surrogate (JSON's "\\ud800"): it has no UTF-8 form,
    so storing, printing or writing it out would fail later and far away."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_transcript(path: str | Path, utterances: Iterable[Utterance]) -> None:
    """Format 2 of formats.md: one {"start","end","speaker","text"} per line."""
    lines = [json.dumps({"start": round(u.start, 2), "end": round(u.end, 2), "speaker": u.speaker.value,
                         "text": u.text}, ensure_ascii=False) for u in utterances]
    Path(path).write_text("".join(line + "\n" for line in lines))
