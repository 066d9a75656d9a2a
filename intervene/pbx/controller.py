"""`intervene serve`: the ARI controller.

Connects the app's events websocket before any call can arrive, dispatches
events to the live calls, and survives Asterisk: when the websocket drops it
reconnects with backoff, then re-adopts the calls still in progress (their
channels still exist: new taps if the old ones died) and ends the ones that
vanished. At start-up it adopts calls a previous run left monitored, and
removes its own leftover snoops, media channels and bridges.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine, Optional, Sequence

import aiohttp
import numpy as np

from intervene.accounts.auth import User
from intervene.config import Config
from intervene.config.live import LiveOptions
from intervene.core.engine import CallEngine
from intervene.listen.pipeline import CallPipeline, ListenOptions
from intervene.logctx import about_call
from intervene.nlp.redact import mask_phone
from intervene.pbx.ari import Ari, AriError, AriUnavailable
from intervene.pbx.briefing import args_for_log, parse_args, rep_name
from intervene.pbx.call import Earlier, LiveCall
from intervene.pbx.cluster import ADOPTED_ARG, LeaseKeeper
from intervene.pbx.listening import ListeningFailed
from intervene.pbx.media import MediaStore, WebServer
from intervene.pbx.voice import Voice, announcement, intro_text, tone, wav_bytes
from intervene.screen.hub import Hub
from intervene.store import leases
from intervene.store.db import Store, StoreError
from intervene.store.worker import StoreWorker
from intervene.vocab import KnowledgeBase, Utterance, new_call_id

log = logging.getLogger("intervene.serve")

BACKOFF_S = (0.2, 0.5, 1.0, 2.0)     # then every 2 s: a restarted Asterisk is back in seconds
# The lead is waiting to be answered while the rep's account is looked up: a
# store locked longer than this records the call under the phone instead.
ACCOUNT_WAIT_S = 2.0


def account_for(users: Sequence[dict[str, Any]], args: dict[str, str]) -> Optional[User]:
    """Whose call this is, by the user rows: the account that holds the
    dialled phone (`rep=PJSIP/rep7`) now; failing that, an account without a
    phone whose login is the phone's name (installs that name logins after
    phones). Never a login that merely shares the name of a phone it does
    not hold: after a desk move that would hand the call to the wrong person."""
    name, endpoint = rep_name(args), args.get("rep", "")
    reps = [r for r in users if r["role"] in ("rep", "admin")]
    by_phone = [r for r in reps if endpoint and r.get("endpoint") == endpoint]
    by_name = [r for r in reps if name and r["login"] == name and not r.get("endpoint")]
    rows = by_phone or by_name
    return User.from_row(rows[0]) if rows else None


def _stored_call(store: Store, call_id: str) -> tuple[dict[str, Any], int, int, Optional[dict[str, Any]]]:
    """On the store thread: what an earlier run kept of a call (row, counts of
    utterances and interventions, its owner's user row) in one visit."""
    row = store.call(call_id) or {}
    owner = store.user(row["rep"]) if row.get("rep") else None
    return row, len(store.utterances(call_id)), len(store.interventions(call_id)), owner


class Waiters:
    """Futures for ARI events someone awaits: "start:<channel>", "played:<playback>"."""

    def __init__(self) -> None:
        self._w: dict[str, asyncio.Future[Any]] = {}

    def expect(self, key: str) -> asyncio.Future[Any]:
        fut = self._w.get(key)
        if fut is None or fut.done():
            fut = self._w[key] = asyncio.get_running_loop().create_future()
        return fut

    def resolve(self, key: str, value: Any = None) -> None:
        fut = self._w.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(value)

    def fail_all(self, error: Exception) -> None:
        for fut in self._w.values():
            if not fut.done():
                fut.set_exception(error)
        self._w.clear()


@dataclass
class Services:
    """What a live call needs from the service: one of each, shared."""
    ari: Ari
    store: Store
    kb: KnowledgeBase
    index: Any                     # KBIndex
    config: Config
    asr: Any                       # AsrPool
    voice: Voice
    media: MediaStore
    public_url: str
    options: LiveOptions = LiveOptions()
    waiters: Waiters = field(default_factory=Waiters)
    calls: dict[str, LiveCall] = field(default_factory=dict)
    intro_key: str = "intro"
    intro_line: str = ""                           # what the intro clip says (for the transcript)
    screen: Hub = field(default_factory=Hub)       # what the reps' and supervisors' screens show
    sip_from: str = "intervene"                    # sender of cards sent as SIP MESSAGE
    worker: str = ""                               # this worker's name ([serve] worker, else the host's)
    # ARI's events flow and the calls of before are re-adopted: until then nothing may be dialled
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    db: StoreWorker = field(init=False)            # the store, off the event loop (every call's writes)
    shared_db: Optional[StoreWorker] = None        # another Asterisk's Services: its worker is this one's too
    # one engine built at a time: the first builds the KB's shared pieces (index.shared is not thread-safe)
    _building: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.db = self.shared_db if self.shared_db is not None else StoreWorker(self.store)
        configured = self.config.serve.worker if self.config is not None else ""
        self.worker = self.worker or configured or socket.gethostname()

    def new_pipeline(self, args: dict[str, str], on_utterance: Callable[[Utterance], None],
                     on_interim: Callable[[Utterance], None]
                     ) -> tuple[str, Callable[[], tuple[CallEngine, CallPipeline]]]:
        """The call's profile (its name is on the screens and in the store at
        once) and how to build its engine and pipeline - on the call's own
        thread: an engine reads the KB's vectors and a sentiment lexicon (a
        quarter of a second for the service's first call), too long for the loop."""
        a = self.config.resolve(rep=rep_name(args), team=args.get("team"), profile=args.get("profile"), mode=args.get("mode"))
        options = ListenOptions(vad=self.config.vad, redact=self.config.redaction)     # [redaction]: before anything sees it

        def build() -> tuple[CallEngine, CallPipeline]:
            with self._building:
                engine = CallEngine(self.index, a.profile, a.modes)
            return engine, CallPipeline(engine, self.asr, 16000, options, on_utterance, on_interim)
        return a.profile.name, build

    def warm_engine(self) -> None:
        """Build one engine before any call: the KB's shared pieces (claim
        checker, prototypes) read and write the vector cache in SQLite, so
        this runs on the store's thread (`db.run`), once; a call's own engine
        then only reuses them."""
        with self._building:
            CallEngine(self.index, self.config.resolve().profile)

    async def account(self, args: dict[str, str]) -> Optional[User]:
        """The rep's user account (see account_for), read off the loop. A
        store that cannot answer in time leaves the call under the phone's name."""
        try:
            users = await asyncio.wait_for(self.db.run(self.store.users), ACCOUNT_WAIT_S)
        except (asyncio.TimeoutError, StoreError) as e:
            log.warning("the rep's account for %s could not be read (%s); recording the call under the phone",
                        mask_phone(args.get("rep", "")), e.__class__.__name__)
            return None
        return account_for(users, args)

    def media_uri(self, key: str) -> str:
        return f"sound:{self.public_url}/media/{key}.wav"

    async def synthesize(self, key: str, text: str, tone_first: bool = False) -> None:
        """Render into the media store; a fetch that comes first waits for it."""
        try:
            pcm = await asyncio.to_thread(self.voice.speak, text)
            if tone_first:
                pcm = np.concatenate([tone(self.voice.rate), pcm])
            self.media.put(key, wav_bytes(pcm, self.voice.rate))
        except Exception as e:
            self.media.fail(key, e)
            raise

    def store_call(self, call: LiveCall, state: str = "ringing") -> None:
        """The call's row, under its owner's login (the phone stays in
        rep_endpoint, for the record): who sees it follows the person, not the desk."""
        self.calls[call.id] = call
        self.db.write(self.store.start_call, call.id, source="live", rep=call.owner, team=call.args.get("team"),
                      profile=call.profile_name, mode="mixed", kb=self.kb.source,
                      lead=call.args.get("lead"), rep_endpoint=call.args.get("rep"), worker=self.worker)
        self.db.write(leases.take, self.store, call.id, self.worker, self.ari.s.app, time.time(),
                      asterisk=str(self.ari.s.url))
        self.show_call(call, state)

    def show_call(self, call: LiveCall, state: str) -> None:
        acc = call.account
        self.screen.call(call.id, rep=call.owner,
                         rep_name=acc.name if acc else call.rep_name, team=call.args.get("team"),
                         lead=call.args.get("lead"), lead_name=call.args.get("name") or call.args.get("lead"),
                         profile=call.profile_name, state=state, rep_endpoint=call.args.get("rep"),
                         started=call.started_wall)

    def forget(self, call: LiveCall) -> None:
        self.calls.pop(call.id, None)


class Controller:
    def __init__(self, services: Services, web: WebServer, public_url: str = "",
                 background: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = (),
                 on_started: Sequence[Callable[[], None]] = (), leads: Any = None) -> None:
        self.s = services
        self.web = web
        self.public_url = public_url
        self.background = list(background)      # the lead flow: runs until stop
        self.on_started = list(on_started)      # told once the HTTP server listens
        # The lead service, for whoever holds the controller (the harness reaches the
        # flow through it). Opaque here: leads/ sits above pbx/, and nothing here uses it.
        self.leads = leads
        self.connections = 0
        self.leases = LeaseKeeper(services, self._adopt)
        self.more: list[Controller] = []         # this worker's other Asterisk servers (attend())
        self._stop = asyncio.Event()
        self._ws: Optional[aiohttp.ClientWebSocketResponse] = None

    @property
    def connected(self) -> asyncio.Event:
        return self.s.connected

    # ------------------------------------------------------------- life
    async def run(self) -> None:
        s = self.s
        try:
            await s.db.run(s.warm_engine, timeout=None)
        except Exception as e:          # each call then tries on its own, and says why it could not
            log.error("could not build the engine ahead of the calls: %s: %s", e.__class__.__name__, e)
        await asyncio.to_thread(_settle_heap)        # before anything is served: it holds the GIL
        await self.web.start()
        for fn in self.on_started:
            fn()
        s.public_url = (self.public_url or f"http://{self.web.host}:{self.web.port}").rstrip("/")
        intro = intro_text(s.kb.assistant.name, s.kb.assistant.intro)
        s.intro_line = intro
        pcm = await asyncio.to_thread(announcement, s.voice, intro)
        s.media.put(s.intro_key, wav_bytes(pcm, s.voice.rate))
        for other in self.more:                  # the other Asterisk servers: the same web server and clips
            other.s.public_url, other.s.intro_line = s.public_url, intro
        tasks = [asyncio.create_task(job(self._stop)) for job in [*self.background, self.leases.run]]
        tasks += [asyncio.create_task(other.attend(self._stop)) for other in self.more]
        try:
            await self._ari_loop()
        finally:
            self._stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for call in list(s.calls.values()):
                await call.end("service stopping")
            await s.screen.close()                   # a cluster's: the calls' last states reach the other workers
            await self.web.stop()
            await s.ari.close()
            await asyncio.to_thread(s.db.close)      # what the calls handed over is written before exit

    async def attend(self, stop: asyncio.Event) -> None:
        """Another Asterisk of this worker ([[serve.asterisk]]): its events,
        calls and leases, until the service stops. The web server, the
        models, the store's thread and the screens are the first one's."""
        self._stop = stop
        keeper = asyncio.create_task(self.leases.run(stop))
        try:
            await self._ari_loop()
        finally:
            await asyncio.gather(keeper, return_exceptions=True)
            for call in list(self.s.calls.values()):
                await call.end("service stopping")
            await self.s.ari.close()

    async def _ari_loop(self) -> None:
        """Connect the events websocket (with backoff), dispatch, reconnect; until stopped."""
        s = self.s
        attempt = 0
        while not self._stop.is_set():
            try:
                ws = self._ws = await s.ari.connect_events()
            except AriUnavailable as e:
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                if attempt in (1, 5) or attempt % 30 == 0:
                    log.warning("Asterisk not reachable (%s); retrying every %.1fs", e, delay)
                await self._sleep(delay)
                continue
            attempt = 0
            await self._connected()
            async for ev in s.ari.events(ws):
                await self._dispatch(ev)
                if self._stop.is_set():
                    break
            self.connected.clear()
            if not self._stop.is_set():
                log.warning("lost the ARI events connection; reconnecting")
                s.waiters.fail_all(AriUnavailable("ARI connection lost"))

    def stop(self) -> None:
        self._stop.set()
        for c in (self, *self.more):
            if c._ws is not None:
                asyncio.get_running_loop().create_task(c._ws.close())

    async def _sleep(self, s: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), s)
        except asyncio.TimeoutError:
            pass

    async def _connected(self) -> None:
        self.connections += 1
        log.info("ARI connected (%s, app %s)%s", self.s.ari.s.url, self.s.ari.s.app,
                 "" if self.connections == 1 else f", reconnection {self.connections - 1}")
        asyncio.create_task(self._readopt_then_ready())

    async def _readopt_then_ready(self) -> None:
        """In the background: adopting needs the events (StasisStart of new taps) to keep flowing."""
        try:
            await self.readopt()
        except Exception as e:          # never let clean-up take the service down
            log.warning("re-adopting calls failed: %r", e)
        self.connected.set()

    # ------------------------------------------------- adopt and clean
    async def readopt(self) -> None:
        """Match what Asterisk has against what we know: keep calls whose
        parties are still there (new taps where the old ones died), end the
        rest, adopt monitored calls of an earlier run, delete leftovers."""
        ari = self.s.ari
        channels = {c["id"]: c for c in await ari.call("GET", "/channels")}
        bridges = {b["id"]: b for b in await ari.call("GET", "/bridges")}
        for call in list(self.s.calls.values()):
            if call.lead not in channels or (call.rep and call.rep not in channels):
                await call.end("a party left while disconnected")
        # other workers' live calls (their leases hold) are theirs: nothing of them is touched here
        others = await self.s.db.run(leases.held_by_others, self.s.store, self.s.worker, time.time())
        # leftovers: our helper channels and tap bridges that no call we know owns
        keep = [f"iv-{c.id}-" for c in self.s.calls.values()] + [f"iv-{cid}-" for cid in others]
        for cid in channels:
            if (cid.startswith("iv-") and not cid.endswith("-rep")
                    and ("-whisper" in cid or not any(cid.startswith(k) for k in keep))):
                await ari.quiet("DELETE", f"/channels/{cid}")
        for bid in bridges:
            if bid.endswith("-tap") and not any(bid.startswith(k) for k in keep):
                await ari.quiet("DELETE", f"/bridges/{bid}")
        # calls still in progress: ours get new taps where theirs died; an earlier run's are adopted
        for call in list(self.s.calls.values()):
            if call.rep and not call.ended:
                await call.open_taps()
        known = {f"iv-{c.id}" for c in self.s.calls.values()} | {f"iv-{cid}" for cid in others}
        for bid, b in bridges.items():
            if not bid.startswith("iv-") or bid in known or bid.endswith("-tap"):
                continue
            cid = bid[3:]
            members = [c for c in b.get("channels", []) if c in channels]
            leads = [c for c in members if not c.startswith("iv-")]
            if f"iv-{cid}-rep" in members and leads:
                # ours from before a restart, or a dead worker's (won through its lease): into our app, adopted
                await self.leases.adopt_found(cid, time.time())
            else:
                await ari.quiet("DELETE", f"/bridges/{bid}")

    async def _adopt(self, cid: str, lead: str, rep: str, lead_info: dict[str, Any]) -> None:
        """A call an earlier run monitored: new taps, the same call id and
        clock, and what that run stored is kept (numbering goes on from it)."""
        row, utterances, interventions, owner = await self.s.db.run(_stored_call, self.s.store, cid)
        args = {k: row[k] for k in ("lead", "team") if row.get(k)}
        args.setdefault("lead", (lead_info.get("caller") or {}).get("number", ""))
        if row.get("rep_endpoint") or row.get("rep"):       # rows of before rep_endpoint: the phone's name
            args["rep"] = row.get("rep_endpoint") or row["rep"]
        earlier = Earlier(utterances=utterances, interventions=interventions,
                          t0_wall=row.get("conversation_started") or time.time(), rep=row.get("rep"))
        account = User.from_row(owner) if owner and owner.get("role") in ("rep", "admin") else None
        call = LiveCall(self.s, cid, lead, args, earlier=earlier, account=account)
        self.s.calls[cid] = call
        self.s.db.write(leases.take, self.s.store, cid, self.s.worker, self.s.ari.s.app, time.time(),
                        asterisk=str(self.s.ari.s.url))
        if not row:
            self.s.store_call(call, state="live")
        else:
            self.s.show_call(call, "live")
        with about_call(cid, self.s.worker):
            log.info("adopting call %s still in progress (lead %s), %d utterances already stored",
                     cid, lead, call.utt_offset)
            await call.rep_joined(rep, adopted=True)

    # --------------------------------------------------------- events
    async def _dispatch(self, ev: dict[str, Any]) -> None:
        kind = ev.get("type")
        log.debug("event %s %s", kind, (ev.get("channel") or ev.get("playback") or ev.get("bridge") or {}).get("id"))
        try:
            if kind == "StasisStart":
                await self._stasis_start(ev)
            elif kind in ("StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"):
                if kind == "ChannelDestroyed":       # the lead flow waits on its dialled channels
                    self.s.waiters.resolve(f"gone:{ev['channel']['id']}", ev.get("cause_txt") or ev.get("cause"))
                await self._gone(ev["channel"]["id"], kind)
            elif kind == "PlaybackFinished":
                self.s.waiters.resolve(f"played:{ev['playback']['id']}", ev["playback"].get("state"))
        except (AriError, AriUnavailable, asyncio.TimeoutError) as e:
            log.error("handling %s failed: %s", kind, e)
        except Exception:               # a bug in one call's handling must not hang up everyone's
            log.exception("handling %s failed", kind)

    async def _stasis_start(self, ev: dict[str, Any]) -> None:
        ch = ev["channel"]
        cid = ch["id"]
        args = ev.get("args") or []
        self.s.waiters.resolve(f"start:{cid}", ch)
        if args[:1] == [ADOPTED_ARG]:                # a call's channel we moved into our app (cluster.py)
            return
        if args[:1] == ["iv-rep"] and len(args) > 1:
            call = self.s.calls.get(args[1])
            if call is None or call.ended:
                await self.s.ari.quiet("DELETE", f"/channels/{cid}")
                return
            asyncio.create_task(self._guard(call, call.rep_joined(cid)), context=call.log_context.copy())
        elif not cid.startswith("iv-"):
            call = LiveCall(self.s, new_call_id(), cid, parse_args(args))
            with about_call(call.id, self.s.worker):
                log.info("call %s: lead %s (%s) arrived in app %s, args %s", call.id, cid,
                         mask_phone((ch.get("caller") or {}).get("number", "")), self.s.ari.s.app,
                         args_for_log(call.args))
            asyncio.create_task(self._guard(call, call.start()), context=call.log_context.copy())

    async def _guard(self, call: LiveCall, step: Awaitable[None]) -> None:
        """A call whose set-up fails is ended cleanly, not left half-built."""
        try:
            await step
        except (AriError, AriUnavailable, asyncio.TimeoutError, ListeningFailed) as e:
            log.error("call %s: set-up failed: %s", call.id, e)
            await call.end(f"set-up failed: {e}")

    async def _gone(self, channel: str, why: str) -> None:
        for call in list(self.s.calls.values()):
            if call.ended:
                continue
            if channel == f"iv-{call.id}-rep" and call.rep is None:
                if call.hooks.assistant_first:          # the lead flow rings reps itself
                    continue
                if why == "ChannelDestroyed":           # rang out, declined or unreachable
                    with about_call(call.id, self.s.worker):    # the event is everyone's; these lines are the call's
                        log.info("call %s: the rep did not answer", call.id)
                        call.spawn(call.rep_unavailable(), "no-rep")
            elif channel in (call.lead, call.rep):
                if channel == call.lead and call.t0 is None and call.hooks.assistant_first:
                    continue                            # the lead flow's callback not answered: it decides
                await call.end(f"{channel} {why}")     # logs as the call's (call.py _about_this_call)


def _settle_heap() -> None:
    """Models, KB index and engine are built and live as long as the service:
    collect once, then freeze them out of the garbage collector. Otherwise
    the first full collection after start-up walks millions of model objects
    with the interpreter lock held - on whatever thread triggered it - and
    stalls the event loop ~300 ms (bench soak). Later full collections walk
    only what calls create."""
    gc.collect()
    gc.freeze()
