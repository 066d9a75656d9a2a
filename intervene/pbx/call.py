"""One live call on Asterisk: the conference bridge, a tap per party, the
listening pipeline on a real clock, and delivery of what it decides.

    lead ─┐                         ┌─ snoop(spy=in) ─ media ws ─> pipeline (lead)
          ├─ bridge iv-<id> ────────┤
    rep  ─┘   ^ assistant speaks    └─ snoop(spy=in) ─ media ws ─> pipeline (rep)
              | here (both hear)       snoop(whisper=out) on the rep: briefing, coaching

Every channel and bridge intervene creates has an id starting `iv-<call id>`,
so a restarted service can tell its own leftovers from anyone else's.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

import aiohttp

from intervene.pbx.ari import AriError, AriUnavailable
from intervene.pbx.briefing import rep_name
from intervene.pbx.sipmsg import card_text, send_message
from intervene.vocab import AudioChunk, Intervention, Mode, Speaker, Utterance

if TYPE_CHECKING:
    from intervene.pbx.controller import Services

log = logging.getLogger("intervene.call")

MEDIA_RATE = 16000           # slin16 from the taps
START_TIMEOUT_S = 5.0        # a channel we created must reach our Stasis app by then


def when_to_speak(decided: float, now: float, someone_speaking: bool, max_wait_s: float) -> str:
    """"now", "wait" or "give-up": speak only into a gap, never over a person,
    and not at all once the conversation has moved on."""
    if now - decided > max_wait_s:
        return "give-up"
    return "wait" if someone_speaking else "now"


class Tap:
    """One party's voice, alone: snoop (spy=in) + chan_websocket media channel
    in a two-channel bridge. PCM arrives as binary websocket frames."""

    def __init__(self, call: "LiveCall", speaker: Speaker, channel: str) -> None:
        self.call, self.speaker, self.channel = call, speaker, channel
        base = f"iv-{call.id}-{speaker.value}"
        self.snoop_id, self.media_id, self.bridge_id = f"{base}-snoop", f"{base}-media", f"{base}-tap"
        self.ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self.task: Optional[asyncio.Task] = None
        self.frames = 0
        self._t_first: Optional[float] = None
        self._samples = 0

    async def open(self) -> None:
        s = self.call.s
        ari = s.ari
        started = [s.waiters.expect(f"start:{self.snoop_id}"), s.waiters.expect(f"start:{self.media_id}")]
        await ari.call("POST", f"/channels/{self.channel}/snoop", spy="in", whisper="none",
                       app=ari.s.app, snoopId=self.snoop_id)
        media = await ari.call("POST", "/channels/externalMedia", channelId=self.media_id, app=ari.s.app,
                               external_host="INCOMING", transport="websocket", encapsulation="none",
                               connection_type="server", format="slin16")
        conn = (media.get("channelvars") or {}).get("MEDIA_WEBSOCKET_CONNECTION_ID") or self.media_id
        self.ws = await ari.media_socket(conn)
        self.task = asyncio.create_task(self._read(), name=f"tap-{self.media_id}")
        await asyncio.wait_for(asyncio.gather(*started), START_TIMEOUT_S)
        await ari.call("POST", "/bridges", type="mixing", bridgeId=self.bridge_id, name=self.bridge_id)
        await ari.call("POST", f"/bridges/{self.bridge_id}/addChannel", channel=f"{self.snoop_id},{self.media_id}")

    @property
    def alive(self) -> bool:
        return self.ws is not None and not self.ws.closed and self.task is not None and not self.task.done()

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.frames += 1
                self._audio(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                log.debug("%s media: %s", self.speaker.value, msg.data[:120])
            elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break

    def _audio(self, pcm: bytes) -> None:
        """Stamp frames by counting samples from the first one after the
        conversation started: drift-free, and the same clock VAD uses."""
        call = self.call
        if call.t0 is None or call.ended:
            return
        if self._t_first is None:
            self._t_first = max(0.0, call.now() - len(pcm) / 2 / MEDIA_RATE)
        t = self._t_first + self._samples / MEDIA_RATE
        self._samples += len(pcm) // 2
        call.pipeline.feed(AudioChunk(self.speaker, t, pcm))

    async def close(self) -> None:
        ari = self.call.s.ari
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
        for cid in (self.snoop_id, self.media_id):
            await ari.quiet("DELETE", f"/channels/{cid}")
        await ari.quiet("DELETE", f"/bridges/{self.bridge_id}")


class LiveCall:
    """A sales call from the lead's arrival to the last hang-up."""

    def __init__(self, services: "Services", call_id: str, lead_channel: str, args: dict[str, str]) -> None:
        self.s = services
        self.id = call_id
        self.lead = lead_channel
        self.rep: Optional[str] = None
        self.args = args
        self.rep_name = rep_name(args)
        self.account = services.account(args)       # the rep's login on the screens, if they have one
        self.bridge = f"iv-{call_id}"
        self.started_wall = time.time()
        self.t0: Optional[float] = None             # monotonic clock at call time 0 (conversation start)
        self.t0_wall: Optional[float] = None
        self.ended = False
        self.taps: dict[Speaker, Tap] = {}
        self.engine, self.pipeline = services.new_pipeline(args, self._on_utterance, self._on_interim)
        self.seq = 0                                # interventions so far (store key)
        self.utt_offset = 0                         # utterances an earlier run already stored (adopted call)
        self.delivered: list[dict[str, Any]] = []   # what happened to each intervention, for /api/calls
        self._voice_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._whispers = 0
        self.spoke_at: dict[int, float] = {}     # seq -> call time its spoken delivery began
        # the lead flow (leads/flow.py): the assistant talks with the lead before any rep is there
        self.flow = False                        # the flow dials both parties and decides what a miss means
        self.listeners: list = []                # flow: called with each final utterance
        self.qualifying = False                  # interventions are not for anyone yet: not delivered
        self.rep_briefing: Optional[str] = None  # what the rep hears alone before joining (flow)
        self.rep_ready = asyncio.Event()         # the rep is in the bridge, briefed
        self._polling = False

    # ------------------------------------------------------------- clock
    def now(self) -> float:
        return time.monotonic() - self.t0 if self.t0 is not None else 0.0

    def spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=f"{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: %s failed: %r", self.id, task.get_name(), task.exception())

    # ----------------------------------------------------------- set-up
    async def start(self) -> None:
        """The lead is in our app: bridge them, hold music, ring the rep."""
        ari, app = self.s.ari, self.s.ari.s.app
        self.s.store_call(self)
        if self.s.options.briefing:                 # on the rep's screen while their phone rings
            self.s.screen.briefing(self.id, self.s.briefing(self.args))
        await ari.quiet("POST", f"/channels/{self.lead}/answer")
        await ari.call("POST", "/bridges", type="mixing", bridgeId=self.bridge, name=self.bridge)
        await ari.call("POST", f"/bridges/{self.bridge}/addChannel", channel=self.lead)
        await ari.quiet("POST", f"/channels/{self.lead}/variable", variable="INTERVENE_CALL", value=self.id)
        if self.s.options.hold_music:
            await ari.quiet("POST", f"/channels/{self.lead}/moh")
        rep = self.args.get("rep")
        if not rep:
            log.warning("call %s: no rep= argument; monitoring the lead only", self.id)
            return
        try:
            await ari.call("POST", "/channels", endpoint=rep, app=app, appArgs=f"iv-rep,{self.id}",
                           channelId=f"iv-{self.id}-rep",
                           callerId=self.args.get("name") or self.args.get("lead", ""),
                           timeout=self.s.options.rep_answer_s)
        except AriError as e:                       # unknown or unreachable endpoint
            log.warning("call %s: cannot ring the rep %s: %s", self.id, rep, e)
            self.spawn(self.rep_unavailable(), "no-rep")

    async def rep_unavailable(self) -> None:
        """The rep did not answer (or cannot be rung): tell the lead, politely,
        instead of leaving them on hold or hanging up on them."""
        if self.ended or self.rep is not None:
            return
        ari = self.s.ari
        self.s.store.update_call(self.id, outcome="rep-unavailable")
        self.s.screen.call(self.id, outcome="rep-unavailable")
        await ari.quiet("DELETE", f"/channels/{self.lead}/moh")
        key = f"norep-{uuid.uuid4().hex}"
        self.s.media.promise(key)
        try:
            await self.s.synthesize(key, self.s.options.no_rep_message)
            pb = f"iv-pb-{uuid.uuid4().hex[:12]}"
            done = self.s.waiters.expect(f"played:{pb}")
            await ari.call("POST", f"/channels/{self.lead}/play", media=self.s.media_uri(key), playbackId=pb)
            await asyncio.wait_for(done, 30)
        except (AriError, AriUnavailable, asyncio.TimeoutError) as e:
            log.warning("call %s: could not tell the lead: %s", self.id, e)
        await self.end("the rep did not answer")

    async def rep_joined(self, channel: str, adopted: bool = False) -> None:
        """The rep answered: into the bridge, taps on both parties, the
        whispered briefing while the lead holds, then the clock starts.
        In the lead flow the lead is talking with the assistant meanwhile, so
        the rep is briefed alone first and joins after."""
        ari = self.s.ari
        self.rep = channel
        if self.rep_briefing is not None and not adopted:
            status = await self._play_to(channel, self.rep_briefing)
            log.info("call %s: rep briefed alone (%s, %d chars)", self.id, status, len(self.rep_briefing))
            await ari.call("POST", f"/bridges/{self.bridge}/addChannel", channel=channel)
            await self.open_taps()
            self.qualifying = False
        else:
            if not adopted:
                await ari.call("POST", f"/bridges/{self.bridge}/addChannel", channel=channel)
            await self.open_taps()
            if self.s.options.briefing and not adopted:
                text = self.s.briefing(self.args)
                status = await self._whisper(text, tone=True, wait=False)
                log.info("call %s: briefing %s (%d chars)", self.id, status, len(text))
            await ari.quiet("DELETE", f"/channels/{self.lead}/moh")
        self.start_clock()
        self.s.screen.call(self.id, state="live")
        self.rep_ready.set()
        log.info("call %s: conversation started (lead %s, rep %s)", self.id, self.lead, channel)

    def start_clock(self) -> None:
        """Call time 0 (kept by an adopted call, and by a lead flow call whose
        clock started with the assistant), and the pipeline's poll loop."""
        if self.t0_wall is None:
            self.t0_wall = time.time()
            self.s.store.update_call(self.id, conversation_started=self.t0_wall)
        self.t0 = time.monotonic() - (time.time() - self.t0_wall)
        if not self._polling:
            self._polling = True
            self.spawn(self._poll(), "poll")

    async def begin_with_lead(self) -> None:
        """The lead flow: the lead answered our callback. Into the bridge,
        their tap, and the clock starts - the assistant talks first."""
        ari = self.s.ari
        await ari.call("POST", "/bridges", type="mixing", bridgeId=self.bridge, name=self.bridge)
        await ari.call("POST", f"/bridges/{self.bridge}/addChannel", channel=self.lead)
        await self.open_taps()
        self.start_clock()

    async def open_taps(self) -> None:
        todo = [(sp, ch) for sp, ch in ((Speaker.LEAD, self.lead), (Speaker.REP, self.rep))
                if ch and not (sp in self.taps and self.taps[sp].alive)]
        for sp, _ in todo:
            if sp in self.taps:
                await self.taps[sp].close()
        taps = [Tap(self, sp, ch) for sp, ch in todo]
        await asyncio.gather(*(t.open() for t in taps))
        self.taps.update({t.speaker: t for t in taps})

    # ------------------------------------------------------- the flow
    async def _poll(self) -> None:
        """Decisions out of the pipeline, on the real clock."""
        period = self.s.options.poll_ms / 1000
        while not self.ended:
            for iv in self.pipeline.poll(self.now()):
                self._decided(iv)
            await asyncio.sleep(period)

    def _on_utterance(self, u: Utterance) -> None:
        u = replace(u, index=u.index + self.utt_offset)
        self.s.screen.line(self.id, u)
        self.s.store.add_utterance(self.id, u)
        for listener in self.listeners:
            listener(u)

    def _on_interim(self, u: Utterance) -> None:
        if not self.ended:
            self.s.screen.line(self.id, u)

    def _decided(self, iv: Intervention, live: bool = True) -> None:
        if self.qualifying:                          # the assistant and the lead only: nobody to coach
            log.debug("call %s: %s while qualifying, not for anyone", self.id, iv.trigger)
            return
        seq = self.seq
        self.seq += 1
        card = self.s.screen.card(self.id, seq, iv, time.time())     # the screen first: latency
        self.s.store.add_intervention(self.id, seq, iv)
        if live and iv.mode is Mode.SILENT and self.account and self.account.sip_message and self.args.get("rep"):
            self.spawn(self._sip_message(card), f"sip-{seq}")
        entry = {"seq": seq, **iv.to_json(), "delivery": "pending"}
        self.delivered.append(entry)
        if live:
            self.spawn(self._deliver(seq, iv, entry), f"deliver-{seq}")
        else:
            self._mark(seq, entry, "call-ended", None)

    def _mark(self, seq: int, entry: dict, status: str, at: Optional[float]) -> None:
        entry["delivery"], entry["delivered_at"] = status, at
        self.s.screen.update_card(self.id, seq, delivery=status, delivered_at=at)
        self.s.store.set_delivery(self.id, seq, status, at)

    async def _sip_message(self, card: dict) -> None:
        """The card's short text to the rep's softphone too (their option)."""
        try:
            await send_message(self.s.ari, self.args["rep"], card_text(card), self.s.sip_from)
        except (AriError, AriUnavailable, ValueError) as e:
            log.info("call %s: card %d not sent as SIP MESSAGE: %s", self.id, card["seq"], e)

    async def _deliver(self, seq: int, iv: Intervention, entry: dict) -> None:
        try:
            if iv.mode is Mode.VOICE:
                status = await self._speak(iv, seq)
            elif iv.mode is Mode.WHISPER:
                status = await self._whisper(iv.say, tone=True, wait=True, seq=seq)
            else:
                status = "shown"
        except (AriError, AriUnavailable, asyncio.TimeoutError) as e:
            log.warning("call %s: intervention %d not delivered: %s", self.id, seq, e)
            status = "failed"
        at = self.spoke_at.pop(seq, None) if status in ("spoken", "interrupted", "whispered") else None
        if status == "shown":
            at = round(self.now(), 2)
        self._mark(seq, entry, status, at)

    def someone_speaking(self) -> bool:
        return any(p.segmenter.speaking for p in self.pipeline.parties.values())

    async def _speak(self, iv: Intervention, seq: int) -> str:
        """Tone + the assistant's intro, then the words, into the bridge -
        in a gap, or not at all."""
        async with self._voice_lock:
            while True:
                if self.ended:
                    return "call-ended"
                verdict = when_to_speak(iv.at, self.now(), self.someone_speaking(), self.s.options.voice_max_wait_s)
                if verdict == "give-up":
                    return "expired"
                if verdict == "now":
                    break
                await asyncio.sleep(0.02)
            body = f"say-{uuid.uuid4().hex}"        # unguessable: the media URL needs no login
            self.s.media.promise(body)
            self.spawn(self.s.synthesize(body, iv.say), "tts")
            intro_pb, body_pb = f"iv-pb-{uuid.uuid4().hex[:12]}", f"iv-pb-{uuid.uuid4().hex[:12]}"
            done = self.s.waiters.expect(f"played:{body_pb}")
            await self.s.ari.call("POST", f"/bridges/{self.bridge}/play", media=self.s.media_uri(self.s.intro_key),
                                  playbackId=intro_pb)
            self.spoke_at[seq] = round(self.now(), 2)
            self._assistant(speaking=True)
            try:
                await self.s.ari.call("POST", f"/bridges/{self.bridge}/play", media=self.s.media_uri(body),
                                      playbackId=body_pb)
                status = await self._watch_barge_in(done, [intro_pb, body_pb])
            finally:
                self._assistant(speaking=False)
            if not self.ended and status in ("spoken", "interrupted"):
                self.pipeline.ai_said(self.spoke_at[seq], self.now(), f"{self.s.intro_line} {iv.say}".strip())
            return status

    def _assistant(self, speaking: bool) -> None:
        """The assistant talking is not dead air, and its end is where the
        next silence starts counting."""
        if self.ended:
            return
        now = self.now()
        out = (self.engine.speech_started(Speaker.AI, now) if speaking
               else self.engine.speech_ended(Speaker.AI, now, now))
        for iv in out:
            self._decided(iv)

    async def say(self, text: str, barge_in: bool = True) -> str:
        """The assistant talking with the lead (the lead flow's questions,
        fillers, the hand-off): into the bridge at once; the lead talking
        over it for barge_in_s stops it ("interrupted"). Goes into the
        transcript as the assistant's line."""
        async with self._voice_lock:
            if self.ended:
                return "call-ended"
            key = f"say-{uuid.uuid4().hex}"
            self.s.media.promise(key)
            synth = self.spawn(self.s.synthesize(key, text), "tts")
            pb = f"iv-pb-{uuid.uuid4().hex[:12]}"
            done = self.s.waiters.expect(f"played:{pb}")
            await self.s.ari.call("POST", f"/bridges/{self.bridge}/play", media=self.s.media_uri(key), playbackId=pb)
            start = self.now()
            self._assistant(speaking=True)
            try:
                if barge_in:
                    status = await self._watch_barge_in(done, [pb])
                else:
                    status = "failed" if await done == "failed" else "spoken"
            finally:
                self._assistant(speaking=False)
            if synth.done() and not synth.cancelled() and synth.exception() is not None:
                status = "failed"
            if not self.ended:
                self.pipeline.ai_said(start, self.now(), text)
            return status

    async def _play_to(self, channel: str, text: str) -> str:
        """Speech to one channel that is in no bridge yet (the rep, before joining)."""
        key = f"brief-{uuid.uuid4().hex}"
        self.s.media.promise(key)
        synth = self.spawn(self.s.synthesize(key, text, tone_first=True), "tts")
        pb = f"iv-pb-{uuid.uuid4().hex[:12]}"
        done = self.s.waiters.expect(f"played:{pb}")
        await self.s.ari.call("POST", f"/channels/{channel}/play", media=self.s.media_uri(key), playbackId=pb)
        state = await asyncio.wait_for(done, 120)
        await asyncio.gather(synth, return_exceptions=True)
        return "failed" if state == "failed" else "played"

    async def _watch_barge_in(self, done: "asyncio.Future", playbacks: list[str]) -> str:
        """A person who starts talking over the assistant wins: stop it."""
        talking_since: Optional[float] = None
        while not done.done():
            if self.ended:
                return "call-ended"
            if self.someone_speaking():
                talking_since = talking_since or time.monotonic()
                if time.monotonic() - talking_since >= self.s.options.barge_in_s:
                    for pb in playbacks:
                        await self.s.ari.quiet("DELETE", f"/playbacks/{pb}")
                    return "interrupted"
            else:
                talking_since = None
            await asyncio.sleep(0.02)
        return "failed" if done.result() == "failed" else "spoken"     # e.g. Asterisk could not fetch the audio

    async def _whisper(self, text: str, tone: bool, wait: bool, seq: Optional[int] = None) -> str:
        """Only the rep hears it: a snoop with whisper=out on the rep's channel."""
        if not self.rep:
            return "failed"
        if wait:
            deadline = time.monotonic() + self.s.options.whisper_max_wait_s
            rep_vad = self.pipeline.parties[Speaker.REP].segmenter
            while rep_vad.speaking and time.monotonic() < deadline and not self.ended:
                await asyncio.sleep(0.02)
        self._whispers += 1
        snoop = f"iv-{self.id}-whisper{self._whispers}"
        key = f"whisper-{uuid.uuid4().hex}"
        self.s.media.promise(key)
        synth = self.spawn(self.s.synthesize(key, text, tone_first=tone), "tts")
        started = self.s.waiters.expect(f"start:{snoop}")
        await self.s.ari.call("POST", f"/channels/{self.rep}/snoop", spy="none", whisper="out",
                              app=self.s.ari.s.app, snoopId=snoop)
        try:
            await asyncio.wait_for(started, START_TIMEOUT_S)
            await synth
            pb = f"iv-pb-{uuid.uuid4().hex[:12]}"
            done = self.s.waiters.expect(f"played:{pb}")
            await self.s.ari.call("POST", f"/channels/{snoop}/play", media=self.s.media_uri(key), playbackId=pb)
            if seq is not None:
                self.spoke_at[seq] = round(self.now(), 2)
            state = await asyncio.wait_for(done, 120)
        finally:
            await self.s.ari.quiet("DELETE", f"/channels/{snoop}")
        return "failed" if state == "failed" else "whispered"

    # --------------------------------------------------------- the end
    async def end(self, reason: str) -> None:
        """Either party gone (or Asterisk gone): hang up the other, remove
        everything we made, finish the pipeline, record the call."""
        if self.ended:
            return
        self.ended = True
        now = self.now()
        log.info("call %s: ending (%s) at %.1fs", self.id, reason, now)
        ari = self.s.ari
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        for entry in self.delivered:                 # deliveries the hang-up cut short
            if entry["delivery"] == "pending":
                seq = entry["seq"]
                self._mark(seq, entry, "interrupted" if seq in self.spoke_at else "call-ended",
                           self.spoke_at.get(seq))
        await asyncio.gather(*(t.close() for t in self.taps.values()), return_exceptions=True)
        for ch in (self.lead, self.rep or f"iv-{self.id}-rep"):
            await ari.quiet("DELETE", f"/channels/{ch}")
        await ari.quiet("DELETE", f"/bridges/{self.bridge}")
        if self.t0 is not None:
            for iv in await asyncio.to_thread(self.pipeline.finish, now):
                self._decided(iv, live=False)
        self.s.store.finish_call(self.id, round(now, 2))
        self.s.screen.call(self.id, state="ended", ended_at=time.time())
        self.s.forget(self)

    def snapshot(self) -> dict[str, Any]:
        """The call as /api/calls shows it."""
        return {"id": self.id, "lead": self.args.get("lead"), "rep": self.rep_name, "team": self.args.get("team"),
                "profile": self.engine.profile.name, "started": self.started_wall,
                "conversation_started": self.t0_wall, "now": round(self.now(), 2), "ended": self.ended,
                "taps": {sp.value: t.frames for sp, t in self.taps.items()},
                "utterances": len(self.pipeline.transcript), "interventions": list(self.delivered)}

