"""The lead flow: a new lead is called back within seconds, the assistant
qualifies them, a rep is rung in the background, briefed alone, introduced,
and from then on it is a monitored call like any other.

    webhook ─> leads table ─> LeadFlow.tick (rules: hours, DNC, campaign, outbound limit)
        ─> LeadCall: originate the lead ─> answered ─> bridge + tap ─> Qualifier (say / listen)
        ─> Handoff: ring a rep (round-robin, registered, not busy) while the assistant keeps
           the lead company ─> rep answers: briefed alone, joins ─> introduction ─> LiveCall

The lead's row is claimed (ready -> calling) in SQLite before the phone is
dialled, so a restarted service never calls a lead twice, and the claim
refuses a number called within [leads] redial_window_s; everything a call
does is recorded on the call (transcript, captured fields) and the lead
(status, reason, attempts). Every database call goes through the service's
StoreWorker (`self.s.db`), never on the event loop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from intervene.accounts.auth import User
from intervene.config.leads import DEFAULT_QUESTIONS, lead_campaign
from intervene.leads.erasure import erase
from intervene.leads.intake import caller_name
from intervene.leads.understand import dialogue
from intervene.leads.understand.dialogue import Action, End, Handoff, Qualifier, Question, Say
from intervene.leads.understand.rules import decide, lead_zones
from intervene.logctx import call_context
from intervene.nlp.redact import mask_phone
from intervene.pbx.ari import AriError, AriUnavailable
from intervene.pbx.briefing import handoff_briefing
from intervene.pbx.call import CallHooks, LiveCall
from intervene.store import leads as lead_store
from intervene.vocab import Speaker, Utterance, new_call_id

if TYPE_CHECKING:
    from intervene.config.leads import Campaign, LeadOptions
    from intervene.pbx.controller import Services

log = logging.getLogger("intervene.leads")

TICK_S = 0.5                 # the scheduler looks at due leads this often (and whenever poked)
LEAD_ANSWER_S = 30           # ring the lead this long
SILENCE_S = 6.0              # after a question: this long without the lead starting to speak is silence
FILLER_EVERY_S = 6.0         # while a rep's phone rings, the assistant speaks at least this often
NO_REP_CALLBACK_S = 900.0    # no rep reachable: call the lead back this much later
# An answering machine's greeting, heard before the lead has answered anything: retry later
# instead of qualifying a recording. Words voicemail greetings use in any trade.
VOICEMAIL = re.compile(r"\b(leave (me |us )?(a |your )?(message|name and number)|after the (tone|beep)|"
                       r"(can'?t|cannot|unable to) (take|come to|answer) (your|the|my) (call|phone)|"
                       r"not available (right now|at the moment)?|voice ?mail|mailbox|"
                       r"you'?ve reached|record your message)\b", re.I)

# What became of one attempt: (what, reason) or ("callback", reason, when) - how LeadCall._settle files the lead.
Outcome = Union[tuple[str, str], tuple[str, str, Optional[float]]]


@dataclass
class Timeline:
    """What happened when, per lead: the demo's timeline.jsonl and the benchmark's figures."""
    events: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)

    def add(self, lead_id: int, event: str, **kw: Any) -> None:
        entry = {"t": time.time(), "lead_id": lead_id, "event": event, **kw}
        self.events.append(entry)
        del self.events[:-5000]
        for fn in self.listeners:
            fn(entry)


class LeadFlow:
    """One per service: picks due leads and runs their calls."""

    def __init__(self, services: "Services", options: "LeadOptions", campaigns: dict[str, "Campaign"],
                 ready: Callable[[], bool]) -> None:
        self.s = services
        self.options = options
        self.campaigns = campaigns
        self.ready = ready                              # Asterisk connected: a lead can be dialled
        self.calls: dict[int, "LeadCall"] = {}          # lead id -> its call in progress
        self.timeline = Timeline()
        self._wake = asyncio.Event()
        self._rr: dict[str, int] = {}                   # team -> round-robin position
        self._held: set[int] = set()                    # leads the outbound limit made wait (reported once)

    def poke(self) -> None:
        """A lead became ready (webhook, CLI, retry): look now, not at the next tick."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        recovered = await self.s.db.run(lead_store.recover_calling, self.s.store, worker=self.s.worker)
        if recovered:
            log.warning("%d lead(s) were being called when the service stopped: marked, not called again", recovered)
        while not stop.is_set():
            try:
                await self.tick(time.time())
            except Exception:                           # one bad row must not stop every callback
                log.exception("lead scheduler")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_S)
            except asyncio.TimeoutError:
                pass
        for call in list(self.calls.values()):
            call.cancel()

    async def tick(self, now: float) -> None:
        if not self.ready():                            # no Asterisk: nothing can be dialled, nothing is claimed
            return
        db, store = self.s.db, self.s.store
        due = await db.run(lead_store.due, store, now, limit=100)
        # every worker's calls count against max_outbound (the claim enforces it; this keeps leads waiting quietly)
        active = max(len(self.calls), await db.run(lead_store.calling, store)) if due else 0
        for lead in due:
            campaign = lead_campaign(lead, self.campaigns)
            d = decide(lead.get("phone"), campaign, self.options,
                       await db.run(lead_store.dnc_contains, store, lead.get("phone") or ""), active, now)
            if d.kind == "later":
                if "outbound" in d.reason and lead["id"] not in self._held:
                    self._held.add(lead["id"])
                    self.timeline.add(lead["id"], "held-back", reason=d.reason)
                if d.at > (lead.get("next_at") or 0) + 0.5:
                    await db.run(lead_store.update, store, lead["id"], next_at=d.at, reason=d.reason)
                continue
            if d.kind == "never":
                await db.run(lead_store.update, store, lead["id"], status=d.status, reason=d.reason)
                continue
            if not await db.run(lead_store.claim, store, lead["id"], now=time.time(),
                                redial_window_s=self.options.redial_window_s, worker=self.s.worker,
                                max_calling=self.options.max_outbound):
                continue                                # another worker (or a double tick) has it, or a duplicate
            active += 1
            claimed = await db.run(lead_store.get, store, lead["id"])
            if claimed is None:                         # deleted the moment after it was claimed
                continue
            call = LeadCall(self, claimed, campaign)
            self.calls[lead["id"]] = call
            # the lead call's own context: its lines (dialling, qualifying, ringing reps, settling) name the call
            call.task = asyncio.create_task(call.run(), name=f"lead-{lead['id']}",
                                            context=call_context(call.id, self.s.worker))

    # ------------------------------------------------------------ reps
    async def pick_reps(self, team: str) -> list[User]:
        """Reps of the team whose phone is registered and in no call,
        starting after the one picked last (round-robin)."""
        rows = await self.s.db.run(self._team_reps, team)
        if not rows:
            return []
        start = self._rr.get(team, -1) + 1
        ordered = rows[start % len(rows):] + rows[:start % len(rows)]
        free: list[User] = []
        for u in ordered:
            tech, _, res = u.endpoint.partition("/")
            try:
                ep = await self.s.ari.call("GET", f"/endpoints/{tech}/{res}")
            except (AriError, AriUnavailable):
                continue
            if ep.get("state") == "online" and not ep.get("channel_ids"):     # registered, in no call
                free.append(u)
        return free

    async def picked(self, team: str, rep: User) -> None:
        logins = [u.login for u in await self.s.db.run(self._team_reps, team)]
        if rep.login in logins:
            self._rr[team] = logins.index(rep.login)

    def _team_reps(self, team: str) -> list[User]:
        """The team's reps with a phone (every rep's, without a team), by login. (On the store's thread.)"""
        return sorted((User.from_row(r) for r in self.s.store.users()
                       if r["role"] == "rep" and r.get("endpoint") and (not team or r.get("team") == team)),
                      key=lambda u: u.login)


class LeadCall:
    def __init__(self, flow: LeadFlow, lead: dict[str, Any], campaign: Optional["Campaign"]) -> None:
        self.flow, self.s, self.lead, self.campaign = flow, flow.s, lead, campaign
        self.options = flow.options
        self.id = new_call_id()
        self.task: Optional[asyncio.Task[None]] = None
        self.live: Optional[LiveCall] = None
        self.heard: "asyncio.Queue[Utterance]" = asyncio.Queue()
        self.fields: dict[str, Any] = {}
        self.q: Optional[Qualifier] = None               # the Qualifier (dialogue.py), once answered
        self.rep_briefing: Optional[str] = None          # what a rep hears alone before joining, once qualified

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def mark(self, event: str, **kw: Any) -> None:
        self.flow.timeline.add(self.lead["id"], event, call_id=self.id, **kw)

    @property
    def team(self) -> str:
        return (self.campaign.team if self.campaign and self.campaign.team else "") or self.options.team

    # ----------------------------------------------------------- the call
    async def run(self) -> None:
        lead_id = self.lead["id"]
        outcome: Outcome
        try:
            outcome = await self._run()
        except asyncio.CancelledError:
            outcome = ("interrupted", "the service stopped during the call")
            raise
        except (AriError, AriUnavailable, asyncio.TimeoutError) as e:
            log.warning("lead %s: call failed: %s", lead_id, mask_phone(e))
            outcome = ("retry", f"call failed: {e}")
        finally:
            self.flow.calls.pop(lead_id, None)
            if self.live is not None and not self.live.ended:
                await self.live.end("lead flow finished")
        await self.s.db.run(self._settle, *outcome)
        self.mark("settled", status=outcome[0], reason=outcome[1])
        if outcome[0] == "erase":           # after everything the call handed over: it is erased too
            try:
                await self.s.db.run(erase, self.s.store, lead_id, time.time())
            except Exception as e:              # forget failed: the lead stays erase-requested, the sweep retries
                log.warning("lead %s: erasure deferred (%s: %s)", lead_id, type(e).__name__, e)
        self.flow.poke()

    def _settle(self, what: str, reason: str, at: Optional[float] = None) -> None:
        """The lead's row after this attempt. (On the store's thread.)"""
        store, lead_id = self.s.store, self.lead["id"]
        attempts = int(self.lead.get("attempts") or 0) + 1
        if what == "retry":
            waits = self.options.retry_s
            if attempts <= len(waits):
                lead_store.update(store, lead_id, status="ready", reason=reason, attempts=attempts,
                                  next_at=time.time() + waits[attempts - 1])
            else:
                lead_store.update(store, lead_id, status="failed", attempts=attempts,
                                  reason=f"gave up after {attempts} attempts: {reason}")
        elif what == "callback":
            lead_store.update(store, lead_id, status="ready", reason=reason, attempts=attempts, next_at=at)
        elif what == "dnc":
            lead_store.dnc_add(store, self.lead["phone"], reason)
            lead_store.update(store, lead_id, status="dnc", reason=reason, attempts=attempts)
        elif what == "erase":
            lead_store.update(store, lead_id, status="erase-requested", reason=reason, attempts=attempts)
        else:                                            # done / not-interested / interrupted
            lead_store.update(store, lead_id, status="done" if what == "done" else what, reason=reason,
                              attempts=attempts)

    async def _run(self) -> Outcome:
        s, lead = self.s, self.lead
        # the name as a caller ID may carry it: nothing SIP or Asterisk would parse (quotes, <, >, CR/LF)
        args = {"lead": lead["phone"], "name": caller_name(lead.get("name"), "") if lead.get("name") else "",
                "team": self.team, "source": lead.get("source") or "", "campaign": lead.get("campaign") or ""}
        hooks = CallHooks(assistant_first=True, heard=self._heard, rep_briefing=self._rep_briefing)
        live = self.live = LiveCall(s, self.id, f"iv-{self.id}-lead", args, hooks=hooks)
        s.store_call(live)
        await s.db.run(s.store.update_call, self.id, source="lead-flow", lead_id=lead["id"])
        await s.db.run(lead_store.update, s.store, lead["id"], call_id=self.id)
        # ring the lead
        answered = s.waiters.expect(f"start:{live.lead}")
        gone = s.waiters.expect(f"gone:{live.lead}")
        endpoint = self.options.dial.format(number=lead["phone"])
        try:
            await s.ari.call("POST", "/channels", endpoint=endpoint, app=s.ari.s.app, appArgs=f"iv-lead,{self.id}",
                             channelId=live.lead,
                             callerId=self.options.caller_id or "", timeout=LEAD_ANSWER_S)
        except AriError as e:
            return ("retry", f"cannot dial {endpoint}: {e}")
        self.mark("lead-dialled", endpoint=endpoint)
        done, _ = await asyncio.wait({answered, gone}, timeout=LEAD_ANSWER_S + 5,
                                     return_when=asyncio.FIRST_COMPLETED)
        if answered not in done:
            cause = gone.result() if gone in done else "no answer"
            self.mark("lead-not-answered", cause=str(cause))
            await s.db.run(s.store.update_call, self.id, outcome="no-answer", outcome_note=str(cause))
            return ("retry", f"the lead did not answer ({cause})")
        self.mark("lead-answered")
        await live.begin_with_lead()
        s.screen.call(self.id, state="live")
        result = await self._qualify(live)
        if not isinstance(result, Handoff):
            return result
        return await self._handoff(live, result)

    def _heard(self, u: Utterance) -> None:
        if u.speaker is Speaker.LEAD:
            self.heard.put_nowait(u)

    def _rep_briefing(self) -> Optional[str]:
        return self.rep_briefing

    # ------------------------------------------------------ qualification
    async def _qualify(self, live: LiveCall) -> Union[Handoff, Outcome]:
        kb = self.s.kb
        asked = list(self.campaign.questions) if self.campaign else []
        if not asked or tuple(asked) == tuple(DEFAULT_QUESTIONS):
            questions = list(dialogue.DEFAULT_QUESTIONS)          # the built-in set, with rephrasings
        else:
            questions = [Question(q["id"], q["ask"], q["kind"], q.get("rephrase") or "",
                                  on_no="not-interested" if q["id"] == "interest" else None) for q in asked]
        zones, _ = lead_zones(self.lead.get("phone"), self.options)
        first_name = (self.lead.get("name") or "").split(" ")[0]
        q = self.q = Qualifier(kb.company, kb.assistant.name, first_name, questions, time.time(),
                               topic=(self.campaign.name if self.campaign and self.campaign.name else ""),
                               tz=zones[0] if zones else "UTC")
        action: Action = q.start(time.time())       # the dialogue's clock is the wall clock: "call me at 3"
        answered = False
        while True:
            if live.ended:
                return ("done", "the lead hung up during qualification")
            if isinstance(action, Handoff):
                self.fields = dict(action.fields)
                await self._save_fields()
                self.mark("qualified", fields=self.fields, reason=action.reason)
                return action
            if isinstance(action, End):
                if action.reason != "erase":                # what they answered is kept, unless it is to go
                    self.fields = dict(getattr(q, "fields", {}) or {})
                    await self._save_fields()
                await live.say(action.say, barge_in=False)
                self.mark("ended-by-lead", reason=action.reason)
                await asyncio.sleep(0.5)
                if action.reason == "erase":
                    return ("erase", "the lead asked for their data to be deleted")
                if action.reason == "stop":
                    return ("dnc", "the lead asked not to be called again")
                if action.reason == "later":
                    return ("callback", "the lead asked to be called later", action.callback_at)
                if action.reason == "no-answer":
                    return ("retry", "the lead did not answer the questions")
                return ("not-interested", "the lead is not interested")
            assert isinstance(action, Say)
            self.mark("ai-said", purpose=action.purpose, text=action.text)
            status = await live.say(action.text)
            self.mark("ai-listening", purpose=action.purpose, status=status)
            if status == "interrupted":
                q.barge_in()
            utt = await self._listen(live)
            if utt is not None and not answered and VOICEMAIL.search(utt.text):
                self.mark("voicemail", text=utt.text)
                return ("retry", "an answering machine picked up")
            answered = answered or utt is not None
            action = q.heard(utt.text, time.time()) if utt is not None else q.silence(time.time())

    async def _listen(self, live: LiveCall) -> Optional[Utterance]:
        """The lead's next line, or None after SILENCE_S of nobody starting to speak."""
        deadline = time.monotonic() + SILENCE_S
        while not live.ended:
            try:
                return self.heard.get_nowait()
            except asyncio.QueueEmpty:
                pass
            if live.someone_speaking() or live.pipeline.queue:      # talking, or words on their way
                deadline = time.monotonic() + SILENCE_S
            elif time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return None

    async def _save_fields(self) -> None:
        captured = json.dumps(self.fields, ensure_ascii=False)
        await self.s.db.run(lead_store.update, self.s.store, self.lead["id"], captured=captured)
        await self.s.db.run(self.s.store.update_call, self.id, captured=captured)

    # ------------------------------------------------------------- hand-off
    async def _handoff(self, live: LiveCall, handoff: Handoff) -> Outcome:
        q, s = self.q, self.s
        assert q is not None                             # qualified: the dialogue ran
        name = self.lead.get("name") or "the caller"
        n, said = 0, False
        written, self.rep_briefing = handoff_briefing(name, handoff.summary)
        deadline = time.monotonic() + self.options.rep_answer_s
        tried: set[str] = set()
        while time.monotonic() < deadline and not live.ended:
            reps = [r for r in await self.flow.pick_reps(self.team) if r.login not in tried]
            if not reps:
                break
            rep = reps[0]
            tried.add(rep.login)
            await self.flow.picked(self.team, rep)
            live.ringing(rep)
            s.show_call(live, "live")
            s.screen.briefing(self.id, written)              # on the rep's screen as their phone rings
            s.screen.republish(self.id)                      # and the qualification so far
            await s.db.run(s.store.update_call, self.id, rep=rep.login, rep_endpoint=rep.endpoint)
            gone = s.waiters.expect(f"gone:iv-{self.id}-rep")
            try:
                await s.ari.call("POST", "/channels", endpoint=rep.endpoint, app=s.ari.s.app,
                                 appArgs=f"iv-rep,{self.id}", channelId=f"iv-{self.id}-rep",
                                 callerId=caller_name(name), timeout=max(1, int(deadline - time.monotonic())))
            except AriError as e:
                log.info("lead %s: cannot ring %s: %s", self.lead["id"], rep.endpoint, mask_phone(e))
                continue
            self.mark("rep-dialled", rep=rep.login)
            last_spoke = -FILLER_EVERY_S
            if handoff.say and not said:                      # "Great, let me get you a specialist" as it rings
                said = True
                await live.say(handoff.say)
                last_spoke = time.monotonic()
            while not live.rep_ready.is_set() and not gone.done() and not live.ended:
                if time.monotonic() - last_spoke >= FILLER_EVERY_S:      # ringing, or the rep being briefed
                    await live.say(q.filler(n))              # still ringing: keep the lead company
                    n += 1
                    last_spoke = time.monotonic()
                await asyncio.sleep(0.05)
            if live.rep_ready.is_set():
                self.mark("rep-joined", rep=rep.login)
                await live.say(q.introduce(rep.name), barge_in=False)
                self.mark("handed-off", rep=rep.login)
                while not live.ended:
                    await asyncio.sleep(0.2)
                self.mark("hang-up")
                return ("done", "handed to a rep")
            self.mark("rep-missed", rep=rep.login)
            live.rep_missed()
        if live.ended:
            return ("done", "the lead hung up while a rep was being rung")
        at = time.time() + NO_REP_CALLBACK_S
        await live.say(q.no_rep(at), barge_in=False)
        self.mark("no-rep")
        await asyncio.sleep(0.5)
        return ("callback", "no rep was free", at)
