"""The call record (formats.md section 6): what a finished call leaves behind.

One JSON object per call, built from the store's rows, so calls can move
between installations (`calls export` / `calls import`) and into analysis
tools. Reading a record validates it completely first and names the key that
is wrong, so a bad record never half-lands in the store; the good records of
the same file still do (`calls import` skips and reports the bad ones).
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

from intervene.report.score import score_call
from intervene.vocab import Category, Evidence, Intervention, Mode, Severity, Speaker, Utterance

OUTCOMES = ("won", "follow-up", "lost", "no-decision", "unknown")
FEEDBACK = ("used", "edited", "dismissed")
LEAD_KEYS = ("id", "source", "campaign", "fields")
REQUIRED = ("call_id", "started", "duration_s", "rep", "profile", "mode", "outcome",
            "transcript", "interventions")
IMPORT_BY = "import"        # who the store says gave the feedback of an imported call


# ------------------------------------------------------------------- building

def call_record(store, call_id: str, lead: Optional[dict] = None,
                weights: Optional[dict[str, float]] = None) -> dict:
    """The section-6 record of one stored call (KeyError if there is none).

    `lead` (id, source, campaign, fields) wins over what the call row holds;
    a call that only knows the caller's number gets `{"id": number}`. An
    outcome outside the five of the spec (e.g. `rep-unavailable`) becomes
    `unknown` and is kept under `outcome_detail`, so nothing is lost and
    analysis tools still see one of the five. `weights` are the score's part
    weights (the config's [score]; default score.WEIGHTS)."""
    row = store.call(call_id)
    if row is None:
        raise KeyError(call_id)
    utts = sorted(store.utterances(call_id), key=lambda u: (u["start"], u["idx"]))
    position = {u["idx"]: i for i, u in enumerate(utts)}   # format 4 indexes the transcript as written
    transcript = [{"start": u["start"], "end": u["end"], "speaker": u["speaker"], "text": u["text"]}
                  for u in utts]
    interventions = [_intervention(iv, position) for iv in store.interventions(call_id)]
    rec: dict[str, Any] = {
        "call_id": row["id"], "started": row["started"] or "",
        "duration_s": _duration(row.get("duration_s"), transcript),
        "rep": row.get("rep") or "",
    }
    if row.get("team"):
        rec["team"] = row["team"]
    rec["profile"] = row.get("profile") or ""
    rec["mode"] = row.get("mode") or ""
    lead_obj = _lead(lead) if lead else _stored_lead(row.get("lead"))
    if lead_obj:
        rec["lead"] = lead_obj
    stored = row.get("outcome") or "unknown"
    rec["outcome"] = stored if stored in OUTCOMES else "unknown"
    if stored not in OUTCOMES:
        rec["outcome_detail"] = stored
    if row.get("value") is not None:
        rec["value"] = float(row["value"])
    rec["transcript"] = transcript
    rec["interventions"] = interventions
    rec["score"] = score_call(transcript, interventions, rec["outcome"], rec["duration_s"],
                              weights=weights, profile=rec["profile"])
    return rec


def _intervention(row: dict, position: dict[int, int]) -> dict:
    iv = {k: row[k] for k in ("at", "utterance", "category", "severity", "mode", "trigger", "detected", "say")}
    iv["utterance"] = position.get(row["utterance"], row["utterance"])
    iv["evidence"] = json.loads(row["evidence"]) if row.get("evidence") else []
    iv["feedback"] = row.get("feedback")
    if row.get("feedback") == "edited" and row.get("feedback_text"):
        iv["feedback_text"] = row["feedback_text"]
    if row.get("delivery"):
        iv["delivery"] = row["delivery"]
    return iv


def _duration(stored: Optional[float], transcript: list[dict]) -> float:
    """A call still running (or cut off) has no duration yet: its last word is the best we know."""
    if stored is not None:
        return float(stored)
    return float(max((u["end"] for u in transcript), default=0.0))


def _lead(lead: dict) -> dict:
    out = {k: lead[k] for k in LEAD_KEYS if lead.get(k) is not None}
    if "id" in out:
        out["id"] = str(out["id"])
    return out


def _stored_lead(value: Optional[str]) -> Optional[dict]:
    """The call row's `lead`: a caller number from the dialplan, or the JSON
    object an imported record (or the lead flow) put there."""
    if not value:
        return None
    if value.lstrip().startswith("{"):
        try:
            obj = json.loads(value)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return _lead(obj)
    return {"id": value}


def write_records(path: str | Path, records: Iterable[dict]) -> int:
    """JSON Lines, one record per line; returns how many were written."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    return n


# -------------------------------------------------------------------- reading

def read_record(obj: Any) -> dict:
    """Validate one record and return it (a copy, numbers as floats where the
    spec has seconds). ValueError names the key, e.g. `interventions[2].feedback`.
    Extra keys are allowed (the spec lets a reader accept more)."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {_kind(obj)}")
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
    if isinstance(u, bool) or not isinstance(u, int) or u < 0:
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
    return float(x)


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


# ------------------------------------------------------------------ importing

def import_records(store, records: Iterable[dict]) -> dict[str, list[str]]:
    """Insert validated records (see read_record); a call_id the store already
    has is skipped, never overwritten. Returns {"imported": [...], "skipped": [...]}.

    The record's `outcome_detail` (when present) is what goes back into the
    store, so a record survives export -> import -> export unchanged. The
    record's score is not stored: it is recomputed from the calls' rows."""
    done: dict[str, list[str]] = {"imported": [], "skipped": []}
    for rec in records:
        call_id = rec["call_id"]
        if store.call(call_id) is not None:
            done["skipped"].append(call_id)
            continue
        _insert(store, rec)
        done["imported"].append(call_id)
    return done


def _insert(store, rec: dict) -> None:
    call_id = rec["call_id"]
    lead = rec.get("lead")
    store.start_call(call_id, started=rec["started"], source="import", rep=rec["rep"] or None,
                     team=rec.get("team"), profile=rec["profile"], mode=rec["mode"],
                     duration_s=rec["duration_s"], outcome=rec.get("outcome_detail") or rec["outcome"],
                     value=rec.get("value"), lead=_lead_column(lead))
    for i, u in enumerate(rec["transcript"]):
        store.add_utterance(call_id, Utterance(index=i, speaker=Speaker(u["speaker"]), start=u["start"],
                                               end=u["end"], text=u["text"]))
    for seq, iv in enumerate(rec["interventions"]):
        store.add_intervention(call_id, seq, Intervention(
            at=iv["at"], utterance=iv["utterance"], category=Category(iv["category"]),
            severity=Severity(iv["severity"]), mode=Mode(iv["mode"]), trigger=iv["trigger"],
            detected=iv["detected"], say=iv["say"],
            evidence=tuple(Evidence(e["kb_id"], e["text"]) for e in iv["evidence"])))
        if iv.get("feedback"):
            store.set_feedback(call_id, seq, iv["feedback"], iv.get("feedback_text"), IMPORT_BY)
        if iv.get("delivery"):
            store.set_delivery(call_id, seq, iv["delivery"], None)


def _lead_column(lead: Optional[dict]) -> Optional[str]:
    """Just the number when that is all there is (as the dialplan stores it), else the JSON object."""
    if not lead:
        return None
    lead = _lead(lead)
    if set(lead) == {"id"}:
        return lead["id"]
    return json.dumps(lead, ensure_ascii=False, sort_keys=True)


# ------------------------------------------------------------------- parsing

def parse_records(text: str, source: str) -> tuple[list[dict], list[str]]:
    """Records from a file's text: one JSON object, a JSON list of them, or
    JSON Lines (blank lines and lines starting with `#` skipped). Returns the
    valid records and one message per bad one, naming source, line (or list
    position) and key: a bad record - not JSON, or failing read_record - costs
    only itself, the others come back (`calls import` imports them)."""
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        return [], [f"{source}: no call records in it"]
    try:
        whole = json.loads(text)
    except ValueError as e:
        whole, whole_error = None, e
    else:
        whole_error = None
    errors: list[str] = []
    if isinstance(whole, dict):           # one record: named by the line it starts on
        first = next(n for n, line in enumerate(text.splitlines(), 1)
                     if line.strip() and not line.lstrip().startswith("#"))
        items = [(f"{source}:{first}", whole)]
    elif isinstance(whole, list):
        items = [(f"{source}: [{i}]", obj) for i, obj in enumerate(whole)]
    elif whole_error is not None and not _looks_like_lines(text):
        return [], [f"{source}:{whole_error.lineno}: not JSON ({whole_error.msg})"]
    elif whole_error is None:
        return [], [f"{source}: expected call records (JSON objects), got {_kind(whole)}"]
    else:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                items.append((f"{source}:{n}", json.loads(line)))
            except ValueError as e:
                errors.append(f"{source}:{n}: not JSON ({e.msg})")
    records = []
    for where, obj in items:
        try:
            records.append(read_record(obj))
        except ValueError as e:
            errors.append(f"{where}: {e}")
    if not items and not errors:
        errors.append(f"{source}: no call records in it")
    return records, errors


def _looks_like_lines(text: str) -> bool:
    """JSON Lines if the first record-bearing line is a complete JSON value by
    itself, or (that line being broken) another unindented line is a whole JSON
    object - a pretty-printed document indents everything inside its brackets."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        return False
    try:
        json.loads(lines[0])
        return True
    except ValueError:
        pass
    if not lines[0].startswith("{"):
        return False
    for line in lines[1:]:
        if line.startswith("{"):
            try:
                if isinstance(json.loads(line), dict):
                    return True
            except ValueError:
                continue
    return False


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
