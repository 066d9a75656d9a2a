"""What the screens see, as it happens: one hub per service.

Live calls (and practice calls) publish here; every open screen (a rep's
browser tab, a supervisor's) holds a subscription filtered to what its user
may see. Each push carries a service-wide number, and the last few thousand
are kept, so a browser that lost its connection for a moment resumes from
the last one it got (SSE Last-Event-ID); one that missed more, or talked to
an earlier run of the service, gets a snapshot of every call instead.

Every push is the whole current state of one thing (a call, a card, a
transcript line), so the browser upserts by key: a push seen twice, or a
snapshot after a resume, can never make a duplicate card.

In a cluster (several workers, one PostgreSQL: `join`) a push's number is
the database's (store/relay.py) and the epoch is the cluster's, so a
browser a load balancer moves to another worker resumes there exactly. A
push reaches the screens once it is back from the database, in that order,
whichever worker published it; the worker's own views (the snapshots, the
API) change at once, and pushes from the others are applied to them as
they arrive, so every worker can show every call.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Optional

from intervene.store.relay import Relay, Row
from intervene.vocab import Intervention, Utterance

KEEP_PUSHES = 5000       # resumable history (a busy contact centre: minutes of it)
KEEP_CALLS = 200         # ended calls kept in memory for the screens; older ones come from the store
QUEUE_MAX = 2000         # a screen this far behind is cut off; it reconnects and catches up
STALE_S = 4 * 3600.0     # a call not ended that nothing touched this long lost its owner: ended here
REACH_S = 1.0            # cluster: how long a resume waits for pushes another worker has already sent


class PushKind(str, Enum):
    CALL = "call"
    BRIEFING = "briefing"
    LINE = "line"
    CARD = "card"


@dataclass(frozen=True)
class Push:
    id: int
    kind: PushKind
    call_id: str
    data: str                # JSON, encoded once for every screen


@dataclass
class CallView:
    """Everything a screen shows of one call (the snapshot's source)."""
    call: dict[str, Any]
    briefing: Optional[str] = None
    lines: dict[int, dict[str, Any]] = field(default_factory=dict)        # final lines by index
    interims: dict[str, dict[str, Any]] = field(default_factory=dict)     # by speaker
    cards: dict[int, dict[str, Any]] = field(default_factory=dict)        # by seq
    touched: float = field(default_factory=time.monotonic)               # the last push (monotonic)

    def full(self) -> dict[str, Any]:
        return {"call": self.call, "briefing": self.briefing,
                "lines": sorted(self.lines.values(), key=lambda x: (x["start"], x["idx"])),
                "cards": [self.cards[k] for k in sorted(self.cards)]}


class Subscription:
    def __init__(self, can_see: Callable[[dict[str, Any]], bool], login: str = "") -> None:
        self.can_see = can_see
        self.login = login
        self.queue: "asyncio.Queue[Optional[Push]]" = asyncio.Queue(QUEUE_MAX)
        self.closed = False


class Hub:
    def __init__(self) -> None:
        self.epoch = uuid.uuid4().hex[:8]           # SSE ids are only meaningful within one run
        self.last = 0
        self._log: deque[Push] = deque(maxlen=KEEP_PUSHES)
        self.views: "OrderedDict[str, CallView]" = OrderedDict()
        self._subs: set[Subscription] = set()
        self._relay: Optional[Relay] = None          # cluster mode (join)
        self._arrived: Optional[asyncio.Event] = None

    # ------------------------------------------------------------- cluster
    @property
    def cluster(self) -> bool:
        return self._relay is not None

    async def join(self, relay: Relay) -> None:
        """Cluster mode: pushes go out through `relay` and come back from it,
        numbered by the database. The rows it still keeps are applied first,
        so a worker that starts during a call shows it whole."""
        rows = await asyncio.to_thread(relay.open)
        self._relay = relay
        self.epoch = relay.epoch
        self._log.clear()
        self.last = 0
        self.deliver(rows, False)
        self.last = max(self.last, relay.last)
        relay.start(asyncio.get_running_loop(), self.deliver)

    async def close(self) -> None:
        """Cluster mode: share what is still waiting (the calls' last states), then stop the relay."""
        relay, self._relay = self._relay, None
        if relay is not None:
            await asyncio.to_thread(relay.close)

    def deliver(self, rows: list[Row], lost: bool) -> None:
        """Rows back from the database, in seq order: the other workers'
        pushes change the views here, and every push goes to the screens."""
        if lost:                                   # a gap in the history: every screen starts from a snapshot
            self._log.clear()
            self.disconnect_all()
        relay = self._relay
        for row in rows:
            if row.seq <= self.last:
                continue
            try:
                kind = PushKind(row.kind)
            except ValueError:
                continue
            self.last = row.seq
            if relay is None or row.worker != relay.worker:
                self._apply(kind, row)
            push = Push(row.seq, kind, row.call_id, row.data)
            self._log.append(push)
            view = self.views.get(row.call_id)
            if view is not None:
                self._fan_out(push, view.call)
        arrived, self._arrived = self._arrived, None
        if arrived is not None:
            arrived.set()

    def _apply(self, kind: PushKind, row: Row) -> None:
        """Another worker's push, into this worker's views (each push is the
        whole state of one thing, so applying is an upsert)."""
        obj, cid = row.obj, row.call_id
        view = self.views.get(cid)
        if kind is PushKind.CALL:
            if not obj:
                return
            if view is None:
                view = self.views[cid] = CallView(dict(obj))
                self._trim()
            else:
                view.call.update(obj)
        if view is None or not obj:
            return                                 # a call this worker never saw the header of: shown from its next
        view.touched = time.monotonic() - max(0.0, time.time() - row.at)
        if kind is PushKind.BRIEFING:
            view.briefing = obj.get("text")
        elif kind is PushKind.LINE:
            if obj.get("final"):
                view.lines[int(obj["idx"])] = obj
                view.interims.pop(str(obj.get("speaker")), None)
            else:
                view.interims[str(obj.get("speaker"))] = obj
        elif kind is PushKind.CARD:
            view.cards[int(obj["seq"])] = obj

    async def reach(self, last_event_id: str, timeout: float = REACH_S) -> None:
        """Cluster mode: a browser coming from another worker may hold a
        push this worker's listener has not read yet (milliseconds): wait
        for it, so the resume is exact instead of a snapshot."""
        if self._relay is None:
            return
        epoch, _, n = last_event_id.partition("-")
        if epoch != self.epoch or not n.isdigit():
            return
        deadline = time.monotonic() + timeout
        while self.last < int(n) and time.monotonic() < deadline:
            if self._arrived is None:
                self._arrived = asyncio.Event()
            try:
                await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break

    # ------------------------------------------------------------ publishing
    def call(self, call_id: str, **fields: Any) -> None:
        """Create or update a call's header (rep, state, outcome ...)."""
        view = self.views.get(call_id)
        if view is None:
            view = self.views[call_id] = CallView({"id": call_id, "rep": None, "rep_name": None, "team": None,
                                                   "lead": None, "lead_name": None, "started": time.time(),
                                                   "state": "ringing", "ended_at": None, "outcome": "unknown",
                                                   "outcome_note": None, "profile": None, "practice": False,
                                                   "interventions": 0, "rep_endpoint": None})
            self.sweep()
        view.call.update(fields)
        self._publish(PushKind.CALL, call_id, view.call)

    def briefing(self, call_id: str, text: str) -> None:
        view = self.views[call_id]
        view.briefing = text
        self._publish(PushKind.BRIEFING, call_id, {"call_id": call_id, "text": text})

    def line(self, call_id: str, u: Utterance) -> None:
        """A final utterance, or (u.final False) the words so far of one still being spoken."""
        view = self.views[call_id]
        sp = u.speaker.value
        line = {"call_id": call_id, "speaker": sp, "idx": u.index if u.final else None, "text": u.text,
                "start": round(u.start, 2), "end": round(u.end, 2), "final": u.final}
        if u.final:
            view.lines[u.index] = line
            view.interims.pop(sp, None)
        else:
            view.interims[sp] = line
        self._publish(PushKind.LINE, call_id, line)

    def card(self, call_id: str, seq: int, iv: Intervention, decided_wall: float, delivery: str = "pending") -> dict:
        view = self.views[call_id]
        card = {"call_id": call_id, "seq": seq, **iv.to_json(), "delivery": delivery,
                "decided_wall": decided_wall, "feedback": None, "feedback_text": None}
        view.cards[seq] = card
        view.call["interventions"] = len(view.cards)
        self._publish(PushKind.CARD, call_id, card)
        self._publish(PushKind.CALL, call_id, view.call)
        return card

    def update_card(self, call_id: str, seq: int, **fields: Any) -> Optional[dict]:
        view = self.views.get(call_id)
        if view is None or seq not in view.cards:
            return None
        view.cards[seq].update(fields)
        self._publish(PushKind.CARD, call_id, view.cards[seq])
        return view.cards[seq]

    def republish(self, call_id: str) -> None:
        """Everything of one call again (upserts: nobody sees a duplicate).
        For screens that may see it only now, e.g. the rep a lead flow call
        was just handed to, after the assistant's part was pushed to nobody."""
        view = self.views.get(call_id)
        if view is None:
            return
        if view.briefing is not None:
            self._publish(PushKind.BRIEFING, call_id, {"call_id": call_id, "text": view.briefing})
        for idx in sorted(view.lines):
            self._publish(PushKind.LINE, call_id, view.lines[idx])
        for seq in sorted(view.cards):
            self._publish(PushKind.CARD, call_id, view.cards[seq])

    def _publish(self, kind: PushKind, call_id: str, data: dict) -> None:
        if self._relay is not None:                # numbered by the database, sent to the screens on return
            self.views[call_id].touched = time.monotonic()
            self._relay.publish(kind.value, call_id, json.dumps(data, ensure_ascii=False))
            return
        self.last += 1
        push = Push(self.last, kind, call_id, json.dumps(data, ensure_ascii=False))
        self._log.append(push)
        view = self.views[call_id]
        view.touched = time.monotonic()
        self._fan_out(push, view.call)

    def _fan_out(self, push: Push, call: dict[str, Any]) -> None:
        for sub in list(self._subs):
            if sub.closed or not sub.can_see(call):
                continue
            try:
                sub.queue.put_nowait(push)
            except asyncio.QueueFull:          # hopelessly behind: cut it off, it resumes with a snapshot
                self.unsubscribe(sub)

    def sweep(self, now: Optional[float] = None) -> int:
        """End every call that still says it is live but had no push for
        STALE_S (its task died, or a practice call never reached its end),
        then trim: only ended calls are ever dropped, so without this a
        lost call would stay on every screen, and in memory, for ever.
        Returns how many were ended."""
        now = time.monotonic() if now is None else now
        stale = [cid for cid, v in self.views.items()
                 if v.call.get("state") != "ended" and now - v.touched > STALE_S]
        for cid in stale:
            self.call(cid, state="ended", ended_at=time.time())
        self._trim()
        return len(stale)

    def _trim(self) -> None:
        ended = [cid for cid, v in self.views.items() if v.call.get("state") == "ended"]
        for cid in ended[:max(0, len(self.views) - KEEP_CALLS)]:
            del self.views[cid]

    # ----------------------------------------------------------- screens
    def subscribe(self, can_see: Callable[[dict[str, Any]], bool], login: str = "") -> Subscription:
        sub = Subscription(can_see, login)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Ends the subscriber's stream (its browser reconnects by itself)."""
        if sub.closed:
            return
        sub.closed = True
        self._subs.discard(sub)
        while True:                                # make room for the end marker
            try:
                sub.queue.put_nowait(None)
                break
            except asyncio.QueueFull:
                sub.queue.get_nowait()

    @property
    def screens(self) -> int:
        """Open screens (live streams) right now."""
        return len(self._subs)

    def streams(self, login: str) -> int:
        """Open screens of one login."""
        return sum(1 for s in self._subs if s.login == login)

    def disconnect_all(self, login: Optional[str] = None) -> int:
        """Drop every screen's connection, or one user's (revoked: their
        browser reconnects, and is refused)."""
        subs = [s for s in self._subs if login is None or s.login == login]
        for sub in subs:
            self.unsubscribe(sub)
        return len(subs)

    def since(self, last_event_id: str) -> Optional[list[Push]]:
        """Pushes after `last_event_id` ("<epoch>-<n>"), or None when they are
        not all here any more (another run, or too long ago): send a snapshot."""
        epoch, _, n = last_event_id.partition("-")
        if epoch != self.epoch or not n.isdigit():
            return None
        n_ = int(n)
        if n_ > self.last:
            return None
        oldest = self._log[0].id if self._log else self.last + 1
        if n_ < oldest - 1:
            return None
        return [p for p in self._log if p.id > n_]

    def snapshot(self, can_see: Callable[[dict[str, Any]], bool]) -> Iterable[tuple[PushKind, str]]:
        """The current state of every visible call, as pushes to upsert."""
        for view in list(self.views.values()):
            if not can_see(view.call):
                continue
            yield PushKind.CALL, json.dumps(view.call, ensure_ascii=False)
            if view.briefing is not None:
                yield PushKind.BRIEFING, json.dumps({"call_id": view.call["id"], "text": view.briefing})
            for line in sorted(view.lines.values(), key=lambda x: x["idx"]):
                yield PushKind.LINE, json.dumps(line, ensure_ascii=False)
            for line in view.interims.values():
                yield PushKind.LINE, json.dumps(line, ensure_ascii=False)
            for seq in sorted(view.cards):
                yield PushKind.CARD, json.dumps(view.cards[seq], ensure_ascii=False)

    def event_id(self, n: int) -> str:
        return f"{self.epoch}-{n}"
