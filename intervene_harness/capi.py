"""A stand-in for Facebook's Conversions API, for tests and the demo.

    POST /{version}/{dataset_id}/events?access_token=TOKEN   {"data": [event, ...], "test_event_code"?}
    -> 200 {"events_received": N, "messages": [], "fbtrace_id": "..."}
    -> 400 {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}   like Facebook's

It is strict where Facebook is: the token must match, every event needs
event_name, an integer event_time, an action_source and a non-empty
user_data, and em / ph must already be SHA-256 hex (Facebook does not accept
unhashed contact data), so a raw phone number leaking into an event fails a
test here rather than in production. The body may be JSON or a form with
`data` as a JSON string, both of which Graph accepts.

Accepted bodies are kept in `bodies` (access_token removed), every answer in
`log`. fail_next(n, status) makes the next n requests fail the way Facebook's
outages and refusals do; delay_s holds each answer back (client timeouts).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import re
import secrets
from pathlib import Path
from typing import Any, Optional

from aiohttp import web

ACTION_SOURCES = {"email", "website", "app", "phone_call", "chat", "physical_store",
                  "system_generated", "business_messaging", "other"}
HASHED = re.compile(r"^[0-9a-f]{64}$")


def _error(status: int, message: str, code: int, type_: str = "OAuthException",
           subcode: Optional[int] = None, transient: bool = False) -> web.Response:
    err: dict[str, Any] = {"message": message, "type": type_, "code": code,
                           "fbtrace_id": secrets.token_urlsafe(8)}
    if subcode is not None:
        err["error_subcode"] = subcode
    if transient:
        err["is_transient"] = True
    return web.json_response({"error": err}, status=status)


def validate(body: Any) -> Optional[str]:
    """What is wrong with a request body, as Facebook would word it; None when fine."""
    if not isinstance(body, dict):
        return "Invalid parameter: body must be an object"
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return "(#100) The parameter data is required and must be a non-empty list"
    if len(data) > 1000:
        return "(#100) data: at most 1000 events per request"
    for i, ev in enumerate(data):
        if not isinstance(ev, dict):
            return f"(#100) data[{i}] must be an object"
        if not isinstance(ev.get("event_name"), str) or not ev["event_name"]:
            return f"(#100) data[{i}]: The parameter event_name is required"
        t = ev.get("event_time")
        if not isinstance(t, int) or isinstance(t, bool):
            return f"(#100) data[{i}]: event_time must be an integer (unix seconds)"
        if ev.get("action_source") not in ACTION_SOURCES:
            return f"(#100) data[{i}]: action_source is required and must be one of {sorted(ACTION_SOURCES)}"
        ud = ev.get("user_data")
        if not isinstance(ud, dict) or not ud:
            return f"(#100) data[{i}]: The parameter user_data is required"
        for key in ("em", "ph"):
            vals = ud.get(key)
            if vals is None:
                continue
            for v in vals if isinstance(vals, list) else [vals]:
                if not isinstance(v, str) or not HASHED.match(v):
                    return f"(#100) data[{i}].user_data.{key}: must be SHA-256 hashed (64 hex characters)"
        if ev.get("action_source") == "system_generated" and "lead_id" not in ud:
            return f"(#100) data[{i}].user_data.lead_id is required for CRM events"
    tec = body.get("test_event_code")
    if tec is not None and not isinstance(tec, str):
        return "(#100) test_event_code must be a string"
    return None


class CapiStandIn:
    def __init__(self, token: str = "test-token", dataset_id: Optional[str] = None) -> None:
        self.token = token
        self.dataset_id = dataset_id            # None: any dataset id is accepted
        self.bodies: list[dict[str, Any]] = []  # accepted request bodies, in order
        self.log: list[dict[str, Any]] = []     # every request: {"status", "path", "body"}
        self.delay_s = 0.0
        self._fail: list[int] = []
        self._runner: Optional[web.AppRunner] = None
        self.url = ""

    # --------------------------------------------------------------- control
    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next n requests get `status` with Facebook's error shape (500: a
        transient service error; 429: throttling; 4xx: an invalid parameter)."""
        self._fail.extend([status] * n)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every accepted event, in order (a re-sent event appears again)."""
        return [ev for b in self.bodies for ev in b["data"]]

    def event_ids(self) -> set[Optional[str]]:
        """What Facebook would count after deduplicating on event_id."""
        return {ev.get("event_id") for ev in self.events}

    def dump(self, path: str | Path) -> Path:
        """The accepted bodies as JSONL, one request a line (demo output)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for b in self.bodies:
                f.write(json.dumps(b, sort_keys=True) + "\n")
        return path

    # ------------------------------------------------------------------- HTTP
    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{dataset_id}/events", self._events)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0: any free port); returns the base URL for CapiClient."""
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _events(self, request: web.Request) -> web.Response:
        resp = await self._answer(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return resp

    async def _answer(self, request: web.Request) -> web.Response:
        body: Any
        try:
            if request.content_type == "application/json":
                body = await request.json()
            else:
                form = dict(await request.post())
                body = {k: v for k, v in form.items() if isinstance(v, str)}
                if isinstance(body.get("data"), str):
                    body["data"] = json.loads(body["data"])
        except ValueError:
            body = None
        entry: dict[str, Any] = {"path": request.path, "body": body}
        self.log.append(entry)
        resp = self._check(request, body)
        entry["status"] = resp.status
        if resp.status == 200:
            self.bodies.append({k: v for k, v in body.items() if k != "access_token"})
        return resp

    def _check(self, request: web.Request, body: Any) -> web.Response:
        if self._fail:
            status = self._fail.pop(0)
            if status >= 500:
                return _error(status, "An unexpected error has occurred. Please retry your request later.",
                              2, "OAuthException", transient=True)
            if status == 429:
                return _error(status, "(#4) Application request limit reached", 4)
            return _error(status, "(#100) Invalid parameter", 100, subcode=2804003)
        token = request.query.get("access_token") or (body.get("access_token") if isinstance(body, dict) else None)
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self.token.encode()):
            return _error(400, "Invalid OAuth access token - Cannot parse access token", 190)
        if self.dataset_id is not None and request.match_info["dataset_id"] != self.dataset_id:
            return _error(400, f"Unsupported post request. Object with ID '{request.match_info['dataset_id']}'"
                          " does not exist", 100, "GraphMethodException", subcode=33)
        problem = validate(body)
        if problem:
            return _error(400, problem, 100, subcode=2804019)
        return web.json_response({"events_received": len(body["data"]), "messages": [],
                                  "fbtrace_id": secrets.token_urlsafe(8)})
