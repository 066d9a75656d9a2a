"""A thin asyncio client for the Asterisk REST Interface (ARI).

Why our own and not ari-py: ari-py is a Python-2-era, unmaintained,
swagger-driven synchronous library; we need a handful of REST calls and one
events websocket, all on asyncio, with reconnects we control. aiohttp does
both in ~150 lines.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Mapping, Optional

import aiohttp

from intervene.errors import InterveneError
from intervene.nlp.redact import mask_phone

log = logging.getLogger("intervene.ari")


class AriError(InterveneError):
    """A REST call Asterisk refused: status, what was asked, what it said."""

    def __init__(self, status: int, what: str, message: str) -> None:
        super().__init__(f"ARI {what}: {status} {message}")
        self.status = status


class AriUnavailable(InterveneError):
    """Asterisk's HTTP server cannot be reached (down, restarting, wrong URL)."""


@dataclass(frozen=True)
class AriSettings:
    url: str = "http://127.0.0.1:8088"
    user: str = "intervene"
    password: str = ""
    app: str = "intervene"

    @classmethod
    def from_env(cls, env: Mapping[str, str], **over: Any) -> "AriSettings":
        """INTERVENE_ARI_URL / _USER / _PASSWORD / _APP from `env` (the config's
        reading of the environment); explicit values win. The password never has
        a default in code."""
        e = env
        vals = {"url": e.get("INTERVENE_ARI_URL", cls.url), "user": e.get("INTERVENE_ARI_USER", cls.user),
                "password": e.get("INTERVENE_ARI_PASSWORD", ""), "app": e.get("INTERVENE_ARI_APP", cls.app)}
        vals.update({k: v for k, v in over.items() if v})
        return cls(**vals)

    @property
    def ws_base(self) -> str:
        return "ws" + self.url[len("http"):] if self.url.startswith("http") else self.url


class Ari:
    """REST calls and websockets against one Asterisk. One aiohttp session."""

    def __init__(self, settings: AriSettings) -> None:
        if not settings.password:
            raise ValueError("no ARI password: set INTERVENE_ARI_PASSWORD (or ari_password in the config's [serve] section)")
        self.s = settings
        self._headers = {"Authorization": aiohttp.encode_basic_auth(settings.user, settings.password)}
        self._session: Optional[aiohttp.ClientSession] = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, body: Optional[dict] = None, **params: Any) -> Any:
        """`await ari.call("POST", "/bridges", type="mixing")` -> decoded JSON (or None).
        Lists become repeated query parameters (ARI's `media=a&media=b`)."""
        query: list[tuple[str, str]] = []
        for k, v in params.items():
            if v is None:
                continue
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                query.append((k, str(item).lower() if isinstance(item, bool) else str(item)))
        try:
            async with self.session.request(method, f"{self.s.url}/ari{path}", params=query,
                                            json=body) as r:
                text = await r.text()
                if r.status >= 300:
                    try:
                        message = json.loads(text).get("message", text)
                    except (ValueError, AttributeError):
                        message = text.strip()[:200]
                    raise AriError(r.status, f"{method} {path}", message)
                return json.loads(text) if text.strip() else None
        except (aiohttp.ClientConnectionError, asyncio.TimeoutError) as e:
            raise AriUnavailable(f"{self.s.url}: {e.__class__.__name__}: {e}") from e

    async def quiet(self, method: str, path: str, **params: Any) -> Any:
        """The same call, for clean-up: a channel or bridge that is already gone is fine."""
        try:
            return await self.call(method, path, **params)
        except (AriError, AriUnavailable) as e:
            log.debug("ignored during clean-up: %s", e)
            return None

    async def connect_events(self) -> aiohttp.ClientWebSocketResponse:
        """The app's event websocket. Connecting registers the Stasis app, so
        this must happen before calls arrive. Raises AriUnavailable."""
        url = f"{self.s.ws_base}/ari/events"
        try:
            return await self.session.ws_connect(url, params={"app": self.s.app, "subscribeAll": "false"},
                                                 heartbeat=5.0, timeout=aiohttp.ClientWSTimeout(ws_close=2.0))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise AriUnavailable(f"{url}: {e.__class__.__name__}: {e}") from e

    @staticmethod
    async def events(ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[dict]:
        """Events until the websocket closes. Reconnecting is the caller's
        policy (the controller backs off and re-adopts its calls)."""
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    try:
                        yield json.loads(msg.data)
                    except ValueError:
                        log.warning("ARI sent a frame that is not JSON: %s", mask_phone(msg.data[:80]))
                elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                    break
        finally:
            await ws.close()

    async def media_socket(self, connection_id: str) -> aiohttp.ClientWebSocketResponse:
        """Connect to a chan_websocket media channel that Asterisk serves
        (externalMedia connection_type=server): binary frames are PCM."""
        url = f"{self.s.ws_base}/media/{connection_id}"
        try:
            return await self.session.ws_connect(url, protocols=("media",), heartbeat=None,
                                                 timeout=aiohttp.ClientWSTimeout(ws_close=1.0))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise AriUnavailable(f"{url}: {e.__class__.__name__}: {e}") from e
