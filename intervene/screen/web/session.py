"""Who asks: the session cookie, the bearer API token, logging in and out,
signed links, and the access check every other handler starts with.

Who a request is gets settled once, by `Access.middleware`, before the
handler runs: the user's row comes through the store thread there, so the
handlers' `need()` stays a plain function and nothing reads SQLite on the
event loop. Passwords are checked in a small pool (guard.HashPool), never
on the loop: a burst of wrong logins must not stall the calls."""
from __future__ import annotations

import hmac
import html
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from aiohttp import web

from intervene.accounts.auth import (
    SERVICE,
    SESSION_S,
    Token,
    User,
    check_password,
    hash_password,
    make_token,
    read_token,
)
from intervene.accounts.throttle import LoginThrottle
from intervene.screen.web.guard import HashPool, HashPoolBusy, client_address, safe_next, same_origin
from intervene.screen.web.shared import LOGIN_RE, STATIC, ScreenState, error, log
from intervene.store.db import Store, StoreError

COOKIE = "iv_session"
_USER: web.RequestKey[Optional[User]] = web.RequestKey("intervene.user")     # what the middleware settles
_TOKEN: web.RequestKey[Optional[Token]] = web.RequestKey("intervene.token")


class Access:
    """The one place a request becomes a user, so every route refuses alike."""

    def __init__(self, state: ScreenState) -> None:
        self.s = state

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        request[_USER], request[_TOKEN] = await self.resolve(request)
        try:
            resp: web.StreamResponse = await handler(request)
        except StoreError as e:                      # locked past the worker's patience: say so, don't 500
            log.warning("%s %s: %s", request.method, request.path, e)
            raise error(web.HTTPServiceUnavailable, "the database is busy: try again in a moment",
                        headers={"Retry-After": "5"})
        return resp

    async def resolve(self, request: web.Request) -> tuple[Optional[User], Optional[Token]]:
        """Who the request's credentials name now, asking the store (the
        middleware does it once per request; a long-lived event stream asks
        again, so a logout, a revoke or an expiry ends it)."""
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return self._bearer(request), None
        raw = request.cookies.get(COOKIE)
        token = read_token(self.s.secret, raw, "session", time.time()) if raw else None
        if token is None:
            return None, None
        try:
            row, spent = await self.s.db.run(_session_row, self.s.store, token.login, token.id)
        except StoreError:
            raise error(web.HTTPServiceUnavailable, "the database is busy: try again in a moment")
        user = User.from_row(row) if row is not None and not spent else None
        if user is None or not user.holds(token):
            return None, None                        # logged out, revoked, or the user was removed
        return user, token

    def _bearer(self, request: web.Request) -> Optional[User]:
        auth = request.headers.get("Authorization", "")
        ok = self.s.api_token and hmac.compare_digest(auth.encode(), f"Bearer {self.s.api_token}".encode())
        return SERVICE if ok else None

    def user(self, request: web.Request) -> Optional[User]:
        """Who asks (settled by the middleware; a request that bypassed it is nobody, or the API token)."""
        if _USER in request:
            return request[_USER]
        return self._bearer(request)

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

    def __init__(self, state: ScreenState, access: Access, pool: HashPool, secure_cookies: bool = False) -> None:
        self.s, self.access, self.pool = state, access, pool
        self.secure_cookies = secure_cookies
        self.throttle = LoginThrottle()
        # made once: an unknown login is checked against this, so it costs what a known one does
        self.dummy = hash_password(secrets.token_hex(16))

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})

    async def login(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request, self.s.public_url()):
            raise error(web.HTTPForbidden, "a login form posted from another site")
        form = await request.post()
        login = str(form.get("login", "")).strip()
        nxt = safe_next(str(form.get("next", "")))
        now, addr = time.time(), client_address(request)
        if self.throttle.locked(login, addr, now):
            raise _back("locked", nxt)
        try:
            row = await self.s.db.run(self.s.store.user, login) if LOGIN_RE.match(login) else None
            stored = row.get("pw") if row else None
            ok = await self.pool.run(check_password, str(form.get("password", "")), stored or self.dummy)
        except (HashPoolBusy, StoreError):
            raise _back("busy", nxt)
        if row is None or not stored or not ok:
            self.throttle.failed(login, addr, now)
            log.info("failed login for %r from %s", login, addr)
            raise _back("1", nxt)
        self.throttle.succeeded(login, addr, now)
        raise self._session(request, User.from_row(row), nxt)

    async def link_page(self, request: web.Request) -> web.StreamResponse:
        """A signed link opened: a page with one "Sign in" button, not the sign-in
        itself. Chat apps and mail scanners fetch links to preview them; a GET
        that spent the one-use link would leave the rep with a dead one."""
        token = read_token(self.s.secret, request.match_info["token"], "link", time.time())
        try:
            row = await self.s.db.run(_link_user, self.s.store, token) if token else None
        except StoreError:
            raise error(web.HTTPServiceUnavailable, "the database is busy: try the link again in a moment")
        if row is None:
            return _link_gone()
        name = html.escape(str(row.get("name") or row["login"]))
        body = LINK_PAGE.format(name=name, action=html.escape(request.path, quote=True))
        return web.Response(text=body, content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})

    async def link_login(self, request: web.Request) -> web.StreamResponse:
        """The page's button: spends the link and starts the session."""
        if not same_origin(request, self.s.public_url()):
            raise error(web.HTTPForbidden, "a sign-in form posted from another site")
        token = read_token(self.s.secret, request.match_info["token"], "link", time.time())
        try:
            row = await self.s.db.run(_spend_link, self.s.store, token) if token else None
        except StoreError:
            raise error(web.HTTPServiceUnavailable, "the database is busy: try the link again in a moment")
        if row is None:
            return _link_gone()
        raise self._session(request, User.from_row(row), "/")

    def _session(self, request: web.Request, user: User, nxt: str) -> web.HTTPSeeOther:
        resp = web.HTTPSeeOther(nxt if nxt != "/" else _home(user))
        token = make_token(self.s.secret, "session", user.login, user.epoch, time.time() + SESSION_S, user.nonce)
        secure = self.secure_cookies or request.secure or request.headers.get("X-Forwarded-Proto") == "https"
        resp.set_cookie(COOKIE, token, max_age=SESSION_S, httponly=True, samesite="Lax", path="/", secure=secure)
        return resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """Ends this session for good: its token id is kept as spent until it would have expired."""
        if not same_origin(request, self.s.public_url()):
            raise error(web.HTTPForbidden, "a logout form posted from another site")
        token = request.get(_TOKEN)
        if token is not None:
            try:
                await self.s.db.run(self.s.store.spend_token, token.id, token.expires)
            except StoreError:
                raise error(web.HTTPServiceUnavailable, "the database is busy: log out again in a moment")
        resp = web.HTTPSeeOther("/login")
        resp.del_cookie(COOKIE, path="/")
        raise resp

    async def me(self, request: web.Request) -> web.Response:
        return web.json_response(self.access.need(request).public())


def _session_row(store: Store, login: str, token_id: str) -> tuple[Optional[dict[str, Any]], bool]:
    """On the store thread: the user and whether this session was logged out, in one go."""
    return store.user(login), store.token_spent(token_id)


LINK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - intervene</title><link rel="stylesheet" href="/static/login.css"></head>
<body><main><h1>intervene</h1>
<form method="post" action="{action}"><p>Sign in as <strong>{name}</strong>.</p>
<button type="submit">Sign in</button></form>
<p class="note">This link works once.</p></main></body></html>
"""


def _link_gone() -> web.Response:
    return web.Response(status=403, text="This link has expired, was used already or was revoked. "
                                         "Ask your admin for a new one.\n")


def _link_user(store: Store, token: Token) -> Optional[dict[str, Any]]:
    """On the store thread: the user a valid, unspent link signs in as (nothing spent)."""
    row = store.user(token.login)
    if row is None or not User.from_row(row).holds(token) or store.token_spent(token.id):
        return None
    return row


def _spend_link(store: Store, token: Token) -> Optional[dict[str, Any]]:
    """On the store thread: the user a valid link signs in as, spending the link (one use)."""
    row = store.user(token.login)
    if row is None or not User.from_row(row).holds(token):
        return None
    return row if store.spend_token(token.id, token.expires) else None


def _back(reason: str, nxt: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/login?error={reason}&next={quote(nxt, safe='/')}")


# ---------------------------------------------------------------- the secret
def secret_path(store: Store) -> Optional[Path]:
    """Beside the database, named after it: intervene.db -> intervene.secret (None: an in-memory
    store, or a shared PostgreSQL one, whose workers must all sign with one configured secret)."""
    if str(store.path) == ":memory:" or store.shared:
        return None
    return store.path.with_name(f"{store.path.stem}.secret")


def service_secret(store: Store, configured: str = "") -> bytes:
    """What signs sessions and links: `configured` (INTERVENE_SECRET, else [serve]
    secret), else one generated on first start and kept in a file only the
    service's user can read, beside the database. Not in the database: a copy
    of the database (a backup, a support bundle) must not let its reader sign
    themselves in as admin. A secret an older version kept in the database
    moves to the file on first start, so sessions and links survive the upgrade."""
    path = secret_path(store)
    if store.shared and not configured:
        raise StoreError("the database is shared by workers (PostgreSQL): set INTERVENE_SECRET (or [serve] "
                         "secret), the same on every worker, so a session signed by one is good on all")
    old = store.setting("session_secret")
    if path is None:
        return (configured or old or secrets.token_hex(32)).encode()
    try:
        value = _read_secret(path)
        if value is None and (old or not configured):
            value = old or secrets.token_hex(32)
            write_private(path, value + "\n")
    except OSError as e:
        raise StoreError(f"{path}: cannot read or write the session secret ({e}); it must belong to the "
                         f"service's user (or set INTERVENE_SECRET)") from e
    if old is not None:
        store.delete_setting("session_secret")
        logging.getLogger("intervene.serve").warning("moved the session secret out of the database into %s", path)
    return (configured or value or "").encode()


def _read_secret(path: Path) -> Optional[str]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        path.chmod(0o600)                           # found readable by others: close it up
    value = path.read_text(encoding="utf-8").strip()
    return value or None


def write_private(path: Path, text: str) -> None:
    """Write `text` to a new 0600 file (created so, never readable by others
    for a moment), replacing `path` whole: the secret, the first admin's link."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _home(user: User) -> str:
    return {"supervisor": "/supervisor"}.get(user.role, "/")
