"""A tap: one party's voice, alone, as the listening pipeline hears it (the
call's layout is drawn in call.py). Separate from the rest of the call
because a tap is what a restarted service rebuilds when the old one died.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Optional

import aiohttp

from intervene.nlp.redact import mask_phone
from intervene.vocab import AudioChunk, Speaker

if TYPE_CHECKING:
    from intervene.pbx.call import LiveCall

log = logging.getLogger("intervene.call")

MEDIA_RATE = 16000           # slin16 from the taps
START_TIMEOUT_S = 5.0        # a channel we created must reach our Stasis app by then


class Tap:
    """One party's voice, alone: snoop (spy=in) + chan_websocket media channel
    in a two-channel bridge. PCM arrives as binary websocket frames."""

    def __init__(self, call: "LiveCall", speaker: Speaker, channel: str) -> None:
        self.call, self.speaker, self.channel = call, speaker, channel
        base = f"iv-{call.id}-{speaker.value}"
        self.snoop_id, self.media_id, self.bridge_id = f"{base}-snoop", f"{base}-media", f"{base}-tap"
        self.ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self.task: Optional[asyncio.Task[None]] = None
        self.frames = 0
        self._t_first: Optional[float] = None
        self._samples = 0

    async def open(self) -> None:
        s = self.call.s
        ari = s.ari
        started = [s.waiters.expect(f"start:{self.snoop_id}"), s.waiters.expect(f"start:{self.media_id}")]
        await ari.call("POST", f"/channels/{self.channel}/snoop", spy="in", whisper="none",
                       app=ari.s.app, snoopId=self.snoop_id)
        media = await ari.call("POST", "/channels/externalMedia", channelId=self.media_id, app=ari.s.app,
                               external_host="INCOMING", transport="websocket", encapsulation="none",
                               connection_type="server", format="slin16")
        conn = (media.get("channelvars") or {}).get("MEDIA_WEBSOCKET_CONNECTION_ID") or self.media_id
        self.ws = await ari.media_socket(conn)
        self.task = asyncio.create_task(self._read(), name=f"tap-{self.media_id}")
        await asyncio.wait_for(asyncio.gather(*started), START_TIMEOUT_S)
        await ari.call("POST", "/bridges", type="mixing", bridgeId=self.bridge_id, name=self.bridge_id)
        await ari.call("POST", f"/bridges/{self.bridge_id}/addChannel", channel=f"{self.snoop_id},{self.media_id}")

    @property
    def alive(self) -> bool:
        return self.ws is not None and not self.ws.closed and self.task is not None and not self.task.done()

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.frames += 1
                self._audio(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                log.debug("%s media: %s", self.speaker.value, mask_phone(msg.data[:120]))   # may name the channel
            elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break

    def _audio(self, pcm: bytes) -> None:
        """Stamp frames by counting samples from the first one after the
        conversation started: drift-free, and the same clock VAD uses."""
        call = self.call
        if call.t0 is None or call.ended:
            return
        if self._t_first is None:
            self._t_first = max(0.0, call.now() - len(pcm) / 2 / MEDIA_RATE)
        t = self._t_first + self._samples / MEDIA_RATE
        self._samples += len(pcm) // 2
        call.hear(AudioChunk(self.speaker, t, pcm))

    async def drop(self) -> None:
        """Stop reading, leave the channels and bridge alone (another worker's now)."""
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()

    async def close(self) -> None:
        ari = self.call.s.ari
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
        for cid in (self.snoop_id, self.media_id):
            await ari.quiet("DELETE", f"/channels/{cid}")
        await ari.quiet("DELETE", f"/bridges/{self.bridge_id}")
