"""Cards as SIP MESSAGE texts on the rep's desk phone or softphone.

A card becomes one short line of plain text (`card_text`) and goes out through
ARI as an out-of-call SIP MESSAGE to the rep's endpoint (`send_message`):

    await send_message(ari, "PJSIP/rep7", card_text(card), "intervene")

What Asterisk 22 does with it (verified on the dev rig, scripts/asterisk.sh):
- `PUT /ari/endpoints/PJSIP/rep7/sendMessage` sends a MESSAGE to every
  registered contact of endpoint rep7 before the HTTP answer comes back (the
  phone has it ~0.5 ms later on loopback). Nothing in the PBX config is needed
  for Asterisk -> phone; message_context only matters for MESSAGEs phones send.
- 404 "Endpoint not found" means an unknown endpoint, or a known one with no
  registered contact (the rep's phone is offline): nothing was sent.
- The phone's 200 OK is not waited for: success means "sent", not "shown".
- `from`, `body` and `variables` travel in the JSON body (ARI accepts any
  query parameter there). They cannot go in the query string through
  `Ari.call`, whose own `body` argument is the JSON body.
- From: a full URI ("sip:intervene@pbx.example.com"), a name-addr
  ('"Intervene" <sip:intervene@pbx.example.com>') or a bare user
  ("intervene": Asterisk adds its own address, giving
  <sip:intervene@127.0.0.1> on the dev rig). An empty from would make the
  message look as if it came from the rep's own endpoint; "pjsip:..." is not
  valid there (Asterisk logs a warning and uses the endpoint's From instead).
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional
from urllib.parse import quote

from intervene.pbx.ari import AriError

LABELS = {
    "accuracy": "Factual error",
    "emotion": "Emotional shift",
    "momentum": "Stalled conversation",
    "opportunity": "Missed opportunity",
    "competitive": "Competitor",
    "compliance": "Compliance",
    "process": "Process step",
}

ELLIPSIS = "\u2026"

_TECH = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESOURCE = re.compile(r"[^/\s&,;:@<>\"'?#%]+")        # a plain endpoint name (not a dial string)
_USER = re.compile(r"[A-Za-z0-9._~+=$!*'()-]+")        # a bare SIP user part
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def _value(x: Any) -> str:
    """An Enum's value, a str as is, None as ''."""
    if x is None:
        return ""
    return str(getattr(x, "value", x))


def _one_line(s: str) -> str:
    return _SPACE.sub(" ", s).strip()


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def card_text(card: Mapping[str, Any], limit: int = 300) -> str:
    """One line of plain text for a phone screen:

        [Factual error] Say: Standard includes three years of support. | KB: Standard: 3 years ...

    The suggested words ("say"), or what was noticed ("detected") when there is
    nothing to say, then the first piece of KB evidence, if any. At most `limit`
    characters: longer text is cut at a word boundary and ends in an ellipsis."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    category = _value(card.get("category"))
    label = LABELS.get(category, category.replace("_", " ").capitalize() or "Note")
    parts = [f"[{label}]"]
    say = _one_line(_value(card.get("say")))
    detected = _one_line(_value(card.get("detected")))
    if say:
        parts.append(f"Say: {say}")
    elif detected:
        parts.append(detected)
    text = " ".join(parts)
    for ev in card.get("evidence") or ():
        kb = _one_line(_value(_get(ev, "text")))
        if kb:
            text += f" | KB: {kb}"
            break
    return _truncate(text, limit)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = text[:room]
    space = cut.rfind(" ")
    if text[room:room + 1] != " " and space > room // 2:   # not mid-word, unless one huge word
        cut = cut[:space]
    return cut.rstrip(" |:;,.-") + ELLIPSIS


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """"PJSIP/rep7" -> ("PJSIP", "rep7"). ValueError for anything else: a dial
    string with a contact or several targets, a bare name, a SIP URI."""
    tech, sep, resource = (endpoint or "").strip().partition("/")
    if not (sep and _TECH.fullmatch(tech) and _RESOURCE.fullmatch(resource)):
        raise ValueError(f"endpoint {endpoint!r}: expected TECH/RESOURCE, e.g. PJSIP/rep7")
    return tech, resource


def from_uri(sender: str) -> str:
    """The `from` ARI gets for `sender`: a bare user ("intervene") as is, for
    Asterisk to complete with its own address; "user@host" as "sip:user@host";
    a sip:/sips: URI or a name-addr ('"Name" <sip:...>') as is."""
    s = (sender or "").strip()
    if not s:
        raise ValueError("sender is empty: the message would appear to come from the rep's own phone")
    if "\n" in s or "\r" in s:
        raise ValueError(f"sender {sender!r}: must be one line")
    if s.endswith(">") and "<" in s:
        inner = s[s.rindex("<") + 1:-1]
        if not inner.lower().startswith(("sip:", "sips:")):
            raise ValueError(f"sender {sender!r}: the part in <> must be a sip: or sips: URI")
        return s
    if s.lower().startswith(("sip:", "sips:")):
        return s
    user, at, host = s.partition("@")
    if _USER.fullmatch(user) and (not at or re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", host)):
        return f"sip:{s}" if at else s
    raise ValueError(f"sender {sender!r}: give a user (intervene), user@host, a sip: URI "
                     f"or '\"Name\" <sip:user@host>'")


async def send_message(ari, endpoint: str, body: str, sender: str,
                       variables: Optional[Mapping[str, str]] = None) -> None:
    """Send `body` as an out-of-call SIP MESSAGE to `endpoint` ("PJSIP/rep7", as
    the dialplan writes it) from `sender` (see from_uri). `variables` become
    message variables (for PJSIP: extra SIP headers, e.g. {"X-Intervene": "1"}).
    Returns once Asterisk has sent it. Raises ValueError for a malformed
    endpoint or sender, AriError 404 when the endpoint is unknown or has no
    registered phone, AriUnavailable when Asterisk cannot be reached."""
    tech, resource = split_endpoint(endpoint)
    payload: dict[str, Any] = {"from": from_uri(sender), "body": body}
    if variables:
        payload["variables"] = {str(k): str(v) for k, v in variables.items()}
    path = f"/endpoints/{quote(tech, safe='')}/{quote(resource, safe='')}/sendMessage"
    try:
        await ari.call("PUT", path, body=payload)
    except AriError as e:
        if e.status == 404:
            raise AriError(404, f"PUT {path}",
                           f"{tech}/{resource} is unknown or has no registered phone: message not sent") from e
        raise
