"""/api/events: the live push as Server-Sent Events. A browser reconnects
by itself and sends Last-Event-ID, so a dropped connection loses nothing
the hub still holds; a ping keeps proxies from closing an idle stream."""
from __future__ import annotations

import asyncio
import json

from aiohttp import web

from intervene.accounts.auth import can_see
from intervene.screen.hub import PushKind
from intervene.screen.web.session import Access
from intervene.screen.web.shared import ScreenState

PING_S = 15.0


class Events:
    def __init__(self, state: ScreenState, access: Access) -> None:
        self.s, self.access = state, access

    async def events(self, request: web.Request) -> web.StreamResponse:
        """SSE. Resumes after Last-Event-ID when the hub still has what was
        missed; otherwise (first connection, another run, too long away) a
        snapshot of every visible call first, then live pushes."""
        user = self.access.need(request)
        hub = self.s.hub
        sub = hub.subscribe(lambda call: can_see(user, call), user.login)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        try:
            await resp.prepare(request)
            last = request.headers.get("Last-Event-ID") or request.query.get("last", "")
            missed = hub.since(last) if last else None
            upto = hub.last
            out = [f"retry: 1000\nevent: hello\ndata: {json.dumps({'me': user.public(), 'snapshot': missed is None})}\n\n"]
            if missed is None:
                out += [_sse(kind, data, hub.event_id(upto)) for kind, data in hub.snapshot(sub.can_see)]
            else:
                out += [_sse(p.kind, p.data, hub.event_id(p.id)) for p in missed
                        if p.id <= upto and p.call_id in hub.views and sub.can_see(hub.views[p.call_id].call)]
            await resp.write("".join(out).encode())
            while True:
                try:
                    push = await asyncio.wait_for(sub.queue.get(), PING_S)
                except asyncio.TimeoutError:
                    await resp.write(b": ping\n\n")
                    continue
                if push is None:
                    break
                if push.id <= upto:                  # already in the snapshot / catch-up
                    continue
                await resp.write(_sse(push.kind, push.data, hub.event_id(push.id)).encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.unsubscribe(sub)
        return resp


def _sse(kind: PushKind, data: str, event_id: str) -> str:
    return f"id: {event_id}\nevent: {kind.value}\ndata: {data}\n\n"
