"""What the rep hears privately as they join: who the lead is and what they want.

Pure: built from the key=value arguments the dialplan passed with the call
and the KB, or from what the lead flow's assistant learnt on the call. Short
on purpose - the lead is waiting. Both briefings are worded here, so the rep
hears one voice whichever way the call came in.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

from intervene.nlp.redact import mask_phone
from intervene.vocab import KnowledgeBase, Product

# keys the dialplan may pass, beyond rep/team/lead (anything else is read out as "key: value")
_KNOWN = ("name", "source", "campaign", "interest", "budget", "timeline", "notes")
_SKIP = {"rep", "team", "lead", "profile", "mode", "kb"}
_OPENING = "Here's your briefing."
_WRITTEN_DATE = re.compile(r"\s*\(\d{4}-\d{2}-\d{2}[^)]*\)")     # an ISO date in brackets, for the eye


def _about_to_speak(who: str) -> str:
    return f"You're about to speak with {who}."


def _spoken_number(s: str) -> str:
    """A phone number read digit by digit, not as "five billion"."""
    digits = re.sub(r"\D", "", s)
    return " ".join(digits) if len(digits) >= 5 else s


def briefing_text(args: Mapping[str, str], kb: Optional[KnowledgeBase] = None, heard: str = "") -> str:
    """`heard`: what the lead already said on this call (the AI flow), if any."""
    who = args.get("name") or (f"caller {_spoken_number(args['lead'])}" if args.get("lead") else "a new lead")
    parts = [f"{_OPENING} {_about_to_speak(who)}"]
    src = args.get("campaign") or args.get("source")
    if src:
        parts.append(f"They came from {src}.")
    interest = args.get("interest")
    if interest:
        line = f"They're interested in {interest}."
        product = _product(kb, interest)
        if product is not None and product.price:
            line = f"They're interested in {product.name}, which is {product.price}."
        parts.append(line)
    for key in ("budget", "timeline"):
        if args.get(key):
            parts.append(f"{key.capitalize()}: {args[key]}.")
    if args.get("notes"):
        parts.append(f"Notes: {args['notes'].rstrip('.')}.")
    for k, v in args.items():
        if k not in _KNOWN and k not in _SKIP and v:
            parts.append(f"{k.replace('_', ' ')}: {v}.")
    if heard:
        parts.append(f"So far they said: {heard.strip()}")
    return " ".join(parts)


def handoff_briefing(name: str, summary: str) -> tuple[str, str]:
    """The lead flow's briefing, from what the assistant learnt on the call
    (`summary`): (written, for the rep's screen as their phone rings;
    spoken, for the rep alone before they join - dates are for reading, not hearing)."""
    written = f"{_about_to_speak(name)} {summary}"
    return written, f"{_OPENING} {_WRITTEN_DATE.sub('', written)}"


def _product(kb: Optional[KnowledgeBase], interest: str) -> Optional[Product]:
    if kb is None:
        return None
    want = interest.lower()
    for p in kb.products:
        if p.name.lower() in want or p.id in want or any(a.lower() in want for a in p.aliases):
            return p
    return None


def rep_name(args: Mapping[str, str]) -> Optional[str]:
    """The rep's name for config and records: `rep=PJSIP/rep7` -> "rep7"."""
    return args.get("rep", "").rsplit("/", 1)[-1] or None


def parse_args(raw: list[str]) -> dict[str, str]:
    """Stasis(intervene,rep=PJSIP/rep1,team=sales,lead=+15551234,name=Jane Doe) -> dict.
    A bare value (no `=`) is taken positionally as rep, team, lead."""
    out: dict[str, str] = {}
    positional = ["rep", "team", "lead"]
    for item in raw:
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip().lower()] = v.strip()
        elif item.strip() and positional:
            out[positional.pop(0)] = item.strip()
    return out


# what a log line may show of the dialplan's arguments: these, with their digits masked; the rest
# (names, notes, what the lead wants) by key only - personal data stays out of the logs
_LOGGABLE = ("rep", "team", "lead", "profile", "mode", "kb")


def args_for_log(args: Mapping[str, str]) -> str:
    """The call's arguments for a log line: `rep=PJSIP/rep7, lead=+*********67, name`."""
    return ", ".join(f"{k}={mask_phone(v)}" if k in _LOGGABLE else k for k, v in args.items())
