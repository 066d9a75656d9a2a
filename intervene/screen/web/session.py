"""Who asks: the session cookie, the bearer API token, logging in and out,
signed links, and the access check every other handler starts with."""
from __future__ import annotations

import hmac
import secrets
import time
from typing import Optional

from aiohttp import web

from intervene.accounts.auth import (
    SERVICE,
    SESSION_S,
    LoginThrottle,
    User,
    check_password,
    hash_password,
    make_token,
    read_token,
)
from intervene.screen.web.shared import LOGIN_RE, STATIC, ScreenState, error, log
from intervene.store.db import Store

COOKIE = "iv_session"


class Access:
    """The one place a request becomes a user, so every route refuses alike."""

    def __init__(self, state: ScreenState) -> None:
        self.s = state

    def user(self, request: web.Request) -> Optional[User]:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            ok = self.s.api_token and hmac.compare_digest(auth.encode(), f"Bearer {self.s.api_token}".encode())
            return SERVICE if ok else None
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        got = read_token(self.s.secret, token, "session", time.time())
        if got is None:
            return None
        row = self.s.store.user(got[0])
        if row is None or int(row["epoch"]) != got[1]:
            return None                              # revoked, or the user was removed
        return User.from_row(row)

    def need(self, request: web.Request, *roles: str, write: bool = False) -> User:
        """The caller, or a 401/403 that names what is missing."""
        user = self.user(request)
        if user is None:
            if request.headers.get("Authorization", "").startswith("Bearer ") and not self.s.api_token:
                raise error(web.HTTPForbidden, "the API token is off: set INTERVENE_API_TOKEN "
                                               "(or [serve] api_token), or log in")
            raise error(web.HTTPUnauthorized, "log in first (or send the API token)",
                        headers={"WWW-Authenticate": "Bearer"})
        if write:
            if user is SERVICE:
                raise error(web.HTTPForbidden, "the API token is read-only")
            if request.headers.get("X-Intervene") != "1":
                raise error(web.HTTPForbidden, "missing X-Intervene: 1 header")
        if roles and user.role not in roles and not (user is SERVICE and not write):
            raise error(web.HTTPForbidden, f"needs role {' or '.join(roles)}")
        return user


class Sessions:
    """/login, /l/<signed link>, /logout: the only ways in and out."""

    def __init__(self, state: ScreenState, access: Access) -> None:
        self.s, self.access = state, access
        self.throttle = LoginThrottle()

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        login = str(form.get("login", "")).strip()
        nxt = _safe_next(str(form.get("next", "")))
        now = time.time()
        if self.throttle.locked(login, now):
            raise web.HTTPSeeOther(f"/login?error=locked&next={nxt}")
        row = self.s.store.user(login) if LOGIN_RE.match(login) else None
        # hash even for an unknown login: the answer's timing must not tell which logins exist
        ok = check_password(str(form.get("password", "")), row["pw"] if row else hash_password("x"))
        if not row or not ok:
            self.throttle.failed(login, now)
            log.info("failed login for %r from %s", login, request.remote)
            raise web.HTTPSeeOther(f"/login?error=1&next={nxt}")
        self.throttle.succeeded(login)
        raise self._session(request, User.from_row(row), nxt)

    async def link_login(self, request: web.Request) -> web.StreamResponse:
        got = read_token(self.s.secret, request.match_info["token"], "link", time.time())
        row = self.s.store.user(got[0]) if got else None
        if row is None or got is None or int(row["epoch"]) != got[1]:
            return web.Response(status=403, text="This link has expired or was revoked. Ask your admin for a new one.\n")
        raise self._session(request, User.from_row(row), "/")

    def _session(self, request: web.Request, user: User, nxt: str) -> web.HTTPSeeOther:
        resp = web.HTTPSeeOther(nxt if nxt != "/" else _home(user))
        token = make_token(self.s.secret, "session", user.login, user.epoch, time.time() + SESSION_S)
        resp.set_cookie(COOKIE, token, max_age=SESSION_S, httponly=True, samesite="Lax", path="/",
                        secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https")
        return resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        resp = web.HTTPSeeOther("/login")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response(self.access.need(request).public())


def service_secret(store: Store, configured: str = "") -> bytes:
    """What signs sessions and links: `configured` (INTERVENE_SECRET, else [serve]
    secret), else one generated on first start and kept in the database (so
    sessions and links survive a restart, and every machine has its own)."""
    value = configured or store.setting("session_secret")
    if not value:
        value = secrets.token_hex(32)
        store.put_setting("session_secret", value)
    return value.encode()


def _home(user: User) -> str:
    return {"supervisor": "/supervisor"}.get(user.role, "/")


def _safe_next(nxt: str) -> str:
    """Only a path on this site: never an open redirect."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else "/"
