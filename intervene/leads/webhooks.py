"""Leads arriving over HTTP, and what happens to them before anyone dials.

    GET  /webhooks/facebook   the subscription handshake (hub.challenge echoed)
    POST /webhooks/facebook   Lead Ads `leadgen` notifications, X-Hub-Signature-256
    POST /webhooks/leads      our plain JSON lead, X-Intervene-Signature-256

A notification is stored (status "received") and committed before we answer
200: Facebook only retries a webhook it saw fail, so a lead we acknowledged
must already be on disk. A batch is one transaction on the store's thread,
never on the event loop. An unsigned or wrongly signed body stores nothing.
A signed body we cannot take is answered 400 (Facebook does not retry a
4xx for ever, as it does a 500) and kept in `webhook_inbox` for a person.
Only then is `on_lead(id)` told, for each new lead, so the slow part (Graph,
with its retries) never holds up Facebook's request.

The plain endpoint must not call anyone twice for one request sent twice:
a body needs the sender's `id` (a resend is a duplicate) or a `timestamp`
within [leads] webhook_window_s of now, and an id-less body is keyed by
its hash, so a copy posted again inside the window is a duplicate too.
Whatever the source, settle() files a lead whose number another lead is
calling, or called within [leads] redial_window_s, as duplicate-number.

LeadIntake is that slow part: it reads the lead from Graph, normalises the
number, finds the campaign, checks the do-not-call list and leaves the lead
"ready" (next_at = now: rules.decide and the dialler take it from there) or
in a status that says why not. It is idempotent: a lead that is already past
intake is returned as it is, so on_lead, a retry sweep and a restart may all
ask about the same lead.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any, Awaitable, Callable, Mapping, Optional

from aiohttp import web

from intervene.config.leads import Campaign, LeadOptions
from intervene.config.leads import lead_campaign as campaign_of
from intervene.leads.graph import GraphClient, GraphError
from intervene.leads.intake import (
    IntakeError,
    PlainLead,
    lead_from_graph,
    loads,
    normalize_phone,
    parse_leadgen,
    parse_plain,
    verify_signature,
)
from intervene.leads.understand.rules import decide
from intervene.metrics import WEBHOOKS
from intervene.nlp.redact import mask_phone
from intervene.store import leads as db
from intervene.store.db import Store, StoreError
from intervene.store.worker import DbRunner, Inline

log = logging.getLogger("intervene.leads")

STALE_S = 60.0           # a "received" lead nobody processed this long after arrival: the retry sweep takes it
BIG_BODY = 64 * 1024     # a body this large is read (parsed, checked) on a thread, not on the event loop
INTAKE = ("received", "fetch-failed")   # the statuses intake still owns


# -------------------------------------------------------------- settle
def settle(store: Store, options: LeadOptions, campaigns: Mapping[str, Campaign], lead_id: int,
           name: Optional[str], phone_raw: Optional[str], email: Optional[str], fields: Mapping[str, str],
           now: float, **extra: Any) -> Optional[dict[str, Any]]:
    """Finish intake of a lead whose details are known: number, campaign,
    DNC -> ready / no-phone / dnc / unknown-campaign / paused, with a reason.
    Changes nothing if the lead has left intake meanwhile. Returns the row."""
    lead = db.get_lead(store, lead_id)
    if lead is None or lead["status"] not in INTAKE:
        return lead
    phone, why = normalize_phone(phone_raw, options.default_region)
    campaign = campaign_of({**lead, **extra}, campaigns)
    d = decide(phone, campaign, options, db.dnc_contains(store, phone), 0, now)
    status = d.status
    reason = {"ready": "", "no-phone": why}.get(status, d.reason)
    if status == "unknown-campaign":
        reason = _unknown({**lead, **extra})
    other = db.redial_blocker(store, phone, lead_id, now, options.redial_window_s) if status == "ready" else None
    if other is not None:                  # one person, two forms (or one form sent twice): rung once
        status, reason = "duplicate-number", db.duplicate_reason(other, now, options.redial_window_s)
    db.update_lead(store, lead_id, only_if=INTAKE, now=now, status=status, reason=reason, name=name,
                   phone=phone, email=email, fields={**(lead["fields"] or {}), **fields},
                   campaign=campaign.id if campaign else lead.get("campaign"),
                   team=(campaign.team if campaign else "") or options.team or None, next_at=now, **extra)
    row = db.get_lead(store, lead_id)
    log.info("lead %d: %s%s", lead_id, row["status"] if row else "?",
             f" ({mask_phone(row['reason'])})" if row and row["reason"] else "")
    return row


def _unknown(lead: Mapping[str, Any]) -> str:
    if lead["source"] == "facebook":
        return (f"page {lead.get('page_id') or '?'} / form {lead.get('form_id') or '?'} is in no [campaigns.*] "
                "(add its form_ids or page_ids, or a [campaigns.default])")
    return f"unknown campaign {lead.get('campaign')!r}"


# -------------------------------------------------------------- intake
class LeadIntake:
    """Details from Graph, then settle. `schedule` is an on_lead for LeadWebhooks."""

    def __init__(self, store: Store, options: LeadOptions, campaigns: Mapping[str, Campaign],
                 graph: Optional[GraphClient] = None, clock: Callable[[], float] = time.time,
                 on_settled: Optional[Callable[[dict[str, Any]], None]] = None,
                 worker: Optional[DbRunner] = None) -> None:
        self.store, self.options, self.campaigns = store, options, campaigns
        self.db: DbRunner = worker or Inline()
        self.graph = graph or GraphClient(options.graph_url, options.graph_version, options.page_token,
                                          tries=options.graph_tries, backoff_s=options.graph_backoff_s)
        self.clock = clock
        self.on_settled = on_settled          # told each row that leaves process() (e.g. to dial a ready one)
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task] = set()

    async def process(self, lead_id: int) -> Optional[dict[str, Any]]:
        """Take a received (or fetch-failed) lead through intake; any other
        lead is returned unchanged. Never raises for Facebook's troubles:
        they end in fetch-failed (tried again later) or failed (with why)."""
        lead = await self.db.run(db.get_lead, self.store, lead_id)
        if lead is None or lead["status"] not in INTAKE or lead_id in self._busy:
            return lead
        self._busy.add(lead_id)
        try:
            row = await self._process(lead)
        finally:
            self._busy.discard(lead_id)
        if row is not None and self.on_settled is not None:
            self.on_settled(row)
        return row

    async def _process(self, lead: dict[str, Any]) -> Optional[dict[str, Any]]:
        lead_id = lead["id"]
        raw: dict[str, Any] = lead["raw"] if isinstance(lead["raw"], dict) else {}
        webhook = raw.get("webhook")
        hook: dict[str, Any] = webhook if isinstance(webhook, dict) else {}
        extra: dict[str, Any] = {}
        if isinstance(hook.get("field_data"), list):           # a forwarder sent the answers along: no Graph
            obj = hook
        elif lead["source"] != "facebook":                    # a plain lead left behind by a restart
            return await self.db.run(settle, self.store, self.options, self.campaigns, lead_id,
                                     lead["name"] or hook.get("name"), lead["phone"] or hook.get("phone"),
                                     lead["email"] or hook.get("email"), {}, self.clock())
        else:
            try:
                obj = await self.graph.fetch_lead(lead["leadgen_id"])
            except GraphError as e:
                return await self.db.run(self._fetch_failed, lead, e)
            extra["raw"] = {**raw, "graph": obj}
            for key in ("form_id",):
                if not lead.get(key) and obj.get(key):
                    extra[key] = str(obj[key])
        try:
            name, phone_raw, email, fields = lead_from_graph(obj)
        except IntakeError as e:
            await self.db.run(db.update_lead, self.store, lead_id, only_if=INTAKE, now=self.clock(),
                              status="failed", reason=str(e), **extra)
            return await self.db.run(db.get_lead, self.store, lead_id)
        return await self.db.run(settle, self.store, self.options, self.campaigns, lead_id, name, phone_raw,
                                 email, fields, self.clock(), **extra)

    def _fetch_failed(self, lead: dict[str, Any], e: GraphError) -> Optional[dict[str, Any]]:
        """(On the store's thread.)"""
        now = self.clock()
        if e.retry_later and now - lead["received_at"] < self.options.fetch_give_up_s:
            status, next_at = "fetch-failed", now + self.options.fetch_retry_s
            log.warning("lead %d: Graph failed (%s); trying again in %.0fs", lead["id"], e, self.options.fetch_retry_s)
        else:
            status, next_at = "failed", None
            log.warning("lead %d: Graph failed (%s); giving up", lead["id"], e)
        db.update_lead(self.store, lead["id"], only_if=INTAKE, now=now, status=status, reason=f"Graph: {e}",
                       next_at=next_at)
        return db.get_lead(self.store, lead["id"])

    def schedule(self, lead_id: int) -> None:
        """on_lead for LeadWebhooks: process in the background (call from the event loop)."""
        task = asyncio.get_running_loop().create_task(self._guarded(lead_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, lead_id: int) -> None:
        try:
            await self.process(lead_id)
        except Exception:                      # a bug must not end the service; the sweep retries the lead
            log.exception("lead %d: intake failed", lead_id)

    async def retry_due(self, now: Optional[float] = None) -> int:
        """The sweep: fetch-failed leads whose time has come and received ones
        left behind. Run it every minute or so; returns how many it looked at."""
        rows = await self.db.run(db.pending_intake, self.store, self.clock() if now is None else now)
        for row in rows:
            await self._guarded(row["id"])
        return len(rows)

    def resume(self, now: Optional[float] = None) -> int:
        """Paused leads whose campaign is enabled again, and unknown-campaign
        leads that now have one (after a config change): back through intake.
        Synchronous, all database: the service runs it whole on the store's thread."""
        now = self.clock() if now is None else now
        n = 0
        for row in db.list_leads(self.store, status=("paused", "unknown-campaign")):
            c = campaign_of(row, self.campaigns)
            if c is None or not c.enabled:
                continue
            fetched = row["source"] != "facebook" or row["phone"] or row["name"] or "graph" in (row["raw"] or {})
            db.update_lead(self.store, row["id"], only_if=("paused", "unknown-campaign"), now=now,
                           status="received", reason="", next_at=now)
            if fetched:
                settle(self.store, self.options, self.campaigns, row["id"], row["name"], row["phone"],
                       row["email"], {}, now)
            n += 1
        return n

    async def drain(self) -> None:
        """Wait for the background work scheduled so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.graph.close()


# ------------------------------------------------------------- webhooks
class LeadWebhooks:
    def __init__(self, store: Store, options: LeadOptions, campaigns: Mapping[str, Campaign],
                 on_lead: Callable[[int], None] = lambda lead_id: None,
                 clock: Callable[[], float] = time.time, worker: Optional[DbRunner] = None) -> None:
        self.store, self.options, self.campaigns = store, options, campaigns
        self.on_lead, self.clock = on_lead, clock
        self.db: DbRunner = worker or Inline()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/webhooks/facebook", self.handshake)
        app.router.add_post("/webhooks/facebook", self.facebook)
        app.router.add_post("/webhooks/leads", self.plain)

    async def handshake(self, request: web.Request) -> web.Response:
        """Facebook checks the callback URL: echo hub.challenge if the token is ours."""
        q = request.query
        token = self.options.verify_token
        if (token and q.get("hub.mode") == "subscribe"
                and hmac.compare_digest(q.get("hub.verify_token", "").encode(), token.encode())):
            return web.Response(text=q.get("hub.challenge", ""), content_type="text/plain")
        log.warning("webhook handshake refused from %s (%s)", request.remote,
                    "no verify_token configured" if not token else "wrong mode or token")
        return web.Response(status=403, text="verification failed\n", content_type="text/plain")

    async def facebook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        refused = _refuse_unsigned(request, raw, self.options.app_secret, "X-Hub-Signature-256",
                                   "webhook signatures cannot be checked: no app secret configured "
                                   "(INTERVENE_FB_APP_SECRET / [leads] app_secret)")
        if refused is not None:
            return refused
        return await self._guarded(request, raw, self._facebook)

    async def _facebook(self, raw: bytes) -> web.Response:
        now = self.clock()
        if len(raw) > BIG_BODY:            # a batch of thousands: tens of ms of parsing, off the loop
            rows, unknown_why = await asyncio.to_thread(_leadgen_rows, raw, self.campaigns, now)
        else:
            rows, unknown_why = _leadgen_rows(raw, self.campaigns, now)
        added = await self.db.run(db.add_leads, self.store, rows)
        new, dup, unknown = [], 0, 0
        for a, why in zip(added, unknown_why):
            if a.duplicate:
                dup += 1
            elif why:
                unknown += 1
                log.warning("lead %d: %s; stored, not called", a.id, why)
            else:
                new.append(a.id)
        log.info("lead webhook: %d new, %d duplicate, %d unknown campaign", len(new), dup, unknown)
        for result, n in (("accepted", len(new)), ("duplicate", dup), ("unknown-campaign", unknown)):
            WEBHOOKS.labels("facebook", result).inc(n)
        self._tell(new)
        return web.json_response({"received": len(new) + unknown, "duplicates": dup, "unknown": unknown,
                                  "ids": new})

    async def plain(self, request: web.Request) -> web.Response:
        raw = await request.read()
        refused = _refuse_unsigned(request, raw, self.options.leads_secret, "X-Intervene-Signature-256",
                                   "this endpoint is off: set INTERVENE_LEADS_SECRET (or [leads] leads_secret)")
        if refused is not None:
            return refused
        return await self._guarded(request, raw, self._plain)

    async def _plain(self, raw: bytes) -> web.Response:
        body = loads(raw)
        p = parse_plain(body)
        now = self.clock()
        window = self.options.webhook_window_s
        if p.id is None and p.timestamp is not None and abs(now - p.timestamp) > window:
            raise IntakeError(f"`timestamp` is {now - p.timestamp:+.0f} s from now, outside the {window:g} s window "
                              "([leads] webhook_window_s): send the lead again with the current time, or with an `id`")
        # without an id, the signed body itself is the key: the same request again is a duplicate
        key = f"webhook:{p.id}" if p.id else f"webhook-body:{hashlib.sha256(raw).hexdigest()[:40]}"
        added, row = await self.db.run(_plain_intake, self.store, self.options, self.campaigns, p, key, body, now)
        WEBHOOKS.labels("leads", "duplicate" if added.duplicate else "accepted").inc()
        if added.duplicate:
            return web.json_response({"id": added.id, "status": row.get("status"), "reason": row.get("reason"),
                                      "duplicate": True})
        if row.get("status") == "ready":
            self._tell([added.id])
        return web.json_response({"id": added.id, "status": row.get("status"), "reason": row.get("reason"),
                                  "phone": row.get("phone"), "duplicate": False})

    async def _guarded(self, request: web.Request, raw: bytes,
                       handle: Callable[[bytes], Awaitable[web.Response]]) -> web.Response:
        """A signed body's answer: 400 (and the body kept in webhook_inbox)
        when we cannot take it, whatever went wrong, never a 500 that the
        sender would retry for ever; 503 when the database is busy, so it is
        sent again later."""
        try:
            return await handle(raw)
        except IntakeError as e:
            status, message = 400, str(e)
            WEBHOOKS.labels(_endpoint(request), "invalid").inc()
        except StoreError as e:
            log.warning("lead webhook %s: database unavailable (%s): answered 503", request.path, e)
            WEBHOOKS.labels(_endpoint(request), "busy").inc()
            return _error(503, "the lead store is busy; send it again later")
        except Exception as e:                 # a bug of ours must not cost the lead: keep it for a person
            WEBHOOKS.labels(_endpoint(request), "error").inc()
            log.exception("lead webhook %s: could not take a signed body", request.path)
            status, message = 400, f"could not take this body ({type(e).__name__}); it was kept for inspection"
        try:
            kept = await self.db.run(db.inbox_add, self.store, request.path, status, message, raw, self.clock())
            log.warning("lead webhook %s: %d (%s); body kept as webhook_inbox %d", request.path, status,
                        mask_phone(message), kept)
        except Exception:
            log.exception("lead webhook %s: %d, and the body could not be kept", request.path, status)
        return _error(status, message)

    def _tell(self, ids: list[int]) -> None:
        """on_lead for each, once this handler's answer is on its way."""
        loop = asyncio.get_running_loop()
        for lead_id in ids:
            loop.call_soon(self._call, lead_id)

    def _call(self, lead_id: int) -> None:
        try:
            self.on_lead(lead_id)
        except Exception:
            log.exception("on_lead(%d) failed; the retry sweep will pick the lead up", lead_id)


def _leadgen_rows(raw: bytes, campaigns: Mapping[str, Campaign],
                  now: float) -> tuple[list[dict[str, Any]], list[str]]:
    """A Facebook body's leads as add_leads rows, and for each why it is in
    no campaign ("" when it is in one). IntakeError when the body is bad."""
    rows: list[dict[str, Any]] = []
    unknown_why: list[str] = []
    for ch in parse_leadgen(loads(raw)):
        lead = {"source": "facebook", "page_id": ch.page_id, "form_id": ch.form_id}
        campaign = campaign_of(lead, campaigns)
        unknown_why.append("" if campaign else _unknown(lead))
        rows.append({"leadgen_id": ch.leadgen_id, "status": "received" if campaign else "unknown-campaign",
                     "reason": unknown_why[-1], "campaign": campaign.id if campaign else None,
                     "raw": {"webhook": ch.value}, "next_at": now + STALE_S, "now": now, "source": "facebook",
                     "page_id": ch.page_id, "form_id": ch.form_id})
    return rows, unknown_why


def _plain_intake(store: Store, options: LeadOptions, campaigns: Mapping[str, Campaign], p: PlainLead, key: str,
                  body: Any, now: float) -> tuple[db.Added, dict[str, Any]]:
    """Store a plain lead and settle it, on the store's thread: (added, its row now)."""
    added = db.add_lead(store, source="webhook", leadgen_id=key, campaign=p.campaign, name=p.name, email=p.email,
                        fields=p.fields or {}, raw={"webhook": body}, next_at=now + STALE_S, now=now)
    if added.duplicate:
        return added, db.get_lead(store, added.id) or {}
    return added, settle(store, options, campaigns, added.id, p.name, p.phone, p.email, p.fields or {}, now) or {}


def _refuse_unsigned(request: web.Request, raw: bytes, secret: str, header: str,
                     off: str) -> Optional[web.Response]:
    """The 403 for a body not signed with `secret` in `header` (or for an
    endpoint with no secret configured: nothing could be checked); None if it is."""
    if not secret:
        log.warning("lead webhook %s refused: %s", request.path, off)
        WEBHOOKS.labels(_endpoint(request), "disabled").inc()
        return _error(403, off)
    if not verify_signature(secret, raw, request.headers.get(header)):
        log.warning("lead webhook %s from %s: bad or missing %s", request.path, request.remote, header)
        WEBHOOKS.labels(_endpoint(request), "bad-signature").inc()
        return _error(403, f"bad or missing {header}")
    return None


def _endpoint(request: web.Request) -> str:
    """The metrics label of a webhook route: `facebook` or `leads` (its last path part; the routes are fixed)."""
    return request.path.rsplit("/", 1)[-1]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
