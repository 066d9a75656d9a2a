"""Stand-ins for the CRM side of write-back, for tests and the demo: the
HubSpot CRM v3 endpoints intervene uses, and a webhook receiver that
verifies signatures and deduplicates deliveries.

    hs = HubSpotStandIn(token="pat-na1-test")
    url = await hs.start()               # [crm.hubspot] base_url = url
    hs.fail_next(2, status=429)          # the next two requests are rate limited, then it answers again
    hs.contacts, hs.calls                # what it holds, for assertions

Written from HubSpot's public API documentation:

    POST  /crm/v3/objects/contacts/search   filterGroups (ORed) of filters (ANDed); EQ on a property
          -> 200 {"total": n, "results": [{"id", "properties", "createdAt", "updatedAt", "archived"}]}
    POST  /crm/v3/objects/contacts          {"properties"} -> 201 the object;
          409 {"status": "error", "message": "Contact already exists. Existing ID: N",
               "category": "CONFLICT", ...} when the email is taken
    PATCH /crm/v3/objects/contacts/{id}     {"properties"} -> 200 the object; 404 if none
    POST  /crm/v3/objects/calls             {"properties", "associations"?} -> 201 the object
    PATCH /crm/v3/objects/calls/{id}        {"properties"} -> 200 the object
    every request: Authorization: Bearer TOKEN, else 401 {"category": "INVALID_AUTHENTICATION"}
    429 {"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
         "policyName": "SECONDLY"} (injected), 500 {"category": "INTERNAL_ERROR"} (injected)

Like HubSpot it refuses a property it does not know (400 VALIDATION_ERROR,
PROPERTY_DOESNT_EXIST), so a field mapped to a custom property nobody made
fails here before it fails in production; `custom` lists those that exist.
A call needs hs_timestamp; an association must name an existing contact
with type 194 (call to contact, HUBSPOT_DEFINED).

Search, unlike HubSpot's, is immediately consistent; `search_lag` hides
contacts made in the last N requests from search, to exercise the 409 path.
"""
from __future__ import annotations

import hmac
import itertools
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

from aiohttp import web

from intervene.leads.crm_send import verify_signature

CONTACT_PROPS = {"email", "phone", "firstname", "lastname", "company", "lifecyclestage", "hs_lead_status",
                 "mobilephone", "city", "country", "jobtitle", "website"}
CALL_PROPS = {"hs_timestamp", "hs_call_title", "hs_call_body", "hs_call_duration", "hs_call_direction",
              "hs_call_status", "hs_call_from_number", "hs_call_to_number", "hs_call_disposition",
              "hubspot_owner_id", "hs_call_recording_url"}
CALL_STATUSES = {"BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED", "IN_PROGRESS",
                 "MISSED", "NO_ANSWER", "QUEUED", "RINGING"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _error(status: int, category: str, message: str, **more: Any) -> web.Response:
    return web.json_response({"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
                              "category": category, **more}, status=status)


class HubSpotStandIn:
    def __init__(self, token: str = "pat-test-token", custom: tuple[str, ...] = ()) -> None:
        self.token = token
        self.custom = set(custom)                      # custom contact properties the portal has
        self.contacts: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []            # every request: method, path, status
        self.search_lag = 0
        self._ids = itertools.count(101)
        self._fail: list[int] = []
        self._runner: Optional[web.AppRunner] = None
        self._made: list[str] = []
        self.url = ""

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        self._fail += [status] * n

    def contact_by_email(self, email: str) -> Optional[dict[str, Any]]:
        return next((c for c in self.contacts.values()
                     if (c["properties"].get("email") or "").lower() == email.lower()), None)

    # ---------------------------------------------------------------- HTTP
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post("/crm/v3/objects/contacts/search", self._search)
        app.router.add_post("/crm/v3/objects/contacts", self._create_contact)
        app.router.add_patch("/crm/v3/objects/contacts/{id}", self._patch_contact)
        app.router.add_post("/crm/v3/objects/calls", self._create_call)
        app.router.add_patch("/crm/v3/objects/calls/{id}", self._patch_call)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        entry: dict[str, Any] = {"method": request.method, "path": request.path}
        self.log.append(entry)
        resp: web.StreamResponse
        if self._fail:
            status = self._fail.pop(0)
            if status == 429:
                resp = web.json_response({"status": "error", "message": "You have reached your secondly limit.",
                                          "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                                          "policyName": "SECONDLY"}, status=429)
            else:
                resp = _error(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR", "injected failure")
        else:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or not hmac.compare_digest(auth[7:].encode(), self.token.encode()):
                resp = _error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
            else:
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    resp = _error(400, "VALIDATION_ERROR", "Invalid input JSON")
                else:
                    resp = await handler(request)           # the handler reads the body again (aiohttp keeps it)
        entry["status"] = resp.status
        return resp

    def _props(self, body: dict[str, Any], known: set[str]) -> tuple[Optional[dict[str, Any]], Optional[web.Response]]:
        props = body.get("properties")
        if not isinstance(props, dict):
            return None, _error(400, "VALIDATION_ERROR", "properties is required")
        unknown = sorted(k for k in props if k not in known)
        if unknown:
            return None, _error(400, "VALIDATION_ERROR", "Property values were not valid", errors=[
                {"message": f"Property \"{k}\" does not exist", "code": "PROPERTY_DOESNT_EXIST",
                 "context": {"propertyName": [k]}} for k in unknown])
        return {k: (None if v is None else str(v)) for k, v in props.items()}, None

    def _object(self, oid: str, props: dict[str, Any], **more: Any) -> dict[str, Any]:
        now = _now()
        return {"id": oid, "properties": {**props, "hs_object_id": oid, "createdate": now,
                                          "lastmodifieddate": now}, "createdAt": now, "updatedAt": now,
                "archived": False, **more}

    async def _search(self, request: web.Request) -> web.Response:
        body = await request.json()
        groups = body.get("filterGroups") or []
        hidden = set(self._made[len(self._made) - self.search_lag:]) if self.search_lag else set()
        found = []
        for c in self.contacts.values():
            if c["id"] in hidden:
                continue
            for g in groups:
                if all(str(c["properties"].get(f["propertyName"]) or "").lower() == str(f.get("value")).lower()
                       for f in g.get("filters") or [] if f.get("operator") == "EQ"):
                    found.append(c)
                    break
        limit = int(body.get("limit") or 10)
        return web.json_response({"total": len(found), "results": found[:limit]})

    async def _create_contact(self, request: web.Request) -> web.Response:
        props, bad = self._props(await request.json(), CONTACT_PROPS | self.custom)
        if bad is not None or props is None:
            return bad or _error(400, "VALIDATION_ERROR", "bad")
        email = props.get("email")
        existing = self.contact_by_email(email) if email else None
        if existing is not None:
            return _error(409, "CONFLICT", f"Contact already exists. Existing ID: {existing['id']}",
                          error="CONTACT_EXISTS")
        oid = str(next(self._ids))
        self.contacts[oid] = self._object(oid, props)
        self._made.append(oid)
        return web.json_response(self.contacts[oid], status=201)

    async def _patch_contact(self, request: web.Request) -> web.Response:
        oid = request.match_info["id"]
        if oid not in self.contacts:
            return _error(404, "OBJECT_NOT_FOUND", "resource not found")
        props, bad = self._props(await request.json(), CONTACT_PROPS | self.custom)
        if bad is not None or props is None:
            return bad or _error(400, "VALIDATION_ERROR", "bad")
        c = self.contacts[oid]
        c["properties"].update(props)
        c["updatedAt"] = c["properties"]["lastmodifieddate"] = _now()
        return web.json_response(c)

    async def _create_call(self, request: web.Request) -> web.Response:
        body = await request.json()
        props, bad = self._props(body, CALL_PROPS)
        if bad is not None or props is None:
            return bad or _error(400, "VALIDATION_ERROR", "bad")
        problem = _call_problem(props)
        if problem:
            return _error(400, "VALIDATION_ERROR", problem)
        assoc = []
        for a in body.get("associations") or []:
            to = str((a.get("to") or {}).get("id"))
            types = a.get("types") or []
            if to not in self.contacts:
                return _error(400, "VALIDATION_ERROR", f"Association target {to} does not exist")
            if not any(t.get("associationCategory") == "HUBSPOT_DEFINED" and t.get("associationTypeId") == 194
                       for t in types):
                return _error(400, "VALIDATION_ERROR", "invalid association type for call to contact")
            assoc.append(to)
        oid = str(next(self._ids))
        self.calls[oid] = self._object(oid, props, contacts=assoc)
        return web.json_response({k: v for k, v in self.calls[oid].items() if k != "contacts"}, status=201)

    async def _patch_call(self, request: web.Request) -> web.Response:
        oid = request.match_info["id"]
        if oid not in self.calls:
            return _error(404, "OBJECT_NOT_FOUND", "resource not found")
        props, bad = self._props(await request.json(), CALL_PROPS)
        if bad is not None or props is None:
            return bad or _error(400, "VALIDATION_ERROR", "bad")
        self.calls[oid]["properties"].update(props)
        problem = _call_problem(self.calls[oid]["properties"])
        if problem:
            return _error(400, "VALIDATION_ERROR", problem)
        return web.json_response({k: v for k, v in self.calls[oid].items() if k != "contacts"})


def _call_problem(props: dict[str, Any]) -> Optional[str]:
    ts = props.get("hs_timestamp")
    if not ts:
        return "hs_timestamp is required"
    try:
        if not str(ts).isdigit():
            datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
    except ValueError:
        return f"hs_timestamp: not a timestamp: {ts!r}"
    if props.get("hs_call_duration") is not None and not str(props["hs_call_duration"]).isdigit():
        return "hs_call_duration must be milliseconds"
    if props.get("hs_call_status") is not None and props["hs_call_status"] not in CALL_STATUSES:
        return f"hs_call_status: {props['hs_call_status']!r} is not one of the allowed options"
    if props.get("hs_call_direction") not in (None, "INBOUND", "OUTBOUND"):
        return "hs_call_direction must be INBOUND or OUTBOUND"
    return None


# ------------------------------------------------------------------- webhooks
class WebhookReceiver:
    """A CRM's webhook endpoint: checks X-Intervene-Signature (401 when it
    does not match), keeps every accepted request, and deduplicates on
    X-Intervene-Delivery as a receiver should. fail_next makes the next
    requests answer a status without recording them as delivered."""

    def __init__(self, secret: str, path: str = "/hook") -> None:
        self.secret, self.path = secret, path
        self.received: list[dict[str, Any]] = []       # every accepted request: headers, body, doc
        self.refused: list[dict[str, Any]] = []
        self.deliveries: dict[str, dict[str, Any]] = {}     # by delivery id: what the receiver keeps
        self._fail: list[tuple[int, Optional[float]]] = []
        self._runner: Optional[web.AppRunner] = None
        self.url = ""

    def fail_next(self, n: int = 1, status: int = 500, retry_after: Optional[float] = None) -> None:
        self._fail += [(status, retry_after)] * n

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post(self.path, self._hook)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}{self.path}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        h = request.headers
        if self._fail:
            status, after = self._fail.pop(0)
            self.refused.append({"status": status, "delivery": h.get("X-Intervene-Delivery")})
            headers = {"Retry-After": str(after)} if after is not None else None
            return web.json_response({"error": "injected"}, status=status, headers=headers)
        if not verify_signature(self.secret, h.get("X-Intervene-Timestamp", ""), raw,
                                h.get("X-Intervene-Signature", "")):
            self.refused.append({"status": 401, "delivery": h.get("X-Intervene-Delivery")})
            return web.json_response({"error": "bad signature"}, status=401)
        doc = json.loads(raw)
        self.received.append({"headers": dict(h), "body": raw, "doc": doc})
        did = h.get("X-Intervene-Delivery", "")
        if did != doc.get("id") or h.get("X-Intervene-Event") != doc.get("event"):
            return web.json_response({"error": "headers do not match the body"}, status=400)
        self.deliveries.setdefault(did, doc)            # a re-send is acknowledged, not stored twice
        return web.json_response({"ok": True})
