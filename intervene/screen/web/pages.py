"""The three pages and their JS/CSS: files, but only for someone logged in
(the pages themselves are no secret, yet an anonymous visitor belongs on
/login), and never cached so a new release is what the next load gets."""
from __future__ import annotations

from typing import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from intervene.accounts.auth import SERVICE
from intervene.screen.web.session import Access
from intervene.screen.web.shared import STATIC, error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = frozenset({"login.js", "login.css"})    # the login page's own files: needed before anyone is in


class Pages:
    def __init__(self, access: Access) -> None:
        self.access = access

    def page(self, name: str, roles: tuple[str, ...], else_go: str = "/") -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            user = self.access.user(request)
            if user is None or user is SERVICE:
                raise web.HTTPSeeOther(f"/login?next={quote(request.path, safe='/')}")
            if user.role not in roles:
                if request.path != else_go:
                    raise web.HTTPSeeOther(else_go)
                raise error(web.HTTPForbidden, f"needs role {' or '.join(roles)}")
            return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})
        return handler

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in PUBLIC and self.access.user(request) is None:
            raise error(web.HTTPUnauthorized, "log in first")
        if "/" in name or name.startswith(".") or not (STATIC / name).is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
