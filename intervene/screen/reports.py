"""The supervisors' Reports page: the same report `intervene report` writes
(report/html.py: effects of interventions on outcomes, rates, trends, with
the plots), made from the calls the viewer may see and kept for a minute,
behind the same login as every other page. Practice calls are left out
(report/record.py `reported`). The calls are read through the store's
worker, one call at a time, so live calls' writes go in between; the
analysis and the plots run on a thread."""
from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from intervene.accounts.auth import User, can_see
from intervene.report.html import write_report
from intervene.report.record import call_record, reported
from intervene.store.worker import StoreWorker

FRESH_S = 60.0          # a report is remade at most this often per scope (it reads every stored call)
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_-.")


class Reports:
    def __init__(self, db: StoreWorker, need: Callable[..., User]) -> None:
        self.db, self.need = db, need
        self._cache: dict[str, tuple[float, Path]] = {}
        self._lock = asyncio.Lock()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/reports", self._redirect)
        app.router.add_get("/reports/", self.page)
        app.router.add_get("/reports/{name}", self.file)

    @staticmethod
    async def _redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/reports/")

    def _scope(self, user: User) -> str:
        return "all" if user.role in ("admin", "service") or not user.team else f"team:{user.team}"

    async def _dir(self, user: User) -> Path:
        scope = self._scope(user)
        async with self._lock:
            hit = self._cache.get(scope)
            if hit and time.time() - hit[0] < FRESH_S and hit[1].exists():
                return hit[1]
            out = Path(tempfile.mkdtemp(prefix="intervene-report-"))
            records = await self._records(user)
            await asyncio.to_thread(write_report, records, out,
                                    "all calls" if scope == "all" else f"team {user.team}")
            if hit:
                shutil.rmtree(hit[1], ignore_errors=True)
            self._cache[scope] = (time.time(), out)
            return out

    async def _records(self, user: User) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for row in await self.db.run(self.db.store.calls):
            if reported(row) and can_see(user, row):
                try:
                    records.append(await self.db.run(call_record, self.db.store, row["id"]))
                except (KeyError, ValueError):
                    continue
        return records

    async def page(self, request: web.Request) -> web.StreamResponse:
        user = self.need(request, "supervisor", "admin")
        out = await self._dir(user)
        return web.FileResponse(out / "report.html", headers={"Cache-Control": "no-store"})

    async def file(self, request: web.Request) -> web.StreamResponse:
        user = self.need(request, "supervisor", "admin")
        name = request.match_info["name"]
        if not set(name) <= _NAME_OK or name.startswith(".") or not name.endswith((".png", ".json")):
            raise web.HTTPNotFound()
        path = (await self._dir(user)) / name
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})
