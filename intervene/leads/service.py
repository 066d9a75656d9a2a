"""The lead flow's pieces as `intervene serve` runs them: the webhooks, the
intake (Graph fetch), the dialler (flow.py) and the Conversions API outbox.

    POST /webhooks/facebook ─> leads table ─> LeadIntake (Graph) ─> LeadFlow.poke ─> the call
    the rep's outcome (screen) ─> conversion event ─> outbox (SQLite) ─> OutboxSender ─> Facebook

Every piece reaches SQLite through the service's one StoreWorker (services.db).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from aiohttp import web

from intervene.leads.capi import CapiClient, OutboxSender, conversion_event
from intervene.leads.crm import CrmService
from intervene.leads.erasure import erase_due
from intervene.leads.flow import LeadFlow
from intervene.leads.webhooks import LeadIntake, LeadWebhooks
from intervene.store import leads as lead_store
from intervene.store import outbox

if TYPE_CHECKING:
    from intervene.config.leads import Campaign, LeadOptions
    from intervene.pbx.controller import Services

log = logging.getLogger("intervene.leads")

SWEEP_S = 30.0          # Graph fetches that failed, campaigns switched back on: looked at this often


class LeadService:
    def __init__(self, services: "Services", options: "LeadOptions", campaigns: dict[str, "Campaign"],
                 ready: Callable[[], bool]) -> None:
        """`ready`: whether Asterisk is connected (no lead is dialled before)."""
        self.s, self.options, self.campaigns = services, options, campaigns
        self.db = services.db
        self.flow = LeadFlow(services, options, campaigns, ready=ready)
        self.intake = LeadIntake(services.store, options, campaigns, on_settled=lambda row: self.flow.poke(),
                                 worker=self.db)
        self.webhooks = LeadWebhooks(services.store, options, campaigns, on_lead=self._received, worker=self.db)
        self._tasks: set[asyncio.Task[None]] = set()
        self._erase_warned: set[int] = set()
        self.sender: Optional[OutboxSender] = None
        if options.dataset_id and (options.capi_token or options.page_token):
            client = CapiClient(options.graph_url, options.graph_version, options.dataset_id,
                                options.capi_token or options.page_token)
            self.sender = OutboxSender(services.store, client, worker=self.db)
        # [crm]: webhooks and HubSpot (leads/crm.py); a missing secret stops the start here, named
        self.crm = CrmService(services, services.config.crm, self.lead_for_record)
        self.flow.timeline.listeners.append(self.crm.on_timeline)

    def _received(self, lead_id: int) -> None:
        self.flow.timeline.add(lead_id, "webhook-stored")
        self.intake.schedule(lead_id)

    def add_routes(self, app: web.Application) -> None:
        self.webhooks.add_routes(app)

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self.flow.run(stop), name="lead-flow"),
                 asyncio.create_task(self._sweep(stop), name="lead-sweep")]
        if self.sender is not None:
            tasks.append(asyncio.create_task(self.sender.run(stop), name="capi-outbox"))
        tasks.append(asyncio.create_task(self.crm.run(stop), name="crm"))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.intake.close()
            if self.sender is not None:
                await self.sender.client.close()

    async def _sweep(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.intake.retry_due()
                await self.db.run(self.intake.resume)
                await self.db.run(erase_due, self.s.store, time.time(), self._erase_warned)
            except Exception:
                log.exception("lead intake sweep")
            try:
                await asyncio.wait_for(stop.wait(), SWEEP_S)
            except asyncio.TimeoutError:
                pass

    def outcome(self, call_id: str, outcome: str) -> None:
        """The rep set a call's outcome: a lead flow call's goes back to
        Facebook (once per lead, call and outcome: the event id says so).
        Called on the loop by the screen: the database work is a task.
        Every call's outcome also goes to the CRM ([crm], call.outcome)."""
        self.crm.on_outcome(call_id, outcome)
        task = asyncio.get_running_loop().create_task(self._outcome(call_id, outcome))
        self._tasks.add(task)
        task.add_done_callback(self._outcome_done)

    def _outcome_done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("passing a call outcome on failed", exc_info=task.exception())

    async def _outcome(self, call_id: str, outcome: str) -> None:
        event, lead = await self.db.run(self._conversion, call_id, outcome, time.time())
        if event is None or lead is None:
            return
        if await self.db.run(outbox.enqueue, self.s.store, event, lead["id"], call_id, time.time()):
            self.flow.timeline.add(lead["id"], "capi-queued", call_id=call_id, event_name=event["event_name"])
            if self.sender is not None:
                self.sender.wake()
            else:
                log.warning("call %s: conversion event queued, but no [leads] dataset_id/capi_token: not sent", call_id)

    def _conversion(self, call_id: str, outcome: str, now: float) -> tuple[Optional[dict[str, Any]],
                                                                          Optional[dict[str, Any]]]:
        """(the conversion event, the lead) of a call; (None, None) for a call that was no lead's. (Store thread.)"""
        call = self.s.store.call(call_id) or {}
        lead = lead_store.get(self.s.store, call["lead_id"]) if call.get("lead_id") else None
        if lead is None:
            return None, None
        return conversion_event({**lead, "call_id": call_id}, outcome, dict(self.options.capi_events), now), lead

    def lead_for_record(self, call_id: str) -> Optional[dict[str, Any]]:
        """The `lead` object of a call record (formats.md section 6)."""
        call = self.s.store.call(call_id) or {}
        lead = lead_store.get(self.s.store, call["lead_id"]) if call.get("lead_id") else None
        if lead is None:
            return None
        captured = call.get("captured")
        fields = dict(lead.get("fields") or {})
        if captured:
            fields.update(json.loads(captured))
        return {"id": lead.get("leadgen_id") or str(lead["id"]), "source": lead.get("source"),
                "campaign": lead.get("campaign"), "fields": fields}
