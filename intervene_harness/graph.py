"""A stand-in for Facebook's side of Lead Ads, for tests and the demo: the
Graph API's `GET /{version}/{leadgen_id}` answering like Facebook does
(errors included), and the signed `leadgen` webhook Facebook would POST.

    graph = GraphStandIn(token="page-token")
    graph.add_lead("444", full_name="Dana Reyes", phone_number="+12125550123", form_id="777")
    url = await graph.start()            # http://127.0.0.1:<port>; GraphClient(url, "v21.0", "page-token")
    graph.fail_next(2, status=503)       # the next two requests fail, then it answers again
    await graph.stop()
"""
from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any, Optional

from aiohttp import web

from intervene.leads.intake import sign


class GraphStandIn:
    def __init__(self, token: str = "test-page-token") -> None:
        self.token = token
        self.leads: dict[str, dict[str, Any]] = {}
        self.requests = 0              # every GET of a lead
        self.served = 0                # answered with the lead
        self.failed = 0                # answered with an injected failure
        self.delay_s = 0.0             # before every answer (a slow Graph; > the client's timeout = a timeout)
        self._fail: list[int] = []
        self._runner: Optional[web.AppRunner] = None
        self.url = ""

    # ------------------------------------------------------------ fixtures
    def add_lead(self, leadgen_id: str, form_id: str = "", ad_id: str = "", created_time: Optional[float] = None,
                 field_data: Optional[list[dict[str, Any]]] = None, **answers: str) -> dict[str, Any]:
        """A lead as Graph returns it; answers become field_data entries
        (full_name=..., phone_number=..., email=..., or any custom question)."""
        data = list(field_data or []) + [{"name": k, "values": [v]} for k, v in answers.items()]
        obj = {"created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(created_time or time.time())),
               "id": str(leadgen_id), "field_data": data}
        if ad_id:
            obj["ad_id"] = ad_id
        if form_id:
            obj["form_id"] = form_id
        self.leads[str(leadgen_id)] = obj
        return obj

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next n requests get this HTTP status with Facebook's error shape."""
        self._fail += [status] * n

    # ---------------------------------------------------------------- HTTP
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(r"/{version:v\d+\.\d+}/{leadgen_id}", self.get_lead)

    async def get_lead(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._fail:
            status = self._fail.pop(0)
            self.failed += 1
            if status == 429:
                return _error(429, "(#4) Application request limit reached", "OAuthException", 4)
            if status >= 500:
                return _error(status, "An unexpected error has occurred. Please retry your request later.",
                              "OAuthException", 2, transient=True)
            return _error(status, "Invalid parameter", "OAuthException", 100)
        token = request.query.get("access_token")
        if not token:
            return _error(400, "An access token is required to request this resource.", "OAuthException", 104)
        if token != self.token:
            return _error(400, "Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        lid = request.match_info["leadgen_id"]
        obj = self.leads.get(lid)
        if obj is None:
            return _error(400, f"Unsupported get request. Object with ID '{lid}' does not exist, cannot be "
                               "loaded due to missing permissions, or does not support this operation. Please "
                               "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                          "GraphMethodException", 100, subcode=33)
        self.served += 1
        wanted = request.query.get("fields")
        if wanted:                      # Graph returns the fields asked for that the lead has
            keys = set(wanted.split(","))
            obj = {k: v for k, v in obj.items() if k in keys or k == "id"}
        return web.json_response(obj)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on an ephemeral port; returns the base URL (for [leads] graph_url)."""
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        got = self._runner.addresses[0]
        self.url = f"http://{got[0]}:{got[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _error(status: int, message: str, type_: str, code: int, subcode: Optional[int] = None,
           transient: bool = False) -> web.Response:
    err: dict[str, Any] = {"message": message, "type": type_, "code": code,
                           "fbtrace_id": "A" + secrets.token_urlsafe(15)}
    if subcode is not None:
        err["error_subcode"] = subcode
    if transient:
        err["is_transient"] = True
    return web.json_response({"error": err}, status=status)


# ----------------------------------------------------------------- webhook
def leadgen_payload(leads: list[dict[str, Any]], now: Optional[float] = None) -> dict[str, Any]:
    """A Page webhook as Facebook POSTs it; each lead: {leadgen_id, page_id, form_id, ad_id?, adgroup_id?}."""
    now = int(now if now is not None else time.time())
    entries: dict[str, dict[str, Any]] = {}
    for lead in leads:
        page = str(lead["page_id"])
        value = {"ad_id": str(lead.get("ad_id", "0")), "form_id": str(lead["form_id"]),
                 "leadgen_id": str(lead["leadgen_id"]), "created_time": now, "page_id": page,
                 "adgroup_id": str(lead.get("adgroup_id", "0"))}
        entries.setdefault(page, {"id": page, "time": now, "changes": []})["changes"].append(
            {"field": "leadgen", "value": value})
    return {"object": "page", "entry": list(entries.values())}


def signed(secret: str, payload: Any) -> tuple[bytes, dict[str, str]]:
    """(body, headers) for a POST to /webhooks/facebook signed with the app secret."""
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, body)}

