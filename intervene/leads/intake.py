"""What arrives, checked and read: webhook signatures, Facebook's leadgen
notifications, Graph's lead objects, phone numbers, and our plain JSON lead.

Pure functions, no I/O: the HTTP side (leads/web.py) feeds them bytes and
dicts and stores what they return. Anything malformed is an IntakeError
whose message names what is wrong, because it goes back to whoever sent it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional

import phonenumbers

from intervene.errors import InterveneError

NAME_KEYS = ("full_name", "name")
PHONE_KEYS = ("phone_number", "phone", "mobile_phone", "work_phone_number")
EMAIL_KEYS = ("email", "work_email")
MAX_DEPTH = 32            # Facebook's notifications nest 5 deep; a body nested deeper is refused before parsing
CALLER_NAME_MAX = 40      # characters of a lead's name put in a caller ID


class IntakeError(InterveneError, ValueError):
    """A payload we cannot take; the message says why (sent back with a 400)."""


@dataclass(frozen=True)
class LeadgenChange:
    """One `leadgen` change of a Page webhook: a form was submitted."""
    leadgen_id: str
    page_id: Optional[str]
    form_id: Optional[str]
    ad_id: Optional[str] = None
    adgroup_id: Optional[str] = None
    created_time: Optional[int] = None
    value: Optional[dict[str, Any]] = None     # the change's value as sent, kept with the lead


@dataclass(frozen=True)
class PlainLead:
    name: str
    phone: str
    email: Optional[str] = None
    campaign: Optional[str] = None
    fields: Optional[dict[str, str]] = None
    id: Optional[str] = None                   # the sender's own id: a resend is recognised
    timestamp: Optional[float] = None          # when the sender signed it (epoch s): required without `id`


# ------------------------------------------------------------- signatures
def sign(secret: str, raw: bytes) -> str:
    """The header value a sender puts on `raw`: "sha256=<hex HMAC-SHA256>"."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify_signature(secret: str, raw: bytes, header: Optional[str]) -> bool:
    """X-Hub-Signature-256 (or ours): "sha256=" + hex HMAC-SHA256 of the raw
    body with the secret. Constant-time; False when the secret is not set,
    or the header is missing or malformed."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    got = header[len("sha256="):].strip().lower()
    if len(got) != 64 or any(c not in "0123456789abcdef" for c in got):
        return False
    want = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, got)


# ------------------------------------------------------------------- json
def loads(raw: bytes) -> Any:
    """JSON from a webhook body, or an IntakeError saying what is wrong.
    Stricter than json.loads where a signed but hostile body could hurt:
    nesting deeper than MAX_DEPTH (json.loads would recurse until
    RecursionError), NaN, Infinity and numbers that overflow to infinity
    (1e999: nothing can store or compare them), and lone surrogates
    (SQLite cannot store them)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IntakeError(f"not valid JSON: not UTF-8 ({e.reason} at byte {e.start})")
    depth = _depth(text)
    if depth > MAX_DEPTH:
        raise IntakeError(f"not valid JSON: nested {depth} deep (at most {MAX_DEPTH})")
    try:
        obj = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        json.dumps(obj, ensure_ascii=False).encode("utf-8")       # lone surrogates raise here
    except IntakeError:
        raise
    except UnicodeEncodeError:
        raise IntakeError("not valid JSON: a string holds a lone surrogate (\\ud800-\\udfff)")
    except (ValueError, RecursionError) as e:          # huge integers are a ValueError too
        raise IntakeError(f"not valid JSON: {e}")
    return obj


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[^\[\]{}]+")


def _depth(text: str) -> int:
    """How deep brackets nest outside strings (a wrong count only lets
    json.loads name the error)."""
    bare = _BRACKETS.sub("", _STRINGS.sub("", text))
    depth = deepest = 0
    for c in bare:
        depth += 1 if c in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> Any:
    raise IntakeError(f"not valid JSON: {name} is not a number JSON allows")


def _finite(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise IntakeError(f"not valid JSON: the number {text[:40]} is too large")
    return x


# ---------------------------------------------------------------- webhook
def parse_leadgen(payload: Any) -> list[LeadgenChange]:
    """The leadgen changes of a Page webhook, in order; other fields'
    changes (a page subscribed to more than leads) are skipped."""
    if not isinstance(payload, dict):
        raise IntakeError("expected a JSON object")
    if payload.get("object") != "page":
        raise IntakeError(f"`object` must be \"page\", got {payload.get('object')!r}")
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        raise IntakeError("`entry` must be a non-empty list")
    out: list[LeadgenChange] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise IntakeError(f"entry[{i}] must be an object")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise IntakeError(f"entry[{i}].changes must be a list")
        for j, ch in enumerate(changes):
            where = f"entry[{i}].changes[{j}]"
            if not isinstance(ch, dict):
                raise IntakeError(f"{where} must be an object")
            if ch.get("field") != "leadgen":
                continue
            v = ch.get("value")
            if not isinstance(v, dict):
                raise IntakeError(f"{where}.value must be an object")
            lid = _id(v.get("leadgen_id"))
            if not lid:
                raise IntakeError(f"{where}.value: missing leadgen_id")
            created = v.get("created_time")
            if isinstance(created, float) and not math.isfinite(created):
                created = None
            out.append(LeadgenChange(
                leadgen_id=lid, page_id=_id(v.get("page_id")) or _id(entry.get("id")),
                form_id=_id(v.get("form_id")), ad_id=_id(v.get("ad_id")), adgroup_id=_id(v.get("adgroup_id")),
                created_time=int(created) if isinstance(created, (int, float)) and not isinstance(created, bool)
                else None, value=v))
    return out


def _id(v: Any) -> Optional[str]:
    """Facebook ids arrive as strings, sometimes as numbers: always text here."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, str)):
        s = str(v).strip()
        return s or None
    return None


# ------------------------------------------------------------------ graph
def lead_from_graph(obj: Any) -> tuple[Optional[str], Optional[str], Optional[str], dict[str, str]]:
    """(name, phone as typed, email, every answer) from a Graph lead object.
    `fields` keeps every form answer by its field name, custom questions
    included (several values joined with ", ")."""
    if not isinstance(obj, dict):
        raise IntakeError("Graph lead: expected a JSON object")
    data = obj.get("field_data")
    if not isinstance(data, list):
        raise IntakeError("Graph lead: missing field_data")
    fields: dict[str, str] = {}
    for f in data:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        vals = f.get("values")
        vals = vals if isinstance(vals, list) else [vals] if vals is not None else []
        fields[f["name"]] = ", ".join(str(x) for x in vals if x is not None and str(x).strip())
    name = first_field(fields, NAME_KEYS)
    if not name:
        name = " ".join(x for x in (fields.get("first_name", "").strip(), fields.get("last_name", "").strip()) if x)
    return name or None, first_field(fields, PHONE_KEYS), first_field(fields, EMAIL_KEYS), fields


def first_field(fields: Mapping[str, Any], keys: tuple[str, ...]) -> Optional[str]:
    """The first of `keys` the lead's fields fill with text (the CRM reads them the same way)."""
    for k in keys:
        v = fields.get(k)
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


# ------------------------------------------------------------------ phone
def normalize_phone(raw: Optional[str], region: str = "US") -> tuple[Optional[str], str]:
    """(E.164, "") for a number we can dial, else (None, why not). A number
    without a country code is read as `region`'s."""
    if raw is None or not str(raw).strip():
        return None, "no phone number given"
    text = str(raw).strip()
    try:
        num = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as e:
        return None, f"not a phone number: {text!r} ({_parse_error(e)})"
    if not phonenumbers.is_possible_number(num):
        why = {phonenumbers.ValidationResult.TOO_SHORT: "too short",
               phonenumbers.ValidationResult.TOO_LONG: "too long",
               phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code"}.get(
            phonenumbers.is_possible_number_with_reason(num), "impossible length")
        return None, f"not a possible phone number: {text!r} ({why})"
    if not phonenumbers.is_valid_number(num):
        return None, f"not a valid phone number: {text!r} (no such number range in {_region(num)})"
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), ""


def _parse_error(e: phonenumbers.NumberParseException) -> str:
    return {0: "unknown country code", 1: "not a number", 2: "too short",
            3: "too short", 4: "too long"}.get(e.error_type, str(e))


def _region(num: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.region_code_for_number(num) or f"+{num.country_code}"


# ------------------------------------------------------------- caller id
_SIP_SPECIAL = set('"<>\\;,:@=&%?[]{}|^`\'')


def caller_name(name: Any, fallback: str = "Lead") -> str:
    """A lead's name as it may go into a caller ID (ARI's callerId, the SIP
    display name): letters, digits, spaces, '.', '-' and an apostrophe only.
    Control characters, line breaks and everything SIP or Asterisk's
    caller-ID parser reads (quotes, <, >, backslash, ;, :, @ ...) are taken
    out, whitespace collapsed, and the result cut to CALLER_NAME_MAX."""
    out = []
    for ch in unicodedata.normalize("NFKC", "" if name is None else str(name)):
        cat = unicodedata.category(ch)
        if ch in "'.-" or (cat[0] in "LNM" and ch not in _SIP_SPECIAL):
            out.append(ch)
        elif cat[0] == "Z" or ch in "\t\r\n_":
            out.append(" ")
    text = " ".join("".join(out).split())[:CALLER_NAME_MAX].strip(" .-'")
    return text or fallback


# ------------------------------------------------------------------ plain
def parse_plain(payload: Any) -> PlainLead:
    """Our own lead format, for forms and tools that are not Facebook:
    {"name", "phone", "email"?, "campaign"?, "fields"?: {question: answer}, "id"?, "timestamp"?}.
    A lead without `id` must carry `timestamp` (when it was sent: epoch
    seconds, or ISO 8601 with a zone), which the signature covers, so a
    captured body cannot be posted again later (the webhook checks the window)."""
    if not isinstance(payload, dict):
        raise IntakeError("expected a JSON object")
    allowed = {"name", "phone", "email", "campaign", "fields", "id", "timestamp"}
    extra = sorted(set(payload) - allowed)
    if extra:
        raise IntakeError(f"unknown key `{extra[0]}` (expected {', '.join(sorted(allowed))})")
    for key in ("name", "phone"):
        v = payload.get(key)
        if not isinstance(v, str) or not v.strip():
            raise IntakeError(f"`{key}` is required text")
        if len(v) > 200:
            raise IntakeError(f"`{key}`: at most 200 characters")
    for key in ("email", "campaign"):
        v = payload.get(key)
        if v is not None and (not isinstance(v, str) or len(v) > 200):
            raise IntakeError(f"`{key}` must be text of at most 200 characters")
    lid = payload.get("id")
    if lid is not None and (not isinstance(lid, (str, int)) or isinstance(lid, bool) or not str(lid).strip()
                            or len(str(lid)) > 200):
        raise IntakeError("`id` must be your lead's id: text or a number")
    fields = payload.get("fields")
    if fields is not None:
        if not isinstance(fields, dict):
            raise IntakeError("`fields` must be an object of question = answer")
        for k, v in fields.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise IntakeError(f"fields.{k}: the answer must be text or a number")
        fields = {str(k): str(v) for k, v in fields.items()}
    ts = _timestamp(payload.get("timestamp"))
    if lid is None and ts is None:
        raise IntakeError("a lead without `id` needs `timestamp` (when you sent it: epoch seconds or an ISO date): "
                          "without either, a copy of the request could be sent again")
    return PlainLead(name=payload["name"].strip(), phone=payload["phone"].strip(),
                     email=(payload.get("email") or "").strip() or None,
                     campaign=(payload.get("campaign") or "").strip() or None, fields=fields or None,
                     id=str(lid).strip() if lid is not None else None, timestamp=ts)


def _timestamp(v: Any) -> Optional[float]:
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0:
        return float(v)
    if isinstance(v, str) and len(v) <= 40:
        try:
            when = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return when.timestamp()
    raise IntakeError("`timestamp` must be epoch seconds or ISO 8601 with a zone, e.g. \"2025-06-04T15:00:00Z\"")
