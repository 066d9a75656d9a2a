"""The service's fixed test clip, /media/doctor.wav (`intervene doctor` has
Asterisk fetch it through the public URL): served by the real WebServer,
open, cacheable and a valid silent WAV, whatever query string comes with
it; the live prompts at /media/{key} are served as before, and a live
clip can never stand in for the test clip."""
from __future__ import annotations

import asyncio
import io
import wave
from typing import Any

import aiohttp

from intervene.pbx.media import DOCTOR_CLIP, MediaStore, WebServer, doctor_clip
from intervene.screen.hub import Hub
from intervene.screen.web import ScreenApp
from intervene.store.db import Store


async def _get(http: aiohttp.ClientSession, url: str, method: str = "GET") -> tuple[int, bytes, Any]:
    async with http.request(method, url) as r:
        return r.status, await r.read(), r.headers


def test_the_web_server_serves_the_test_clip_and_the_live_prompts(tmp_path):
    async def go() -> dict[str, Any]:
        media = MediaStore()
        media.put("say-0f1e", b"RIFFlive")
        media.put("doctor", b"RIFFnot-the-test-clip")      # a live key of that name cannot replace it
        media.promise("late-9a")
        screen = ScreenApp(Store(tmp_path / "w.db"), Hub(), b"k" * 32, api_token="tok")
        srv = WebServer(media, "127.0.0.1", 0, screen)
        await srv.start()
        try:
            async with aiohttp.ClientSession() as http:
                late = asyncio.ensure_future(_get(http, f"{srv.url}/media/late-9a.wav"))
                await asyncio.sleep(0.05)
                media.put("late-9a", b"RIFFlate")
                return {
                    "clip": await _get(http, f"{srv.url}/media/{DOCTOR_CLIP}"),
                    "query": await _get(http, f"{srv.url}/media/{DOCTOR_CLIP}?doctor=abc123"),
                    "head": await _get(http, f"{srv.url}/media/{DOCTOR_CLIP}", "HEAD"),
                    "live": await _get(http, f"{srv.url}/media/say-0f1e.wav"),
                    "late": await late,
                    "unknown": await _get(http, f"{srv.url}/media/nope.wav"),
                    "health": await _get(http, f"{srv.url}/healthz"),
                }
        finally:
            await srv.stop()
            screen.state.db.close()

    out = asyncio.run(go())
    status, body, headers = out["clip"]
    assert status == 200 and headers["Content-Type"] == "audio/x-wav"
    assert "max-age" in headers["Cache-Control"] and "Set-Cookie" not in headers     # open, no login
    assert body == doctor_clip() and out["query"][:2] == (200, body)
    assert out["head"][0] == 200 and out["head"][1] == b""
    with wave.open(io.BytesIO(body)) as w:                  # 8 kHz mono 16-bit silence, a fifth of a second
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == 1600 and set(w.readframes(w.getnframes())) == {0}
    assert out["live"][:2] == (200, b"RIFFlive") and out["late"][:2] == (200, b"RIFFlate")
    assert out["unknown"][0] == 404 and out["health"][0] == 200


def test_the_test_clip_is_made_once():
    assert doctor_clip() is doctor_clip()
