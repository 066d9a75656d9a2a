"""Call records, formats.md section 6: one JSON object per call, read and written.

Reading validates a record completely first and names the key that is wrong
(`interventions[2].feedback`), so a bad record never half-lands in a store; the
good records of the same file still come back (`calls import` skips and reports
the bad ones). Building a record from the store's rows and importing one into
it live in `intervene.report.record`."""
from __future__ import annotations

import json
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

from intervene.nlp.redact import redact, redact_lines
from intervene.vocab import FEEDBACK, OUTCOMES, REDACT_ALL, Category, Mode, Redact, Severity, Speaker

LEAD_KEYS = ("id", "source", "campaign", "fields")
MAX_INDEX = 2**31       # an utterance index past this is no transcript's (and no SQLite integer's)
REQUIRED = ("call_id", "started", "duration_s", "rep", "profile", "mode", "outcome",
            "transcript", "interventions")


def write_records(path: str | Path, records: Iterable[dict]) -> int:
    """JSON Lines, one record per line; returns how many were written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


def redact_record(rec: dict, kinds: frozenset[Redact] = REDACT_ALL) -> dict:
    """A copy of a (valid) record with card numbers, SSNs and the like taken
    out of what was said and of the cards' text: for records coming in
    (`calls import`) and going out (`calls export`, `calls show`), so a store
    or a file written before redaction was on does not pass them on."""
    if not kinds:
        return rec
    out = dict(rec)
    said = [str(u.get("text", "")) for u in rec.get("transcript") or []]
    texts = redact_lines([(str(u.get("speaker")), str(u.get("text", ""))) for u in rec.get("transcript") or []], kinds)
    out["transcript"] = [dict(u, text=t) for u, t in zip(rec.get("transcript") or [], texts)]
    # a card quotes what was said: the quoted words go as they went in the transcript
    changed = sorted(((a, b) for a, b in zip(said, texts) if a != b and a.strip()), key=lambda ab: -len(ab[0]))

    def clean(text: str) -> str:
        for before, after in changed:
            text = text.replace(before, after)
        return redact(text, kinds)

    out["interventions"] = [dict(iv, **{k: clean(iv[k]) for k in ("detected", "say", "feedback_text")
                                        if isinstance(iv.get(k), str)})
                            for iv in rec.get("interventions") or []]
    if isinstance(rec.get("summary"), str):   # it quotes the cards and the lead's fields
        out["summary"] = clean(rec["summary"])
    return out


def read_record(obj: Any) -> dict:
    """Validate one record and return it (a copy, numbers as floats where the
    spec has seconds). ValueError names the key, e.g. `interventions[2].feedback`.
    Extra keys are allowed (the spec lets a reader accept more)."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {_kind(obj)}")
    _check_unicode(obj)
    for key in REQUIRED:
        if key not in obj:
            raise ValueError(f"`{key}`: missing (a call record needs {', '.join(REQUIRED)})")
    rec = dict(obj)
    rec["call_id"] = _text(obj["call_id"], "call_id", empty=False)
    rec["started"] = _text(obj["started"], "started", empty=False)
    try:
        datetime.fromisoformat(rec["started"].replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"`started`: expected an ISO 8601 time like 2026-11-24T15:02:11Z, got {rec['started']!r}")
    rec["duration_s"] = _seconds(obj["duration_s"], "duration_s")
    for key in ("rep", "profile", "mode"):
        rec[key] = _text(obj[key], key)
    if obj.get("team") is not None:
        rec["team"] = _text(obj["team"], "team")
    if obj.get("lead") is not None:
        rec["lead"] = _read_lead(obj["lead"])
    rec["outcome"] = _choice(obj["outcome"], "outcome", OUTCOMES)
    if obj.get("outcome_detail") is not None:
        rec["outcome_detail"] = _text(obj["outcome_detail"], "outcome_detail")
    if obj.get("value") is not None:
        rec["value"] = _number(obj["value"], "value")
    rec["transcript"] = [_read_utterance(u, f"transcript[{i}]") for i, u in enumerate(_list(obj["transcript"], "transcript"))]
    n = len(rec["transcript"])
    rec["interventions"] = [_read_intervention(iv, f"interventions[{i}]", n)
                            for i, iv in enumerate(_list(obj["interventions"], "interventions"))]
    if obj.get("score") is not None:
        _read_score(obj["score"])
    if obj.get("summary") is not None:     # optional: older records and other tools' have none
        rec["summary"] = _text(obj["summary"], "summary")
    return rec


def _read_lead(lead: Any) -> dict:
    if not isinstance(lead, dict):
        raise ValueError(f"`lead`: expected an object with id, source, campaign, fields, got {_kind(lead)}")
    if "id" not in lead:
        raise ValueError("`lead.id`: missing")
    if isinstance(lead["id"], bool) or not isinstance(lead["id"], (str, int)):
        raise ValueError(f"`lead.id`: expected text, got {_kind(lead['id'])}")
    out = dict(lead, id=str(lead["id"]))
    for key in ("source", "campaign"):
        if lead.get(key) is not None:
            _text(lead[key], f"lead.{key}")
    if lead.get("fields") is not None and not isinstance(lead["fields"], dict):
        raise ValueError(f"`lead.fields`: expected an object, got {_kind(lead['fields'])}")
    return out


def _read_utterance(u: Any, where: str) -> dict:
    if not isinstance(u, dict):
        raise ValueError(f"`{where}`: expected an object, got {_kind(u)}")
    for key in ("start", "end", "speaker", "text"):
        if key not in u:
            raise ValueError(f"`{where}.{key}`: missing")
    start, end = _seconds(u["start"], f"{where}.start"), _seconds(u["end"], f"{where}.end")
    if end < start:
        raise ValueError(f"`{where}.end` ({end}) is before `start` ({start})")
    return dict(u, start=start, end=end, speaker=_choice(u["speaker"], f"{where}.speaker", [s.value for s in Speaker]),
                text=_text(u["text"], f"{where}.text"))


def _read_intervention(iv: Any, where: str, n_utterances: int) -> dict:
    if not isinstance(iv, dict):
        raise ValueError(f"`{where}`: expected an object, got {_kind(iv)}")
    for key in ("at", "utterance", "category", "severity", "mode", "trigger", "detected", "say"):
        if key not in iv:
            raise ValueError(f"`{where}.{key}`: missing")
    out = dict(iv, at=_seconds(iv["at"], f"{where}.at"))
    u = iv["utterance"]
    if isinstance(u, bool) or not isinstance(u, int) or not 0 <= u < MAX_INDEX:
        raise ValueError(f"`{where}.utterance`: expected a 0-based utterance index, got {u!r}")
    if n_utterances and u >= n_utterances:
        raise ValueError(f"`{where}.utterance`: {u} is past the transcript's {n_utterances} utterances")
    out["category"] = _choice(iv["category"], f"{where}.category", [c.value for c in Category])
    out["severity"] = _choice(iv["severity"], f"{where}.severity", [s.value for s in Severity])
    out["mode"] = _choice(iv["mode"], f"{where}.mode", [m.value for m in Mode])
    for key in ("trigger", "detected", "say"):
        out[key] = _text(iv[key], f"{where}.{key}")
    evidence = _list(iv.get("evidence", []), f"{where}.evidence")
    for j, e in enumerate(evidence):
        if not isinstance(e, dict) or not isinstance(e.get("kb_id"), str) or not isinstance(e.get("text"), str):
            raise ValueError(f"`{where}.evidence[{j}]`: expected {{\"kb_id\": text, \"text\": text}}, got {e!r}")
    out["evidence"] = [{"kb_id": e["kb_id"], "text": e["text"]} for e in evidence]
    fb = iv.get("feedback")
    if fb is not None and fb not in FEEDBACK:
        raise ValueError(f"`{where}.feedback`: expected one of {', '.join(FEEDBACK)} or null, got {fb!r}")
    out["feedback"] = fb
    for key in ("feedback_text", "delivery"):
        if iv.get(key) is not None:
            _text(iv[key], f"{where}.{key}")
    return out


def _read_score(score: Any) -> None:
    """Checked for shape only: a stored call's score is recomputed on export."""
    if not isinstance(score, dict):
        raise ValueError(f"`score`: expected an object, got {_kind(score)}")
    if "total" in score:
        _number(score["total"], "score.total")
    if "parts" in score and not isinstance(score["parts"], dict):
        raise ValueError(f"`score.parts`: expected an object, got {_kind(score['parts'])}")
    for name, value in (score.get("parts") or {}).items():
        _number(value, f"score.parts.{name}")


def _text(x: Any, key: str, empty: bool = True) -> str:
    if not isinstance(x, str):
        raise ValueError(f"`{key}`: expected text, got {_kind(x)}")
    if not empty and not x.strip():
        raise ValueError(f"`{key}`: must not be empty")
    return x


def _number(x: Any, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"`{key}`: expected a number, got {_kind(x)}")
    try:
        v = float(x)
    except OverflowError:
        raise ValueError(f"`{key}`: expected a number, got one too large ({len(str(abs(x)))} digits)") from None
    if not math.isfinite(v):    # JSON has no NaN or Infinity; Python's reader lets them through
        raise ValueError(f"`{key}`: expected a finite number, got {x}")
    return v


def _check_unicode(obj: dict[str, Any]) -> None:
    """Every text in the record, keys included, must be Unicode that has a
    UTF-8 form: JSON's "\\ud800" (a lone surrogate) would pass every other
    check and then fail in the store or on output, far from the record."""
    todo: list[tuple[str, Any]] = [("", obj)]
    while todo:
        where, x = todo.pop()
        items: Iterable[tuple[Any, Any]] = (x.items() if isinstance(x, dict) else enumerate(x)
                                            if isinstance(x, list) else [])
        for k, v in items:
            if isinstance(k, str) and not _encodable(k):
                raise ValueError(f"`{where or 'record'}`: a key holds a lone surrogate (\\ud800-\\udfff), "
                                 "not Unicode text")
            path = f"{where}[{k}]" if isinstance(k, int) else f"{where}.{k}" if where else k
            if isinstance(v, str) and not _encodable(v):
                raise ValueError(f"`{path}`: holds a lone surrogate (\\ud800-\\udfff), not Unicode text")
            if isinstance(v, (dict, list)):
                todo.append((path, v))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _seconds(x: Any, key: str) -> float:
    v = _number(x, key)
    if v < 0:
        raise ValueError(f"`{key}`: expected seconds (0 or more), got {x}")
    return v


def _choice(x: Any, key: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    if x not in allowed:
        raise ValueError(f"`{key}`: expected one of {', '.join(allowed)}, got {x!r}")
    return x


def _list(x: Any, key: str) -> list:
    if not isinstance(x, list):
        raise ValueError(f"`{key}`: expected a list, got {_kind(x)}")
    return x


def _kind(x: Any) -> str:
    if x is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list",
            dict: "an object"}.get(type(x), type(x).__name__) + (f" ({x!r})" if isinstance(x, (str, int, float)) else "")


def parse_records(text: str, source: str) -> tuple[list[dict], list[str]]:
    """Records from a file's text: one JSON object, a JSON list of them, or
    JSON Lines (blank lines and lines starting with `#` skipped). Returns the
    valid records and one message per bad one, naming source, line (or list
    position) and key: a bad record - not JSON, or failing read_record - costs
    only itself, the others come back (`calls import` imports them)."""
    if not any(line.strip() and not line.lstrip().startswith("#") for line in _lines(text)):
        return [], [f"{source}: no call records in it"]
    whole, whole_error = _loads(text)
    errors: list[str] = []
    if isinstance(whole, dict):           # one record: named by the line it starts on
        first = next(n for n, line in enumerate(_lines(text), 1)
                     if line.strip() and not line.lstrip().startswith("#"))
        items = [(f"{source}:{first}", whole)]
    elif isinstance(whole, list):
        items = [(f"{source}: [{i}]", obj) for i, obj in enumerate(whole)]
    elif whole_error is not None and not _looks_like_lines(text):
        return [], [f"{source}:{whole_error[0]}: not JSON ({whole_error[1]})"]
    elif whole_error is None:
        return [], [f"{source}: expected call records (JSON objects), got {_kind(whole)}"]
    else:
        items = []
        for n, line in enumerate(_lines(text), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            obj, error = _loads(line)
            if error is None:
                items.append((f"{source}:{n}", obj))
            else:
                errors.append(f"{source}:{n}: not JSON ({error[1]})")
    records = []
    for where, obj in items:
        try:
            records.append(read_record(obj))
        except ValueError as e:
            errors.append(f"{where}: {e}")
    if not items and not errors:
        errors.append(f"{source}: no call records in it")
    return records, errors


def _loads(text: str) -> tuple[Any, Optional[tuple[int, str]]]:
    """(value, None), or (None, (line, what is wrong)) for text that is not JSON
    - or is JSON Python will not read: nested too deeply, a 5000-digit number."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, (e.lineno, e.msg)
    except ValueError:          # Python's limit on integer digits
        return None, (1, "a number of more than 4300 digits")
    except RecursionError:
        return None, (1, "nested too deeply")


def _lines(text: str) -> list[str]:
    """Lines at CR, LF or CRLF, the line ends JSON cannot hold inside a string:
    str.splitlines() also splits at U+2028 and U+0085, which a JSON string may
    hold as they are (write_records writes them so)."""
    return re.split(r"\r\n|\r|\n", text)


def _looks_like_lines(text: str) -> bool:
    """JSON Lines if the first record-bearing line is a complete JSON value by
    itself, or (that line being broken) another unindented line is a whole JSON
    object - a pretty-printed document indents everything inside its brackets."""
    lines = [line for line in _lines(text) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return False
    if _loads(lines[0])[1] is None:
        return True
    if not lines[0].startswith("{"):
        return False
    return any(line.startswith("{") and isinstance(_loads(line)[0], dict) for line in lines[1:])


def read_path(path: str | Path) -> tuple[list[tuple[str, list[dict]]], list[str]]:
    """The records of FILE, or of every *.json / *.jsonl directly in DIR (name
    order): [(file, records)] and the messages of every bad record or file."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in (".json", ".jsonl"))
        if not files:
            return [], [f"{p}: no *.json or *.jsonl files in this directory"]
    elif p.exists():
        files = [p]
    else:
        return [], [f"{p}: cannot read (no such file or directory)"]
    out: list[tuple[str, list[dict]]] = []
    errors: list[str] = []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            errors.append(f"{f}: cannot read ({getattr(e, 'strerror', None) or e})")
            continue
        records, bad = parse_records(text, str(f))
        out.append((str(f), records))
        errors += bad
    return out, errors
