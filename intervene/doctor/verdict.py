"""What `intervene doctor` concludes from what it saw: pure functions from
ARI's JSON (and a few figures) to one verdict line each, and how the lines
are printed. Kept apart from the probing so every verdict is tested on
canned answers, without an Asterisk."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Iterable, Mapping, Optional, Sequence

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"

MIN_ASTERISK = 22          # README / asterisk/README.md: "Asterisk (22 or later)"
CLOCK_MAX_S = 2.0          # call times, lease expiries and the screens' timers assume one clock

# What the service uses on Asterisk, and why (asterisk/modules.conf lists the same).
# Missing one of these breaks calls: a failure.
REQUIRED_MODULES: dict[str, str] = {
    "res_ari.so": "ARI itself",
    "res_ari_model.so": "ARI's request and event models",
    "res_ari_applications.so": "ARI /applications (event subscriptions)",
    "res_ari_bridges.so": "ARI /bridges (the call's bridge, taps, playback)",
    "res_ari_channels.so": "ARI /channels (answer, ring the rep, snoop, externalMedia)",
    "res_ari_endpoints.so": "ARI /endpoints (the reps' phones)",
    "res_ari_events.so": "ARI's events websocket (the service's view of every call)",
    "res_ari_playbacks.so": "ARI /playbacks (stopping a prompt on barge-in)",
    "res_stasis.so": "Stasis, ARI's engine",
    "app_stasis.so": "the Stasis() dialplan application the hook calls",
    "res_stasis_snoop.so": "per-party taps and whispering to the rep",
    "res_stasis_playback.so": "playing the assistant's voice",
    "res_stasis_answer.so": "answering the lead's channel",
    "chan_websocket.so": "externalMedia over websocket: each party's audio",
    "res_http_websocket.so": "websockets on Asterisk's HTTP server (events, media)",
    "res_http_media_cache.so": "fetching sound:http://... clips from the service",
    "res_curl.so": "the HTTP client res_http_media_cache fetches with",
    "format_wav.so": "playing the service's WAV clips",
    "bridge_softmix.so": "mixing bridges (lead, rep, assistant)",
    "chan_bridge_media.so": "playing media into a bridge",
    "chan_pjsip.so": "SIP phones and trunks",
    "res_pjsip.so": "SIP",
    "res_pjsip_session.so": "SIP calls",
    "res_rtp_asterisk.so": "RTP media",
    "codec_ulaw.so": "G.711 u-law",
    "codec_resample.so": "16 kHz audio for the taps (slin16)",
}
# Missing one of these loses a feature but not the calls: a warning.
OPTIONAL_MODULES: dict[str, str] = {
    "res_musiconhold.so": "hold music while the rep is briefed",
    "res_pjsip_messaging.so": "cards sent to reps' phones as SIP MESSAGE",
    "bridge_simple.so": "two-party bridges",
    "codec_g722.so": "G.722 (HD) phones",
    "res_ari_asterisk.so": "this doctor's version, module and clock checks",
}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the verdict, and the fix when it is not a pass."""
    name: str
    status: str
    detail: str
    fix: str = ""
    seconds: Optional[float] = None


def skipped(name: str, needs: str = "ARI") -> Check:
    return Check(name, SKIP, f"skipped (needs {needs})")


# ---------------------------------------------------------------- verdicts
def version_check(info: Mapping[str, Any], name: str = "Asterisk version") -> Check:
    """`GET /asterisk/info` -> the version verdict (22 or later)."""
    version = str(((info.get("system") or {}).get("version")) or "")
    m = re.match(r"\D*(\d+)\.", version) or re.match(r"\D*(\d+)$", version)
    if not m:
        return Check(name, WARN, f"cannot read the version from {version or 'an empty answer'!r}",
                     f"make sure this is Asterisk {MIN_ASTERISK} or later")
    major = int(m.group(1))
    if major < MIN_ASTERISK:
        return Check(name, FAIL, f"Asterisk {version}: intervene needs {MIN_ASTERISK} or later "
                                 f"(chan_websocket media channels, ARI externalMedia over websocket)",
                     f"upgrade Asterisk to {MIN_ASTERISK} LTS or later")
    return Check(name, PASS, f"Asterisk {version}")


def modules_check(modules: Iterable[Mapping[str, Any]], name: str = "modules") -> Check:
    """`GET /asterisk/modules` -> are the modules the service needs running?"""
    running = {str(m.get("name")) for m in modules if str(m.get("status", "")).lower() == "running"}
    missing = [m for m in REQUIRED_MODULES if m not in running]
    optional = [m for m in OPTIONAL_MODULES if m not in running]
    if missing:
        what = "; ".join(f"{m} ({REQUIRED_MODULES[m]})" for m in missing)
        more = f" (also missing, optional: {', '.join(optional)})" if optional else ""
        return Check(name, FAIL, f"not loaded: {what}{more}", _load_fix(missing))
    if optional:
        what = "; ".join(f"{m} ({OPTIONAL_MODULES[m]})" for m in optional)
        return Check(name, WARN, f"all {len(REQUIRED_MODULES)} needed modules running; not loaded (optional): {what}",
                     _load_fix(optional))
    return Check(name, PASS, f"all {len(REQUIRED_MODULES) + len(OPTIONAL_MODULES)} modules intervene uses are running")


def _load_fix(names: Sequence[str]) -> str:
    cmds = "; ".join(f"asterisk -rx 'module load {m}'" for m in names)
    return (f"load {'it' if len(names) == 1 else 'them'} ({cmds}) and remove any `noload => ` line for "
            f"{'it' if len(names) == 1 else 'them'} from modules.conf (see asterisk/modules.conf)")


def apps_check(apps: Iterable[Mapping[str, Any]], app: str, name: str = "Stasis app") -> Check:
    """`GET /applications` -> is this worker's app connected, i.e. is `intervene serve` running?

    Not connected is a warning, not a failure: the set-up is not wrong (doctor
    is run before the service's first start and while it is stopped), and the
    dialplan hook falls back to ringing the rep directly. `--strict` makes
    it count (monitoring wants the service up)."""
    names = sorted(str(a.get("name")) for a in apps)
    if app in names:
        return Check(name, PASS, f"app {app!r} is connected (intervene serve is running)")
    others = f" (connected apps: {', '.join(names)})" if names else ""
    return Check(name, WARN, f"app {app!r} is not registered: intervene serve is not running, or runs with another "
                             f"app name{others}; meanwhile Stasis({app}) fails at once and calls go to the rep "
                             f"unmonitored",
                 f"start the service (systemctl start intervene), and check that [serve] app / --app "
                 f"matches the dialplan's Stasis({app},...)")


def clock_check(date_header: Optional[str], sent: float, received: float, name: str = "clock") -> Check:
    """Asterisk's HTTP `Date` (whole seconds) against this machine's clock at
    the middle of the request. The header truncates to the second, so its
    middle (+0.5 s) is compared."""
    if not date_header:
        return Check(name, WARN, "Asterisk sent no Date header: cannot compare clocks",
                     "check by hand that chrony/ntp runs on both machines")
    try:
        theirs = parsedate_to_datetime(date_header).timestamp() + 0.5
    except (TypeError, ValueError):
        return Check(name, WARN, f"cannot read Asterisk's Date header {date_header!r}",
                     "check by hand that chrony/ntp runs on both machines")
    offset = theirs - (sent + received) / 2
    rtt = received - sent
    if abs(offset) - rtt / 2 > CLOCK_MAX_S:
        ahead = "ahead of" if offset > 0 else "behind"
        return Check(name, FAIL, f"Asterisk's clock is {abs(offset):.1f} s {ahead} this machine's "
                                 f"(more than {CLOCK_MAX_S:g} s)",
                     "run chrony (or ntp / systemd-timesyncd) on both machines so they agree")
    return Check(name, PASS, f"in step with Asterisk ({abs(offset):.1f} s apart; Date has whole seconds, "
                             f"limit {CLOCK_MAX_S:g} s)")


def endpoint_parts(endpoint: str) -> Optional[tuple[str, str]]:
    """"PJSIP/rep7" (a rep's phone as the dialplan dials it) -> ("PJSIP", "rep7")."""
    tech, sep, rest = endpoint.strip().partition("/")
    resource = re.split(r"[/@]", rest, maxsplit=1)[0] if sep else ""
    return (tech, resource) if tech and resource else None


def endpoints_check(endpoints: Iterable[Mapping[str, Any]], reps: Mapping[str, str], only_present: bool = False,
                    name: str = "rep phones") -> Check:
    """`GET /endpoints` -> is a rep's phone registered?

    `reps` maps a user's login to their phone ("PJSIP/rep7"). With reps: at
    least one online and none unknown to Asterisk (a typo in /admin or in
    pjsip.conf) passes. Without: any PJSIP endpoint online passes. Nobody
    online fails, since the service could not ring anyone. `only_present`:
    several Asterisk servers, where a phone missing here may be on another."""
    state = {(str(e.get("technology", "")).upper(), str(e.get("resource", ""))): str(e.get("state", ""))
             for e in endpoints}
    if not reps:
        online = sorted(f"{t}/{r}" for (t, r), s in state.items() if t == "PJSIP" and s == "online")
        if online:
            shown = ", ".join(online[:5]) + (f" and {len(online) - 5} more" if len(online) > 5 else "")
            return Check(name, PASS, f"{len(online)} PJSIP endpoint(s) online ({shown}); no rep has a phone "
                                     f"set in /admin, so any may be rung")
        return Check(name, FAIL, f"no PJSIP endpoint is registered ({len(state)} known, none online)",
                     "register a rep's phone with Asterisk (its SIP user and password as in pjsip.conf), "
                     "and give each rep their phone on /admin (e.g. PJSIP/rep7)")
    online, offline, unknown = [], [], []
    for login, ep in sorted(reps.items()):
        parts = endpoint_parts(ep)
        st = state.get((parts[0].upper(), parts[1])) if parts else None
        label = f"{ep} ({login})"
        if st is None:
            if not only_present:
                unknown.append(label)
        elif st == "online":
            online.append(label)
        else:
            offline.append(label)
    if unknown:
        return Check(name, FAIL, f"not an endpoint on this Asterisk: {', '.join(unknown)}",
                     "fix the rep's phone on /admin (as the dialplan dials it, e.g. PJSIP/rep7), or add the "
                     "endpoint to pjsip.conf")
    if online:
        rest = f"; offline: {', '.join(offline)}" if offline else ""
        return Check(name, PASS, f"{len(online)} of {len(online) + len(offline)} reps' phones registered "
                                 f"({', '.join(online[:5])}){rest}")
    if not offline:          # several servers, none of the reps' phones on this one
        return Check(name, PASS, "none of the reps' phones is on this Asterisk")
    return Check(name, FAIL, f"none of the reps' phones is registered: {', '.join(offline)}",
                 "register the phones with Asterisk (check each phone's SIP user and password against "
                 "pjsip.conf; `pjsip show contacts` lists who is registered)")


# -------------------------------------------------------------- reporting
MARK = {PASS: "PASS", WARN: "WARN", FAIL: "FAIL", SKIP: "SKIP"}


def format_check(c: Check) -> list[str]:
    took = f" [{c.seconds:.1f} s]" if c.seconds is not None else ""
    lines = [f"{MARK.get(c.status, c.status.upper()):<4}  {c.name}: {c.detail}{took}"]
    if c.fix and c.status in (FAIL, WARN):
        lines.append(f"      fix: {c.fix}")
    return lines


def exit_code(checks: Sequence[Check], strict: bool = False) -> int:
    """1 when anything failed (with `strict`, a warning too), else 0."""
    bad = {FAIL, WARN} if strict else {FAIL}
    return 1 if any(c.status in bad for c in checks) else 0


def summary(checks: Sequence[Check]) -> str:
    n = {s: sum(c.status == s for c in checks) for s in (PASS, WARN, FAIL, SKIP)}
    return (f"doctor: {n[PASS]} passed, {n[WARN]} warning(s), {n[FAIL]} failed"
            + (f", {n[SKIP]} skipped" if n[SKIP] else ""))


def to_json(checks: Sequence[Check], strict: bool = False) -> str:
    return json.dumps({"ok": exit_code(checks, strict) == 0,
                       "checks": [{k: round(v, 3) if k == "seconds" else v for k, v in asdict(c).items()
                                   if v not in ("", None)} for c in checks]})
