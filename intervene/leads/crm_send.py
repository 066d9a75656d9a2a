"""Delivering the CRM outbox (store/crm_outbox.py): signed webhooks, and
the sender that drains the outbox for every target (webhooks, HubSpot).

A webhook delivery is one POST of JSON

    {"id": "<delivery id>", "event": "call.ended" | "call.outcome" | "lead.qualified",
     "created": "2026-11-24T15:09:02Z", "data": {...}}

with the headers

    X-Intervene-Event: call.ended
    X-Intervene-Delivery: <delivery id>          (the same on every re-send: deduplicate on it)
    X-Intervene-Timestamp: <unix seconds of this attempt>
    X-Intervene-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

A receiver recomputes the HMAC over the timestamp header, a dot and the raw
request body (before any JSON parsing), compares it in constant time, and
refuses a timestamp more than a few minutes old (a replayed request):
`verify_signature` does exactly that.

Any 2xx is delivered. 408, 429 (honouring Retry-After), 5xx, timeouts and
network errors are tried again with exponential backoff and jitter, up to
[crm] max_attempts; any other 4xx (and a redirect, which would turn the
POST into a GET) is a refusal: failed at once, since the same request
would be refused again.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Protocol

import aiohttp

from intervene.config.crm import CrmOptions, WebhookTarget
from intervene.errors import InterveneError
from intervene.leads.capi import first_of
from intervene.nlp.redact import mask_contacts
from intervene.store import crm_outbox
from intervene.store.db import Store
from intervene.store.worker import DbRunner, Inline

log = logging.getLogger("intervene.crm")

SIGNATURE_TOLERANCE_S = 300.0
JITTER = 0.25                    # each wait is up to this much longer, so retries of many rows spread out


# ------------------------------------------------------------------ signatures
def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Intervene-Signature header's value for one request."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str, now: Optional[float] = None,
                     tolerance_s: float = SIGNATURE_TOLERANCE_S) -> bool:
    """What a receiver does: the signature matches this body and timestamp,
    and the timestamp is within tolerance_s of now (a replay is refused)."""
    try:
        t = float(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def delivery_id_for(target: str, event: str, subject: str) -> str:
    """Stable for (target, event, subject): queueing the event again, on any
    worker, is the same row; a re-send is the same delivery to the receiver."""
    return "crm-" + hashlib.sha256(f"{target}|{event}|{subject}".encode("utf-8")).hexdigest()[:24]


# ---------------------------------------------------------------------- errors
class CrmError(InterveneError):
    """A delivery that did not go through. retryable: the same request may
    work later; retry_after: the receiver said how long to wait (seconds)."""

    def __init__(self, retryable: bool, message: str, status: Optional[int] = None,
                 retry_after: Optional[float] = None) -> None:
        super().__init__(message)
        self.retryable, self.message, self.status, self.retry_after = retryable, message, status, retry_after


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def retry_after(headers: Any) -> Optional[float]:
    """Retry-After in seconds (the date form is not worth a parser here)."""
    try:
        value = float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def http_error(status: int, text: str, headers: Any, what: str) -> CrmError:
    snippet = mask_contacts(text)[:200]          # a receiver may echo the phone or email it was sent
    return CrmError(retryable_status(status), f"{what}: HTTP {status}: {snippet}", status, retry_after(headers))


class Client(Protocol):
    """One CRM target. deliver() raises CrmError; it returns what the CRM
    made that a later event of the same call needs (or None)."""
    target: str

    async def deliver(self, row: dict[str, Any], prior: dict[str, Any]) -> Optional[dict[str, Any]]: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------- webhook
class WebhookClient:
    """POSTs deliveries to one [[crm.webhook]] URL, signed with its secret.
    Messages name the target and host only: a URL may carry a token."""

    def __init__(self, hook: WebhookTarget, session: Optional[aiohttp.ClientSession] = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.hook, self.target = hook, hook.target
        self._session = session
        self._own = session is None
        self._timeout = aiohttp.ClientTimeout(total=hook.timeout_s)
        self.clock = clock

    def __repr__(self) -> str:
        return f"WebhookClient({self.target!r}, host={self.hook.host!r})"

    def body(self, row: dict[str, Any]) -> bytes:
        doc = {"id": row["delivery_id"], "event": row["event"], "created": iso(row["created"]),
               "data": row["payload"]}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def deliver(self, row: dict[str, Any], prior: dict[str, Any]) -> Optional[dict[str, Any]]:
        body = self.body(row)
        ts = str(int(self.clock()))
        headers = {"Content-Type": "application/json", "User-Agent": "intervene-crm/1",
                   "X-Intervene-Event": row["event"], "X-Intervene-Delivery": row["delivery_id"],
                   "X-Intervene-Timestamp": ts, "X-Intervene-Signature": sign(self.hook.secret, ts, body)}
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(self.hook.url, data=body, headers=headers, timeout=self._timeout,
                                          allow_redirects=False) as resp:
                status, text, rh = resp.status, await resp.text(errors="replace"), resp.headers
        except asyncio.TimeoutError:
            raise CrmError(True, f"{self.target}: timed out after {self.hook.timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as e:
            raise CrmError(True, f"{self.target} ({self.hook.host}): {type(e).__name__}")
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            raise CrmError(False, f"{self.target}: HTTP {status} redirect: configure the final URL", status)
        raise http_error(status, text, rh, self.target)

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None


# ---------------------------------------------------------------------- sender
class CrmSender:
    """Drains the CRM outbox, one row at a time, for every target it has a client for.

    Each row is claimed (pending -> sending) before it is sent, so two
    senders never send a row at once. A retryable failure puts it back to
    pending after retry_base_s * 2^(attempts-1) (capped at retry_max_s, plus
    jitter, at least Retry-After); after max_attempts, or on a refusal, it is
    failed. A crash mid-send leaves it `sending`; run() puts such rows back
    on start-up and they go again with the same delivery id."""

    def __init__(self, store: Store, clients: dict[str, Client], options: CrmOptions,
                 worker: Optional[DbRunner] = None, clock: Callable[[], float] = time.time,
                 poll_s: float = 1.0, on_result: Callable[[str, str], None] = lambda target, result: None,
                 rng: Optional[random.Random] = None) -> None:
        self.store, self.clients, self.options = store, clients, options
        self.db: DbRunner = worker or Inline()
        self.clock, self.poll_s = clock, poll_s
        self.on_result = on_result                    # (target, "sent" | "retry" | "failed"): the metrics
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()

    def delay(self, attempts: int, at_least: Optional[float] = None) -> float:
        """Seconds before the next try after `attempts` failed ones."""
        o = self.options
        d = min(o.retry_max_s, o.retry_base_s * 2 ** max(0, attempts - 1))
        d *= 1 + JITTER * self.rng.random()
        return max(d, at_least or 0.0)

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self, now: float) -> int:
        """Try every row due at `now`; returns how many were delivered."""
        sent = 0
        db, store = self.db, self.store
        for row in await db.run(crm_outbox.due, store, now):
            did, target = row["delivery_id"], row["target"]
            client = self.clients.get(target)
            if client is None:              # a target no longer configured: left pending for when it is back
                continue
            if not await db.run(crm_outbox.claim, store, did):
                continue                    # another sender has it
            attempts = row["attempts"] + 1
            prior = await db.run(crm_outbox.remote_for, store, target, row["call_id"]) if row["call_id"] else {}
            try:
                remote = await client.deliver(row, prior)
            except CrmError as e:
                if e.retryable and attempts < self.options.max_attempts:
                    wait = self.delay(attempts, e.retry_after)
                    await db.run(crm_outbox.mark_retry, store, did, e.message, now + wait)
                    log.info("CRM %s %s %s: attempt %d failed, retry in %.3g s: %s", target, row["event"], did,
                             attempts, wait, e.message)
                    self.on_result(target, "retry")
                else:
                    why = e.message if not e.retryable else f"gave up after {attempts} attempts: {e.message}"
                    await db.run(crm_outbox.mark_failed, store, did, why)
                    log.warning("CRM %s %s %s: failed: %s", target, row["event"], did, why)
                    self.on_result(target, "failed")
                continue
            except asyncio.CancelledError:
                # stopping mid-send: maybe delivered; the same delivery id goes again (reset_sending covers a loss)
                db.write(crm_outbox.mark_retry, store, did, "interrupted", now)
                raise
            except Exception as e:          # a bug of ours: keep the row, try later
                log.exception("CRM %s %s: unexpected error", target, did)
                await db.run(crm_outbox.mark_retry, store, did, f"{type(e).__name__}", now + self.delay(attempts))
                self.on_result(target, "retry")
                continue
            await db.run(crm_outbox.mark_sent, store, did, self.clock(), remote)
            log.info("CRM %s %s %s: delivered", target, row["event"], did)
            self.on_result(target, "sent")
            sent += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Until stop: recover crashed sends, then send what is due every poll_s (or on wake())."""
        n = await self.db.run(crm_outbox.reset_sending, self.store)
        if n:
            log.info("CRM: %d deliveries interrupted mid-send go again (same delivery ids)", n)
        try:
            while not stop.is_set():
                try:
                    await self.run_once(self.clock())
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("CRM: outbox pass failed")
                await first_of(stop, self._wake, self.poll_s)
                self._wake.clear()
        finally:
            for client in self.clients.values():
                await client.close()

