"""A call in a few sentences: who, what was qualified, what was corrected,
what was offered and how it ended, for the supervisor page and the CRM.

Templated from the record alone, never a model: a summary read in a CRM is
taken as fact, so every name, number and quoted word in it is one the record
holds (the lead's captured fields, the cards' KB-grounded words, the outcome
and score as stored). Anything not in the record is left out rather than
guessed; counts and durations are left out for the same reason (a derived
number is one a reader cannot find in the record)."""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, TypeGuard

# The lead's identity in Facebook's field names (as intervene.leads.intake reads them):
# the name says who, phone and e-mail are contact data, not qualification.
NAME_KEYS = ("full_name", "name")
CONTACT_KEYS = frozenset({"full_name", "name", "first_name", "last_name", "phone_number", "phone",
                          "mobile_phone", "work_phone_number", "email", "work_email"})
MAX_QUOTE = 160          # characters of one quoted card or field: a summary, not the transcript
MAX_ITEMS = 6            # cards or fields listed per sentence; the record has the rest

DELIVERY = {"spoken": "spoken into the call", "interrupted": "spoken into the call, cut short",
            "whispered": "whispered to the rep", "shown": "shown to the rep", "failed": "not delivered",
            "call-ended": "not delivered before the call ended", "pending": "not delivered"}
UNDELIVERED = {"voice": "to be spoken", "whisper": "to be whispered", "silent": "shown to the rep"}
FEEDBACK = {"used": "the rep used it", "edited": "the rep used it in their own words",
            "dismissed": "the rep dismissed it"}
OUTCOME = {"won": "won", "follow-up": "follow-up", "lost": "lost", "no-decision": "no decision",
           "unknown": "not recorded"}
OTHER = ("emotion", "momentum", "competitive", "compliance", "process")


def call_summary(record: Mapping[str, Any]) -> str:
    """The summary of one call record (formats.md section 6), one sentence a
    line. Works on any record `read_record` accepts, and on one that is
    missing optional parts (no lead, no score, an empty transcript)."""
    transcript = [u for u in _list(record.get("transcript")) if isinstance(u, Mapping)]
    cards = [iv for iv in _list(record.get("interventions")) if isinstance(iv, Mapping)]
    lines = [_who(record)]
    qualified = _qualified(record.get("lead"))
    if qualified:
        lines.append(f"Qualified: {qualified}.")
    if not transcript:
        lines.append("Nothing was transcribed.")
    corrections = [c for c in cards if c.get("category") == "accuracy"]
    if corrections:
        lines.append(f"Corrections from the KB: {_cards(corrections)}.")
    offers = [c for c in cards if c.get("category") == "opportunity"]
    if offers:
        lines.append(f"Offers suggested: {_cards(offers)}.")
    named = _named_entries(transcript, cards)
    if named:
        lines.append(f"KB entries the rep named: {', '.join(named)}.")
    others = [cat for cat in OTHER if any(c.get("category") == cat for c in cards)]
    if others:
        lines.append(f"Other cards: {', '.join(others)}.")
    if not cards:
        lines.append("No cards were raised.")
    lines.append(_outcome(record))
    return "\n".join(lines)


def _who(record: Mapping[str, Any]) -> str:
    rep, team = _clean(record.get("rep")), _clean(record.get("team"))
    lead = record.get("lead")
    lead = lead if isinstance(lead, Mapping) else {}
    whom = _lead_name(lead.get("fields")) or "the lead"
    source, campaign = _clean(lead.get("source")), _clean(lead.get("campaign"))
    origin = ", ".join(x for x in (f"{source} lead" if source else "",
                                   f"campaign {campaign}" if campaign else "") if x)
    whom += f" ({origin})" if origin else ""
    if not rep:
        return f"No rep is recorded for this call with {whom}."
    return f"Rep {rep}" + (f" (team {team})" if team else "") + f" spoke with {whom}."


def _lead_name(fields: Any) -> str:
    if not isinstance(fields, Mapping):
        return ""
    for key in NAME_KEYS:
        name = _clean(fields.get(key))
        if name:
            return _quote_cut(name)
    return " ".join(x for x in (_clean(fields.get("first_name")), _clean(fields.get("last_name"))) if x)


def _qualified(lead: Any) -> str:
    fields = lead.get("fields") if isinstance(lead, Mapping) else None
    if not isinstance(fields, Mapping):
        return ""
    items = []
    for key, value in fields.items():
        if str(key).lower() in CONTACT_KEYS:
            continue
        text = _value(value)
        if text:
            items.append(f"{_clean(str(key).replace('_', ' '))} {_quote_cut(text)}")
    return "; ".join(items[:MAX_ITEMS]) + ("; and more in the record" if len(items) > MAX_ITEMS else "")


def _value(value: Any) -> str:
    """A captured field as words: a budget {"amount": 15000, "currency": "USD"} reads `15000 USD`."""
    if value is None or isinstance(value, bool):
        return "yes" if value is True else "no" if value is False else ""
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, Mapping):
        return " ".join(t for t in (_value(v) for v in value.values()) if t)
    if isinstance(value, list):
        return ", ".join(t for t in (_value(v) for v in value) if t)
    return _clean(value)


def _cards(cards: list[Mapping[str, Any]]) -> str:
    parts = []
    for card in cards[:MAX_ITEMS]:
        said = _quote_cut(_clean(card.get("say")))
        fate = [_delivery(card)]
        feedback = card.get("feedback")
        if feedback in FEEDBACK:
            fate.append(FEEDBACK[feedback])
            words = _quote_cut(_clean(card.get("feedback_text")))
            if feedback == "edited" and words:
                fate[-1] += f": \u201c{words}\u201d"
        parts.append(f"\u201c{said}\u201d ({'; '.join(f for f in fate if f)})")
    more = "; and more in the record" if len(cards) > MAX_ITEMS else ""
    return "; ".join(parts) + more


def _delivery(card: Mapping[str, Any]) -> str:
    status = card.get("delivery")
    if isinstance(status, str) and status in DELIVERY:
        return DELIVERY[status]
    return UNDELIVERED.get(str(card.get("mode")), "")


def _named_entries(transcript: list[Mapping[str, Any]], cards: list[Mapping[str, Any]]) -> list[str]:
    """The KB entries the cards rest on whose name the rep said: what the rep
    talked about, in the KB's own ids (e.g. `standard` for the Standard plan)."""
    said = " ".join(_clean(u.get("text")).lower() for u in transcript if u.get("speaker") == "rep")
    out: list[str] = []
    for card in cards:
        for e in _list(card.get("evidence")):
            kb_id = _clean(e.get("kb_id")) if isinstance(e, Mapping) else ""
            words = [w for w in re.split(r"[-_\s]+", kb_id.lower()) if w]
            if kb_id and kb_id not in out and words and all(
                    re.search(rf"(?<!\w){re.escape(w)}(?!\w)", said) for w in words):
                out.append(kb_id)
    return out[:MAX_ITEMS]


def _outcome(record: Mapping[str, Any]) -> str:
    outcome = str(record.get("outcome") or "unknown")
    text = f"Outcome: {OUTCOME.get(outcome, _clean(outcome))}"
    detail = _clean(record.get("outcome_detail"))
    if detail:
        text += f" ({detail})"
    value = record.get("value")
    if _is_number(value):
        text += f", value {_number(value)}"
    score = record.get("score")
    total = score.get("total") if isinstance(score, Mapping) else None
    if _is_number(total):
        text += f"; rep's score {_number(total)}"
    return text + "."


def _is_number(x: Any) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _number(x: float) -> str:
    """As the record's JSON writes it, less a trailing `.0`: every digit of it is in the record."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


def _clean(x: Any) -> str:
    """Text on one line: what people said may hold line breaks and control characters."""
    if not isinstance(x, str):
        return ""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in x).split())


def _quote_cut(text: str) -> str:
    """At most MAX_QUOTE characters, cut between words so no number is cut in two."""
    if len(text) <= MAX_QUOTE:
        return text
    cut = text[:MAX_QUOTE].rsplit(" ", 1)[0] if " " in text[:MAX_QUOTE] else ""
    return (cut.rstrip(",;:") + " \u2026") if cut else text[:MAX_QUOTE] + "\u2026"


def _list(x: Any) -> Iterable[Any]:
    return x if isinstance(x, list) else []

