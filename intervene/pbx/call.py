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
from dataclasses import dataclass, replace
from functools import cached_property, wraps
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Coroutine, Optional, ParamSpec, TypeVar

from intervene.accounts.auth import User
from intervene.logctx import about_call, call_context
from intervene.metrics import DECISION_TO_DELIVERED, DELIVERIES, INTERVENTIONS, UTTERANCES
from intervene.nlp.redact import mask_phone
from intervene.pbx.ari import AriError, AriUnavailable
from intervene.pbx.briefing import briefing_text, rep_name
from intervene.pbx.listening import CallThread, ListeningFailed
from intervene.pbx.sipmsg import card_text, send_message
from intervene.pbx.tap import START_TIMEOUT_S, Tap
from intervene.screen.record import record_intervention
from intervene.store import leases
from intervene.store.db import StoreError
from intervene.vocab import AudioChunk, Intervention, Mode, Speaker, Utterance

if TYPE_CHECKING:
    from intervene.core.engine import CallEngine
    from intervene.listen.pipeline import CallPipeline
    from intervene.pbx.controller import Services

log = logging.getLogger("intervene.call")

T = TypeVar("T")
P = ParamSpec("P")

# An ended call leaves the service's list once its last writes are in (what
# reads the store after it sees the whole call), or after this long.
WRITTEN_WAIT_S = 10.0


def when_to_speak(decided: float, now: float, someone_speaking: bool, max_wait_s: float) -> str:
    """"now", "wait" or "give-up": speak only into a gap, never over a person,
    and not at all once the conversation has moved on."""
    if now - decided > max_wait_s:
        return "give-up"
    return "wait" if someone_speaking else "now"


def _nobody_listens(u: Utterance) -> None:
    return None


def _no_briefing() -> Optional[str]:
    return None


def _nothing() -> None:
    """A store job that only waits its turn: everything handed over before it is done."""


def _about_this_call(step: "Callable[Concatenate[LiveCall, P], Awaitable[T]]"
                     ) -> "Callable[Concatenate[LiveCall, P], Coroutine[Any, Any, T]]":
    """A step others call (the controller on an event, the lead flow, the
    lease keeper) logs as the call's, whichever task runs it (logctx.py)."""
    @wraps(step)
    async def about(call: "LiveCall", *args: P.args, **kwargs: P.kwargs) -> T:
        with about_call(call.id, call.s.worker):
            return await step(call, *args, **kwargs)
    return about


@dataclass(frozen=True)
class CallHooks:
    """How a call someone above pbx/ runs (the lead flow) differs from one the
    dialplan brought in. Given when the call is built, so nothing from outside
    flips the call's behaviour halfway; the defaults are the dialplan's call."""
    # The assistant talks with the lead before any rep is there: whoever runs
    # the call dials both parties and decides what a miss means, and what the
    # engine decides is for nobody until a rep joins (nobody to coach yet).
    assistant_first: bool = False
    heard: Callable[[Utterance], None] = _nobody_listens     # each final utterance, as it is stored
    rep_briefing: Callable[[], Optional[str]] = _no_briefing  # what the rep hears alone before joining


@dataclass(frozen=True)
class Earlier:
    """What an earlier run of the service stored of a call it was monitoring:
    the adopted call goes on from it instead of overwriting it."""
    utterances: int              # numbering goes on after these
    interventions: int
    t0_wall: float               # the conversation's start: the call keeps its clock
    rep: Optional[str] = None    # whose call it was recorded as (the owner's login)


@dataclass(frozen=True)
class Playing:
    """How one spoken thing is played. A correction, a whisper, a briefing
    and the assistant's lines differ only in these; the way they are played
    is one path (LiveCall._play), so a fix to it reaches them all."""
    clip: str                          # media key prefix (the key itself is random: the URL needs no login)
    tone: bool = False                 # the announcement tone rendered before the words
    intro: bool = False                # the assistant's intro clip first: nobody mistakes it for a person
    rendered_first: bool = False       # post the playback once the audio exists (else Asterisk's fetch waits)
    aloud: bool = False                # the assistant talking in the bridge: the engine hears it
    barge_in: bool = False             # a person talking over it for barge_in_s stops it
    timeout_s: Optional[float] = None  # TimeoutError when the playback takes longer


CORRECTION = Playing("say", intro=True, aloud=True, barge_in=True)     # into the bridge, in a gap
SAY = Playing("say", aloud=True, barge_in=True)                       # the assistant with the lead
SAY_THROUGH = Playing("say", aloud=True)                              # ... words the lead must hear out
BRIEF_ALONE = Playing("brief", tone=True, timeout_s=120)              # the rep, in no bridge yet
WHISPER = Playing("whisper", tone=True, rendered_first=True, timeout_s=120)
NO_REP = Playing("norep", rendered_first=True, timeout_s=30)


@dataclass(frozen=True)
class Played:
    status: str                        # spoken, interrupted, failed or call-ended
    started: float                     # call time the first clip was posted
    rendering: "asyncio.Task[None]"    # the synthesis (a playback that ended early may outrun it)


class LiveCall:
    """A sales call from the lead's arrival to the last hang-up."""

    def __init__(self, services: "Services", call_id: str, lead_channel: str, args: dict[str, str],
                 hooks: CallHooks = CallHooks(), earlier: Optional[Earlier] = None,
                 account: Optional[User] = None) -> None:
        self.s = services
        self.id = call_id
        self.lead = lead_channel
        self.rep: Optional[str] = None
        self.args = args
        self.hooks = hooks
        self.rep_name = rep_name(args)              # the phone's name: config ([reps.NAME]), a fallback owner
        self.account = account                      # the rep's account, if they have one (found in start)
        self._recorded_as = earlier.rep if earlier else None
        self.bridge = f"iv-{call_id}"
        self.started_wall = time.time()
        self.t0: Optional[float] = None             # monotonic clock at call time 0 (conversation start)
        self.t0_wall: Optional[float] = earlier.t0_wall if earlier else None
        self.ended = False
        self.taps: dict[Speaker, Tap] = {}
        # The pipeline and engine live on the call's own thread (listening.py), built there as its first
        # job: the loop only reads a party's VAD state and the transcript's length, never runs them.
        # Its log lines name the call and the worker: its tasks and its thread run in copies of this.
        self.log_context = call_context(call_id, services.worker)
        self.listening = CallThread(f"call-{call_id}", asyncio.get_running_loop(), self._trouble,
                                    context=self.log_context)
        self.profile_name, build = services.new_pipeline(args, self.listening.to_loop(self._on_utterance),
                                                         self.listening.to_loop(self._on_interim))
        self.engine: CallEngine
        self.pipeline: CallPipeline
        self._built = self.listening.ask("build", self._build, build)
        self.seq = earlier.interventions if earlier else 0      # interventions so far (store key)
        self.utt_offset = earlier.utterances if earlier else 0  # utterances an earlier run already stored
        self.delivered: list[dict[str, Any]] = []   # what happened to each intervention, for /api/calls
        self._voice_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._whispers = 0
        self.spoke_at: dict[int, float] = {}     # seq -> call time its spoken delivery began
        self._for_nobody = hooks.assistant_first   # no rep yet: interventions are not delivered
        self.rep_ready = asyncio.Event()         # the rep is in the bridge, briefed
        self._polling = False
        self._troubles: set[str] = set()         # kinds of failure already logged for this call

    @property
    def owner(self) -> Optional[str]:
        """Whose call this is on the screens and in the store: the rep's login
        when they have an account, else the phone's name. Resolved when the
        call starts, so a desk move afterwards does not hand it to anyone."""
        if self.account is not None:
            return self.account.login
        return self._recorded_as or self.rep_name

    # ------------------------------------------------------------- clock
    def now(self) -> float:
        return time.monotonic() - self.t0 if self.t0 is not None else 0.0

    def spawn(self, coro: Coroutine[Any, Any, T], name: str) -> "asyncio.Task[T]":
        ctx = self.log_context.copy()
        task = asyncio.create_task(coro, name=f"{self.id}-{name}", context=ctx)
        self._tasks.add(task)
        task.add_done_callback(self._done, context=ctx)
        return task

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call %s: %s failed: %r", self.id, task.get_name(), task.exception())

    # ----------------------------------------------------------- set-up
    def _build(self, build: Callable[[], "tuple[CallEngine, CallPipeline]"]) -> None:
        self.engine, self.pipeline = build()      # on the call's thread, before anything else runs there

    async def ready(self) -> None:
        """The engine and pipeline are built: before anything that listens starts."""
        await self._built
        if not hasattr(self, "pipeline"):
            raise ListeningFailed(f"call {self.id}: its engine could not be built (see the log)")

    @cached_property
    def briefing(self) -> str:
        """The dialplan's call: what the rep sees while their phone rings and
        hears as they join, from the call's arguments and the KB (once)."""
        return briefing_text(self.args, self.s.kb)

    @_about_this_call
    async def start(self) -> None:
        """The lead is in our app: bridge them, hold music, ring the rep."""
        ari, app = self.s.ari, self.s.ari.s.app
        await self.ready()
        if self.account is None and self.args.get("rep"):
            self.account = await self.s.account(self.args)
        self.s.store_call(self)
        if self.s.options.briefing:                 # on the rep's screen while their phone rings
            self.s.screen.briefing(self.id, self.briefing)
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
            log.warning("call %s: cannot ring the rep %s: %s", self.id, mask_phone(rep), e)
            self.spawn(self.rep_unavailable(), "no-rep")

    async def rep_unavailable(self) -> None:
        """The rep did not answer (or cannot be rung): tell the lead, politely,
        instead of leaving them on hold or hanging up on them."""
        if self.ended or self.rep is not None:
            return
        ari = self.s.ari
        self.s.db.write(self.s.store.update_call, self.id, outcome="rep-unavailable")
        self.s.screen.call(self.id, outcome="rep-unavailable")
        await ari.quiet("DELETE", f"/channels/{self.lead}/moh")
        try:
            await self._play(f"/channels/{self.lead}", self.s.options.no_rep_message, NO_REP)
        except (AriError, AriUnavailable, asyncio.TimeoutError) as e:
            log.warning("call %s: could not tell the lead: %s", self.id, e)
        await self.end("the rep did not answer")

    def ringing(self, rep: User) -> None:
        """The lead flow rings this rep: from now on the call is theirs (its
        records, who may see it on the screens)."""
        self.args["rep"] = rep.endpoint
        self.rep_name, self.account = rep.login, rep

    def rep_missed(self) -> None:
        """The rep rung did not join: the next one may."""
        self.rep = None

    @_about_this_call
    async def rep_joined(self, channel: str, adopted: bool = False) -> None:
        """The rep answered: into the bridge, taps on both parties, the
        whispered briefing while the lead holds, then the clock starts.
        In the lead flow the lead is talking with the assistant meanwhile, so
        the rep is briefed alone first and joins after."""
        ari = self.s.ari
        await self.ready()
        self.rep = channel
        alone = None if adopted else self.hooks.rep_briefing()
        if alone is not None:
            status = await self._brief_alone(channel, alone)
            log.info("call %s: rep briefed alone (%s, %d chars)", self.id, status, len(alone))
            await ari.call("POST", f"/bridges/{self.bridge}/addChannel", channel=channel)
            await self.open_taps()
            self._for_nobody = False
        else:
            if not adopted:
                await ari.call("POST", f"/bridges/{self.bridge}/addChannel", channel=channel)
            await self.open_taps()
            if self.s.options.briefing and not adopted:
                status = await self._whisper(self.briefing, wait=False)
                log.info("call %s: briefing %s (%d chars)", self.id, status, len(self.briefing))
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
            self.s.db.write(self.s.store.update_call, self.id, conversation_started=self.t0_wall)
        self.t0 = time.monotonic() - (time.time() - self.t0_wall)
        if not self._polling:
            self._polling = True
            self.spawn(self._poll(), "poll")

    async def begin_with_lead(self) -> None:
        """The lead flow: the lead answered our callback. Into the bridge,
        their tap, and the clock starts - the assistant talks first."""
        ari = self.s.ari
        await self.ready()
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
        taps = [Tap(self, sp, ch) for sp, ch in todo if ch]
        await asyncio.gather(*(t.open() for t in taps))
        self.taps.update({t.speaker: t for t in taps})

    # ------------------------------------------------------- the flow
    async def _poll(self) -> None:
        """Decisions out of the pipeline, on the real clock, from the call's
        thread. One step that fails (a bug, a screen gone) is logged and the
        next one runs: ending this task would leave the call going on with no
        cards and no transcript. A step is awaited before the next is asked
        for, so a slow engine slows this call's polling, not the loop."""
        period = self.s.options.poll_ms / 1000
        while not self.ended:
            await self.listening.ask("poll", self._poll_step, then=self._decided_all)
            await asyncio.sleep(period)

    def _poll_step(self) -> list[Intervention]:
        """On the call's thread: `now` read when the step runs, not when it was asked for."""
        return self.pipeline.poll(self.now())

    def hear(self, chunk: AudioChunk) -> None:
        """A tap's audio frame, to the call's thread (VAD, transcription submitted)."""
        self.listening.post("feed", self._feed, chunk)

    # the pipeline and engine, each step run on the call's thread in the order handed over
    def _feed(self, chunk: AudioChunk) -> None:
        self.pipeline.feed(chunk)

    def _ai_said(self, start: float, end: float, text: str) -> None:
        self.pipeline.ai_said(start, end, text)

    def _ai_speech(self, speaking: bool, now: float) -> list[Intervention]:
        return (self.engine.speech_started(Speaker.AI, now) if speaking
                else self.engine.speech_ended(Speaker.AI, now, now))

    def _finish(self, now: float) -> list[Intervention]:
        return self.pipeline.finish(now)

    def _decided_all(self, decided: list[Intervention], live: bool = True) -> None:
        """What the engine decided, on the loop in the order it decided it; a
        decision that arrives after the hang-up is recorded, not delivered."""
        for iv in decided:
            try:
                self._decided(iv, live=live and not self.ended)
            except Exception as e:
                self._trouble("decide", e)

    def _ended_decisions(self, decided: list[Intervention]) -> None:
        self._decided_all(decided, live=False)

    def _trouble(self, where: str, e: Exception) -> None:
        """A failure the call survives: logged once per kind and call, not 25 times a second."""
        kind = f"{where}:{e.__class__.__name__}"
        if kind in self._troubles:
            return
        self._troubles.add(kind)
        log.error("call %s: %s failed (%s: %s); the call goes on (further %s failures of this call not logged)",
                  self.id, where, e.__class__.__name__, mask_phone(e), e.__class__.__name__)
        # the traceback ends in the message unmasked: only where someone asked for debugging
        log.debug("call %s: %s failed", self.id, where, exc_info=(type(e), e, e.__traceback__))

    def _on_utterance(self, u: Utterance) -> None:
        """Handed to the loop by the pipeline's step on the call's thread, in
        the order the lines were made; a failure here is logged per kind and the
        next line still goes out. The store is written off the loop, in order,
        kept in memory while the database is locked."""
        u = replace(u, index=u.index + self.utt_offset)
        UTTERANCES.labels(u.speaker.value, "final").inc()
        for where, step in (("screen", lambda: self.s.screen.line(self.id, u)),
                            ("store", lambda: self.s.db.write(self.s.store.add_utterance, self.id, u)),
                            ("heard", lambda: self.hooks.heard(u))):
            try:
                step()
            except Exception as e:
                self._trouble(f"utterance {where}", e)

    def _on_interim(self, u: Utterance) -> None:
        if not self.ended:
            UTTERANCES.labels(u.speaker.value, "interim").inc()
            self.s.screen.line(self.id, u)

    def _decided(self, iv: Intervention, live: bool = True) -> None:
        if self._for_nobody:                         # the assistant and the lead only: nobody to coach
            log.debug("call %s: %s while qualifying, not for anyone", self.id, iv.trigger)
            return
        seq = self.seq
        self.seq += 1
        INTERVENTIONS.labels(iv.category.value, iv.mode.value).inc()
        card = record_intervention(self.s.db, self.s.screen, self.id, seq, iv)     # the row: off the loop
        if live and iv.mode is Mode.SILENT and self.account and self.account.sip_message and self.args.get("rep"):
            self.spawn(self._sip_message(card), f"sip-{seq}")
        entry = {"seq": seq, **iv.to_json(), "delivery": "pending"}
        self.delivered.append(entry)
        if live:
            self.spawn(self._deliver(seq, iv, entry), f"deliver-{seq}")
        else:
            self._mark(seq, entry, "call-ended", None)

    def _mark(self, seq: int, entry: dict[str, Any], status: str, at: Optional[float]) -> None:
        entry["delivery"], entry["delivered_at"] = status, at
        DELIVERIES.labels(str(entry.get("mode", "")), status).inc()
        self.s.screen.update_card(self.id, seq, delivery=status, delivered_at=at)
        self.s.db.write(self.s.store.set_delivery, self.id, seq, status, at)

    async def _sip_message(self, card: dict[str, Any]) -> None:
        """The card's short text to the rep's softphone too (their option)."""
        try:
            await send_message(self.s.ari, self.args["rep"], card_text(card), self.s.sip_from)
        except (AriError, AriUnavailable, ValueError) as e:
            log.info("call %s: card %d not sent as SIP MESSAGE: %s", self.id, card["seq"], mask_phone(e))

    async def _deliver(self, seq: int, iv: Intervention, entry: dict[str, Any]) -> None:
        try:
            if iv.mode is Mode.VOICE:
                status = await self._speak(iv, seq)
            elif iv.mode is Mode.WHISPER:
                status = await self._whisper(iv.say, wait=True, seq=seq)
            else:
                status = "shown"
        except (AriError, AriUnavailable, asyncio.TimeoutError) as e:
            log.warning("call %s: intervention %d not delivered: %s", self.id, seq, e)
            status = "failed"
        at = self.spoke_at.pop(seq, None) if status in ("spoken", "interrupted", "whispered") else None
        if status == "shown":
            at = round(self.now(), 2)
        if at is not None:                           # iv.at: the call time the policy decided it
            DECISION_TO_DELIVERED.labels(iv.mode.value).observe(max(0.0, at - iv.at))
        self._mark(seq, entry, status, at)

    def someone_speaking(self) -> bool:
        """Read on the loop while the call's thread feeds VAD: a flag, a frame late at worst."""
        pipeline: Optional[CallPipeline] = getattr(self, "pipeline", None)
        return pipeline is not None and any(p.segmenter.speaking for p in pipeline.parties.values())

    # ------------------------------------------------------- speaking
    async def _play(self, target: str, text: str, how: Playing, seq: Optional[int] = None,
                    setup: Optional[Callable[[], Awaitable[None]]] = None) -> Played:
        """Every spoken thing goes this way. The clip is promised before it is
        rendered, so Asterisk's fetch waits for the audio instead of a 404,
        and the rendering runs while the playback is set up; `target` is the
        ARI channel or bridge (`/channels/X`, `/bridges/X`) that plays it,
        `setup` what must exist before it can (a whisper's snoop)."""
        s = self.s
        key = f"{how.clip}-{uuid.uuid4().hex}"
        s.media.promise(key)
        rendering = self.spawn(s.synthesize(key, text, tone_first=how.tone), "tts")
        if setup is not None:
            await setup()
        if how.rendered_first:
            await rendering
        clips = ([s.intro_key] if how.intro else []) + [key]
        playbacks = [f"iv-pb-{uuid.uuid4().hex[:12]}" for _ in clips]
        done = s.waiters.expect(f"played:{playbacks[-1]}")
        await s.ari.call("POST", f"{target}/play", media=s.media_uri(clips[0]), playbackId=playbacks[0])
        started = self.now()
        if seq is not None:
            self.spoke_at[seq] = round(started, 2)
        if how.aloud:
            self._assistant(speaking=True)
        try:
            for clip, pb in zip(clips[1:], playbacks[1:]):
                await s.ari.call("POST", f"{target}/play", media=s.media_uri(clip), playbackId=pb)
            if how.barge_in:
                status = await self._watch_barge_in(done, playbacks)
            else:
                state = await (asyncio.wait_for(done, how.timeout_s) if how.timeout_s is not None else done)
                status = "failed" if state == "failed" else "spoken"
        finally:
            if how.aloud:
                self._assistant(speaking=False)
        return Played(status, started, rendering)

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
            played = await self._play(f"/bridges/{self.bridge}", iv.say, CORRECTION, seq=seq)
            if not self.ended and played.status in ("spoken", "interrupted"):
                self.listening.post("ai_said", self._ai_said, self.spoke_at[seq], self.now(),
                                    f"{self.s.intro_line} {iv.say}".strip())
            return played.status

    def _assistant(self, speaking: bool) -> None:
        """The assistant talking is not dead air, and its end is where the
        next silence starts counting."""
        if self.ended:
            return
        self.listening.ask("assistant", self._ai_speech, speaking, self.now(), then=self._decided_all)

    async def say(self, text: str, barge_in: bool = True) -> str:
        """The assistant talking with the lead (the lead flow's questions,
        fillers, the hand-off): into the bridge at once; the lead talking
        over it for barge_in_s stops it ("interrupted"). Goes into the
        transcript as the assistant's line."""
        async with self._voice_lock:
            if self.ended:
                return "call-ended"
            played = await self._play(f"/bridges/{self.bridge}", text, SAY if barge_in else SAY_THROUGH)
            status, rendering = played.status, played.rendering
            if rendering.done() and not rendering.cancelled() and rendering.exception() is not None:
                status = "failed"
            if not self.ended:
                self.listening.post("ai_said", self._ai_said, played.started, self.now(), text)
            return status

    async def _brief_alone(self, channel: str, text: str) -> str:
        """Speech to one channel that is in no bridge yet (the rep, before joining)."""
        played = await self._play(f"/channels/{channel}", text, BRIEF_ALONE)
        await asyncio.gather(played.rendering, return_exceptions=True)
        return "failed" if played.status == "failed" else "played"

    async def _watch_barge_in(self, done: "asyncio.Future[Any]", playbacks: list[str]) -> str:
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

    async def _whisper(self, text: str, wait: bool, seq: Optional[int] = None) -> str:
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

        async def open_snoop() -> None:
            started = self.s.waiters.expect(f"start:{snoop}")
            await self.s.ari.call("POST", f"/channels/{self.rep}/snoop", spy="none", whisper="out",
                                  app=self.s.ari.s.app, snoopId=snoop)
            await asyncio.wait_for(started, START_TIMEOUT_S)

        try:
            played = await self._play(f"/channels/{snoop}", text, WHISPER, seq=seq, setup=open_snoop)
        finally:
            await self.s.ari.quiet("DELETE", f"/channels/{snoop}")
        return "failed" if played.status == "failed" else "whispered"

    # --------------------------------------------------------- the end
    @_about_this_call
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
        if self.t0 is not None:                      # after every frame and step handed over before
            await self.listening.ask("finish", self._finish, now, then=self._ended_decisions)
        self.listening.close()
        self.s.db.write(self.s.store.finish_call, self.id, round(now, 2))
        self.s.db.write(leases.release, self.s.store, self.id, self.s.worker)
        self.s.screen.call(self.id, state="ended", ended_at=time.time())
        self.spawn(self._forget_when_written(), "written")

    @_about_this_call
    async def let_go(self) -> None:
        """Another worker took this call over (this one stalled past its
        lease): stop listening and forget it, touching nothing in Asterisk -
        the channels, and taps of the same names, are the new owner's now."""
        if self.ended:
            return
        self.ended = True
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        for tap in self.taps.values():
            await tap.drop()
        self.listening.close()
        self.s.forget(self)

    async def _forget_when_written(self) -> None:
        """Out of the service's calls once everything it handed the store is
        in, so whoever sees it gone reads the whole call. A store locked
        longer keeps the writes queued (they go in when it is back); the
        call is forgotten anyway."""
        try:
            await asyncio.wait_for(self.s.db.run(_nothing), WRITTEN_WAIT_S)
        except (asyncio.TimeoutError, StoreError) as e:
            log.warning("call %s: ended with writes still queued (%s); they go in when the store is back",
                        self.id, e.__class__.__name__)
        self.s.forget(self)

    def snapshot(self) -> dict[str, Any]:
        """The call as /api/calls shows it."""
        pipeline: Optional[CallPipeline] = getattr(self, "pipeline", None)
        return {"id": self.id, "lead": self.args.get("lead"), "rep": self.owner, "team": self.args.get("team"),
                "profile": self.profile_name, "started": self.started_wall,
                "conversation_started": self.t0_wall, "now": round(self.now(), 2), "ended": self.ended,
                "taps": {sp.value: t.frames for sp, t in self.taps.items()},
                "utterances": len(pipeline.transcript) if pipeline else 0, "interventions": list(self.delivered)}

