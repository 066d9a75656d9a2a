"""Practice calls: a recorded transcript played onto a rep's screen in real
time, through the real engine, as if the call were happening.

For training (a new rep sees which cards a real call raises and practises
using them), for trying the screen without a phone, and for measuring the
screen's latency (`intervene bench screen`). Every card is silent: there is
nobody on a bridge to speak to.
"""
from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from intervene.accounts.auth import User
from intervene.core.engine import CallEngine
from intervene.core.replay import events
from intervene.formats.transcript import parse_transcript
from intervene.screen.hub import Hub
from intervene.screen.record import record_intervention
from intervene.store.db import Store
from intervene.vocab import Category, Intervention, Mode, Speaker, Utterance, new_call_id

TICK_S = 0.02          # real seconds between engine clock advances (dead air, deadlines)


class Practice:
    def __init__(self, store: Store, hub: Hub, index: Any, config: Any, kb_source: str = "") -> None:
        self.store, self.hub, self.index, self.config = store, hub, index, config
        self.kb_source = kb_source
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self, rep: User, transcript: str, speed: float = 1.0) -> str:
        """Parse (TranscriptError names the line), then run in the background."""
        utterances = parse_transcript(transcript, "transcript")
        a = self.config.resolve(rep=rep.login, team=rep.team or None)
        engine = CallEngine(self.index, a.profile, {c: Mode.SILENT for c in Category})
        call_id = "practice-" + new_call_id()
        self.store.start_call(call_id, source="practice", rep=rep.login, team=rep.team or None,
                              profile=a.profile.name, mode="silent", kb=self.kb_source, lead="practice",
                              rep_endpoint=rep.endpoint or None)
        self.hub.call(call_id, rep=rep.login, rep_name=rep.name, team=rep.team or None, lead="practice",
                      lead_name="Practice call", profile=a.profile.name, practice=True, state="live",
                      rep_endpoint=rep.endpoint or None)
        task = asyncio.create_task(self._run(call_id, engine, utterances, speed), name=f"practice-{call_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return call_id

    async def _run(self, call_id: str, engine: CallEngine, utterances: list[Utterance], speed: float) -> None:
        seq = 0

        def decided(ivs: list[Intervention]) -> None:
            nonlocal seq
            for iv in ivs:
                record_intervention(self.store, self.hub, call_id, seq, iv, delivery="shown")
                self.store.set_delivery(call_id, seq, "shown", round(iv.at, 2))
                seq += 1

        evs = events(utterances)
        end = max((u.end for u in utterances), default=0.0)
        shown: dict[int, int] = {}               # utterance -> words shown so far (interim)
        t0 = time.monotonic()
        i = 0
        try:
            while True:
                now = (time.monotonic() - t0) * speed
                while i < len(evs) and evs[i].t <= now:
                    e = evs[i]
                    i += 1
                    if e.kind == "start":
                        decided(engine.speech_started(e.utterance.speaker, e.t))
                    else:
                        u = e.utterance
                        self.store.add_utterance(call_id, u)
                        self.hub.line(call_id, u)
                        decided(engine.utterance(u, now=e.t))
                for u in utterances:             # words appear as they are "spoken"
                    if u.start <= now < u.end and u.speaker is not Speaker.AI:
                        words = u.text.split()
                        k = math.ceil(len(words) * (now - u.start) / max(u.end - u.start, 1e-3))
                        if 0 < k < len(words) and shown.get(u.index) != k:
                            shown[u.index] = k
                            self.hub.line(call_id, Utterance(u.index, u.speaker, u.start, now,
                                                             " ".join(words[:k]), final=False))
                decided(engine.advance(now))
                if i >= len(evs) and now >= end:
                    break
                await asyncio.sleep(TICK_S)
            decided(engine.end(end))
        finally:
            self.store.finish_call(call_id, round(end, 2))
            self.hub.call(call_id, state="ended", ended_at=time.time())
