"""Real calls through the local Asterisk, for the demo, the end-to-end tests
and the live benchmark: two pjsua2 softphones per call speak a transcript's
lines at their times, the service monitors the call live, and each phone
records what it heard.

    async with LiveHarness(db, kb="kb/", profile="standard", mode=None) as h:
        result = await h.call(read_transcript("call.jsonl"), out_dir, pair=1)
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, AsyncIterator, Optional

import numpy as np

from intervene.app import Runtime, build_controller
from intervene.config import load_config
from intervene.listen.dsp import to_16k
from intervene.nlp.lexicon import normalize_numbers
from intervene.pbx.call import LiveCall
from intervene.pbx.controller import Controller, Services
from intervene.store.db import Store
from intervene.vocab import Utterance
from intervene_harness import localpbx
from intervene_harness.phone import PhoneProcess
from intervene_harness.voices import read_mono, render_parties

log = logging.getLogger("intervene_harness")

SIP = "127.0.0.1:5060"
LEAD_IN_S = 0.6       # after the briefing, the script starts this much later (the phones' play commands)


@dataclass
class CallResult:
    call_id: str
    out: Path
    play_wall: float                      # wall clock of script time 0
    offset_s: float                       # call time = script time + offset_s
    lead_rec_wall: float                  # wall clock of lead-heard.wav sample 0
    rep_rec_wall: float
    spans: dict[str, Any]                 # render_parties(): where each party's speech really is
    interventions: list[dict[str, Any]] = field(default_factory=list)   # format 4, `at` in script time
    transcript: list[dict[str, Any]] = field(default_factory=list)      # format 2, script time
    deliveries: list[dict[str, Any]] = field(default_factory=list)      # store rows: delivery status per intervention
    rep_messages: list[dict[str, Any]] = field(default_factory=list)    # SIP MESSAGEs the rep's phone received

    @property
    def lead_heard(self) -> Path:
        return self.out / "lead-heard.wav"

    @property
    def rep_heard(self) -> Path:
        return self.out / "rep-heard.wav"


class LiveHarness:
    """The local Asterisk (started or reused) + `intervene serve` in this process."""

    def __init__(self, db: str | Path, kb: Optional[str] = None, profile: Optional[str] = None,
                 mode: Optional[str] = None, config: Optional[str] = None, briefing: bool = True,
                 stop_pbx: bool = False) -> None:
        self.db, self.kb, self.profile, self.mode = str(db), kb, profile, mode
        self.config_path = config
        self.briefing = briefing
        self.stop_pbx = stop_pbx          # stop Asterisk on exit if this harness started it
        self.started_pbx = False
        self.controller: Optional[Controller] = None
        self._task: Optional[asyncio.Task[None]] = None
        self.env: dict[str, str] = {}

    async def __aenter__(self) -> "LiveHarness":
        self.started_pbx = not await asyncio.to_thread(localpbx.running)
        self.env = await asyncio.to_thread(localpbx.start)
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("INTERVENE_ARI_")})
        cfg = load_config(self.config_path)
        cfg.defaults = {**cfg.defaults, **({"profile": self.profile} if self.profile else {}),
                        **({"mode": self.mode} if self.mode else {})}
        cfg.live = replace(cfg.live, briefing=self.briefing)
        self.rt = Runtime(self.db, self.config_path)
        self.controller = controller = await build_controller(self.rt, cfg, self.kb, listen="127.0.0.1:0")
        controller.on_started.clear()              # a throw-away service: no first-admin sign-in link
        app = controller.s.ari.s.app
        if app in [a["name"] for a in await controller.s.ari.call("GET", "/applications")]:
            await controller.s.ari.close()
            controller.s.asr.close()
            self.controller = None
            raise localpbx.PbxError(f"another intervene service is already connected to this Asterisk as Stasis "
                                    f"app {app!r}; stop it first (one service per app)")
        self._task = asyncio.create_task(controller.run())
        await asyncio.wait_for(controller.connected.wait(), 20)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.controller is not None:
            self.controller.stop()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)
        if self.controller is not None:
            self.controller.s.asr.close()
        if self.stop_pbx and self.started_pbx:
            await asyncio.to_thread(localpbx.stop)

    @property
    def running(self) -> Controller:
        """The service's controller: there is one only inside `async with`."""
        assert self.controller is not None, "LiveHarness: use it in `async with`"
        return self.controller

    @property
    def services(self) -> Services:
        return self.running.s

    async def call(self, utterances: list[Utterance], out: Path, pair: int = 1, tail_s: float = 4.0,
                   hangup: str = "lead") -> CallResult:
        """Lead phone `lead<pair>` dials 6<pair>; phone `rep<pair>` answers."""
        out.mkdir(parents=True, exist_ok=True)
        spans = await asyncio.to_thread(render_parties, utterances, out / "lead-says.wav", out / "rep-says.wav")
        async with phones(self.env.get("INTERVENE_SIP_PASSWORD"), out, pair, f"6{pair:02d}") as (lead, rep):
            call = await self._wait_call(f"rep{pair}", 20)
            assert call.t0_wall is not None                  # _wait_call waited for it
            play_at = call.t0_wall + LEAD_IN_S
            for ph in (lead, rep):
                await ph.send({"cmd": "play", "at": play_at})
            await asyncio.gather(lead.wait_event("played", spans["duration"] + 30),
                                 rep.wait_event("played", spans["duration"] + 30))
            await asyncio.sleep(tail_s)
            await (lead if hangup == "lead" else rep).send({"cmd": "hangup"})
            await self._wait_ended(call.id, 20)
            lead_rec = (await lead.wait_event("confirmed", 1))["t"]
            rep_rec = (await rep.wait_event("confirmed", 1))["t"]
        result = collect(self.services.store, call.id, out, play_at, play_at - call.t0_wall, lead_rec, rep_rec,
                         spans)
        result.rep_messages = [e for e in rep.events if e.get("event") == "message"]
        return result

    async def _wait_call(self, rep_name: str, timeout: float) -> LiveCall:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for c in list(self.services.calls.values()):
                if c.rep_name == rep_name and c.t0_wall is not None and not c.ended:
                    return c
            await asyncio.sleep(0.02)
        raise TimeoutError(f"no monitored call reached {rep_name} within {timeout}s")

    async def _wait_ended(self, call_id: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while call_id in self.services.calls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


@asynccontextmanager
async def phones(password: Optional[str], out: Path, pair: int,
                 dial: str) -> AsyncIterator[tuple[PhoneProcess, PhoneProcess]]:
    """Phone `rep<pair>` registered (it answers), then `lead<pair>` dialling
    `dial`; each plays OUT/<party>-says.wav when told and records what it
    heard; both closed at the end."""
    rep = await PhoneProcess(f"rep{pair}").start(user=f"rep{pair}", password=password, registrar=SIP, register=True,
                                                 play=out / "rep-says.wav", record=out / "rep-heard.wav")
    lead: Optional[PhoneProcess] = None
    try:
        await rep.wait_event("registered", 10)
        lead = await PhoneProcess(f"lead{pair}").start(user=f"lead{pair}", password=password, registrar=SIP,
                                                       dial=dial, play=out / "lead-says.wav",
                                                       record=out / "lead-heard.wav")
        yield lead, rep
    finally:
        for phone in (lead, rep):
            if phone is not None:
                await phone.close()


def speech_spans(pcm: np.ndarray, rate: int, floor_db: float = -45.0, gap_s: float = 0.6,
                 pad_s: float = 0.2) -> list[tuple[int, int]]:
    """Sample ranges of sound above `floor_db` dBFS, gaps shorter than `gap_s`
    bridged: what a phone heard cut into utterances, as the service's VAD cuts
    them (Whisper's no-speech test is made for such cuts; a long window that
    is mostly silence can be dropped as "no speech" on a slow, noisy box)."""
    frame = max(1, int(rate * 0.03))
    n = len(pcm) // frame
    if n == 0:
        return []
    x = pcm[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    loud = 20 * np.log10(np.sqrt((x ** 2).mean(axis=1)) + 1e-9) > floor_db
    spans: list[tuple[int, int]] = []
    for i in np.flatnonzero(loud):
        a, b = int(i) * frame, (int(i) + 1) * frame
        if spans and a - spans[-1][1] < gap_s * rate:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    pad = int(pad_s * rate)
    return [(max(0, a - pad), min(len(pcm), b + pad)) for a, b in spans]


def levels(wav: Path) -> str:
    """dBFS of each second of a recording, for a failing assertion's message."""
    pcm, rate = read_mono(wav)
    x = pcm.astype(np.float64) / 32768.0
    secs = [x[i: i + rate] for i in range(0, len(x), rate)]
    return " ".join(f"{20 * np.log10(np.sqrt((s ** 2).mean()) + 1e-9):.0f}" for s in secs if len(s))


def heard(transcriber: Any, wav: Path, rec_wall: float, wall_from: float, wall_to: float) -> str:
    """What a phone heard between two wall-clock times, as Whisper writes it
    (each stretch of sound transcribed on its own, at most 25 s at a time)."""
    pcm, rate = read_mono(wav)
    a, b = max(0, int((wall_from - rec_wall) * rate)), max(0, int((wall_to - rec_wall) * rate))
    piece = pcm[a:b]
    out = []
    for s, e in speech_spans(piece, rate):
        for i in range(s, e, rate * 25):
            cut = piece[i: min(e, i + rate * 25)]
            if len(cut) >= rate // 4:
                out.append(transcriber.transcribe(to_16k(cut, rate), word_timings=False).text)
    return str(normalize_numbers(" ".join(t for t in out if t)).lower())


def collect(store: Store, call_id: str, out: Path, play_wall: float, offset: float, lead_rec: float,
            rep_rec: float, spans: dict[str, Any]) -> CallResult:
    """Read the call back from the store (what was recorded live) and
    write DIR/interventions.jsonl and DIR/transcript.jsonl in script time."""
    ivs: list[dict[str, Any]] = []
    transcript: list[dict[str, Any]] = []
    rows = store.interventions(call_id)
    for r in rows:
        ivs.append({"at": round(r["at"] - offset, 2), "utterance": r["utterance"], "category": r["category"],
                    "severity": r["severity"], "mode": r["mode"], "trigger": r["trigger"],
                    "detected": r["detected"], "say": r["say"], "evidence": json.loads(r["evidence"])})
    for u in sorted(store.utterances(call_id), key=lambda u: u["start"]):
        transcript.append({"start": round(u["start"] - offset, 2), "end": round(u["end"] - offset, 2),
                           "speaker": u["speaker"], "text": u["text"]})
    (out / "interventions.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in ivs))
    (out / "transcript.jsonl").write_text("".join(json.dumps(t, ensure_ascii=False) + "\n"
                                                  for t in transcript))
    return CallResult(call_id, out, play_wall, offset, lead_rec, rep_rec, spans, ivs, transcript, rows)
