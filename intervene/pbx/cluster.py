"""Several workers, one sales floor: each live call is leased to the worker
monitoring it, and a worker that dies has its calls taken over.

Every RENEW_S a worker renews the leases of the calls it monitors (and its
own heartbeat). A lease not renewed for LEASE_S has lost its worker
(SIGKILL, a machine gone, a network cut): any other worker that sees it
expired takes it over with one conditional UPDATE, so exactly one wins.
The winner moves the call's channels out of the dead worker's Stasis app
into its own (ARI `POST /channels/{id}/move`), removes the dead worker's
taps, and adopts the call the way a restarted single box adopts its own:
same call id and clock, numbering going on from what was stored, new taps.
The gap - from the last renewal to the adoption - goes into the call's
record, so nobody mistakes an unmonitored minute for a quiet one.

A worker that finds one of its leases taken (it stalled longer than the
lease, and another worker adopted the call) lets go of that call without
touching its channels: two workers must never both speak into one bridge.

On a single box the same leases cost one small write per second per
busy worker and never expire while it runs; after a restart the worker
finds its own leases by its name and adopts its calls as before.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from intervene.logctx import about_call
from intervene.pbx.ari import AriError, AriUnavailable
from intervene.store import leases
from intervene.store.db import StoreError

if TYPE_CHECKING:
    from intervene.pbx.controller import Services

log = logging.getLogger("intervene.cluster")

RENEW_S = 1.0           # leases and the heartbeat are renewed this often
ADOPTED_ARG = "iv-adopted"    # the appArgs of a channel moved into our app (its StasisStart is no new call)

Adopt = Callable[[str, str, str, dict[str, Any]], Awaitable[None]]


class LeaseKeeper:
    """The background job of one worker: renew, notice dead colleagues, take over."""

    def __init__(self, services: "Services", adopt: Adopt, lease_s: float = leases.LEASE_S,
                 renew_s: float = RENEW_S) -> None:
        self.s = services
        self.adopt = adopt
        self.lease_s, self.renew_s = lease_s, renew_s
        self.taken_over = 0                      # calls this worker adopted from another (for the bench)
        self.last_takeover_s: Optional[float] = None   # how long its last adoption took after the lease expired

    @property
    def app(self) -> str:
        return self.s.ari.s.app

    @property
    def asterisk(self) -> str:
        """Which Asterisk this worker's calls are on (its ARI URL): a call on another cannot be moved here."""
        return str(self.s.ari.s.url)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick(time.time())
            except (StoreError, AriError, AriUnavailable, asyncio.TimeoutError) as e:
                log.warning("leases: %s (trying again in %.0fs)", e, self.renew_s)
            except Exception:
                log.exception("leases")
            try:
                await asyncio.wait_for(stop.wait(), self.renew_s)
            except asyncio.TimeoutError:
                pass

    async def tick(self, now: float) -> None:
        s = self.s
        mine = [cid for cid, c in s.calls.items() if not c.ended]
        lost = await s.db.run(leases.renew, s.store, s.worker, mine, now, self.lease_s)
        for cid in lost:
            call = s.calls.get(cid)
            if call is not None and not call.ended:
                with about_call(cid, s.worker):
                    log.error("call %s: another worker took it over (this one was unresponsive for more than "
                              "%.0fs); letting go of it here", cid, self.lease_s)
                    await call.let_go()
        if not s.connected.is_set():            # no ARI: nothing could be moved or tapped
            return
        for row in await s.db.run(leases.expired, s.store, now, self.asterisk):
            if row["call_id"] in s.calls:
                continue
            await self.take_over(row, now)

    async def adopt_found(self, cid: str, now: float) -> bool:
        """A call found in Asterisk that no worker is monitoring here (after
        a restart): ours (our lease, or none: a call from before leases)
        is adopted; another worker's expired one only through its lease,
        so two workers never both take it; a live one is left alone."""
        s = self.s
        row = await s.db.run(leases.get, s.store, cid)
        if row is None or row["worker"] == s.worker:
            gap_from = float(row["renewed"]) if row else now
            await s.db.run(leases.take, s.store, cid, s.worker, self.app, now, self.lease_s, self.asterisk)
            with about_call(cid, s.worker):
                return await self.move_and_adopt(cid, gap_from)
        if float(row["expires"]) < now:
            return await self.take_over(row, now)
        return False

    async def take_over(self, row: dict[str, Any], now: float) -> bool:
        """Win the expired lease, then move, clean and adopt the call."""
        s, cid = self.s, row["call_id"]
        old = await s.db.run(leases.steal, s.store, cid, s.worker, self.app, time.time(), self.lease_s)
        if old is None:
            return False                         # renewed meanwhile, or another worker was quicker
        with about_call(cid, s.worker):          # from here on these lines are the call's (and this worker's)
            log.warning("call %s: worker %s stopped renewing its lease %.1fs ago; taking the call over",
                        cid, old["worker"], now - float(old["renewed"]))
            ok = await self.move_and_adopt(cid, float(old["renewed"]))
        if ok:
            self.taken_over += 1
            self.last_takeover_s = time.time() - float(old["expires"])
        return ok

    async def move_and_adopt(self, cid: str, gap_from: float) -> bool:
        """The call's channels into our app, the old worker's taps gone, the
        call adopted. A call whose parties are gone is closed instead."""
        s, ari = self.s, self.s.ari
        channels = {c["id"]: c for c in await ari.call("GET", "/channels")}
        bridges = {b["id"]: b for b in await ari.call("GET", "/bridges")}
        members = [c for c in bridges.get(f"iv-{cid}", {}).get("channels", []) if c in channels]
        lead = next((c for c in members if not c.startswith("iv-")), None)
        rep = f"iv-{cid}-rep"
        for ch in channels:                      # the dead worker's taps and whisper channels
            if ch.startswith(f"iv-{cid}-") and ch != rep:
                await ari.quiet("DELETE", f"/channels/{ch}")
        for bid in bridges:
            if bid.startswith(f"iv-{cid}-") and bid.endswith("-tap"):
                await ari.quiet("DELETE", f"/bridges/{bid}")
        if lead is None or rep not in members:
            log.warning("call %s: its parties are gone; closing it", cid)
            for ch in (lead, rep):
                if ch and ch in channels:
                    await ari.quiet("DELETE", f"/channels/{ch}")
            await ari.quiet("DELETE", f"/bridges/iv-{cid}")
            await s.db.run(leases.close_orphan, s.store, cid, gap_from)
            if cid in s.screen.views:
                s.screen.call(cid, state="ended", ended_at=time.time())
            return False
        for ch in (lead, rep):
            await ari.call("POST", f"/channels/{ch}/move", app=self.app, appArgs=f"{ADOPTED_ARG},{cid}")
        # the call's bridge was made by the dead worker's app: without this, the playbacks we post
        # into it would never tell us they finished (PlaybackFinished goes to the bridge's subscribers)
        await ari.call("POST", f"/applications/{self.app}/subscription", eventSource=f"bridge:iv-{cid}")
        gap_to = time.time()
        s.db.write(leases.add_gap, s.store, cid, gap_from, gap_to)
        await self.adopt(cid, lead, rep, channels[lead])
        log.info("call %s: taken over; monitoring paused %.1fs", cid, gap_to - gap_from)
        return True
