"""The service's own HTTP server.

Asterisk fetches what the assistant says from here (`sound:http://…/media/X.wav`:
works the same when Asterisk runs on another host, and nothing has to be
written into Asterisk's file system); the same server carries the reps'
and supervisors' screens (screen/web/).
"""
from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from aiohttp import web

if TYPE_CHECKING:
    from intervene.screen.web import ScreenApp

log = logging.getLogger("intervene.web")

MEDIA_WAIT_S = 10.0     # a fetch for audio still being synthesized waits this long
MEDIA_KEEP = 256        # recent clips kept (Asterisk caches what it fetched anyway)
KEEPALIVE_S = 75.0      # an idle keep-alive connection is closed after this (aiohttp's default: an hour)
CLIENT_MAX_BYTES = 1024 ** 2   # the largest request body read (a practice transcript, a webhook batch)
DOCTOR_CLIP = "doctor.wav"     # /media/doctor.wav: `intervene doctor` has Asterisk fetch it through the public URL
DOCTOR_CLIP_S = 0.2            # silence, short enough to finish at once


def silent_wav(seconds: float = DOCTOR_CLIP_S, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of silence: a test clip that carries nothing of anyone."""
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(rate * seconds))
    return b.getvalue()


@lru_cache(maxsize=1)
def doctor_clip() -> bytes:
    """The fixed test clip, made once: the same bytes on every request."""
    return silent_wav()


class MediaStore:
    """Clips by key. A clip may be promised before it exists: a fetch waits."""

    def __init__(self) -> None:
        self._clips: "OrderedDict[str, asyncio.Future[bytes]]" = OrderedDict()

    def promise(self, key: str) -> None:
        """Say a clip is coming: a fetch from now on waits for it instead of a 404."""
        self._slot(key)

    def _slot(self, key: str) -> "asyncio.Future[bytes]":
        fut = self._clips.get(key)
        if fut is None:
            fut = self._clips[key] = asyncio.get_running_loop().create_future()
            while len(self._clips) > MEDIA_KEEP:
                old_key, old = self._clips.popitem(last=False)
                if not old.done():
                    old.cancel()
        return fut

    def put(self, key: str, data: bytes) -> None:
        fut = self._slot(key)
        if not fut.done():
            fut.set_result(data)

    def fail(self, key: str, error: Exception) -> None:
        fut = self._slot(key)
        if not fut.done():
            fut.set_exception(error)

    async def get(self, key: str) -> Optional[bytes]:
        fut = self._clips.get(key)
        if fut is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(fut), MEDIA_WAIT_S)
        except asyncio.CancelledError:
            if fut.cancelled():               # evicted while waiting: gone, not our request cancelled
                return None
            raise
        except Exception:                     # timed out, or synthesis failed
            return None


class WebServer:
    """`/media/<clip>` is open (Asterisk fetches it; clip names are random),
    so is `/media/doctor.wav` (a fixed silent clip: `intervene doctor` proves
    with it that Asterisk reaches the service through its public URL and any
    proxy), `/healthz` is open (monitoring; says nothing but ok), everything
    else is the screens' app (screen/web/), behind a login or the API token."""

    def __init__(self, media: MediaStore, host: str, port: int, screen: "ScreenApp",
                 live: Callable[[], list[dict]] = list,
                 more_routes: Sequence[Callable[[web.Application], None]] = (),
                 keepalive_s: float = KEEPALIVE_S, client_max_bytes: int = CLIENT_MAX_BYTES) -> None:
        self.media = media
        self.keepalive_s = keepalive_s
        self.screen = screen
        self.live = live
        self.host, self.port = host, port
        self._runner: Optional[web.AppRunner] = None
        app = web.Application(client_max_size=client_max_bytes)
        app.router.add_get(f"/media/{DOCTOR_CLIP}", self._serve_doctor_clip)     # before /media/{key}: the first match wins
        app.router.add_get("/media/{key}", self._media)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/api/live", self._live)
        screen.add_routes(app)
        for add in more_routes:                              # the lead webhooks
            add(app)
        self.app = app

    async def start(self) -> None:
        # an idle connection is a socket and a handler held: every screen, tool and
        # webhook sender reconnects cheaply, so idle ones are closed after keepalive_s
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0,
                                     keepalive_timeout=self.keepalive_s)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:                                   # tests: an ephemeral port
            self.port = self._runner.addresses[0][1]
        log.info("HTTP on %s:%d", self.host, self.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        self.screen.hub.disconnect_all()                     # open screens: end their streams first
        if self._runner is not None:
            await self._runner.cleanup()

    async def _media(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        data = await self.media.get(key.rsplit(".", 1)[0])
        if data is None:
            raise web.HTTPNotFound(text=f"no such clip: {key}\n")
        return web.Response(body=data, content_type="audio/x-wav")

    async def _serve_doctor_clip(self, request: web.Request) -> web.Response:
        # a day's caching is harmless (the bytes never change); the doctor adds a
        # query string of its own so each run is a real fetch
        return web.Response(body=doctor_clip(), content_type="audio/x-wav",
                            headers={"Cache-Control": "public, max-age=86400"})

    async def _live(self, request: web.Request) -> web.Response:
        """The controller's own view of its calls (taps, frames, deliveries): diagnostics."""
        self.screen.need(request, "admin")
        return web.json_response(self.live())

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})
