"""The real screen server (the one `intervene serve` runs, minus Asterisk) on
an ephemeral port, with users, for the API and browser tests."""
from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any, Optional

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"

# The rep misstates a KB fact (Standard has 3 years of support), a competitor comes up, then a pause.
PRACTICE = """\
{"start": 0.0, "end": 2.0, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 2.4, "end": 4.6, "speaker": "lead", "text": "Hi Mark. What kind of support comes with Standard?"}
{"start": 5.0, "end": 7.6, "speaker": "rep", "text": "The Standard package includes two years of support."}
{"start": 8.0, "end": 10.5, "speaker": "lead", "text": "Okay. We are also talking to NetCo about this."}
{"start": 11.0, "end": 12.5, "speaker": "rep", "text": "Sure, I understand."}
{"start": 13.0, "end": 14.0, "speaker": "lead", "text": "Okay."}
"""


class Loop:
    """One event loop in a thread: the server keeps running between tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 240):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def sse(response: aiohttp.ClientResponse):
    """The events of an SSE response as they come: (id, kind, data)."""
    ev_id, kind, data = "", "", ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            ev_id = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind:
            yield ev_id, kind, json.loads(data)
            ev_id, kind, data = "", "", ""


class ScreenServer:
    def __init__(self, db: Path, index, config=None) -> None:
        from intervene.config import Config
        self.db, self.index, self.config = db, index, config or Config()

    async def start(self) -> "ScreenServer":
        from intervene.pbx.media import MediaStore, WebServer
        from intervene.screen.hub import Hub
        from intervene.screen.web import build_screen, save_user
        from intervene.store.db import Store
        self.store = Store(self.db)
        self.hub = Hub()
        self.screen = build_screen(self.store, self.hub, self.config, self.index, "kb/acme.yaml",
                                   api_token="tools-token", public_url=lambda: self.url)
        self.web = WebServer(MediaStore(), "127.0.0.1", 0, self.screen)
        await self.web.start()
        self.url = self.web.url
        for login, role, team, endpoint in (("rep1", "rep", "sales", "PJSIP/rep1"), ("rep2", "rep", "sales", "PJSIP/rep2"),
                                            ("sup", "supervisor", "sales", ""), ("boss", "admin", "", "")):
            save_user(self.store, {"login": login, "name": login.capitalize(), "role": role, "team": team,
                                   "endpoint": endpoint, "password": PASSWORD})
        return self

    async def stop(self) -> None:
        await self.web.stop()
        self.store.close()

    async def wait_ended(self, call_id: str, timeout: float = 60) -> None:
        for _ in range(int(timeout / 0.05)):
            if self.hub.views[call_id].call["state"] == "ended":
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(call_id)


class Client:
    """A logged-in (or not) HTTP client: aiohttp with its own cookie jar."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def login(self, login: str, password: str = PASSWORD) -> int:
        async with self.http.post(f"{self.base}/login", data={"login": login, "password": password, "next": "/"},
                                  allow_redirects=False) as r:
            return r.status if "error" not in r.headers.get("Location", "") else 401

    async def get(self, path: str, **kw) -> tuple[int, Any]:
        async with self.http.get(self.base + path, allow_redirects=False, **kw) as r:
            body = await r.text()
            try:
                return r.status, json.loads(body)
            except json.JSONDecodeError:
                return r.status, body

    async def follow_link(self, url: str) -> int:
        """A signed link as a browser uses it: the page (which spends nothing),
        then its "Sign in" button. The status of the sign-in (303: signed in),
        or of the page when it refused (403)."""
        async with self.http.get(url, allow_redirects=False) as r:
            if r.status != 200:
                return r.status
            assert 'method="post"' in await r.text()
        async with self.http.post(url, allow_redirects=False) as r:
            return r.status

    async def post(self, path: str, body: Optional[dict] = None, csrf: bool = True) -> tuple[int, Any]:
        headers = {"X-Intervene": "1"} if csrf else {}
        async with self.http.post(self.base + path, json=body or {}, headers=headers, allow_redirects=False) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except json.JSONDecodeError:
                return r.status, text

    async def events(self, until, last_id: str = "", timeout: float = 30) -> tuple[list[tuple[str, str, dict]], str]:
        """Read the SSE stream until until(events) is true: [(id, kind, data)], and the last id."""
        headers = {"Last-Event-ID": last_id} if last_id else {}
        got: list[tuple[str, str, dict]] = []
        last = last_id
        async with self.http.get(f"{self.base}/api/events", headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            if r.status != 200:
                return [("", "status", {"status": r.status})], last
            async for event in sse(r):
                got.append(event)
                last = event[0] or last
                if until(got):
                    break
        return got, last

    async def close(self) -> None:
        await self.http.close()
