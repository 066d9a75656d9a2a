"""Synthetic call records (formats.md section 6) with a known truth, to test the report.

    recs = synthetic_records(600, seed=1, effects={"accuracy": (0.55, 0.30)})

makes 600 valid records in which, for an average rep, a lead whose rep used
(or edited) the accuracy correction was won 55 % of the time and one whose rep
dismissed or ignored it 30 %. With `effects=None` using a card changes nothing.

What makes the data realistic enough to be a test, and not a gift:

- Reps differ. Each rep has a base win rate (spread from REP_BASE_LO to
  REP_BASE_HI) and a habit of using cards (REP_USE_LO to REP_USE_HI), and the
  two go together: the reps who close best are also the ones who use cards
  most. So in the pooled data "used" calls are won more often *even when using
  a card does nothing*; only an analysis that compares each rep with themself
  gets the null data right. This confounding is present with `effects=None` too.
- A category firing at all is bad news (a factual error, an upset lead):
  FIRE_EFFECT lowers the win chance of every call it fires in, used or not, so
  "fired" and "used" must not be mixed up.
- Categories fire with their own probabilities (process only on the training
  profile), one or two cards each; feedback is used / edited / dismissed / null;
  outcomes are won / lost / follow-up / no-decision, a few unknown; calls are
  spread over `weeks` weeks in working hours; transcripts are short but
  plausible, and every intervention points at a real utterance; the score is
  `score_call`'s. Reps get a little better at using cards over the weeks, so
  score trends are not flat.

The win chance of a call, on the logit scale, is
    logit(rep base) + sum over categories that fired of FIRE_EFFECT[c]
                    + sum over planted categories that fired of
                      logit(p_used or p_not_used, as the rep used it) - logit(BASE_MEAN)
so a planted category moves a call with an average rep (base ~ BASE_MEAN) to
p_used / p_not_used. Everything is drawn from one numpy Generator: same seed,
same records.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Optional

import numpy as np

from intervene.report.score import score_call
from intervene.vocab import ACTED, Category

CATEGORIES = tuple(c.value for c in Category)       # plain strings, as records carry them

# Chance a category fires in a call (process only where the profile looks for missed steps).
FIRE_P: dict[str, float] = {"accuracy": 0.40, "emotion": 0.35, "momentum": 0.30, "opportunity": 0.35,
                            "competitive": 0.25, "compliance": 0.15, "process": 0.40}
# Logit shift of the win chance when the category fires, used or not (its cause is bad news).
FIRE_EFFECT: dict[str, float] = {"accuracy": -0.3, "emotion": -0.4, "momentum": -0.2, "opportunity": 0.2,
                                 "competitive": -0.2, "compliance": -0.3, "process": -0.1}
TRIGGERS: dict[str, tuple[str, ...]] = {
    "accuracy": ("kb-mismatch",),
    "emotion": ("lead-frustration", "lead-confusion", "lead-disengagement"),
    "momentum": ("dead-air", "low-content"),
    "opportunity": ("opportunity",),
    "competitive": ("competitor-mention", "competitor-generic"),
    "compliance": ("forbidden-statement",),
    "process": ("missed-step", "missed-phrase"),
}
# How readily reps act on each kind of card, relative to their habit (process nags get dismissed).
APPEAL: dict[str, float] = {"accuracy": 1.15, "emotion": 0.9, "momentum": 0.75, "opportunity": 1.0,
                            "competitive": 1.0, "compliance": 1.1, "process": 0.6}
SEVERITY = {"accuracy": "high", "emotion": "medium", "momentum": "medium", "opportunity": "medium",
            "competitive": "medium", "compliance": "high", "process": "low"}

REP_NAMES = ("sam", "alex", "jordan", "taylor", "morgan", "casey", "riley", "jamie", "drew", "quinn",
             "avery", "parker")
REP_BASE_LO, REP_BASE_HI = 0.12, 0.50     # reps' own win rates (worst to best)
BASE_MEAN = 0.30                          # roughly their mean: what a planted (p_used, p_not_used) is relative to
REP_USE_LO, REP_USE_HI = 0.10, 0.70       # reps' chance to act on a card (worst to best: confounding)
USE_DRIFT = 0.10                          # how much more reps act on cards by the last week
NOT_WON = (("lost", 0.45), ("follow-up", 0.35), ("no-decision", 0.20))
UNKNOWN_P = 0.03
PROFILES = ("standard", "training", "minimal")
MODES = ("silent", "voice", "whisper")

_LINES = {
    "rep": ["Thanks for taking the time today.", "Let me walk you through the Standard package.",
            "The Standard plan has two years of support.", "We can get you set up next week.",
            "Most customers pick the Premium plan for the extra storage.", "Does that answer your question?",
            "I can send the quote over this afternoon.", "Installation usually takes about a day."],
    "lead": ["We are looking at a few options right now.", "What does support look like?",
             "That sounds expensive, to be honest.", "Our budget is around fifteen thousand.",
             "Another vendor offered us a discount.", "I need to talk to my partner first.",
             "Can you do it before the end of the month?", "Okay, that makes sense."],
}
_CARDS = {
    "accuracy": ("Rep said the Standard plan has two years of support.",
                 "Quick clarification - the Standard package includes three years of support.",
                 [{"kb_id": "standard", "text": "Includes three years of support."}]),
    "emotion": ("The lead sounds frustrated about the price.",
                "Acknowledge the concern and ask what matters most to them.", []),
    "momentum": ("Nobody has spoken for a while.", "Ask whether the lead has questions about installation.", []),
    "opportunity": ("The lead mentioned a larger budget.", "Mention the Premium plan's extra storage.",
                    [{"kb_id": "premium", "text": "Premium adds 2 TB of storage."}]),
    "competitive": ("The lead mentioned another vendor.", "Point out our three-year support, which others lack.",
                    [{"kb_id": "standard", "text": "Includes three years of support."}]),
    "compliance": ("Rep promised a guaranteed saving.", "Say savings depend on usage and are not guaranteed.",
                   [{"kb_id": "savings", "text": "Savings are estimates, not guarantees."}]),
    "process": ("The rep has not confirmed the lead's contact details.", "Confirm the best number and email.", []),
}


def synthetic_records(n_calls: int, seed: int = 0,
                      effects: Optional[dict[str, tuple[float, float]]] = None,
                      reps: int = 6, start: Optional[datetime] = None, weeks: int = 8,
                      teams: tuple[str, ...] = ("east", "west")) -> list[dict]:
    """`n_calls` valid section-6 records; see the module docstring for the model.

    `effects` maps a category to (win rate when used, win rate when not used)
    for an average rep; categories not in it (all, when None) have no effect of
    use on the outcome. `start` is the first day (default 2026-09-07, UTC)."""
    effects = dict(effects or {})
    for cat, (pu, pn) in effects.items():
        if cat not in CATEGORIES:
            raise ValueError(f"unknown category {cat!r} (one of {', '.join(CATEGORIES)})")
        if not (0 < pu < 1 and 0 < pn < 1):
            raise ValueError(f"{cat}: win rates must be between 0 and 1, got {(pu, pn)}")
    if not 1 <= reps <= len(REP_NAMES):
        raise ValueError(f"reps: 1 to {len(REP_NAMES)}")
    rng = np.random.default_rng(seed)
    start = start or datetime(2026, 9, 7, tzinfo=timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    names = list(REP_NAMES[:reps])
    base = np.linspace(REP_BASE_LO, REP_BASE_HI, reps) if reps > 1 else np.array([BASE_MEAN])
    use = np.linspace(REP_USE_LO, REP_USE_HI, reps) if reps > 1 else np.array([0.5])
    use = np.clip(use + rng.normal(0, 0.03, reps), 0.05, 0.95)
    rep_profile = [PROFILES[i % 2] if i % 5 != 4 else "minimal" for i in range(reps)]
    rep_team = [teams[i % len(teams)] for i in range(reps)] if teams else [None] * reps
    rep_mode = [MODES[i % len(MODES)] for i in range(reps)]

    days = max(1, weeks * 7)
    offsets = np.sort(rng.uniform(0, days, n_calls))
    out: list[dict] = []
    per_day: dict[str, int] = {}
    for i in range(n_calls):
        r = int(rng.integers(reps))
        day = start + timedelta(days=int(offsets[i]))
        if day.weekday() >= 5:                      # no weekend calls
            day += timedelta(days=7 - day.weekday())
        started = day.replace(hour=int(rng.integers(9, 17)), minute=int(rng.integers(60)),
                              second=int(rng.integers(60)), microsecond=0)
        stamp = started.strftime("%Y-%m-%d")
        per_day[stamp] = per_day.get(stamp, 0) + 1
        progress = float(offsets[i]) / days
        profile = rep_profile[r] if rng.random() < 0.85 else PROFILES[int(rng.integers(3))]
        mode = rep_mode[r] if rng.random() < 0.8 else MODES[int(rng.integers(3))]
        transcript = _transcript(rng)
        p_use = min(0.95, use[r] + USE_DRIFT * progress)

        logit = _logit(base[r])
        interventions: list[dict] = []
        for cat in CATEGORIES:
            if cat == "process" and profile != "training":
                continue
            if cat not in ("accuracy", "compliance") and profile == "minimal":
                continue
            if rng.random() >= FIRE_P[cat]:
                continue
            p_card = min(0.95, p_use * APPEAL[cat])
            cards = [_card(rng, cat, transcript, mode, p_card) for _ in range(1 + int(rng.random() < 0.3))]
            interventions += cards
            logit += FIRE_EFFECT[cat]
            if cat in effects:
                used = any(c["feedback"] in ACTED for c in cards)
                pu, pn = effects[cat]
                logit += _logit(pu if used else pn) - _logit(BASE_MEAN)
        interventions.sort(key=lambda c: c["at"])
        if rng.random() < UNKNOWN_P:
            outcome = "unknown"
        elif rng.random() < 1 / (1 + math.exp(-logit)):
            outcome = "won"
        else:
            outcome = _pick(rng, NOT_WON)
        duration = round(transcript[-1]["end"] + float(rng.uniform(1, 6)), 1)
        rec = {"call_id": f"{stamp}-{per_day[stamp]:04d}",
               "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_s": duration,
               "rep": names[r]}
        if rep_team[r]:
            rec["team"] = rep_team[r]
        rec.update({"profile": profile, "mode": mode,
                    "lead": {"id": str(1184529200000000 + int(rng.integers(10 ** 9))), "source": "facebook",
                             "campaign": "solar-q4"},
                    "outcome": outcome})
        if outcome == "won":
            rec["value"] = float(round(rng.uniform(4000, 20000), -2))
        rec["transcript"] = transcript
        rec["interventions"] = interventions
        rec["score"] = score_call(transcript, interventions, outcome, duration)
        out.append(rec)
    return out


def _transcript(rng: np.random.Generator) -> list[dict]:
    out = [{"start": 0.0, "end": 3.2, "speaker": "ai",
            "text": "Hi, this is the Acme assistant; I am connecting you with our specialist now."}]
    t = 4.0
    for i in range(int(rng.integers(8, 15))):
        speaker = "rep" if i % 2 == 0 else "lead"
        length = float(rng.uniform(1.5, 6.0))
        lines = _LINES[speaker]
        out.append({"start": round(t, 2), "end": round(t + length, 2), "speaker": speaker,
                    "text": lines[int(rng.integers(len(lines)))]})
        t += length + float(rng.uniform(0.2, 1.5))
    return out


def _card(rng: np.random.Generator, cat: str, transcript: list[dict], mode: str, p_use: float) -> dict:
    who = "rep" if cat in ("accuracy", "compliance", "process") else "lead"
    choices = [i for i, u in enumerate(transcript) if u["speaker"] == who] or [len(transcript) - 1]
    idx = choices[int(rng.integers(len(choices)))]
    triggers = TRIGGERS[cat]
    detected, say, evidence = _CARDS[cat]
    x = rng.random()
    if x < p_use * 0.75:
        feedback: Optional[str] = "used"
    elif x < p_use:
        feedback = "edited"
    elif x < p_use + (1 - p_use) * 0.6:
        feedback = "dismissed"
    else:
        feedback = None
    iv_mode = "voice" if mode == "voice" and cat == "accuracy" else ("whisper" if mode == "whisper" else "silent")
    card = {"at": round(transcript[idx]["end"] + 0.4, 2), "utterance": idx, "category": cat,
            "severity": SEVERITY[cat], "mode": iv_mode, "trigger": triggers[int(rng.integers(len(triggers)))],
            "detected": detected, "say": say, "evidence": [dict(e) for e in evidence], "feedback": feedback}
    if feedback == "edited":
        card["feedback_text"] = say.replace(" - ", ", ")
    return card


def _pick(rng: np.random.Generator, choices: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random(), 0.0
    for name, p in choices:
        acc += p
        if x < acc:
            return name
    return choices[-1][0]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))
