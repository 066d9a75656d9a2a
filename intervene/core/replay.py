"""Replaying a recorded call through the same engine a live call uses.

A transcript (formats.md section 2, read by `intervene.formats.transcript`) becomes the event stream a live call
would produce - someone starts talking at `start`, their final transcript
arrives at `end` - and a simulated clock advances between events so dead
air, deadlines and turn ends fire at the call time they would fire live.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from intervene.core.engine import CallEngine
from intervene.vocab import Intervention, Utterance


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
