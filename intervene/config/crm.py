"""CRM write-back settings: `[crm]`, `[[crm.webhook]]` and `[crm.hubspot]`.

    [crm]
    max_attempts = 10              # then a delivery is `failed` (4xx refusals fail at once)
    retry_base_s = 5               # exponential backoff: 5, 10, 20 ... seconds, with jitter
    retry_max_s = 3600             # ... never longer than this

    [[crm.webhook]]
    url = "https://crm.example.com/hooks/intervene"
    secret_env = "INTERVENE_CRM_WEBHOOK_SECRET"   # or secret = "..." (the environment is better)
    events = ["call.ended", "call.outcome", "lead.qualified"]
    timeout_s = 10
    name = "zapier"                # optional: the target's name in the outbox and the logs

    [crm.hubspot]
    token_env = "HUBSPOT_TOKEN"    # a private app's access token, from the environment only
    events = ["call.ended", "call.outcome", "lead.qualified"]
    base_url = "https://api.hubapi.com"
    [crm.hubspot.properties]       # captured fields into custom contact properties you created
    budget = "budget_range"

Secrets are read from the environment here, once; a secret that is named
but missing is reported when the service starts (leads/crm.py), not when
any other command reads the config. Errors are ValueError naming the key;
the loader adds the file and section.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

EVENTS = ("call.ended", "call.outcome", "lead.qualified")
HUBSPOT_URL = "https://api.hubapi.com"
HUBSPOT_TARGET = "hubspot"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROPERTY = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    events: tuple[str, ...] = EVENTS
    secret: str = field(default="", repr=False)   # resolved: the file's, or the environment's (secret_env)
    secret_env: str = ""
    timeout_s: float = 10.0
    name: str = ""

    @property
    def target(self) -> str:
        """The target's id in the outbox and the logs: its name, or a hash of
        the URL (the URL itself may carry a token, as Zapier's do)."""
        return self.name or "webhook-" + hashlib.sha256(self.url.encode("utf-8")).hexdigest()[:10]

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "?"


@dataclass(frozen=True)
class HubSpotOptions:
    token_env: str = "HUBSPOT_TOKEN"
    token: str = field(default="", repr=False)    # resolved from the environment
    events: tuple[str, ...] = EVENTS
    base_url: str = HUBSPOT_URL
    timeout_s: float = 20.0
    properties: tuple[tuple[str, str], ...] = ()  # captured field -> contact property


@dataclass(frozen=True)
class CrmOptions:
    webhooks: tuple[WebhookTarget, ...] = ()
    hubspot: Optional[HubSpotOptions] = None
    max_attempts: int = 10
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0

    @property
    def any(self) -> bool:
        return bool(self.webhooks) or self.hubspot is not None

    def wants(self, event: str) -> bool:
        return any(event in w.events for w in self.webhooks) or (
            self.hubspot is not None and event in self.hubspot.events)


def crm_options(raw: Any, env: Mapping[str, str]) -> CrmOptions:
    """The [crm] table (ValueError naming the bad key)."""
    if raw is None:
        return CrmOptions()
    if not isinstance(raw, dict):
        raise ValueError("must be a table")
    known = {"webhook", "hubspot", "max_attempts", "retry_base_s", "retry_max_s"}
    for k in raw:
        if k not in known:
            raise ValueError(f"unknown key `{k}` (expected one of {', '.join(sorted(known))})")
    hooks = raw.get("webhook", [])
    if not isinstance(hooks, list) or not all(isinstance(h, dict) for h in hooks):
        raise ValueError("`webhook` must be [[crm.webhook]] tables")
    webhooks = tuple(_webhook(i, h, env) for i, h in enumerate(hooks))
    ids = [w.target for w in webhooks]
    for t in ids:
        if ids.count(t) > 1 or t == HUBSPOT_TARGET:
            raise ValueError(f"[[crm.webhook]] target `{t}` appears twice (give each a distinct url or name)")
    hubspot = _hubspot(raw["hubspot"], env) if "hubspot" in raw else None
    max_attempts = raw.get("max_attempts", 10)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"`max_attempts` must be a whole number of 1 or more, got {max_attempts!r}")
    base = _seconds(raw.get("retry_base_s", 5.0), "retry_base_s")
    cap = _seconds(raw.get("retry_max_s", 3600.0), "retry_max_s")
    if cap < base:
        raise ValueError(f"`retry_max_s` ({cap:g}) must be at least `retry_base_s` ({base:g})")
    return CrmOptions(webhooks, hubspot, max_attempts, base, cap)


def _webhook(i: int, raw: dict[str, Any], env: Mapping[str, str]) -> WebhookTarget:
    where = f"[[crm.webhook]] #{i + 1}"
    known = {"url", "secret", "secret_env", "events", "timeout_s", "name"}
    for k in raw:
        if k not in known:
            raise ValueError(f"{where}: unknown key `{k}` (expected one of {', '.join(sorted(known))})")
    url = raw.get("url")
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise ValueError(f"{where}: `url` must be an http(s) URL, got {url!r}")
    secret, secret_env = raw.get("secret", ""), raw.get("secret_env", "")
    if not isinstance(secret, str) or not isinstance(secret_env, str):
        raise ValueError(f"{where}: `secret` and `secret_env` must be strings")
    if secret_env and not _ENV_NAME.fullmatch(secret_env):
        raise ValueError(f"{where}: `secret_env` must name an environment variable, got {secret_env!r}")
    if not secret and not secret_env:
        raise ValueError(f"{where}: `secret_env` (an environment variable holding the signing secret) "
                         f"or `secret` is required: deliveries are always signed")
    name = raw.get("name", "")
    if not isinstance(name, str) or (name and not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", name)):
        raise ValueError(f"{where}: `name` must be letters, digits, '.', '_' or '-', got {name!r}")
    return WebhookTarget(url=url, events=_events(raw.get("events"), where),
                         secret=(env.get(secret_env) or "") if secret_env else secret, secret_env=secret_env,
                         timeout_s=_seconds(raw.get("timeout_s", 10.0), f"{where}: timeout_s", positive=True),
                         name=name)


def _hubspot(raw: Any, env: Mapping[str, str]) -> HubSpotOptions:
    where = "[crm.hubspot]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table")
    known = {"token_env", "events", "base_url", "timeout_s", "properties"}
    for k in raw:
        if k == "token":
            raise ValueError(f"{where}: `token` is not read from the file: put the private app's token in the "
                             f"environment and name the variable in `token_env` (default HUBSPOT_TOKEN)")
        if k not in known:
            raise ValueError(f"{where}: unknown key `{k}` (expected one of {', '.join(sorted(known))})")
    token_env = raw.get("token_env", "HUBSPOT_TOKEN")
    if not isinstance(token_env, str) or not _ENV_NAME.fullmatch(token_env):
        raise ValueError(f"{where}: `token_env` must name an environment variable, got {token_env!r}")
    base_url = raw.get("base_url", HUBSPOT_URL)
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        raise ValueError(f"{where}: `base_url` must be an http(s) URL, got {base_url!r}")
    props = raw.get("properties", {})
    if not isinstance(props, dict):
        raise ValueError(f"{where}: `properties` must be a table of captured field = \"hubspot_property\"")
    for k, v in props.items():
        if not isinstance(v, str) or not _PROPERTY.fullmatch(v):
            raise ValueError(f"{where}: properties.{k} must be a HubSpot property's internal name "
                             f"(lowercase letters, digits, _), got {v!r}")
    return HubSpotOptions(token_env=token_env, token=env.get(token_env) or "",
                          events=_events(raw.get("events"), where), base_url=base_url.rstrip("/"),
                          timeout_s=_seconds(raw.get("timeout_s", 20.0), f"{where}: timeout_s", positive=True),
                          properties=tuple(sorted(props.items())))


def _events(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return EVENTS
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise ValueError(f"{where}: `events` must be a non-empty list of {', '.join(EVENTS)}")
    for e in raw:
        if e not in EVENTS:
            raise ValueError(f"{where}: unknown event {e!r} in `events` (expected {', '.join(EVENTS)})")
    return tuple(dict.fromkeys(raw))


def _seconds(v: Any, key: str, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or (
            positive and v == 0):
        raise ValueError(f"`{key}` must be a number of seconds ({'above' if positive else 'at least'} 0), "
                         f"got {v!r}")
    return float(v)
