"""The whole lead flow on one machine, for `intervene demo --flow`, its
end-to-end test and `intervene bench lead`: a stand-in Facebook (Graph API
for the lead, Conversions API for the outcome), the local Asterisk, the
service in this process, a softphone that is the lead (answers the callback
and speaks its answers when the assistant has asked) and one that is the rep.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import aiohttp
from aiohttp import web

from intervene.formats.transcript import parse_transcript
from intervene.listen.wav import write_wav
from intervene.pbx.controller import Services
from intervene.report.record import call_record
from intervene.screen.web import save_user
from intervene_harness.calls import SIP, LiveHarness
from intervene_harness.capi import CapiStandIn
from intervene_harness.graph import GraphStandIn, leadgen_payload, signed
from intervene_harness.phone import PhoneProcess
from intervene_harness.voices import render_parties, speak

APP_SECRET = "demo-app-secret"
PAGE_TOKEN = "demo-page-token"
FORM_ID = "5550001"
PAGE_ID = "5550000"
REP_PASSWORD = "demo-rep-password"

DEFAULT_SCRIPT: dict[str, Any] = {
    "lead": {"name": "Dana Whitfield", "email": "dana.whitfield@example.com",
             "answers": ["Yes, I am.", "Somewhere around fifteen thousand dollars.",
                         "We would like to get started next month.",
                         "Reliable internet for our three offices."]},
    "conversation": [
        {"start": 0.0, "end": 2.4, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."},
        {"start": 2.8, "end": 6.0, "speaker": "lead", "text": "Hi Mark. What kind of support comes with Standard?"},
        {"start": 6.4, "end": 9.6, "speaker": "rep", "text": "The Standard package includes two years of support."},
        {"start": 18.0, "end": 19.6, "speaker": "lead", "text": "Okay, good to know."},
    ],
}


def flow_config(path: Path, graph_url: str, team: str = "sales", hours: str = "00:00-24:00",
                max_outbound: int = 4, redial_window_s: int = 86400) -> Path:
    """The [leads] and [campaigns] a local run needs: the stand-in's URL and
    tokens, the dev rig's outbound context, calling hours open all day."""
    path.write_text(f"""
[leads]
app_secret = "{APP_SECRET}"
verify_token = "demo-verify"
page_token = "{PAGE_TOKEN}"
graph_url = "{graph_url}"
dial = "PJSIP/{{number}}"
call_hours = "{hours}"
call_days = "mon-sun"
max_outbound = {max_outbound}
redial_window_s = {redial_window_s}
retry_s = [5, 10]
rep_answer_s = 25
team = "{team}"
dataset_id = "8880001"
capi_token = "{PAGE_TOKEN}"
graph_backoff_s = 0.2

[campaigns.demo]
form_ids = ["{FORM_ID}"]
team = "{team}"
name = "business internet"          # what the form offered: "you just asked about business internet"
""")
    return path


def lead_number(n: int) -> str:
    """The dev rig's fictional New York numbers: +1 212 555 0101 rings lead1
    (scripts/asterisk.sh makes each number an endpoint reaching that phone)."""
    return f"+121255501{n:02d}"


class FacebookStandIn:
    """Graph API (leads) and Conversions API (events) on one local server."""

    def __init__(self) -> None:
        self.graph = GraphStandIn(PAGE_TOKEN)
        self.capi = CapiStandIn(PAGE_TOKEN)
        self._runner: Optional[web.AppRunner] = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        self.graph.add_routes(app)
        self.capi.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def post_webhook(url: str, leads: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    """A correctly signed Lead Ads webhook; (wall clock sent, the service's answer)."""
    body, headers = signed(APP_SECRET, leadgen_payload(leads))
    t = time.time()
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/webhooks/facebook", data=body, headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"webhook refused: {r.status} {await r.text()}")
            return t, await r.json()


@dataclass
class FlowResult:
    lead_id: int
    call_id: Optional[str]
    out: Path
    timeline: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    capi_bodies: list[dict[str, Any]] = field(default_factory=list)
    lead_calls: int = 0                   # how many times the lead's phone rang


class FlowHarness:
    """The stand-in Facebook + the local Asterisk + the service with the flow."""

    def __init__(self, db: Path, kb: str, workdir: Path, hours: str = "00:00-24:00", max_outbound: int = 4,
                 stop_pbx: bool = False, redial_window_s: int = 86400) -> None:
        self.db, self.kb, self.workdir = db, kb, workdir
        self.redial_window_s = redial_window_s
        self.hours, self.max_outbound, self.stop_pbx = hours, max_outbound, stop_pbx
        self.fb = FacebookStandIn()
        self.live: Optional[LiveHarness] = None

    async def __aenter__(self) -> "FlowHarness":
        await self.fb.start()
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = flow_config(self.workdir / "flow.toml", self.fb.url, hours=self.hours, max_outbound=self.max_outbound,
                          redial_window_s=self.redial_window_s)
        self.live = await LiveHarness(self.db, kb=self.kb, config=str(cfg), stop_pbx=self.stop_pbx).__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.live is not None:
            await self.live.__aexit__(*exc)
        await self.fb.stop()

    def _live(self) -> LiveHarness:
        assert self.live is not None, "FlowHarness: use it in `async with`"
        return self.live

    @property
    def env(self) -> dict[str, str]:
        """The local Asterisk's settings (INTERVENE_SIP_PASSWORD for the phones, ...)."""
        return self._live().env

    @property
    def services(self) -> Services:
        return self._live().services

    @property
    def flow(self) -> Any:
        return self._live().running.leads.flow

    @property
    def url(self) -> str:
        return self._live().running.web.url

    def add_rep(self, n: int, name: str = "Mark", team: str = "sales") -> None:
        save_user(self.services.store, {"login": f"rep{n}", "name": name, "role": "rep", "team": team,
                                        "endpoint": f"PJSIP/rep{n}", "password": REP_PASSWORD})

    async def run(self, script: dict[str, Any], out: Path, lead_n: int = 1, rep_n: int = 1,
                  leadgen_id: str = "", outcome: str = "won", tail_s: float = 4.0) -> FlowResult:
        """One lead from the form to the closed record."""
        out.mkdir(parents=True, exist_ok=True)
        lead = script["lead"]
        leadgen_id = leadgen_id or f"9{int(time.time() * 1000) % 10**12:012d}"
        # the lead's answers and the conversation after the hand-off, rendered once
        answers: list[Path] = []
        for i, text in enumerate(lead.get("answers") or []):
            pcm = await asyncio.to_thread(speak, text, "lead")
            path = out / f"lead-answer-{i}.wav"
            write_wav(path, [pcm], 8000)
            answers.append(path)
        conv = parse_transcript("\n".join(json.dumps(x) for x in script.get("conversation") or []), "script")
        spans = await asyncio.to_thread(render_parties, conv, out / "lead-conv.wav", out / "rep-conv.wav")
        self.add_rep(rep_n)
        pw = self.env.get("INTERVENE_SIP_PASSWORD")
        rep = await PhoneProcess(f"rep{rep_n}").start(user=f"rep{rep_n}", password=pw, registrar=SIP, register=True,
                                                      record=out / "rep-heard.wav", answer_delay=0.8)
        lead_phone = await PhoneProcess(f"lead{lead_n}").start(user=f"lead{lead_n}", password=pw, registrar=SIP,
                                                               register=True, record=out / "lead-heard.wav",
                                                               answer_delay=1.0)
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        listener = events.put_nowait
        self.flow.timeline.listeners.append(listener)
        timeline: list[dict[str, Any]] = []
        try:
            await asyncio.gather(rep.wait_event("registered", 10), lead_phone.wait_event("registered", 10))
            self.fb.graph.add_lead(leadgen_id, form_id=FORM_ID, full_name=lead["name"],
                                   phone_number=lead_number(lead_n), email=lead.get("email", ""))
            t_hook, answer = await post_webhook(self.url, [{"leadgen_id": leadgen_id, "page_id": PAGE_ID,
                                                             "form_id": FORM_ID}])
            timeline.append({"t": t_hook, "event": "webhook-received", "answer": answer})
            lead_id = answer["ids"][0]
            next_answer, done = 0, False
            deadline = time.monotonic() + 240
            while not done and time.monotonic() < deadline:
                try:
                    ev = await asyncio.wait_for(events.get(), 1.0)
                except asyncio.TimeoutError:
                    continue
                if ev["lead_id"] != lead_id:
                    continue
                timeline.append(ev)
                if ev["event"] == "ai-listening" and ev.get("purpose") in ("greeting", "question", "rephrase"):
                    if ev.get("purpose") == "rephrase":
                        next_answer = max(0, next_answer - 1)
                    if next_answer < len(answers):
                        await lead_phone.send({"cmd": "play", "file": str(answers[next_answer]), "at": time.time() + 0.3})
                        next_answer += 1
                elif ev["event"] == "handed-off":
                    at = time.time() + 0.4
                    await lead_phone.send({"cmd": "play", "file": str(out / "lead-conv.wav"), "at": at})
                    await rep.send({"cmd": "play", "file": str(out / "rep-conv.wav"), "at": at})
                    await asyncio.sleep(spans["duration"] + tail_s + 0.4)
                    await lead_phone.send({"cmd": "hangup"})
                elif ev["event"] == "settled":
                    done = True
            call_id: Optional[str] = ev.get("call_id") if self.services.store.call(ev.get("call_id", "")) else None
            for ph, name in ((lead_phone, "lead"), (rep, "rep")):
                for pe in ph.events:
                    if pe.get("event") in ("incoming", "confirmed", "disconnected"):
                        timeline.append({"t": pe["t"], "event": f"{name}-phone-{pe['event']}"})
            lead_calls = sum(1 for pe in lead_phone.events if pe.get("event") == "incoming")
        finally:
            self.flow.timeline.listeners.remove(listener)
            for ph in (lead_phone, rep):
                await ph.close()
        record: dict[str, Any] = {}
        if call_id:
            row = self.services.store.call(call_id) or {}
            t0 = row.get("conversation_started")
            for iv in self.services.store.interventions(call_id) if t0 else []:
                timeline.append({"t": t0 + iv["at"], "event": "intervention", "category": iv["category"],
                                 "mode": iv["mode"], "delivery": iv.get("delivery"), "say": iv["say"]})
            await self.set_outcome(call_id, rep_n, outcome)
            for _ in range(100):                                   # the outbox sends within a moment
                if self.fb.capi.bodies:
                    break
                await asyncio.sleep(0.1)
            record = self.record(call_id)
        timeline.sort(key=lambda e: e["t"])
        (out / "timeline.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in timeline))
        (out / "record.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        self.fb.capi.dump(out / "capi-events.jsonl")
        for p in answers + [out / "lead-conv.wav", out / "rep-conv.wav"]:
            p.unlink(missing_ok=True)
        return FlowResult(lead_id, call_id, out, timeline, record, list(self.fb.capi.bodies), lead_calls)

    async def set_outcome(self, call_id: str, rep_n: int, outcome: str) -> None:
        """As the rep does on their screen after the call."""
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{self.url}/login", data={"login": f"rep{rep_n}", "password": REP_PASSWORD},
                                 allow_redirects=False) as r:
                assert r.status == 303
            async with http.post(f"{self.url}/api/calls/{call_id}/outcome", json={"outcome": outcome, "note": "demo"},
                                 headers={"X-Intervene": "1"}) as r:
                if r.status != 200:
                    raise RuntimeError(f"outcome refused: {r.status} {await r.text()}")

    def record(self, call_id: str) -> dict[str, Any]:
        return call_record(self.services.store, call_id, self._live().running.leads.lead_for_record(call_id))
