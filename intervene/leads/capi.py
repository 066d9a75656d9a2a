"""Call outcomes back to Facebook through the Conversions API, durably.

Facebook's Lead Ads "Conversion Leads" goal learns which leads turn into
sales from the CRM stage updates we send it: each is one server event

    POST https://graph.facebook.com/{version}/{dataset_id}/events?access_token=TOKEN
    {"data": [{"event_name": ..., "event_time": unix s, "action_source": "system_generated",
               "event_id": ..., "user_data": {"lead_id": N, "ph": [sha256], "em": [sha256]},
               "custom_data": {"event_source": "crm", "lead_event_source": "intervene"}}],
     "test_event_code": "TEST123"}                       (optional: shows in Events Manager's Test Events)
    -> {"events_received": 1, "messages": [], "fbtrace_id": "..."}
    or {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}

The matching key is lead_id, the leadgen_id Facebook gave the lead (not hashed).
Phone and email go only as SHA-256 of their normalised form, as Facebook
requires: the raw values never leave this process, not even into the outbox.

Three parts:
  conversion_event()  pure: lead + outcome -> the event, or None when there is nothing to send
  CapiClient          one POST; errors split into retryable (5xx, 429, throttling, network) and not
  OutboxSender        drains store/outbox.py: claim, send, mark sent / retry later / failed

Every event has an event_id derived from (lead, call, outcome), and Facebook
deduplicates on it. That is what makes the outbox safe to be at-least-once:
a retry after a timeout, or a row re-sent after a crash mid-send, reaches
Facebook as the same event, never a second conversion.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from typing import Any, Callable, Optional, Sequence

import aiohttp

from intervene.errors import InterveneError
from intervene.metrics import OUTBOX_SENDS
from intervene.store import outbox
from intervene.store.db import Store
from intervene.store.worker import DbRunner, Inline

log = logging.getLogger("intervene.capi")

GRAPH_URL = "https://graph.facebook.com"
DEFAULT_EVENT_NAMES = {"won": "Purchase", "follow-up": "Lead"}
# Facebook discards events whose event_time is more than 7 days before they are sent.
MAX_AGE_S = 7 * 86400
# Graph API error codes that mean "try again later": 1 unknown / 2 service (temporary
# downtime), 4 / 17 / 32 / 341 / 613 throttling. Anything else is our request's fault.
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613})


# ------------------------------------------------------------------ the event
def normalize_phone(phone: Optional[str]) -> Optional[str]:
    """Facebook's form: digits only, country code included, no '+' and no
    leading zeros ("+1 (415) 555-0123" -> "14155550123"). None when nothing is left."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone).lstrip("0")
    return digits or None


def normalize_email(email: Optional[str]) -> Optional[str]:
    """Trimmed and lowercase. None for an empty value."""
    if not email:
        return None
    return email.strip().lower() or None


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_phone(phone: Optional[str]) -> Optional[str]:
    norm = normalize_phone(phone)
    return _sha256(norm) if norm else None


def hash_email(email: Optional[str]) -> Optional[str]:
    norm = normalize_email(email)
    return _sha256(norm) if norm else None


def event_id_for(leadgen_id: str, call_id: Optional[str], outcome: str) -> str:
    """Stable for (lead, call, outcome): a retry or a re-queue of the same
    outcome is the same event to Facebook; another call's outcome is a new one."""
    return "iv-" + _sha256(f"{leadgen_id}|{call_id or ''}|{outcome}")[:24]


def _lead_id(leadgen_id: Any) -> Any:
    """The docs type lead_id as an integer (a 15-16 digit number): send a number
    when it is one (Python's json writes big ints exactly), else the string as given."""
    s = str(leadgen_id).strip()
    return int(s) if s.isdigit() else s


def conversion_event(lead: dict[str, Any], outcome: str, event_names: dict[str, str], now: float,
                     crm_name: str = "intervene") -> Optional[dict[str, Any]]:
    """The Conversions API event for one call outcome, or None when there is
    nothing to send: a lead that did not come from Facebook (no leadgen_id),
    or an outcome the config maps to no Facebook event (event_names).

    lead: {"leadgen_id", "phone" (E.164), "email", "call_id"}; phone/email may be None."""
    leadgen_id = lead.get("leadgen_id")
    if leadgen_id is None or str(leadgen_id).strip() == "":
        return None
    name = event_names.get(outcome)
    if not name:
        return None
    user_data: dict[str, Any] = {"lead_id": _lead_id(leadgen_id)}
    ph, em = hash_phone(lead.get("phone")), hash_email(lead.get("email"))
    if ph:
        user_data["ph"] = [ph]
    if em:
        user_data["em"] = [em]
    return {
        "event_name": name,
        "event_time": int(now),
        "action_source": "system_generated",
        "event_id": event_id_for(str(leadgen_id).strip(), lead.get("call_id"), outcome),
        "user_data": user_data,
        "custom_data": {"event_source": "crm", "lead_event_source": crm_name},
    }


# ----------------------------------------------------------------- the client
class CapiError(InterveneError):
    """A send that did not go through. retryable: the same request may work
    later (server error, throttling, network); otherwise Facebook refused it."""

    def __init__(self, retryable: bool, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.retryable, self.message, self.status = retryable, message, status


class CapiClient:
    """POSTs one event at a time to /{version}/{dataset_id}/events.

    The token goes as the `access_token` query parameter, as the docs show.
    Every message this class makes has the token scrubbed out, because error
    text ends up in logs and in the outbox's last_error."""

    def __init__(self, base_url: str, version: str, dataset_id: str, token: str,
                 session: Optional[aiohttp.ClientSession] = None, test_event_code: Optional[str] = None,
                 timeout_s: float = 20.0) -> None:
        self.url = f"{(base_url or GRAPH_URL).rstrip('/')}/{version}/{dataset_id}/events"
        self._token = token
        self.test_event_code = test_event_code
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def __repr__(self) -> str:                               # no token here either
        return f"CapiClient({self.url!r})"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    async def send(self, event: dict[str, Any]) -> dict[str, Any]:
        """Deliver one event; Facebook's answer ({"events_received": 1, ...}) or CapiError."""
        body: dict[str, Any] = {"data": [event]}
        if self.test_event_code:
            body["test_event_code"] = self.test_event_code
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.post(self.url, params={"access_token": self._token}, json=body,
                                          timeout=self._timeout) as resp:
                status = resp.status
                text = await resp.text()
        except asyncio.TimeoutError:
            raise CapiError(True, "timed out")
        except (aiohttp.ClientError, OSError) as e:
            raise CapiError(True, self._scrub(f"{type(e).__name__}: {e}"))
        return self._answer(status, text)

    def _answer(self, status: int, text: str) -> dict[str, Any]:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if status == 200 and isinstance(doc, dict) and "error" not in doc:
            return doc
        err = doc.get("error") if isinstance(doc, dict) else None
        if not isinstance(err, dict):
            snippet = " ".join(text.split())[:200]
            raise CapiError(status >= 500 or status in (200, 429),
                            self._scrub(f"HTTP {status}: unexpected answer: {snippet!r}"), status)
        code, sub = err.get("code"), err.get("error_subcode")
        retryable = (status >= 500 or status == 429 or bool(err.get("is_transient"))
                     or code in TRANSIENT_CODES)
        msg = f"HTTP {status}: {err.get('type', 'error')} code {code}"
        if sub is not None:
            msg += f"/{sub}"
        msg += f": {err.get('error_user_msg') or err.get('message') or ''}"
        if err.get("fbtrace_id"):
            msg += f" (fbtrace_id {err['fbtrace_id']})"
        raise CapiError(retryable, self._scrub(msg), status)

    async def __aenter__(self) -> "CapiClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the session only if this client made it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None


# ----------------------------------------------------------------- the sender
class OutboxSender:
    """Delivers the outbox (store/outbox.py), one row at a time.

    Each row is claimed (pending -> sending) before it is sent, so two senders,
    even in two processes, never send the same row at once. A retryable error
    puts it back to pending after backoff[attempt - 1] seconds (the last step
    repeats); a refusal marks it failed; so does an event Facebook would no
    longer accept (event_time more than max_age_s ago).

    A crash mid-send leaves the row in `sending`: we cannot know whether
    Facebook got it. run() puts such rows back to pending on start-up, since
    sending it again is harmless: Facebook deduplicates on event_id."""

    def __init__(self, store: Store, client: CapiClient, backoff: Sequence[float] = (1, 5, 30, 120, 600),
                 clock: Callable[[], float] = time.time, poll_s: float = 0.5,
                 max_age_s: float = MAX_AGE_S, worker: Optional[DbRunner] = None) -> None:
        self.store, self.client = store, client
        self.db: DbRunner = worker or Inline()         # the service's StoreWorker: never SQLite on the loop
        self.backoff = tuple(backoff) or (1.0,)
        self.clock = clock
        self.poll_s = poll_s
        self.max_age_s = max_age_s
        self._wake = asyncio.Event()

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones."""
        return float(self.backoff[min(max(attempts, 1), len(self.backoff)) - 1])

    def wake(self) -> None:
        """Something was just enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def run_once(self, now: float) -> int:
        """Try every row due at `now`; returns how many Facebook accepted."""
        sent = 0
        db, store = self.db, self.store
        for row in await db.run(outbox.due, store, now):
            eid = row["event_id"]
            if not await db.run(outbox.claim, store, eid):
                continue                                     # another sender has it
            attempts = row["attempts"] + 1
            event_time = row["payload"].get("event_time", now)
            if now - event_time > self.max_age_s:
                await db.run(outbox.mark_failed, store, eid,
                             "too old: Facebook takes events up to 7 days after event_time")
                OUTBOX_SENDS.labels("capi", "expired").inc()
                log.warning("CAPI %s: given up, older than %.0f s", eid, self.max_age_s)
                continue
            try:
                answer = await self.client.send(row["payload"])
            except CapiError as e:
                OUTBOX_SENDS.labels("capi", "retry" if e.retryable else "refused").inc()
                if e.retryable:
                    await db.run(outbox.mark_retry, store, eid, e.message, now + self.delay(attempts))
                    log.info("CAPI %s: attempt %d failed, retry in %.3g s: %s", eid, attempts,
                             self.delay(attempts), e.message)
                else:
                    await db.run(outbox.mark_failed, store, eid, e.message)
                    log.warning("CAPI %s: refused: %s", eid, e.message)
                continue
            except asyncio.CancelledError:
                # shutting down mid-send: maybe delivered, maybe not; re-sending is safe (event_id).
                # Handed over without waiting (we are being cancelled); run()'s reset_sending covers a loss
                db.write(outbox.mark_retry, store, eid, "interrupted", now)
                raise
            except Exception as e:                           # a bug of ours: keep the row, try later
                log.exception("CAPI %s: unexpected error", eid)
                OUTBOX_SENDS.labels("capi", "error").inc()
                await db.run(outbox.mark_retry, store, eid, f"{type(e).__name__}: {e}", now + self.delay(attempts))
                continue
            await db.run(outbox.mark_sent, store, eid, answer, self.clock())
            OUTBOX_SENDS.labels("capi", "sent").inc()
            sent += 1
        return sent

    async def run(self, stop: asyncio.Event) -> None:
        """Until stop is set: recover crashed sends, then send what is due every poll_s (or on wake())."""
        n = await self.db.run(outbox.reset_sending, self.store)
        if n:
            log.info("CAPI: %d event(s) interrupted mid-send, sending again (Facebook dedups on event_id)", n)
        while not stop.is_set():
            try:
                await self.run_once(self.clock())
            except asyncio.CancelledError:
                raise
            except Exception:                                # e.g. the database busy: next poll
                log.exception("CAPI: outbox pass failed")
            await first_of(stop, self._wake, self.poll_s)
            self._wake.clear()


async def first_of(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    """Wait until either event is set, or timeout (a sender's stop or wake-up, or its next poll)."""
    if a.is_set() or b.is_set():
        return
    tasks = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
