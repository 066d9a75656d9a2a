"""How well the rep handled a call, from what intervene saw: a 0-100 score.

The score is built only from the transcript and the interventions (and the
rep's feedback on them), never from the call's outcome: the outcome is what
the score is later correlated with, so letting it in would make that
correlation meaningless. Everything here is a pure function of its inputs.

Each part starts at 100 and loses points for what went wrong; a part with
nothing to judge stays at 100 and says so. Costs are per event, not tuned to
any one call, and kept in module constants so they can be read and argued
about in one place.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional

from intervene.vocab import ACTED
from intervene.vocab import SCORE_WEIGHTS as WEIGHTS

PROCESS_PROFILES = ("training",)   # profiles whose calls get a separate `process` part
MISSED_STEP = "missed-step"        # the process detector's trigger for a step (vs a required phrase)

# An event's cost is scaled by its severity: a high-severity one costs the full amount.
SEVERITY_WEIGHT: dict[str, float] = {"low": 0.5, "medium": 0.75, "high": 1.0}

# Points one high-severity event costs, before the rep's feedback earns some back.
ACCURACY_COST = 25.0
COMPLIANCE_COST = 30.0
PROCESS_COST = 15.0        # a missed step is coaching, not a breach: half a compliance breach
MOMENTUM_COST = 15.0
HANDLING_COST = 20.0
OPPORTUNITY_COST = 15.0

# Share of an event's cost forgiven when the rep acted on the card ("used") or
# acted on it in their own words ("edited"). Dismissed or ignored: nothing back.
# A used correction still costs something: the lead heard the wrong fact first.
CREDIT: dict[str, Mapping[str, float]] = {
    "accuracy": {"used": 0.6, "edited": 0.5},
    "compliance": {"used": 0.5, "edited": 0.4},
    "momentum": {"used": 0.5, "edited": 0.5},
    "handling": {"used": 0.7, "edited": 0.6},
    "opportunity": {"used": 0.8, "edited": 0.7},
}

# Listening: the rep's share of the talk time. At or below TALK_OK nothing is
# lost; the score falls linearly to 0 at TALK_ZERO (80 % talk -> 25).
TALK_OK = 0.5
TALK_ZERO = 0.9
INTERRUPT_COST = 5.0       # per time the rep cut into the lead ...
INTERRUPT_MAX = 30.0       # ... up to this much
OVERLAP_S = 0.5            # timing fallback: the rep started this long before the lead finished
BACKCHANNEL_WORDS = 3      # ... with at least this many words ("yeah, right" is not cutting in)

# Momentum: a silence this long that no dead-air intervention covered. Well
# above every profile's dead-air threshold, so a "let me pull that up" pause
# the detector rightly let pass is not punished here.
LONG_SILENCE_S = 12.0
SILENCE_COST = 10.0
MOMENTUM_NORM_S = 300.0    # momentum costs are per 5 minutes of call: a long call may stall once


def score_call(utterances: list[dict], interventions: list[dict], outcome: str,
               duration_s: float, weights: Optional[Mapping[str, float]] = None,
               profile: Optional[str] = None) -> dict:
    """Score one call: `{"total": 0-100, "parts": {name: 0-100}, "explain": {name: why}}`.

    `utterances` are format-2 dicts (`speaker`, `start`, `end`, `text`, optionally
    `cues` with `interrupted`); `interventions` are format-4 dicts with an
    optional `feedback` (used / edited / dismissed / None) and `delivery`.
    `outcome` is accepted so callers can pass a record through, and is
    deliberately ignored: the score must not know how the call ended.

    With sev = SEVERITY_WEIGHT[severity] and credit = CREDIT[part][feedback]
    (0 when dismissed or ignored), an intervention costs COST * sev * (1 - credit):

    - accuracy = 100 - sum over accuracy interventions (ACCURACY_COST each):
      every factual error the rep made; one the rep put right with the card costs less.
    - compliance = 100 - sum over compliance (COMPLIANCE_COST) and process
      (PROCESS_COST) interventions - in a training call only the process ones
      that are missed required phrases (trigger `missed-phrase`): those are the
      legal side; missed steps go to `process` there.
    - process (only when `profile` is training, PROCESS_PROFILES: the only
      profile that tracks the sales process) = 100 - sum over process
      interventions with trigger `missed-step` (PROCESS_COST): the KB's process
      steps the rep did not cover in time. Absent from other calls' parts.
    - listening = talk - interruptions. talk = 100 while the rep's share of the
      speech time (rep / (rep + lead)) is <= TALK_OK, falling linearly to 0 at
      TALK_ZERO. Interruptions cost INTERRUPT_COST each (at most INTERRUPT_MAX):
      rep utterances whose cues say `interrupted`, or, without cue data, rep
      utterances of BACKCHANNEL_WORDS+ words starting at least OVERLAP_S before
      the lead's utterance in progress ended. Nothing to judge unless both spoke.
    - momentum = 100 - (momentum interventions at MOMENTUM_COST + silences of
      LONG_SILENCE_S+ between utterances that no momentum intervention fell in,
      SILENCE_COST each) / max(1, duration_s / MOMENTUM_NORM_S).
    - handling = 100 - sum over emotion interventions (HANDLING_COST): moments the
      lead got frustrated, confused or disengaged, forgiven as the rep used the suggestion.
    - opportunity = 100 - sum over opportunity and competitive interventions
      (OPPORTUNITY_COST): signals the rep let pass until prompted.

    Each part is clipped to 0-100 and rounded; total = the weighted mean of the
    parts present (six, seven in a training call; one with nothing to judge
    counts as 100), with `weights` (default WEIGHTS; a part missing from
    `weights` takes its WEIGHTS value).
    """
    del outcome     # not part of the score, see above
    w = {**WEIGHTS, **dict(weights or {})}
    by_cat: dict[str, list[dict]] = {}
    for iv in interventions:
        by_cat.setdefault(str(iv.get("category")), []).append(iv)
    process = by_cat.get("process", [])
    separate = profile in PROCESS_PROFILES
    steps = [iv for iv in process if iv.get("trigger") == MISSED_STEP] if separate else []
    phrases = [iv for iv in process if not any(iv is s for s in steps)]
    results = {
        "accuracy": _accuracy(by_cat.get("accuracy", [])),
        "compliance": _compliance(by_cat.get("compliance", []), phrases),
        "listening": _listening(utterances),
        "momentum": _momentum(utterances, by_cat.get("momentum", []), duration_s),
        "handling": _handling(by_cat.get("emotion", [])),
        "opportunity": _opportunity(by_cat.get("opportunity", []) + by_cat.get("competitive", [])),
    }
    if separate:
        results["process"] = _process(steps)
    parts = {name: _clip(value) for name, (value, _) in results.items()}
    explain = {name: why for name, (_, why) in results.items()}
    weight = sum(w[n] for n in parts)
    total = (sum(w[n] * parts[n] for n in parts) / weight if weight > 0
             else sum(parts.values()) / len(parts))
    return {"total": _clip(total), "parts": parts, "explain": explain}


# ------------------------------------------------------------------ the parts

def _accuracy(ivs: list[dict]) -> tuple[float, str]:
    if not ivs:
        return 100.0, "No factual errors were flagged, so there is nothing to deduct."
    cost = _cost(ivs, ACCURACY_COST, CREDIT["accuracy"])
    fixed = _acted(ivs)
    return 100 - cost, (f"{_n(len(ivs), 'factual error')} flagged, {fixed} put right by the rep "
                        f"with the card, costing {cost:.0f} points.")


def _compliance(breaches: list[dict], missed: list[dict]) -> tuple[float, str]:
    if not breaches and not missed:
        return 100.0, "No compliance breaches or missed required steps were flagged, so there is nothing to deduct."
    cost = (_cost(breaches, COMPLIANCE_COST, CREDIT["compliance"])
            + _cost(missed, PROCESS_COST, CREDIT["compliance"]))
    return 100 - cost, (f"{_n(len(breaches), 'compliance breach', 'compliance breaches')} and "
                        f"{_n(len(missed), 'missed required step')} flagged, "
                        f"{_acted(breaches + missed)} acted on, costing {cost:.0f} points.")


def _process(missed: list[dict]) -> tuple[float, str]:
    if not missed:
        return 100.0, ("No process step was flagged as missed: the rep covered every step the call "
                       "reached, so there is nothing to deduct.")
    cost = _cost(missed, PROCESS_COST, CREDIT["compliance"])
    return 100 - cost, (f"{_n(len(missed), 'process step')} not covered in time, "
                        f"{_acted(missed)} picked up after the card, costing {cost:.0f} points.")


def _listening(utterances: list[dict]) -> tuple[float, str]:
    rep = _talk(utterances, "rep")
    lead = _talk(utterances, "lead")
    if rep <= 0 or lead <= 0:
        return 100.0, "Nothing to judge: the rep and the lead did not both speak."
    share = rep / (rep + lead)
    talk = 100 * min(1.0, max(0.0, (TALK_ZERO - share) / (TALK_ZERO - TALK_OK)))
    cuts, how = interruptions(utterances)
    penalty = min(INTERRUPT_MAX, INTERRUPT_COST * cuts)
    why = f"The rep talked {share:.0%} of the time"
    if cuts:
        why += f" and cut into the lead {_n(cuts, 'time')} ({how})"
    return talk - penalty, why + "."


def _momentum(utterances: list[dict], ivs: list[dict], duration_s: float) -> tuple[float, str]:
    gaps = [g for g in silences(utterances, LONG_SILENCE_S)
            if not any(g[0] <= _num(iv.get("at")) <= g[1] + 1.0 for iv in ivs)]
    if not ivs and not gaps:
        return 100.0, "No dead air or stalls were flagged and no long silences found, so there is nothing to deduct."
    raw = _cost(ivs, MOMENTUM_COST, CREDIT["momentum"]) + SILENCE_COST * len(gaps)
    cost = raw / max(1.0, (duration_s or 0.0) / MOMENTUM_NORM_S)
    return 100 - cost, (f"{_n(len(ivs), 'dead-air or stall intervention')} and "
                        f"{_n(len(gaps), 'other silence')} of {LONG_SILENCE_S:.0f} s or more, "
                        f"costing {cost:.0f} points.")


def _handling(ivs: list[dict]) -> tuple[float, str]:
    if not ivs:
        return 100.0, "The lead showed no frustration, confusion or disengagement, so there is nothing to judge."
    cost = _cost(ivs, HANDLING_COST, CREDIT["handling"])
    return 100 - cost, (f"{_n(len(ivs), 'moment')} of lead frustration, confusion or disengagement; "
                        f"the rep used the suggestion {_n(_acted(ivs), 'time')}, costing {cost:.0f} points.")


def _opportunity(ivs: list[dict]) -> tuple[float, str]:
    if not ivs:
        return 100.0, "No missed opportunities or unanswered competitor mentions were flagged, so there is nothing to deduct."
    cost = _cost(ivs, OPPORTUNITY_COST, CREDIT["opportunity"])
    return 100 - cost, (f"{_n(len(ivs), 'opportunity or competitor mention')} the rep needed prompting for, "
                        f"{_acted(ivs)} taken up after the card, costing {cost:.0f} points.")


# -------------------------------------------------------------- measurements

def interruptions(utterances: list[dict]) -> tuple[int, str]:
    """How often the rep cut into the lead, and from what: the cue data when
    the transcript carries any (measured from audio, better than timestamps),
    otherwise overlapping timestamps."""
    reps = [u for u in utterances if u.get("speaker") == "rep"]
    if any(isinstance(u.get("cues"), Mapping) for u in utterances):
        return sum(1 for u in reps if (u.get("cues") or {}).get("interrupted")), "from voice cues"
    leads = [u for u in utterances if u.get("speaker") == "lead"]
    count = 0
    for r in reps:
        if len(str(r.get("text", "")).split()) < BACKCHANNEL_WORDS:
            continue
        rs = _num(r.get("start"))
        if any(_num(lu.get("start")) < rs <= _num(lu.get("end")) - OVERLAP_S for lu in leads):
            count += 1
    return count, "from overlapping timestamps"


def silences(utterances: list[dict], min_s: float) -> list[tuple[float, float]]:
    """(from, to) of every gap of `min_s` or more with nobody speaking, between
    the first and the last utterance (ringing and hang-up are not silences)."""
    out: list[tuple[float, float]] = []
    last_end: Optional[float] = None
    for u in sorted(utterances, key=lambda u: _num(u.get("start"))):
        start, end = _num(u.get("start")), _num(u.get("end"))
        if last_end is not None and start - last_end >= min_s:
            out.append((last_end, start))
        last_end = end if last_end is None else max(last_end, end)
    return out


# ------------------------------------------------------------------- helpers

def _cost(ivs: Iterable[dict], per_item: float, credit: Mapping[str, float]) -> float:
    return sum(per_item * SEVERITY_WEIGHT.get(str(iv.get("severity")), 1.0)
               * (1.0 - credit.get(str(iv.get("feedback")), 0.0)) for iv in ivs)


def _acted(ivs: Iterable[dict]) -> int:
    return sum(1 for iv in ivs if iv.get("feedback") in ACTED)


def _talk(utterances: list[dict], speaker: str) -> float:
    return sum(max(0.0, _num(u.get("end")) - _num(u.get("start")))
               for u in utterances if u.get("speaker") == speaker)


def _num(x: object) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else 0.0


def _clip(x: float) -> int:
    return int(round(min(100.0, max(0.0, x))))


def _n(count: int, word: str, plural: Optional[str] = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"
