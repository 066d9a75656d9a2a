"""/api/events: the live push as Server-Sent Events. A browser reconnects
by itself and sends Last-Event-ID, so a dropped connection loses nothing
the hub still holds; a ping keeps proxies from closing an idle stream.

A stream is a held connection and a queue in the hub, so each user gets a
few (one per open tab is plenty), and a stream lives no longer than the
session that opened it: the session is checked again every RECHECK_S, and
an expired, logged-out or revoked one ends the stream (the browser's
reconnect then meets the login like any other request).

aiohttp does not cancel a handler whose client went away (and a stream
never reads, so nothing raises), so a stream looks at its connection every
WATCH_S while it waits for a push: a closed tab ends its stream - and
leaves `intervene_sse_clients` and the per-user count - within a fraction of
a second, not at the next ping.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Optional

from aiohttp import web

from intervene.accounts.auth import can_see
from intervene.metrics import SSE_CLIENTS
from intervene.screen.hub import Push, PushKind, Subscription
from intervene.screen.web.session import Access
from intervene.screen.web.shared import ScreenState, error

PING_S = 15.0
WATCH_S = 0.25             # how often a waiting stream looks whether its client is still connected
RECHECK_S = 60.0           # how often an open stream checks that its session still holds
STREAMS_PER_USER = 8       # open streams per login at once (the API token counts as one login)


class Events:
    def __init__(self, state: ScreenState, access: Access) -> None:
        self.s, self.access = state, access
        self.max_streams = STREAMS_PER_USER
        self.recheck_s = RECHECK_S
        self.ping_s = PING_S
        self.watch_s = WATCH_S
        self._open: dict[Subscription, web.Request] = {}

    def _room(self, login: str) -> bool:
        """Below the cap, counting only streams whose browser is still there:
        a reload must not wait even the WATCH_S it takes a stream to notice."""
        if self.s.hub.streams(login) < self.max_streams:
            return True
        for sub, req in list(self._open.items()):
            if sub.login == login and _gone(req):
                self.s.hub.unsubscribe(sub)
        return self.s.hub.streams(login) < self.max_streams

    async def _still_in(self, request: web.Request) -> bool:
        """The request's session, resolved again now as the access middleware
        resolves every request (the cookie's expiry, logout, revocation, the
        user's removal); a store that is busy right now keeps the stream."""
        try:
            user, _ = await self.access.resolve(request)
        except web.HTTPException:
            return True
        return user is not None

    async def events(self, request: web.Request) -> web.StreamResponse:
        """SSE. Resumes after Last-Event-ID when the hub still has what was
        missed; otherwise (first connection, another run, too long away) a
        snapshot of every visible call first, then live pushes."""
        user = self.access.need(request)
        hub = self.s.hub
        if not self._room(user.login):
            raise error(web.HTTPTooManyRequests, f"{user.login} has {self.max_streams} live streams open, the most "
                                                 f"at once: close a tab", headers={"Retry-After": "10"})
        hub.sweep()                                  # calls left live by a lost task: ended before the snapshot
        sub = hub.subscribe(lambda call: can_see(user, call), user.login)
        self._open[sub] = request
        SSE_CLIENTS.inc()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        getter: "Optional[asyncio.Future[Optional[Push]]]" = None
        try:
            await resp.prepare(request)
            last = request.headers.get("Last-Event-ID") or request.query.get("last", "")
            if last:
                await hub.reach(last)                # cluster: what another worker sent may be ms away here
            missed = hub.since(last) if last else None
            upto = hub.last
            out = [f"retry: 1000\nevent: hello\ndata: {json.dumps({'me': user.public(), 'snapshot': missed is None})}\n\n"]
            if missed is None:
                out += [_sse(kind, data, hub.event_id(upto)) for kind, data in hub.snapshot(sub.can_see)]
            else:
                out += [_sse(p.kind, p.data, hub.event_id(p.id)) for p in missed
                        if p.id <= upto and p.call_id in hub.views and sub.can_see(hub.views[p.call_id].call)]
            await resp.write("".join(out).encode())
            checked = wrote = time.monotonic()
            while True:
                if time.monotonic() - checked >= self.recheck_s:
                    if not await self._still_in(request):     # expired, logged out, revoked, removed
                        break
                    checked = time.monotonic()
                if getter is None:                   # one get at a time, kept across the looks at the connection
                    getter = asyncio.ensure_future(sub.queue.get())
                done, _ = await asyncio.wait({getter}, timeout=self.watch_s)
                if not done:
                    if _gone(request):               # the tab closed: no ping needed to find out
                        break
                    if time.monotonic() - wrote >= min(self.ping_s, self.recheck_s):
                        await resp.write(b": ping\n\n")
                        wrote = time.monotonic()
                    continue
                push, getter = getter.result(), None
                if push is None:
                    break
                if push.id <= upto:                  # already in the snapshot / catch-up
                    continue
                await resp.write(_sse(push.kind, push.data, hub.event_id(push.id)).encode())
                wrote = time.monotonic()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if getter is not None:
                getter.cancel()
            hub.unsubscribe(sub)
            self._open.pop(sub, None)
            SSE_CLIENTS.dec()
        return resp


def _gone(request: web.Request) -> bool:
    """The client closed the connection (or it broke): aiohttp drops the transport, or is closing it."""
    transport = request.transport
    return transport is None or transport.is_closing()


def _sse(kind: PushKind, data: str, event_id: str) -> str:
    return f"id: {event_id}\nevent: {kind.value}\ndata: {data}\n\n"
