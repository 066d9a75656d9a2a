"""The admin page's side: users and teams, signed links, revoking. Saving a
user is shared with `intervene users` (the first admin has to come from the
shell), so one function checks every field for both."""
from __future__ import annotations

import re
import time
from typing import Any, Optional

from aiohttp import web

from intervene.accounts.auth import ROLES, User, hash_password, make_token
from intervene.screen.web.guard import HashPool, HashPoolBusy
from intervene.screen.web.session import Access
from intervene.screen.web.shared import LOGIN_RE, ScreenState, error, log, read_json
from intervene.store.db import Store


class Users:
    """Every database call goes through the store thread (`db.run`), and a
    new password is hashed in the password pool: none of it on the loop."""

    def __init__(self, state: ScreenState, access: Access, pool: HashPool) -> None:
        self.s, self.access, self.pool = state, access, pool

    async def users(self, request: web.Request) -> web.Response:
        self.access.need(request, "admin")
        return web.json_response([self._user_json(r) for r in await self.s.db.run(self.s.store.users)])

    def _user_json(self, row: dict[str, Any]) -> dict[str, Any]:
        u = User.from_row(row)
        return {**u.public(), "endpoint": u.endpoint, "sip_message": u.sip_message,
                "has_password": bool(row.get("pw")), "effective": self.s.effective(u)}

    async def put_user(self, request: web.Request) -> web.Response:
        me = self.access.need(request, "admin", write=True)
        body = await read_json(request)
        pw = body.get("password")
        try:
            check_password_field(pw)
            pw_hash = await self.pool.run(hash_password, pw) if pw else None
            row = await self.s.db.run(save_user, self.s.store, body, pw_hash)
        except ValueError as e:
            raise error(web.HTTPBadRequest, str(e))
        except HashPoolBusy:
            raise error(web.HTTPServiceUnavailable, "busy checking passwords: try again in a moment")
        log.info("user %s saved by %s", row["login"], me.login)
        self.s.hub.disconnect_all(row["login"])       # a changed role or team: reconnect with the new view
        return web.json_response(self._user_json(row))

    async def link(self, request: web.Request) -> web.Response:
        self.access.need(request, "admin", write=True)
        login = request.match_info["login"]
        row = await self.s.db.run(self.s.store.user, login)
        if row is None:
            raise error(web.HTTPNotFound, f"no user {login!r}")
        body = await read_json(request)
        days = body.get("days", 30)
        if not isinstance(days, (int, float)) or not 0 < days <= 366:
            raise error(web.HTTPBadRequest, "days must be from 1 to 366")
        url, expires = signed_link(self.s.secret, User.from_row(row), self.s.public_url(), days)
        return web.json_response({"url": url, "expires": expires})

    async def revoke(self, request: web.Request) -> web.Response:
        self.access.need(request, "admin", write=True)
        login = request.match_info["login"]
        row = await self.s.db.run(self.s.store.bump_epoch, login)
        if row is None:
            raise error(web.HTTPNotFound, f"no user {login!r}")
        self.s.hub.disconnect_all(login)              # open screens too, not only the next request
        return web.json_response(self._user_json(row))

    async def delete_user(self, request: web.Request) -> web.Response:
        me = self.access.need(request, "admin", write=True)
        login = request.match_info["login"]
        if login == me.login:
            raise error(web.HTTPBadRequest, "you cannot delete yourself")
        if not await self.s.db.run(self.s.store.remove_user, login):
            raise error(web.HTTPNotFound, f"no user {login!r}")
        self.s.hub.disconnect_all(login)
        return web.json_response({"ok": True})

    async def teams(self, request: web.Request) -> web.Response:
        me = self.access.need(request, "admin", "supervisor")
        teams: dict[str, dict[str, Any]] = {}
        for row in await self.s.db.run(self.s.store.users):
            u = User.from_row(row)
            if me.role == "supervisor" and me.team and u.team != me.team:
                continue                              # a supervisor sees their own team (all, without one)
            t = teams.setdefault(u.team, {"team": u.team, "reps": [], "supervisors": [], "profile": None})
            if u.role == "rep":
                t["reps"].append(u.login)
                t["profile"] = t["profile"] or self.s.effective(u).get("profile")
            elif u.role == "supervisor":
                t["supervisors"].append(u.login)
        return web.json_response(sorted(teams.values(), key=lambda t: t["team"]))


def check_password_field(pw: Any) -> None:
    if pw and (not isinstance(pw, str) or len(pw) < 8):
        raise ValueError("password: at least 8 characters")


def save_user(store: Store, body: dict[str, Any], pw_hash: Optional[str] = None) -> dict[str, Any]:
    """Create or update a user from the admin page or the CLI; ValueError names the bad field.
    `pw_hash`: the body's password already hashed (the service hashes it off the store thread)."""
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
        check_password_field(pw)
        fields["pw"] = pw_hash or hash_password(pw)
    if old and (pw or role != old["role"]):
        fields["epoch"] = int(old["epoch"]) + 1        # new password or role: old sessions end
    return store.put_user(login, **fields)


def signed_link(secret: bytes, user: User, public_url: str, days: float) -> tuple[str, float]:
    """A URL that logs `user` in: for a rep's phone, where typing a password is a chore."""
    expires = time.time() + days * 86400
    token = make_token(secret, "link", user.login, user.epoch, expires, user.nonce)
    return f"{public_url.rstrip('/')}/l/{token}", expires
