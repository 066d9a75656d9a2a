"""Lead intake settings: `[leads]` and `[campaigns.<id>]` in the config file.

    [leads]
    # secrets: better from the environment (env wins over the file):
    # INTERVENE_FB_VERIFY_TOKEN, INTERVENE_FB_APP_SECRET, INTERVENE_FB_PAGE_TOKEN,
    # INTERVENE_GRAPH_URL, INTERVENE_LEADS_SECRET, INTERVENE_FB_CAPI_TOKEN
    graph_version = "v21.0"
    default_region = "US"          # how a number without +country code is read
    timezone = "America/Chicago"   # when the number's own zone is unknown (default: UTC)
    call_hours = "09:00-20:00"     # in the lead's local time
    call_days = "mon-sat"          # or "mon-fri,sun", "mon,wed,fri"
    max_outbound = 4               # calls out at once; more wait, they are not dropped
    dial = "PJSIP/{number}@trunk"  # {number} is E.164
    retry_s = [120, 600, 3600]     # after no answer / busy
    redial_window_s = 86400        # a number called this recently is not called again (0 = off)
    webhook_window_s = 300         # POST /webhooks/leads without `id`: its `timestamp` this close to now
    team = "sales"

    [campaigns.solar-q3]
    form_ids = ["1234567890"]      # a Lead Ads form id; or page_ids = [...]
    team = "east"
    enabled = true
    [[campaigns.solar-q3.questions]]
    id = "budget"
    ask = "What budget do you have in mind?"
    kind = "budget"                # budget | timeline | yesno | text

A Facebook lead is called only when its form or page belongs to a campaign
(or a campaign with id "default" exists): the app secret is shared by every
page that installed the app, so an unknown page must not make our phones ring.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intervene.vocab import RECORDABLE_OUTCOMES

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUESTION_KINDS = ("budget", "timeline", "yesno", "text")
ENV = {"verify_token": "INTERVENE_FB_VERIFY_TOKEN", "app_secret": "INTERVENE_FB_APP_SECRET",
       "page_token": "INTERVENE_FB_PAGE_TOKEN", "graph_url": "INTERVENE_GRAPH_URL",
       "leads_secret": "INTERVENE_LEADS_SECRET", "capi_token": "INTERVENE_FB_CAPI_TOKEN"}

DEFAULT_QUESTIONS: tuple[dict[str, str], ...] = (
    {"id": "interest", "ask": "Are you still interested in hearing about this?", "kind": "yesno"},
    {"id": "budget", "ask": "Roughly what budget do you have in mind?", "kind": "budget"},
    {"id": "timeline", "ask": "When would you like to get started?", "kind": "timeline"},
    {"id": "needs", "ask": "What matters most to you in this?", "kind": "text"},
)


@dataclass(frozen=True)
class LeadOptions:
    verify_token: str = ""            # the Verify Token typed into the app dashboard (GET handshake)
    app_secret: str = ""              # signs Facebook's POSTs (X-Hub-Signature-256); empty = refuse them
    page_token: str = ""              # Page access token with leads_retrieval: reads the lead from Graph
    graph_url: str = "https://graph.facebook.com"
    graph_version: str = "v21.0"
    graph_tries: int = 5              # per fetch: timeouts, 5xx, 429 and dropped connections are retried
    graph_backoff_s: float = 0.5      # first wait between tries, doubled each time
    fetch_retry_s: float = 300.0      # Graph still failing after all tries: try the lead again this much later
    fetch_give_up_s: float = 86400.0  # ... until it has been failing this long (then status failed)
    leads_secret: str = ""            # signs POST /webhooks/leads (our plain JSON endpoint); empty = off
    webhook_window_s: float = 300.0   # a plain lead without `id` must carry a `timestamp` this close to now
    redial_window_s: float = 86400.0  # a number called (or about to be) this recently is not called again; 0 = off
    default_region: str = "US"
    timezone: str = ""                # fallback zone when the number's zone is unknown; empty = UTC
    call_hours: str = "09:00-20:00"
    call_days: str = "mon-sat"
    max_outbound: int = 4
    dial: str = "PJSIP/{number}@trunk"
    caller_id: str = ""
    retry_s: tuple[float, ...] = (120.0, 600.0, 3600.0)
    rep_answer_s: int = 20
    team: str = ""                    # default team for leads whose campaign names none
    dataset_id: str = ""              # Conversions API dataset (pixel) id
    capi_token: str = ""
    capi_events: Mapping[str, str] = field(default_factory=lambda: {
        "won": "Purchase", "follow-up": "Lead", "lost": "Lead", "no-decision": "Lead"})

    @property
    def hours(self) -> tuple[int, int]:
        """(start, end) in minutes after local midnight; validated at load."""
        return parse_hours(self.call_hours)

    @property
    def days(self) -> frozenset[int]:
        """Allowed weekdays, Monday = 0."""
        return parse_days(self.call_days)


@dataclass(frozen=True)
class Campaign:
    id: str
    enabled: bool = True
    team: str = ""
    form_ids: tuple[str, ...] = ()
    page_ids: tuple[str, ...] = ()
    questions: tuple[dict[str, str], ...] = DEFAULT_QUESTIONS
    name: str = ""


def campaign_for(campaigns: Mapping[str, Campaign], page_id: Optional[str],
                 form_id: Optional[str]) -> Optional[Campaign]:
    """The form's campaign, else the page's, else the one with id "default";
    None means unknown (stored, not called). A disabled campaign still
    matches: its leads wait as "paused" rather than falling to the default."""
    if form_id:
        for c in campaigns.values():
            if str(form_id) in c.form_ids:
                return c
    if page_id:
        for c in campaigns.values():
            if str(page_id) in c.page_ids:
                return c
    return campaigns.get("default")


BUILTIN_CAMPAIGN = Campaign(id="default")


def lead_campaign(lead: Mapping[str, Any], campaigns: Mapping[str, Campaign]) -> Optional[Campaign]:
    """The campaign of a stored lead (a row of store/leads.py): a Facebook
    lead's is its form's or page's (or "default"); any other lead names one,
    or gets "default": the configured one, else a built-in enabled one (a
    lead typed in by hand is meant to be called). The dialler should look
    campaigns up with this too, so intake and dialling agree."""
    if lead.get("source") == "facebook":
        return campaign_for(campaigns, lead.get("page_id"), lead.get("form_id"))
    if lead.get("campaign") and lead["campaign"] != "default":
        return campaigns.get(lead["campaign"])
    return campaigns.get("default") or BUILTIN_CAMPAIGN


# ------------------------------------------------------------------ parsing
def parse_hours(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not m:
        raise ValueError(f"call_hours must look like \"09:00-20:00\", got {text!r}")
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"call_hours: not a time of day in {text!r}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start >= end:
        raise ValueError(f"call_hours: the end must be after the start (same day), got {text!r}")
    return start, end


def parse_days(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in (text or "").lower().replace(" ", "").split(","):
        a, _, b = part.partition("-")
        if a not in DAYS or (b and b not in DAYS):
            raise ValueError(f"call_days: expected days like \"mon-sat\" or \"mon,wed,fri\" "
                             f"({', '.join(DAYS)}), got {text!r}")
        i, j = DAYS.index(a), DAYS.index(b or a)
        out.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
    return frozenset(out)


def lead_options(raw: Mapping[str, Any], env: Mapping[str, str] = {}) -> LeadOptions:
    """`[leads]` checked key by key (ValueError names the key), then the
    environment's secrets on top: they win, so the file can stay world-readable."""
    if not isinstance(raw, Mapping):
        raise ValueError("must be a table")
    base = LeadOptions()
    known = {f.name: getattr(base, f.name) for f in fields(base)}
    changes: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in known:
            raise ValueError(f"unknown key `{k}` (expected one of {', '.join(sorted(known))})")
        want = known[k]
        if k == "retry_s":
            if not isinstance(v, list) or not all(_number(x) and x > 0 for x in v):
                raise ValueError(f"`retry_s` must be a list of seconds > 0, e.g. [120, 600, 3600], got {v!r}")
            v = tuple(float(x) for x in v)
        elif k == "capi_events":
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                raise ValueError(f"`capi_events` must be a table of outcome = \"EventName\", got {v!r}")
            bad = [o for o in v if o not in RECORDABLE_OUTCOMES]
            if bad:
                raise ValueError(f"`capi_events`: unknown outcome {bad[0]!r} (outcomes: {', '.join(RECORDABLE_OUTCOMES)})")
            v = dict(v)
        elif isinstance(want, bool) or not isinstance(want, (int, float, str)):
            raise AssertionError(k)
        elif isinstance(want, float):
            if not _number(v):
                raise ValueError(f"`{k}` must be a number, got {v!r}")
            v = float(v)
        elif isinstance(want, int):
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"`{k}` must be a whole number, got {v!r}")
        elif not isinstance(v, str):
            raise ValueError(f"`{k}` must be text, got {v!r}")
        changes[k] = v
    for k, var in ENV.items():
        if env.get(var):
            changes[k] = env[var]
    opts = replace(base, **changes)
    _check(opts)
    return opts


def _check(o: LeadOptions) -> None:
    parse_hours(o.call_hours)
    parse_days(o.call_days)
    import phonenumbers
    if o.default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"`default_region` must be a two-letter country code like \"US\", got {o.default_region!r}")
    if o.timezone:
        try:
            ZoneInfo(o.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"`timezone`: unknown time zone {o.timezone!r} (e.g. \"America/New_York\")")
    if "{number}" not in o.dial:
        raise ValueError(f"`dial` must contain {{number}}, e.g. \"PJSIP/{{number}}@trunk\", got {o.dial!r}")
    for k in ("max_outbound", "graph_tries", "rep_answer_s"):
        if getattr(o, k) < 1:
            raise ValueError(f"`{k}` must be at least 1")
    for k in ("graph_backoff_s", "fetch_retry_s", "fetch_give_up_s", "redial_window_s"):
        if getattr(o, k) < 0:
            raise ValueError(f"`{k}` must not be negative")
    if not o.webhook_window_s > 0:
        raise ValueError("`webhook_window_s` must be more than 0 seconds")
    if not re.fullmatch(r"v\d+\.\d+", o.graph_version):
        raise ValueError(f"`graph_version` must look like \"v21.0\", got {o.graph_version!r}")
    if not o.graph_url.startswith(("http://", "https://")):
        raise ValueError(f"`graph_url` must be an http(s) URL, got {o.graph_url!r}")


def campaign_options(cid: str, raw: Mapping[str, Any]) -> Campaign:
    """One `[campaigns.<id>]` table; ValueError names the key. Facebook ids
    may be written as numbers or strings (they are compared as strings)."""
    if not isinstance(raw, Mapping):
        raise ValueError("must be a table")
    allowed = {"enabled", "team", "form_ids", "page_ids", "questions", "name"}
    changes: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in allowed:
            raise ValueError(f"unknown key `{k}` (expected one of {', '.join(sorted(allowed))})")
        if k == "enabled":
            if not isinstance(v, bool):
                raise ValueError(f"`enabled` must be true or false, got {v!r}")
        elif k in ("team", "name"):
            if not isinstance(v, str):
                raise ValueError(f"`{k}` must be text, got {v!r}")
        elif k in ("form_ids", "page_ids"):
            if not isinstance(v, list) or not all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in v):
                raise ValueError(f"`{k}` must be a list of ids, e.g. [\"1234567890\"], got {v!r}")
            v = tuple(str(x).strip() for x in v)
        else:
            v = _questions(v)
        changes[k] = v
    return Campaign(id=cid, **changes)


def _questions(v: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(v, list):
        raise ValueError("`questions` must be a list of {id, ask, kind} tables")
    out, seen = [], set()
    for i, q in enumerate(v):
        where = f"questions[{i}]"
        if not isinstance(q, dict):
            raise ValueError(f"{where} must be a table with id, ask, kind")
        extra = set(q) - {"id", "ask", "kind"}
        if extra:
            raise ValueError(f"{where}: unknown key `{sorted(extra)[0]}` (expected id, ask, kind)")
        for key in ("id", "ask"):
            if not isinstance(q.get(key), str) or not q[key].strip():
                raise ValueError(f"{where}: `{key}` is required text")
        kind = q.get("kind", "text")
        if kind not in QUESTION_KINDS:
            raise ValueError(f"{where}: `kind` must be one of {', '.join(QUESTION_KINDS)}, got {kind!r}")
        if q["id"] in seen:
            raise ValueError(f"{where}: duplicate id {q['id']!r}")
        seen.add(q["id"])
        out.append({"id": q["id"], "ask": q["ask"], "kind": kind})
    return tuple(out)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
