"""Reading a lead from Facebook's Graph API: GET /{version}/{leadgen_id}.

The webhook carries only ids; the name, number and answers come from here.
Graph has bad minutes, so timeouts, 5xx, 429 and dropped connections are
tried again with exponential backoff; any other 4xx is Facebook telling us
something definite (bad token, no such lead) and comes back at once as a
GraphError with Facebook's own message and code.

The page token travels in the query string (as Graph expects) and never in
a log line or an error message: errors name the lead id, not the URL.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Optional

import aiohttp

from intervene.errors import InterveneError

log = logging.getLogger("intervene.leads")

LEAD_FIELDS = "id,created_time,ad_id,adset_id,campaign_id,form_id,field_data,is_organic,platform"
# Graph error codes that mean "try later" or "fix the token, then try again", not "this lead is gone"
LATER_CODES = {1, 2, 4, 17, 32, 190, 341, 613, 80001}


class GraphError(InterveneError):
    def __init__(self, message: str, status: int = 0, code: Optional[int] = None, type: str = "",
                 fbtrace_id: str = "", transient: bool = False) -> None:
        super().__init__(message)
        self.message, self.status, self.code, self.type = message, status, code, type
        self.fbtrace_id, self.transient = fbtrace_id, transient

    @property
    def retry_later(self) -> bool:
        """Worth another go later (Graph down, rate limit, token to be fixed),
        as opposed to a definite no (no such lead, no permission for it)."""
        return self.transient or self.status in (0, 429) or self.status >= 500 or self.code in LATER_CODES

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        http = f"HTTP {self.status}: " if self.status else ""
        return f"{http}{self.message}{code}"


class GraphClient:
    def __init__(self, base_url: str, version: str, token: str, session: Optional[aiohttp.ClientSession] = None,
                 tries: int = 5, backoff_s: float = 0.5, timeout_s: float = 10.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.version, self.token = version, token
        self.tries, self.backoff_s, self.timeout_s = max(1, tries), backoff_s, timeout_s
        self.sleep = sleep
        self._session, self._own = session, session is None

    async def fetch_lead(self, leadgen_id: str) -> dict[str, Any]:
        """The Graph lead object; GraphError after the last try (or at once for a definite 4xx)."""
        if not self.token:
            raise GraphError("no page access token: set INTERVENE_FB_PAGE_TOKEN (or [leads] page_token)", code=190)
        if not str(leadgen_id).isdigit():
            raise GraphError(f"not a Graph id: {leadgen_id!r}", code=100)
        url = f"{self.base_url}/{self.version}/{leadgen_id}"
        params = {"access_token": self.token, "fields": LEAD_FIELDS}
        last: Optional[GraphError] = None
        for attempt in range(self.tries):
            if attempt:
                wait = self.backoff_s * 2 ** (attempt - 1)
                log.info("Graph lead %s: try %d/%d in %.2fs (%s)", leadgen_id, attempt + 1, self.tries, wait, last)
                await self.sleep(wait)
            try:
                return await self._get(url, params)
            except GraphError as e:
                if not (e.transient or e.status in (0, 429) or e.status >= 500):
                    raise
                last = e
        assert last is not None
        raise last

    async def _get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        session = await self._http()
        try:
            async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as r:
                text = await r.text()
                status = r.status
        except asyncio.TimeoutError:
            raise GraphError(f"no answer within {self.timeout_s:g}s", transient=True)
        except aiohttp.ClientError as e:        # refused, reset, DNS: the message names host, not the query
            raise GraphError(f"connection failed: {type(e).__name__}", transient=True)
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = None
        if status == 200 and isinstance(body, dict) and "error" not in body:
            return body
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            raise GraphError(str(err.get("message") or "Graph error"), status, _int(err.get("code")),
                             str(err.get("type") or ""), str(err.get("fbtrace_id") or ""),
                             transient=bool(err.get("is_transient")))
        raise GraphError(f"unexpected answer ({len(text)} bytes, not a Graph object)", status,
                         transient=status >= 500 or status == 200)

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own = True
        return self._session

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
        self._session = None


def _int(v: Any) -> Optional[int]:
    return v if isinstance(v, int) and not isinstance(v, bool) else None
