"""The call record (formats.md section 6): what a finished call leaves behind.

One JSON object per call, built from the store's rows, so calls can move
between installations (`calls export` / `calls import`) and into analysis
tools. Reading and writing the format itself is `intervene.formats.record`;
this module builds records from a store and imports them into one.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Optional

from intervene.formats.record import LEAD_KEYS
from intervene.report.score import score_call
from intervene.report.summary import call_summary
from intervene.vocab import OUTCOMES, Category, Evidence, Intervention, Mode, Severity, Speaker, Utterance

IMPORT_BY = "import"        # who the store says gave the feedback of an imported call
PRACTICE_SOURCE = "practice"   # calls.source of a practice call (screen/practice.py)


def reported(row: dict) -> bool:
    """Whether a stored call counts in reports, score lists, analyses and
    exports. A practice call is a rep rehearsing a recorded transcript: no
    lead, no real outcome, the same call again and again, so counting it
    would skew every rate and score toward the training material."""
    return row.get("source") != PRACTICE_SOURCE


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
    gaps = _gaps(row)
    if gaps:                       # a worker died and another took the call over: nobody listened meanwhile
        rec["monitoring_gaps"] = gaps
        rec["monitoring_paused_s"] = round(sum(b - a for a, b in gaps), 2)
    rec["transcript"] = transcript
    rec["interventions"] = interventions
    rec["score"] = score_call(transcript, interventions, rec["outcome"], rec["duration_s"],
                              weights=weights, profile=rec["profile"])
    rec["summary"] = call_summary(rec)      # from the record just built: nothing in it the record lacks
    return rec


def _gaps(row: dict) -> list[list[float]]:
    """The call's gaps in monitoring, in call time (stored in wall-clock seconds)."""
    try:
        pairs = json.loads(row.get("gaps") or "[]")
    except ValueError:
        return []
    t0 = row.get("conversation_started")
    base = float(t0) if t0 else 0.0
    return [[round(max(0.0, float(a) - base), 2), round(max(0.0, float(b) - base), 2)] for a, b in pairs]


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


# -------------------------------------------------------------------- reading











# ------------------------------------------------------------------ importing

def import_records(store, records: Iterable[dict],
                   progress: Optional[Callable[[int, int], None]] = None) -> dict[str, list[str]]:
    """Insert validated records (see read_record); a call_id the store already
    has is skipped, never overwritten. Returns {"imported": [...], "skipped": [...]}.
    `progress(done, total)` hears after each record (the command line's bar).

    The record's `outcome_detail` (when present) is what goes back into the
    store, so a record survives export -> import -> export unchanged. The
    record's score and summary are not stored: they are recomputed from the
    calls' rows, so an imported summary never says more than the rows do."""
    done: dict[str, list[str]] = {"imported": [], "skipped": []}
    records = list(records)
    for n, rec in enumerate(records, 1):
        call_id = rec["call_id"]
        if store.call(call_id) is not None:
            done["skipped"].append(call_id)
        else:
            _insert(store, rec)
            done["imported"].append(call_id)
        if progress is not None:
            progress(n, len(records))
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


