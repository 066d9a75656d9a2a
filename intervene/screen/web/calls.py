"""The calls a user may see (live ones from the hub, older ones from the
store, in the same shape), the rep's answers to them (card feedback, the
outcome) and practice calls."""
from __future__ import annotations

import calendar
import json
import time
from typing import Any

from aiohttp import web

from intervene.accounts.auth import User, can_see, owns
from intervene.formats.transcript import TranscriptError
from intervene.report.record import call_record
from intervene.screen.practice import PracticeRefused
from intervene.screen.web.session import Access
from intervene.screen.web.shared import ScreenState, error, log, parse_int, read_json
from intervene.vocab import FEEDBACK, RECORDABLE_OUTCOMES


class Calls:
    def __init__(self, state: ScreenState, access: Access) -> None:
        self.s, self.access = state, access

    async def calls(self, request: web.Request) -> web.Response:
        """Calls this user may see: those in memory (live and recent), then stored ones."""
        user = self.access.need(request)
        out: dict[str, dict[str, Any]] = {}
        for view in reversed(list(self.s.hub.views.values())):
            if can_see(user, view.call):
                out[view.call["id"]] = view.call
        for row in reversed(await self.s.db.run(self.s.store.calls, limit=500)):
            call = stored_call(row)
            if call["id"] not in out and can_see(user, call):
                out[call["id"]] = call
        return web.json_response(sorted(out.values(), key=lambda c: c["started"] or 0, reverse=True)[:100])

    async def call(self, request: web.Request) -> web.Response:
        user = self.access.need(request)
        return web.json_response(await self._call_full(user, request.match_info["id"]))

    async def _call_full(self, user: User, call_id: str) -> dict[str, Any]:
        out = await self._call_detail(user, call_id)
        if out["call"].get("state") == "ended":
            try:                                 # the rep's score, each part explained (report/score.py)
                record = await self.s.db.run(call_record, self.s.store, call_id)
            except (KeyError, ValueError):       # not stored (KeyError), or a record that cannot be scored
                pass
            else:                                # and the call in a few sentences (report/summary.py)
                out["score"], out["summary"] = record["score"], record["summary"]
        return out

    async def _call_detail(self, user: User, call_id: str) -> dict[str, Any]:
        view = self.s.hub.views.get(call_id)
        if view is not None:
            if not can_see(user, view.call):
                raise error(web.HTTPNotFound, f"no call {call_id}")
            return view.full()
        row = await self.s.db.run(self.s.store.call, call_id)
        call = stored_call(row) if row else None
        if call is None or not can_see(user, call):
            raise error(web.HTTPNotFound, f"no call {call_id}")
        utts = await self.s.db.run(self.s.store.utterances, call_id)
        lines = [{"call_id": call_id, "speaker": u["speaker"], "idx": u["idx"], "text": u["text"],
                  "start": u["start"], "end": u["end"], "final": True} for u in utts]
        cards = [stored_card(r) for r in await self.s.db.run(self.s.store.interventions, call_id)]
        return {"call": call, "briefing": None, "lines": lines, "cards": cards}

    async def feedback(self, request: web.Request) -> web.Response:
        user = self.access.need(request, "rep", "admin", write=True)
        call_id, seq = request.match_info["id"], parse_int(request.match_info["seq"], "seq")
        body = await read_json(request)
        action = body.get("action")
        text: Any = body.get("text")
        if action not in FEEDBACK:
            raise error(web.HTTPBadRequest, f"action must be one of {', '.join(FEEDBACK)}, got {action!r}")
        if action == "edited" and (not isinstance(text, str) or not text.strip()):
            raise error(web.HTTPBadRequest, "an edited card needs `text`: the words you used")
        call = await self._owned_call(user, call_id)
        if await self.s.db.run(self.s.store.intervention, call_id, seq) is None:
            raise error(web.HTTPNotFound, f"call {call_id} has no card {seq}")
        text = text.strip()[:2000] if action == "edited" else None
        await self.s.db.run(self.s.store.set_feedback, call_id, seq, action, text, user.login)
        card = self.s.hub.update_card(call_id, seq, feedback=action, feedback_text=text)
        if card is None:
            row = await self.s.db.run(self.s.store.intervention, call_id, seq)
            assert row is not None                  # found above, and nothing removes a card
            card = stored_card(row)
        log.info("call %s card %d: %s by %s", call["id"], seq, action, user.login)
        return web.json_response(card)

    async def outcome(self, request: web.Request) -> web.Response:
        user = self.access.need(request, "rep", "admin", write=True)
        call_id = request.match_info["id"]
        body = await read_json(request)
        outcome, note = body.get("outcome"), body.get("note") or None
        if outcome not in RECORDABLE_OUTCOMES:      # a rep records an outcome, never "unknown"
            raise error(web.HTTPBadRequest, f"outcome must be one of {', '.join(RECORDABLE_OUTCOMES)}, got {outcome!r}")
        if note is not None and not isinstance(note, str):
            raise error(web.HTTPBadRequest, "note must be text")
        await self._owned_call(user, call_id)
        note = note.strip()[:4000] if note else None
        await self.s.db.run(self.s.store.set_outcome, call_id, outcome, note, user.login)
        try:
            self.s.on_outcome(call_id, outcome)
        except Exception:                       # the outcome is stored; reporting it on is not the rep's problem
            log.exception("call %s: passing the outcome on failed", call_id)
        if call_id in self.s.hub.views:
            self.s.hub.call(call_id, outcome=outcome, outcome_note=note)
            return web.json_response(self.s.hub.views[call_id].call)
        row = await self.s.db.run(self.s.store.call, call_id)
        assert row is not None                      # not in the hub, so _owned_call found it stored
        return web.json_response(stored_call(row))

    async def _owned_call(self, user: User, call_id: str) -> dict[str, Any]:
        view = self.s.hub.views.get(call_id)
        r = None if view else await self.s.db.run(self.s.store.call, call_id)
        call = view.call if view else (stored_call(r) if r else None)
        if call is None or not can_see(user, call):
            raise error(web.HTTPNotFound, f"no call {call_id}")
        if not (owns(user, call) or user.role == "admin"):
            raise error(web.HTTPForbidden, "only the call's rep can do that")
        return call

    async def start_practice(self, request: web.Request) -> web.Response:
        """A recorded transcript replayed onto a rep's screen in real time:
        training, and a way to try the screen without a phone call. A rep
        starts one for themselves, a supervisor for themselves or a rep of
        their team (any rep, without a team: what they may see), an admin
        for anyone: it takes over that person's screen."""
        user = self.access.need(request, write=True)
        body = await read_json(request)
        practice = self.s.practice
        if practice is None:
            raise error(web.HTTPServiceUnavailable, "practice calls are not available here")
        rep = body.get("rep") or user.login
        if not isinstance(rep, str):
            raise error(web.HTTPBadRequest, "rep must be a login")
        if rep != user.login and user.role not in ("admin", "supervisor"):
            raise error(web.HTTPForbidden, "a rep can only start a practice call for themselves")
        row = await self.s.db.run(self.s.store.user, rep)
        if row is None:
            raise error(web.HTTPNotFound, f"no user {rep!r}")
        target = User.from_row(row)
        if user.role == "supervisor" and rep != user.login and not (
                target.role == "rep" and (not user.team or target.team == user.team)):
            raise error(web.HTTPForbidden, "a supervisor can only start a practice call for themselves "
                                           "or a rep of their team")
        speed = body.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            raise error(web.HTTPBadRequest, "speed must be a number (1 = real time)")
        transcript = body.get("transcript")
        if not isinstance(transcript, str) or not transcript.strip():
            raise error(web.HTTPBadRequest, "transcript: the call as format-2 JSON lines")
        try:
            call_id = await practice(target, transcript, float(speed))
        except TranscriptError as e:
            raise error(web.HTTPBadRequest, str(e))
        except PracticeRefused as e:
            if e.status == 429:
                raise error(web.HTTPTooManyRequests, str(e), headers={"Retry-After": "30"})
            raise error(web.HTTPBadRequest, str(e))
        return web.json_response({"call_id": call_id})


def stored_call(row: dict[str, Any]) -> dict[str, Any]:
    """A stored call in the hub's shape, so a screen draws old and live calls alike."""
    started = row.get("started")
    try:
        started_s = calendar.timegm(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ")) if started else None
    except ValueError:
        started_s = None
    return {"id": row["id"], "rep": row.get("rep"), "rep_name": row.get("rep"), "team": row.get("team"),
            "lead": row.get("lead"), "lead_name": row.get("lead"), "started": started_s, "state": "ended",
            "ended_at": None, "outcome": row.get("outcome") or "unknown", "outcome_note": row.get("outcome_note"),
            "profile": row.get("profile"), "practice": row.get("source") == "practice",
            "interventions": None, "rep_endpoint": row.get("rep_endpoint")}


def stored_card(r: dict[str, Any]) -> dict[str, Any]:
    """A stored intervention in the hub's card shape."""
    return {"call_id": r["call_id"], "seq": r["seq"], "at": r["at"], "utterance": r["utterance"],
            "category": r["category"], "severity": r["severity"], "mode": r["mode"], "trigger": r["trigger"],
            "detected": r["detected"], "say": r["say"], "evidence": json.loads(r["evidence"] or "[]"),
            "delivery": r.get("delivery"), "decided_wall": None, "feedback": r.get("feedback"),
            "feedback_text": r.get("feedback_text")}
