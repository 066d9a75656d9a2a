"""/metrics: the Prometheus text exposition of intervene.metrics.REGISTRY.

Who may scrape: a request with the API token (`Authorization: Bearer ...`,
the same token /api/events takes), or a client whose address is in
`[serve] metrics_allow` (networks; Prometheus servers rarely send tokens
easily, an allow-list is how most exporters are fenced). Everyone else gets
401 (a token is configured: send it) or 403 (it is not, and the address is
not allowed). The address is guard.client_address's: the peer, or what a
proxy on this machine says it forwarded for, so a local reverse proxy does
not make every client look like 127.0.0.1.

What the database holds (leads by status, the outboxes) is read now, on
the store's thread; a busy store delays that part up to DB_WAIT_S and the
rest is answered anyway, with the last values read."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from typing import Iterable, Optional, Union

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from intervene.accounts.auth import SERVICE
from intervene.metrics import LEADS, OUTBOX_BACKLOG, OUTBOX_FAILED, OUTBOX_OLDEST, REGISTRY, STORE_BEHIND, STORE_PENDING
from intervene.screen.web.guard import client_address
from intervene.screen.web.session import Access
from intervene.screen.web.shared import ScreenState, error
from intervene.store.db import StoreError
from intervene.store.stats import Backlog, backlog

log = logging.getLogger("intervene.metrics")

DB_WAIT_S = 5.0            # the database part of a scrape waits this long (Prometheus' timeout is 10 s)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def networks(allow: Iterable[str]) -> tuple[Network, ...]:
    """`[serve] metrics_allow`, already checked by the config: as networks."""
    return tuple(ipaddress.ip_network(a, strict=False) for a in allow)


def allowed(address: Optional[str], nets: tuple[Network, ...]) -> bool:
    """The address is in one of the networks (an IPv4 client seen as ::ffff:a.b.c.d counts as a.b.c.d)."""
    if not address or not nets:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in nets)


class Metrics:
    def __init__(self, state: ScreenState, access: Access, allow: Iterable[str] = ()) -> None:
        self.s, self.access = state, access
        self.allow = networks(allow)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/metrics", self.metrics)

    def check(self, request: web.Request) -> None:
        """The API token or an allowed address, else 401/403 saying what would let it in."""
        if self.access.user(request) is SERVICE or allowed(client_address(request), self.allow):
            return
        if self.s.api_token:
            raise error(web.HTTPUnauthorized, "send the API token (Authorization: Bearer ...)",
                        headers={"WWW-Authenticate": "Bearer"})
        if self.allow:
            raise error(web.HTTPForbidden, "this address is not in [serve] metrics_allow")
        raise error(web.HTTPForbidden, "metrics are off: set [serve] metrics_allow (networks) "
                                       "or INTERVENE_API_TOKEN")

    async def metrics(self, request: web.Request) -> web.Response:
        self.check(request)
        await self.refresh()
        # the text format Prometheus has read since 2.0 (0.0.4), or OpenMetrics when the scraper asks for it
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(REGISTRY), headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    async def refresh(self) -> None:
        """The gauges read at scrape time: the store thread's queue, and the database's counts."""
        db = self.s.db
        STORE_PENDING.set(db.pending)
        STORE_BEHIND.set(db.behind_s())
        try:
            b = await asyncio.wait_for(db.run(backlog, self.s.store, time.time()), DB_WAIT_S)
        except (StoreError, asyncio.TimeoutError) as e:
            log.warning("/metrics: the database counts were not read (%s); answering without them",
                        type(e).__name__)
            return
        apply(b)


def apply(b: Backlog) -> None:
    """Set the database gauges to `b`: a status or outbox that is gone drops out rather than keep its last value."""
    LEADS.clear()
    for status, n in b.leads.items():
        LEADS.labels(status).set(n)
    for g in (OUTBOX_BACKLOG, OUTBOX_OLDEST, OUTBOX_FAILED):
        g.clear()
    for label, box in b.outboxes.items():
        OUTBOX_BACKLOG.labels(label).set(box.backlog)
        OUTBOX_OLDEST.labels(label).set(box.oldest_s)
        OUTBOX_FAILED.labels(label).set(box.failed)
