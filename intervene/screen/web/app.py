"""The screens' app: one route table over the topic handlers (session,
pages, calls, users, events, reports), which share one ScreenState, and
the security headers on every answer."""
from __future__ import annotations

import base64
import hashlib
from typing import Any, Awaitable, Callable, Optional

from aiohttp import web

from intervene.accounts.auth import User
from intervene.report.html import CSS as REPORT_CSS
from intervene.screen.hub import Hub
from intervene.screen.practice import Practice
from intervene.screen.reports import Reports
from intervene.screen.web.calls import Calls
from intervene.screen.web.events import Events
from intervene.screen.web.guard import HashPool
from intervene.screen.web.pages import Pages
from intervene.screen.web.session import Access, Sessions, service_secret
from intervene.screen.web.shared import ScreenState
from intervene.screen.web.users import Users
from intervene.store.db import Store
from intervene.store.worker import StoreWorker

# Scripts and styles only from our own files (the one inline style, the Reports page's, by its hash),
# no framing, forms only to us. Referrer-Policy same-origin: a signed link never leaks to another
# site via Referer, and our own form posts still carry their Origin (no-referrer would make it
# `null`, which the CSRF check in guard.py must refuse).
_REPORT_STYLE = "'sha256-" + base64.b64encode(hashlib.sha256(REPORT_CSS.encode()).digest()).decode() + "'"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' " + _REPORT_STYLE + "; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "same-origin", "Content-Security-Policy": CSP}


class ScreenApp:
    def __init__(self, store: Store, hub: Hub, secret: bytes, api_token: str = "",
                 public_url: Callable[[], str] = lambda: "",
                 effective: Callable[[User], dict[str, Any]] = lambda u: {},
                 practice: Optional[Callable[[User, str, float], Awaitable[str]]] = None,
                 on_outcome: Callable[[str, str], None] = lambda call_id, outcome: None,
                 db: Optional[StoreWorker] = None, secure_cookies: bool = False) -> None:
        self.state = ScreenState(store, hub, secret, api_token, public_url, effective, practice, on_outcome,
                                 db or StoreWorker(store))
        self.access = Access(self.state)
        self.passwords = HashPool()
        self.sessions = Sessions(self.state, self.access, self.passwords, secure_cookies)
        self.pages = Pages(self.access)
        self.calls = Calls(self.state, self.access)
        self.users = Users(self.state, self.access, self.passwords)
        self.events = Events(self.state, self.access)

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def hub(self) -> Hub:
        return self.state.hub

    @property
    def secret(self) -> bytes:
        return self.state.secret

    def user(self, request: web.Request) -> Optional[User]:
        return self.access.user(request)

    def need(self, request: web.Request, *roles: str, write: bool = False) -> User:
        """The caller, or a 401/403 that names what is missing (the media server's admin routes use it too)."""
        return self.access.need(request, *roles, write=write)

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        s, p, c, u = self.sessions, self.pages, self.calls, self.users
        r.add_get("/login", s.login_page)
        r.add_post("/login", s.login)
        r.add_post("/logout", s.logout)
        r.add_get("/l/{token}", s.link_page)
        r.add_post("/l/{token}", s.link_login)
        r.add_get("/", p.page("rep.html", ("rep", "admin"), else_go="/supervisor"))
        r.add_get("/supervisor", p.page("supervisor.html", ("supervisor", "admin")))
        r.add_get("/admin", p.page("admin.html", ("admin",)))
        r.add_get("/static/{name}", p.static)
        r.add_get("/api/me", s.me)
        r.add_get("/api/calls", c.calls)
        r.add_get("/api/calls/{id}", c.call)
        r.add_get("/api/events", self.events.events)
        r.add_post("/api/calls/{id}/cards/{seq}/feedback", c.feedback)
        r.add_post("/api/calls/{id}/outcome", c.outcome)
        r.add_post("/api/practice", c.start_practice)
        r.add_get("/api/users", u.users)
        r.add_post("/api/users", u.put_user)
        r.add_post("/api/users/{login}/link", u.link)
        r.add_post("/api/users/{login}/revoke", u.revoke)
        r.add_delete("/api/users/{login}", u.delete_user)
        r.add_get("/api/teams", u.teams)
        Reports(self.state.db, self.need).add_routes(app)
        app.on_response_prepare.append(_headers)
        app.middlewares.append(self.access.middleware)      # who asks, settled off the loop before any handler
        app.on_cleanup.append(self._close)

    async def _close(self, app: web.Application) -> None:
        self.passwords.close()


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for k, v in SECURITY_HEADERS.items():
        response.headers.setdefault(k, v)


def build_screen(store: Store, hub: Hub, config: Any, index: Any, kb_source: str, api_token: str,
                 public_url: Callable[[], str], secret: str = "",
                 on_outcome: Callable[[str, str], None] = lambda call_id, outcome: None,
                 db: Optional[StoreWorker] = None) -> ScreenApp:
    """The screens as `intervene serve` runs them (also the benchmark's and the tests').
    `config.serve.secure_cookies`: mark the session cookie Secure even when no proxy says https."""
    db = db or StoreWorker(store)                  # one worker: practice calls and handlers write in one order
    practice = Practice(db, hub, index, config, kb_source)

    def effective(u: User) -> dict[str, Any]:
        try:
            a = config.resolve(rep=u.login, team=u.team or None)
        except Exception as e:                     # a config naming an unknown profile: say so, don't 500
            return {"error": str(e)}
        return {"profile": a.profile.name, "modes": {c.value: m.value for c, m in a.modes.items()}}

    return ScreenApp(store, hub, service_secret(store, secret), api_token, public_url, effective, practice.start,
                     on_outcome, db, secure_cookies=config.serve.secure_cookies)
