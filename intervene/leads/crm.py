"""CRM write-back: what the service queues for the team's CRM, and when.

    a live call ends ............ call.ended      data: the call's format-6 record
    the rep sets the outcome .... call.outcome    data: the record again, outcome set
    the lead flow qualifies ..... lead.qualified  data: the lead's ids, contact and captured fields

Each event goes, for every target that wants it ([[crm.webhook]] entries,
[crm.hubspot]), into the durable outbox (store/crm_outbox.py) with a
delivery id derived from (target, event, subject); the sender
(crm_send.py) delivers it. Queueing runs on the service's store thread.

The record sent is the format-6 record (report/record.py) with, in its
`lead`, the contact details the CRM needs to find the person (`name`,
`phone`, `email`, from the lead row) and at the top `source` (live,
lead-flow). Practice calls are never sent: they are rehearsals.

A call's end is seen on the screens' hub (the push that says `ended`),
which every ending call makes after handing its last writes to the store
thread, so the record read after it is whole. In a cluster each worker sees
every worker's pushes; only the worker that monitored the call queues it
(and the delivery id would make a second copy a no-op anyway).
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Optional

from intervene.config import ConfigError
from intervene.config.crm import HUBSPOT_TARGET, CrmOptions
from intervene.leads.crm_send import Client, CrmSender, WebhookClient, delivery_id_for
from intervene.leads.hubspot import HubSpotClient
from intervene.metrics import CRM_DELIVERIES
from intervene.report.record import PRACTICE_SOURCE, call_record
from intervene.screen.hub import PushKind
from intervene.store import crm_outbox
from intervene.store import leads as lead_store
from intervene.store.db import Store

if TYPE_CHECKING:
    from intervene.pbx.controller import Services

log = logging.getLogger("intervene.crm")

SEEN_ENDED = 2000          # call ids remembered as queued (the outbox is what really dedups)
CATCH_UP_S = 60.0          # how often ended calls are looked for that have no call.ended queued
CATCH_UP_WINDOW_S = 86400  # ... among the calls started this long ago or less


def targets(options: CrmOptions, event: str) -> list[str]:
    out = [w.target for w in options.webhooks if event in w.events]
    if options.hubspot is not None and event in options.hubspot.events:
        out.append(HUBSPOT_TARGET)
    return out


def clients(options: CrmOptions) -> dict[str, Client]:
    """A client per configured target; a missing secret or token is a
    ConfigError here, when the service starts, naming the variable to set."""
    out: dict[str, Client] = {}
    for w in options.webhooks:
        if not w.secret:
            raise ConfigError(f"[[crm.webhook]] {w.target} ({w.host}): no signing secret: set "
                              f"{w.secret_env or 'secret_env'} in the environment")
        out[w.target] = WebhookClient(w)
    if options.hubspot is not None:
        if not options.hubspot.token:
            raise ConfigError(f"[crm.hubspot]: no access token: set {options.hubspot.token_env} in the environment "
                              f"to a HubSpot private app's token (scopes crm.objects.contacts.read and .write)")
        out[HUBSPOT_TARGET] = HubSpotClient(options.hubspot)
    return out


# ------------------------------------------------------------------- payloads
def _phone_like(value: str) -> bool:
    return len(re.sub(r"\D", "", value)) >= 7 and not re.search(r"[A-Za-z@]", value)


def call_payload(store: Store, call_id: str, lead_for_record: Callable[[str], Optional[dict[str, Any]]],
                 weights: Optional[dict[str, float]] = None, worker: Optional[str] = None
                 ) -> Optional[tuple[dict[str, Any], Optional[str]]]:
    """(the record to send, the lead's id) for a stored call, or None: no such
    call, a practice call, or (worker given) a call another worker monitored."""
    row = store.call(call_id)
    if row is None or row.get("source") == PRACTICE_SOURCE:
        return None
    if worker is not None and row.get("worker") not in (None, "", worker):
        return None
    record = call_record(store, call_id, lead=lead_for_record(call_id), weights=weights)
    record["source"] = row.get("source") or "live"
    lead = dict(record.get("lead") or {})
    found = lead_store.get_lead(store, int(row["lead_id"])) if row.get("lead_id") else None
    if found is not None:
        for k in ("name", "phone", "email"):
            if found.get(k):
                lead[k] = found[k]
    elif lead.get("id") and _phone_like(str(lead["id"])):
        lead["phone"] = str(lead["id"])                   # the caller's number, as the dialplan gave it
    if lead:
        record["lead"] = lead
    return record, (str(row["lead_id"]) if row.get("lead_id") else None)


def lead_payload(store: Store, lead_id: int, call_id: Optional[str], fields: dict[str, Any],
                 now: float) -> Optional[dict[str, Any]]:
    found = lead_store.get_lead(store, lead_id)
    if found is None:
        return None
    return {"lead": {"id": found.get("leadgen_id") or str(found["id"]), "lead_id": found["id"],
                     "source": found.get("source"), "campaign": found.get("campaign"), "team": found.get("team"),
                     "name": found.get("name"), "phone": found.get("phone"), "email": found.get("email"),
                     "fields": {**(found.get("fields") or {}), **fields}},
            "call_id": call_id, "qualified_at": now}


def queue(store: Store, options: CrmOptions, event: str, subject: str, payload: dict[str, Any], now: float,
          call_id: Optional[str] = None, lead_id: Optional[str] = None) -> int:
    """One event into the outbox for every target that wants it; how many rows are new."""
    n = 0
    for target in targets(options, event):
        n += crm_outbox.enqueue(store, delivery_id_for(target, event, subject), target, event, subject, payload,
                                now, call_id=call_id, lead_id=lead_id)
    return n


# -------------------------------------------------------------------- service
def _count(target: str, result: str) -> None:
    CRM_DELIVERIES.labels(target=target, result=result).inc()


class CrmService:
    """The service's CRM write-back: queues events, runs the sender."""

    def __init__(self, services: "Services", options: CrmOptions,
                 lead_for_record: Callable[[str], Optional[dict[str, Any]]],
                 made: Optional[dict[str, Client]] = None,
                 on_result: Callable[[str, str], None] = _count) -> None:
        self.s, self.options, self.db = services, options, services.db
        self.lead_for_record = lead_for_record
        self.sender = CrmSender(services.store, made if made is not None else clients(options), options,
                                worker=self.db, on_result=on_result) if options.any else None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ended: "OrderedDict[str, None]" = OrderedDict()
        self._loop: Optional[asyncio.AbstractEventLoop] = None      # the sender's, once it runs

    @property
    def weights(self) -> Optional[dict[str, float]]:
        return self.s.config.score if self.s.config is not None else None

    # -------------------------------------------------------------- events
    async def call_ended(self, call_id: str) -> int:
        if not targets(self.options, "call.ended"):
            return 0
        return await self.db.run(self._queue_call, "call.ended", call_id, call_id, self.s.worker)

    async def call_outcome(self, call_id: str, outcome: str) -> int:
        if not targets(self.options, "call.outcome"):
            return 0
        return await self.db.run(self._queue_call, "call.outcome", call_id, f"{call_id}:{outcome}", None)

    async def lead_qualified(self, lead_id: int, call_id: Optional[str], fields: dict[str, Any]) -> int:
        if not targets(self.options, "lead.qualified"):
            return 0
        return await self.db.run(self._queue_lead, lead_id, call_id, fields)

    def _queue_call(self, event: str, call_id: str, subject: str, worker: Optional[str]) -> int:
        """(Store thread.)"""
        made = call_payload(self.s.store, call_id, self.lead_for_record, self.weights, worker)
        if made is None:
            return 0
        record, lead_id = made
        n = queue(self.s.store, self.options, event, subject, record, time.time(), call_id=call_id, lead_id=lead_id)
        self._woke(n, event, call_id)
        return n

    def _queue_lead(self, lead_id: int, call_id: Optional[str], fields: dict[str, Any]) -> int:
        """(Store thread.)"""
        now = time.time()
        payload = lead_payload(self.s.store, lead_id, call_id, fields, now)
        if payload is None:
            return 0
        n = queue(self.s.store, self.options, "lead.qualified", f"{lead_id}:{call_id or ''}", payload, now,
                  call_id=call_id, lead_id=str(lead_id))
        self._woke(n, "lead.qualified", call_id)
        return n

    def _woke(self, n: int, event: str, call_id: Optional[str]) -> None:
        if n and self.sender is not None:
            log.info("CRM: %s of call %s queued for %d target(s)", event, call_id, n)
            # the sender waits on an asyncio.Event: set it from the loop, not this thread
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self.sender.wake)

    # ------------------------------------------------------------ hooks
    def on_outcome(self, call_id: str, outcome: str) -> None:
        """The rep set an outcome (on the loop): queued as a task."""
        self._spawn(self.call_outcome(call_id, outcome))

    def on_timeline(self, entry: dict[str, Any]) -> None:
        """The lead flow's timeline: its `qualified` event is lead.qualified."""
        if entry.get("event") == "qualified":
            self._spawn(self.lead_qualified(int(entry["lead_id"]), entry.get("call_id"),
                                            dict(entry.get("fields") or {})))

    def _spawn(self, coro: Any) -> None:
        if not self.options.any:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("CRM: queueing an event failed", exc_info=task.exception())

    # -------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> None:
        if self.sender is None:
            return
        self._loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(self.sender.run(stop), name="crm-outbox")]
        if targets(self.options, "call.ended"):
            tasks.append(asyncio.create_task(self._watch_ends(stop), name="crm-call-ends"))
            tasks.append(asyncio.create_task(self._catch_up_ends(stop), name="crm-catch-up"))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _catch_up_ends(self, stop: asyncio.Event) -> None:
        """The hub's push is the quick way to see a call end, not the only one:
        at start and every minute, any live call of this worker that ended
        in the last day with no call.ended queued is queued now (the delivery
        id keeps a call queued twice a no-op)."""
        while not stop.is_set():
            try:
                n = await self.db.run(self.catch_up, time.time())
                if n:
                    log.info("CRM: call.ended queued for %d call(s) whose end was not seen", n)
            except Exception:
                log.exception("CRM: catching up on ended calls failed")
            try:
                await asyncio.wait_for(stop.wait(), CATCH_UP_S)
            except asyncio.TimeoutError:
                pass

    def catch_up(self, now: float) -> int:
        """(Store thread.) call.ended for the ended calls no target has it for yet; how many calls."""
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - CATCH_UP_WINDOW_S))
        missed: dict[str, None] = {}
        for target in targets(self.options, "call.ended"):
            missed.update(dict.fromkeys(crm_outbox.ended_not_queued(self.s.store, target, since, self.s.worker)))
        return sum(1 for cid in missed if self._queue_call("call.ended", cid, cid, self.s.worker))

    async def _watch_ends(self, stop: asyncio.Event) -> None:
        """call.ended for every call the hub says has ended (once per call)."""
        hub = self.s.screen
        while not stop.is_set():
            sub = hub.subscribe(lambda call: True)          # no login: never a user's stream
            try:
                while True:
                    push = await sub.queue.get()
                    if push is None:
                        break                               # cut off (far behind): subscribe again
                    if push.kind is not PushKind.CALL or push.call_id in self._ended:
                        continue
                    data = json.loads(push.data)
                    if data.get("state") != "ended" or data.get("practice"):
                        continue
                    self._ended[push.call_id] = None
                    while len(self._ended) > SEEN_ENDED:
                        self._ended.popitem(last=False)
                    try:
                        await self.call_ended(push.call_id)
                    except Exception:
                        log.exception("CRM: call.ended of %s not queued", push.call_id)
            finally:
                hub.unsubscribe(sub)
