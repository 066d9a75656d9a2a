"""The screens' HTTP side: login, the pages, the JSON API and the live push.

    /login, /l/<signed link>     the only ways in (everything else needs a session)
    /            the rep's screen        /supervisor  live calls, read-only
    /admin       users and teams         /static/*    the pages' JS and CSS
    /api/...     JSON (session cookie, or the bearer API token: read-only)
    /api/events  Server-Sent Events: calls, briefings, transcript lines, cards

Mutating requests must be JSON with an `X-Intervene: 1` header: a browser
will not send that cross-site without a CORS preflight we never answer, so
another site cannot make a logged-in rep's browser click "used".
"""
from __future__ import annotations

import asyncio
import calendar
import hmac
import json
import logging
import re
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

from intervene.accounts.auth import (
    ROLES,
    SERVICE,
    SESSION_S,
    LoginThrottle,
    User,
    can_see,
    check_password,
    hash_password,
    make_token,
    owns,
    read_token,
)
from intervene.formats.transcript import TranscriptError
from intervene.report.record import call_record
from intervene.screen.hub import Hub, PushKind
from intervene.screen.practice import Practice
from intervene.screen.reports import Reports
from intervene.store.db import Store

log = logging.getLogger("intervene.screen")

STATIC = Path(__file__).parent / "static"
COOKIE = "iv_session"
FEEDBACK = ("used", "edited", "dismissed")
OUTCOMES = ("won", "follow-up", "lost", "no-decision")
PING_S = 15.0
LOGIN_RE = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer"}       # a signed link must not leak via Referer


class ScreenApp:
    def __init__(self, store: Store, hub: Hub, secret: bytes, api_token: str = "",
                 public_url: Callable[[], str] = lambda: "",
                 effective: Callable[[User], dict[str, Any]] = lambda u: {},
                 practice: Optional[Callable[[User, str, float], Awaitable[str]]] = None,
                 on_outcome: Callable[[str, str], None] = lambda call_id, outcome: None) -> None:
        self.store, self.hub, self.secret = store, hub, secret
        self.api_token = api_token
        self.public_url = public_url
        self.effective = effective
        self.practice = practice
        self.on_outcome = on_outcome          # the lead flow: the outcome goes back to Facebook
        self.throttle = LoginThrottle()

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/login", self.login_page)
        r.add_post("/login", self.login)
        r.add_post("/logout", self.logout)
        r.add_get("/l/{token}", self.link_login)
        r.add_get("/", self.page("rep.html", ("rep", "admin"), else_go="/supervisor"))
        r.add_get("/supervisor", self.page("supervisor.html", ("supervisor", "admin")))
        r.add_get("/admin", self.page("admin.html", ("admin",)))
        r.add_get("/static/{name}", self.static)
        r.add_get("/api/me", self.me)
        r.add_get("/api/calls", self.calls)
        r.add_get("/api/calls/{id}", self.call)
        r.add_get("/api/events", self.events)
        r.add_post("/api/calls/{id}/cards/{seq}/feedback", self.feedback)
        r.add_post("/api/calls/{id}/outcome", self.outcome)
        r.add_post("/api/practice", self.start_practice)
        r.add_get("/api/users", self.users)
        r.add_post("/api/users", self.put_user)
        r.add_post("/api/users/{login}/link", self.link)
        r.add_post("/api/users/{login}/revoke", self.revoke)
        r.add_delete("/api/users/{login}", self.delete_user)
        r.add_get("/api/teams", self.teams)
        Reports(self.store, self.need).add_routes(app)
        app.on_response_prepare.append(self._headers)

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)

    # ------------------------------------------------------------ who asks
    def user(self, request: web.Request) -> Optional[User]:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            ok = self.api_token and hmac.compare_digest(auth.encode(), f"Bearer {self.api_token}".encode())
            return SERVICE if ok else None
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        got = read_token(self.secret, token, "session", time.time())
        if got is None:
            return None
        row = self.store.user(got[0])
        if row is None or int(row["epoch"]) != got[1]:
            return None                              # revoked, or the user was removed
        return User.from_row(row)

    def need(self, request: web.Request, *roles: str, write: bool = False) -> User:
        """The caller, or a 401/403 that names what is missing."""
        user = self.user(request)
        if user is None:
            if request.headers.get("Authorization", "").startswith("Bearer ") and not self.api_token:
                raise _error(web.HTTPForbidden, "the API token is off: set INTERVENE_API_TOKEN "
                                                "(or [serve] api_token), or log in")
            raise _error(web.HTTPUnauthorized, "log in first (or send the API token)",
                         headers={"WWW-Authenticate": "Bearer"})
        if write:
            if user is SERVICE:
                raise _error(web.HTTPForbidden, "the API token is read-only")
            if request.headers.get("X-Intervene") != "1":
                raise _error(web.HTTPForbidden, "missing X-Intervene: 1 header")
        if roles and user.role not in roles and not (user is SERVICE and not write):
            raise _error(web.HTTPForbidden, f"needs role {' or '.join(roles)}")
        return user

    # --------------------------------------------------------------- login
    async def login_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        login = str(form.get("login", "")).strip()
        nxt = _safe_next(str(form.get("next", "")))
        now = time.time()
        if self.throttle.locked(login, now):
            raise web.HTTPSeeOther(f"/login?error=locked&next={nxt}")
        row = self.store.user(login) if LOGIN_RE.match(login) else None
        # hash even for an unknown login: the answer's timing must not tell which logins exist
        ok = check_password(str(form.get("password", "")), row["pw"] if row else hash_password("x"))
        if not row or not ok:
            self.throttle.failed(login, now)
            log.info("failed login for %r from %s", login, request.remote)
            raise web.HTTPSeeOther(f"/login?error=1&next={nxt}")
        self.throttle.succeeded(login)
        raise self._session(request, User.from_row(row), nxt)

    async def link_login(self, request: web.Request) -> web.StreamResponse:
        got = read_token(self.secret, request.match_info["token"], "link", time.time())
        row = self.store.user(got[0]) if got else None
        if row is None or int(row["epoch"]) != got[1]:
            return web.Response(status=403, text="This link has expired or was revoked. Ask your admin for a new one.\n")
        raise self._session(request, User.from_row(row), "/")

    def _session(self, request: web.Request, user: User, nxt: str) -> web.HTTPSeeOther:
        resp = web.HTTPSeeOther(nxt if nxt != "/" else _home(user))
        token = make_token(self.secret, "session", user.login, user.epoch, time.time() + SESSION_S)
        resp.set_cookie(COOKIE, token, max_age=SESSION_S, httponly=True, samesite="Lax", path="/",
                         secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https")
        return resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        resp = web.HTTPSeeOther("/login")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    # --------------------------------------------------------------- pages
    def page(self, name: str, roles: tuple[str, ...], else_go: str = "/"):
        async def handler(request: web.Request) -> web.StreamResponse:
            user = self.user(request)
            if user is None or user is SERVICE:
                raise web.HTTPSeeOther(f"/login?next={request.path}")
            if user.role not in roles:
                if request.path != else_go:
                    raise web.HTTPSeeOther(else_go)
                raise _error(web.HTTPForbidden, f"needs role {' or '.join(roles)}")
            return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})
        return handler

    async def static(self, request: web.Request) -> web.StreamResponse:
        if self.user(request) is None:
            raise _error(web.HTTPUnauthorized, "log in first")
        name = request.match_info["name"]
        if "/" in name or name.startswith(".") or not (STATIC / name).is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    # ----------------------------------------------------------------- API
    async def me(self, request: web.Request) -> web.Response:
        return web.json_response(self.need(request).public())

    async def calls(self, request: web.Request) -> web.Response:
        """Calls this user may see: those in memory (live and recent), then stored ones."""
        user = self.need(request)
        out: dict[str, dict] = {}
        for view in reversed(list(self.hub.views.values())):
            if can_see(user, view.call):
                out[view.call["id"]] = view.call
        for row in reversed(self.store.calls(limit=500)):
            call = _stored_call(row)
            if call["id"] not in out and can_see(user, call):
                out[call["id"]] = call
        return web.json_response(sorted(out.values(), key=lambda c: c["started"] or 0, reverse=True)[:100])

    async def call(self, request: web.Request) -> web.Response:
        user = self.need(request)
        return web.json_response(self._call_full(user, request.match_info["id"]))

    def _call_full(self, user: User, call_id: str) -> dict[str, Any]:
        out = self._call_detail(user, call_id)
        if out["call"].get("state") == "ended" and self.store.call(call_id) is not None:
            try:                                 # the rep's score, each part explained (report/score.py)
                out["score"] = call_record(self.store, call_id)["score"]
            except (KeyError, ValueError):
                pass
        return out

    def _call_detail(self, user: User, call_id: str) -> dict[str, Any]:
        view = self.hub.views.get(call_id)
        if view is not None:
            if not can_see(user, view.call):
                raise _error(web.HTTPNotFound, f"no call {call_id}")
            return view.full()
        row = self.store.call(call_id)
        call = _stored_call(row) if row else None
        if call is None or not can_see(user, call):
            raise _error(web.HTTPNotFound, f"no call {call_id}")
        lines = [{"call_id": call_id, "speaker": u["speaker"], "idx": u["idx"], "text": u["text"],
                  "start": u["start"], "end": u["end"], "final": True} for u in self.store.utterances(call_id)]
        cards = [_stored_card(r) for r in self.store.interventions(call_id)]
        return {"call": call, "briefing": None, "lines": lines, "cards": cards}

    async def feedback(self, request: web.Request) -> web.Response:
        user = self.need(request, "rep", "admin", write=True)
        call_id, seq = request.match_info["id"], _int(request.match_info["seq"], "seq")
        body = await _json(request)
        action, text = body.get("action"), body.get("text")
        if action not in FEEDBACK:
            raise _error(web.HTTPBadRequest, f"action must be one of {', '.join(FEEDBACK)}, got {action!r}")
        if action == "edited" and (not isinstance(text, str) or not text.strip()):
            raise _error(web.HTTPBadRequest, "an edited card needs `text`: the words you used")
        call = self._owned_call(user, call_id)
        if self.store.intervention(call_id, seq) is None:
            raise _error(web.HTTPNotFound, f"call {call_id} has no card {seq}")
        text = text.strip()[:2000] if action == "edited" else None
        self.store.set_feedback(call_id, seq, action, text, user.login)
        card = self.hub.update_card(call_id, seq, feedback=action, feedback_text=text)
        if card is None:
            card = _stored_card(self.store.intervention(call_id, seq))
        log.info("call %s card %d: %s by %s", call["id"], seq, action, user.login)
        return web.json_response(card)

    async def outcome(self, request: web.Request) -> web.Response:
        user = self.need(request, "rep", "admin", write=True)
        call_id = request.match_info["id"]
        body = await _json(request)
        outcome, note = body.get("outcome"), body.get("note") or None
        if outcome not in OUTCOMES:
            raise _error(web.HTTPBadRequest, f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if note is not None and not isinstance(note, str):
            raise _error(web.HTTPBadRequest, "note must be text")
        self._owned_call(user, call_id)
        note = note.strip()[:4000] if note else None
        self.store.set_outcome(call_id, outcome, note, user.login)
        try:
            self.on_outcome(call_id, outcome)
        except Exception:                       # the outcome is stored; reporting it on is not the rep's problem
            log.exception("call %s: passing the outcome on failed", call_id)
        if call_id in self.hub.views:
            self.hub.call(call_id, outcome=outcome, outcome_note=note)
            return web.json_response(self.hub.views[call_id].call)
        return web.json_response(_stored_call(self.store.call(call_id)))

    def _owned_call(self, user: User, call_id: str) -> dict[str, Any]:
        view = self.hub.views.get(call_id)
        call = view.call if view else (_stored_call(r) if (r := self.store.call(call_id)) else None)
        if call is None or not can_see(user, call):
            raise _error(web.HTTPNotFound, f"no call {call_id}")
        if not (owns(user, call) or user.role == "admin"):
            raise _error(web.HTTPForbidden, "only the call's rep can do that")
        return call

    async def start_practice(self, request: web.Request) -> web.Response:
        """A recorded transcript replayed onto a rep's screen in real time:
        training, and a way to try the screen without a phone call."""
        user = self.need(request, write=True)
        body = await _json(request)
        if self.practice is None:
            raise _error(web.HTTPServiceUnavailable, "practice calls are not available here")
        rep = body.get("rep") or user.login
        if rep != user.login and user.role not in ("admin", "supervisor"):
            raise _error(web.HTTPForbidden, "a rep can only start a practice call for themselves")
        row = self.store.user(rep)
        if row is None:
            raise _error(web.HTTPNotFound, f"no user {rep!r}")
        speed = body.get("speed", 1.0)
        if not isinstance(speed, (int, float)) or not 0.1 <= speed <= 50:
            raise _error(web.HTTPBadRequest, "speed must be a number from 0.1 to 50")
        transcript = body.get("transcript")
        if not isinstance(transcript, str) or not transcript.strip():
            raise _error(web.HTTPBadRequest, "transcript: the call as format-2 JSON lines")
        try:
            call_id = await self.practice(User.from_row(row), transcript, float(speed))
        except TranscriptError as e:
            raise _error(web.HTTPBadRequest, str(e))
        return web.json_response({"call_id": call_id})

    # ---------------------------------------------------------------- admin
    async def users(self, request: web.Request) -> web.Response:
        self.need(request, "admin")
        return web.json_response([self._user_json(r) for r in self.store.users()])

    def _user_json(self, row: dict[str, Any]) -> dict[str, Any]:
        u = User.from_row(row)
        return {**u.public(), "endpoint": u.endpoint, "sip_message": u.sip_message,
                "has_password": bool(row.get("pw")), "effective": self.effective(u)}

    async def put_user(self, request: web.Request) -> web.Response:
        me = self.need(request, "admin", write=True)
        body = await _json(request)
        try:
            row = save_user(self.store, body)
        except ValueError as e:
            raise _error(web.HTTPBadRequest, str(e))
        log.info("user %s saved by %s", row["login"], me.login)
        self.hub.disconnect_all(row["login"])       # a changed role or team: reconnect with the new view
        return web.json_response(self._user_json(row))

    async def link(self, request: web.Request) -> web.Response:
        self.need(request, "admin", write=True)
        login = request.match_info["login"]
        row = self.store.user(login)
        if row is None:
            raise _error(web.HTTPNotFound, f"no user {login!r}")
        body = await _json(request)
        days = body.get("days", 30)
        if not isinstance(days, (int, float)) or not 0 < days <= 366:
            raise _error(web.HTTPBadRequest, "days must be from 1 to 366")
        url, expires = signed_link(self.secret, User.from_row(row), self.public_url(), days)
        return web.json_response({"url": url, "expires": expires})

    async def revoke(self, request: web.Request) -> web.Response:
        self.need(request, "admin", write=True)
        login = request.match_info["login"]
        row = self.store.user(login)
        if row is None:
            raise _error(web.HTTPNotFound, f"no user {login!r}")
        row = self.store.put_user(login, epoch=int(row["epoch"]) + 1)
        self.hub.disconnect_all(login)              # open screens too, not only the next request
        return web.json_response(self._user_json(row))

    async def delete_user(self, request: web.Request) -> web.Response:
        me = self.need(request, "admin", write=True)
        login = request.match_info["login"]
        if login == me.login:
            raise _error(web.HTTPBadRequest, "you cannot delete yourself")
        if not self.store.remove_user(login):
            raise _error(web.HTTPNotFound, f"no user {login!r}")
        self.hub.disconnect_all(login)
        return web.json_response({"ok": True})

    async def teams(self, request: web.Request) -> web.Response:
        self.need(request, "admin", "supervisor")
        teams: dict[str, dict[str, Any]] = {}
        for row in self.store.users():
            u = User.from_row(row)
            t = teams.setdefault(u.team, {"team": u.team, "reps": [], "supervisors": [], "profile": None})
            if u.role == "rep":
                t["reps"].append(u.login)
                t["profile"] = t["profile"] or self.effective(u).get("profile")
            elif u.role == "supervisor":
                t["supervisors"].append(u.login)
        return web.json_response(sorted(teams.values(), key=lambda t: t["team"]))

    # ----------------------------------------------------------------- push
    async def events(self, request: web.Request) -> web.StreamResponse:
        """SSE. Resumes after Last-Event-ID when the hub still has what was
        missed; otherwise (first connection, another run, too long away) a
        snapshot of every visible call first, then live pushes."""
        user = self.need(request)
        hub = self.hub
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


# ------------------------------------------------------------------ helpers
def save_user(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a user from the admin page or the CLI; ValueError names the bad field."""
    login = body.get("login")
    if not isinstance(login, str) or not LOGIN_RE.match(login):
        raise ValueError("login: 1-64 letters, digits or . _ @ + -")
    old = store.user(login)
    fields: dict[str, Any] = {}
    for key in ("name", "team", "endpoint"):
        if key in body:
            v = body[key] if body[key] is not None else ""
            if not isinstance(v, str) or len(v) > 200:
                raise ValueError(f"{key}: text of at most 200 characters")
            fields[key] = v.strip()
    if fields.get("endpoint") and not re.match(r"^[A-Za-z0-9]+/[^/\s]+$", fields["endpoint"]):
        raise ValueError("endpoint: TECH/RESOURCE as the dialplan names the phone, e.g. PJSIP/rep1")
    role = body.get("role", old["role"] if old else "rep")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    fields["role"] = role
    if "sip_message" in body:
        fields["sip_message"] = 1 if body["sip_message"] else 0
    pw = body.get("password")
    if pw:
        if not isinstance(pw, str) or len(pw) < 8:
            raise ValueError("password: at least 8 characters")
        fields["pw"] = hash_password(pw)
    if old and (pw or role != old["role"]):
        fields["epoch"] = int(old["epoch"]) + 1        # new password or role: old sessions end
    return store.put_user(login, **fields)


def signed_link(secret: bytes, user: User, public_url: str, days: float) -> tuple[str, float]:
    expires = time.time() + days * 86400
    token = make_token(secret, "link", user.login, user.epoch, expires)
    return f"{public_url.rstrip('/')}/l/{token}", expires


def _stored_call(row: dict[str, Any]) -> dict[str, Any]:
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


def _stored_card(r: dict[str, Any]) -> dict[str, Any]:
    return {"call_id": r["call_id"], "seq": r["seq"], "at": r["at"], "utterance": r["utterance"],
            "category": r["category"], "severity": r["severity"], "mode": r["mode"], "trigger": r["trigger"],
            "detected": r["detected"], "say": r["say"], "evidence": json.loads(r["evidence"] or "[]"),
            "delivery": r.get("delivery"), "decided_wall": None, "feedback": r.get("feedback"),
            "feedback_text": r.get("feedback_text")}


def _sse(kind: PushKind, data: str, event_id: str) -> str:
    return f"id: {event_id}\nevent: {kind.value}\ndata: {data}\n\n"


def _home(user: User) -> str:
    return {"supervisor": "/supervisor"}.get(user.role, "/")


def _safe_next(nxt: str) -> str:
    """Only a path on this site: never an open redirect."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"


def _int(s: str, what: str) -> int:
    if not s.isdigit():
        raise _error(web.HTTPBadRequest, f"{what} must be a number")
    return int(s)


async def _json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise _error(web.HTTPUnsupportedMediaType, "send JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _error(web.HTTPBadRequest, f"not valid JSON: {e}")
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "expected a JSON object")
    return body


def _error(cls, message: str, headers: Optional[dict] = None) -> web.HTTPException:
    return cls(text=json.dumps({"error": message}), content_type="application/json", headers=headers)


def service_secret(store: Store, configured: str = "") -> bytes:
    """What signs sessions and links: INTERVENE_SECRET / [serve] secret, else
    one generated on first start and kept in the database (so sessions and
    links survive a restart, and every machine has its own)."""
    import os
    import secrets
    value = os.environ.get("INTERVENE_SECRET") or configured or store.setting("session_secret")
    if not value:
        value = secrets.token_hex(32)
        store.put_setting("session_secret", value)
    return value.encode()


def build_screen(store: Store, hub: Hub, config: Any, index: Any, kb_source: str, api_token: str,
                 public_url: Callable[[], str], secret: str = "",
                 on_outcome: Callable[[str, str], None] = lambda call_id, outcome: None) -> ScreenApp:
    """The screens as `intervene serve` runs them (also the benchmark's and the tests')."""
    practice = Practice(store, hub, index, config, kb_source)

    def effective(u: User) -> dict[str, Any]:
        try:
            a = config.resolve(rep=u.login, team=u.team or None)
        except Exception as e:                     # a config naming an unknown profile: say so, don't 500
            return {"error": str(e)}
        return {"profile": a.profile.name, "modes": {c.value: m.value for c, m in a.modes.items()}}

    return ScreenApp(store, hub, service_secret(store, secret), api_token, public_url, effective, practice.start,
                     on_outcome)
