"""When may a lead be called? Pure: `now` (epoch seconds) is an argument.

Calling hours and days are the lead's local ones. The zone comes from the
number (phonenumbers' prefix map). A number can map to several zones (a UK
mobile: London, Jersey, ...; a US toll-free number: every US zone); we then
call only when it is inside the hours in ALL of them: a lead is never rung
at 7 am because part of their country is already at 9. A number with no
known zone, or whose zones never share an opening (a US toll-free number
maps to every zone from Guam to Newfoundland), uses [leads] timezone, else
UTC, and the reason says so.

Order of the checks, first that applies wins:
    DNC                   -> never (status dnc)
    no usable number      -> never (status no-phone)
    no campaign           -> never (status unknown-campaign)
    campaign disabled     -> never (status paused): kept, and made ready again
                             when the campaign is enabled (LeadIntake.resume)
    outside hours / days  -> later, at the next moment inside them in every zone
    max_outbound reached  -> later, now + 1 s (queued, never dropped)
    otherwise             -> now
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intervene.config.leads import DAYS, Campaign, LeadOptions

SEARCH_DAYS = 8          # a whole week and a day: every allowed weekday comes round


@dataclass(frozen=True)
class Decision:
    kind: Literal["now", "later", "never"]
    at: float            # when: now for "now"/"never", the next opening for "later"
    reason: str
    status: str = "ready"    # what the lead's status should be: ready, dnc, no-phone, unknown-campaign, paused


def lead_zones(phone_e164: Optional[str], options: LeadOptions) -> tuple[list[str], str]:
    """The lead's candidate zones, and a note when we fell back."""
    zones: list[str] = []
    if phone_e164:
        import phonenumbers
        from phonenumbers import timezone as pn_tz
        try:
            num = phonenumbers.parse(phone_e164, None)
            zones = [z for z in pn_tz.time_zones_for_number(num) if _zone(z) is not None]
        except phonenumbers.NumberParseException:
            zones = []
    if zones:
        return zones, ""
    if options.timezone:
        return [options.timezone], f"zone of {phone_e164 or 'the number'} unknown, using {options.timezone}"
    return ["UTC"], f"zone of {phone_e164 or 'the number'} unknown and no [leads] timezone, using UTC"


def decide(lead_phone_e164: Optional[str], campaign: Optional[Campaign], options: LeadOptions, dnc: bool,
           active_outbound: int, now: float) -> Decision:
    if dnc:
        return Decision("never", now, "on the do-not-call list", "dnc")
    if not lead_phone_e164:
        return Decision("never", now, "no usable phone number", "no-phone")
    if campaign is None:
        return Decision("never", now, "its page/form is in no campaign", "unknown-campaign")
    if not campaign.enabled:
        return Decision("never", now, f"campaign {campaign.id} is paused", "paused")
    zones, note = lead_zones(lead_phone_e164, options)
    start, end = options.hours
    days = options.days
    if not all(_inside(now, z, start, end, days) for z in zones):
        at = next_opening(now, zones, start, end, days)
        if at is None:                      # the zones never share an opening (a toll-free number): fall back
            fallback = options.timezone or "UTC"
            note = _join(f"no common calling hours in its {_names(zones)}, using {fallback}", note)
            zones = [fallback]
            at = now if _inside(now, fallback, start, end, days) else next_opening(now, zones, start, end, days)
        if at is not None and at > now:
            local = datetime.fromtimestamp(at, _zone(zones[0]))
            return Decision("later", at, _join(f"outside calling hours ({options.call_hours} {options.call_days}) "
                                                f"in {_names(zones)}; opens {local:%a %H:%M} {zones[0]}", note))
    if active_outbound >= options.max_outbound:
        return Decision("later", now + 1.0, _join(f"{active_outbound} calls already out "
                                                   f"(max_outbound {options.max_outbound})", note))
    return Decision("now", now, _join("inside calling hours", note))


def next_opening(now: float, zones: list[str], start: int, end: int, days: frozenset[int]) -> Optional[float]:
    """The first moment after `now` inside the hours in every zone, or None
    when there is none within SEARCH_DAYS. Only openings can start a common
    window, so those are the candidates to check."""
    candidates: list[float] = []
    for z in zones:
        tz = _zone(z)
        day0 = datetime.fromtimestamp(now, tz).date()
        for d in range(SEARCH_DAYS + 1):
            day = day0 + timedelta(days=d)
            if day.weekday() not in days:
                continue
            local = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=start)
            # wall clock -> instant; a DST gap moves an opening forward, never skips the day
            t = local.astimezone(timezone.utc).timestamp()
            if t > now:
                candidates.append(t)
    for t in sorted(set(candidates)):
        if all(_inside(t, z, start, end, days) for z in zones):
            return t
    return None


def _inside(t: float, zone: str, start: int, end: int, days: frozenset[int]) -> bool:
    local = datetime.fromtimestamp(t, _zone(zone))
    minute = local.hour * 60 + local.minute
    return local.weekday() in days and start <= minute < end


def _zone(name: str) -> Optional[ZoneInfo]:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _names(zones: list[str]) -> str:
    return ", ".join(zones) if len(zones) <= 3 else f"{len(zones)} zones ({', '.join(zones[:2])}, ...)"


def _join(reason: str, note: str) -> str:
    return f"{reason} ({note})" if note else reason


def day_names(days: frozenset[int]) -> str:
    return ",".join(DAYS[d] for d in sorted(days))
