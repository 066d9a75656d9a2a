"""HubSpot as a CRM target: the contact created or updated, the call logged.

CRM v3 (private app token as a Bearer header, scopes crm.objects.contacts.read/write):

    POST  /crm/v3/objects/contacts/search   {"filterGroups": [{"filters": [{"propertyName": "email",
                                             "operator": "EQ", "value": ...}]}, {...phone...}], ...}
    POST  /crm/v3/objects/contacts          {"properties": {...}}     201 {"id": ...}; 409 when the email exists
    PATCH /crm/v3/objects/contacts/{id}     {"properties": {...}}
    POST  /crm/v3/objects/calls             {"properties": {hs_timestamp, hs_call_title, hs_call_body,
                                             hs_call_duration (ms), hs_call_direction, hs_call_status},
                                             "associations": [{"to": {"id": contact}, "types": [
                                             {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]}
    PATCH /crm/v3/objects/calls/{id}        {"properties": {...}}

Filter groups are ORed, so one search finds the contact by email or by
phone; a match on the email wins. Search is eventually consistent (a
contact made a moment ago may not be found yet): the create's 409
("Contact already exists. Existing ID: N") is then read and the contact
updated, so the same email never makes two contacts.

Mapped to contact properties: firstname / lastname (the lead's name split
at the first space), email, phone, and the captured fields [crm.hubspot]
properties maps to custom properties the admin made (HubSpot refuses a
property that does not exist, so nothing is sent to one by guess). Every
other captured field goes into the call's notes.

One call engagement per call: the first of call.ended / call.outcome to go
creates it and the outbox keeps its id (`remote`), so the other updates it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any, Optional

import aiohttp

from intervene.config.crm import HUBSPOT_TARGET, HubSpotOptions
from intervene.leads.crm_send import CrmError, http_error
from intervene.leads.intake import EMAIL_KEYS, NAME_KEYS, PHONE_KEYS, first_field

log = logging.getLogger("intervene.crm")

CALL_TO_CONTACT = 194           # HUBSPOT_DEFINED association type: call -> contact
EXISTING = re.compile(r"Existing ID:\s*(\d+)")
MAX_CARDS = 8                   # interventions listed in a call's notes


class HubSpotClient:
    target = HUBSPOT_TARGET

    def __init__(self, options: HubSpotOptions, session: Optional[aiohttp.ClientSession] = None) -> None:
        self.options = options
        self._session = session
        self._own = session is None
        self._timeout = aiohttp.ClientTimeout(total=options.timeout_s)
        self._props = dict(options.properties)

    def __repr__(self) -> str:                   # never the token
        return f"HubSpotClient({self.options.base_url!r})"

    # ------------------------------------------------------------------ HTTP
    async def request(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """(status, JSON answer) for a 2xx or a 409; CrmError otherwise."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Authorization": f"Bearer {self.options.token}", "Content-Type": "application/json"}
        what = f"hubspot {method} {path.split('/')[4] if path.count('/') >= 4 else path}"
        try:
            async with self._session.request(method, self.options.base_url + path, json=body, headers=headers,
                                             timeout=self._timeout, allow_redirects=False) as resp:
                status, text, rh = resp.status, await resp.text(errors="replace"), resp.headers
        except asyncio.TimeoutError:
            raise CrmError(True, f"{what}: timed out")
        except (aiohttp.ClientError, OSError) as e:
            raise CrmError(True, f"{what}: {type(e).__name__}")
        if 200 <= status < 300 or status == 409:
            try:
                return status, json.loads(text) if text else {}
            except ValueError:
                raise CrmError(True, f"{what}: HTTP {status}: not JSON", status)
        if status == 401:
            raise CrmError(False, f"{what}: HTTP 401: the token in ${self.options.token_env} was refused "
                                  "(a private app's access token with the CRM scopes is needed)", status)
        raise http_error(status, _message(text), rh, what)

    # ---------------------------------------------------------------- contact
    async def upsert_contact(self, props: dict[str, str]) -> Optional[str]:
        """The contact's id, found by email or phone and updated, or created.
        None when there is neither email nor phone to find it by."""
        email, phone = props.get("email"), props.get("phone")
        if not email and not phone:
            return None
        groups = [{"filters": [{"propertyName": k, "operator": "EQ", "value": v}]}
                  for k, v in (("email", email), ("phone", phone)) if v]
        _, found = await self.request("POST", "/crm/v3/objects/contacts/search", {
            "filterGroups": groups, "properties": ["email", "phone", "firstname", "lastname"], "limit": 10})
        results = found.get("results") or [] if isinstance(found, dict) else []
        by_email = [r for r in results if email and str((r.get("properties") or {}).get("email") or "").lower()
                    == email.lower()]
        hit = (by_email or results or [None])[0]
        if hit is not None:
            cid = str(hit["id"])
        else:
            status, made = await self.request("POST", "/crm/v3/objects/contacts", {"properties": props})
            if status != 409:
                return str(made["id"])
            m = EXISTING.search(json.dumps(made))
            if not m:
                raise CrmError(True, "hubspot contacts: HTTP 409 without the existing contact's id", 409)
            cid = m.group(1)
        await self.request("PATCH", f"/crm/v3/objects/contacts/{cid}", {"properties": props})
        return cid

    def contact_properties(self, lead: dict[str, Any]) -> dict[str, str]:
        """A lead's contact details and mapped captured fields as HubSpot properties (no empty ones)."""
        raw = lead.get("fields")
        fields: dict[str, Any] = raw if isinstance(raw, dict) else {}
        name = str(lead.get("name") or first_field(fields, NAME_KEYS) or "").strip()
        first, _, last = name.partition(" ")
        props = {"firstname": first, "lastname": last.strip(),
                 "email": str(lead.get("email") or first_field(fields, EMAIL_KEYS) or "").strip(),
                 "phone": str(lead.get("phone") or first_field(fields, PHONE_KEYS) or "").strip()}
        for field, prop in self._props.items():
            if fields.get(field) not in (None, ""):
                props[prop] = _text(fields[field])
        return {k: v for k, v in props.items() if v}

    # ------------------------------------------------------------------- call
    def call_properties(self, record: dict[str, Any]) -> dict[str, Any]:
        score = (record.get("score") or {}).get("total")
        outcome = record.get("outcome_detail") or record.get("outcome") or "unknown"
        lines = [f"Outcome: {outcome}" + (f" (value {record['value']:g})" if record.get("value") else ""),
                 f"Score: {score if score is not None else 'n/a'}",
                 f"Duration: {_clock(float(record.get('duration_s') or 0))}",
                 f"Rep: {record.get('rep') or 'n/a'}"]
        if record.get("summary"):
            lines += ["", f"Summary: {record['summary']}"]
        cards = record.get("interventions") or []
        if cards:
            lines += ["", f"Interventions ({len(cards)}):"]
            for iv in cards[:MAX_CARDS]:
                said = f" -> {iv['say']}" if iv.get("say") else ""
                fb = f" [{iv['feedback']}]" if iv.get("feedback") else ""
                lines.append(f"- {iv.get('category')}/{iv.get('severity')}: {iv.get('detected') or ''}{said}{fb}")
            if len(cards) > MAX_CARDS:
                lines.append(f"- ... and {len(cards) - MAX_CARDS} more")
        lead = record.get("lead") or {}
        extra = {k: v for k, v in (lead.get("fields") or {}).items()
                 if k not in self._props and k not in (*NAME_KEYS, *EMAIL_KEYS, *PHONE_KEYS)}
        if extra:
            lines += ["", "Captured:"] + [f"- {k}: {_text(v)}" for k, v in sorted(extra.items())]
        return {"hs_timestamp": record.get("started") or "", "hs_call_title": f"intervene call {record['call_id']}"
                f" ({outcome})", "hs_call_body": "\n".join(lines),
                "hs_call_duration": str(int(round(float(record.get("duration_s") or 0) * 1000))),
                "hs_call_direction": "OUTBOUND" if record.get("source") == "lead-flow" else "INBOUND",
                "hs_call_status": "COMPLETED"}

    # ---------------------------------------------------------------- deliver
    async def deliver(self, row: dict[str, Any], prior: dict[str, Any]) -> Optional[dict[str, Any]]:
        data = row["payload"] or {}
        event = row["event"]
        if event == "lead.qualified":
            cid = await self.upsert_contact(self.contact_properties(data.get("lead") or {}))
            return {"contact": cid} if cid else {"skipped": "no email or phone to find the contact by"}
        props = self.contact_properties(data.get("lead") or {})
        cid = await self.upsert_contact(props) if props else None
        call_props = self.call_properties(data)
        if prior.get("call"):
            await self.request("PATCH", f"/crm/v3/objects/calls/{prior['call']}", {"properties": call_props})
            return {"call": str(prior["call"]), **({"contact": cid} if cid else {})}
        body: dict[str, Any] = {"properties": call_props}
        if cid:
            body["associations"] = [{"to": {"id": cid}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CALL_TO_CONTACT}]}]
        _, made = await self.request("POST", "/crm/v3/objects/calls", body)
        return {"call": str(made["id"]), **({"contact": cid} if cid else {})}

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None


def _text(v: Any) -> str:
    if isinstance(v, dict) and "amount" in v:
        return f"{v['amount']:g} {v.get('currency') or ''}".strip() if isinstance(v["amount"], (int, float)) \
            else str(v["amount"])
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _clock(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


def _message(text: str) -> str:
    """HubSpot's error category and the properties it names, never its
    message: that may echo what we sent (an email, a phone) into the logs."""
    try:
        doc = json.loads(text)
    except ValueError:
        return "(not JSON)"
    if not isinstance(doc, dict):
        return "(unexpected answer)"
    names: set[str] = set()
    for e in doc.get("errors") or []:
        named = (e.get("context") or {}).get("propertyName") if isinstance(e, dict) else None
        names |= {n for n in ([named] if isinstance(named, str) else named or []) if isinstance(n, str)}
    return (f"{doc.get('category') or doc.get('errorType') or 'error'}"
            + (f" (properties: {', '.join(sorted(names))})" if names else ""))
