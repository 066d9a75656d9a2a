"""The admin's config file (TOML): profile thresholds, and which profile and
delivery mode each team and rep gets.

    [profiles.standard]            # override any threshold of a built-in profile (core/policy.py
    dead_air_s = 7                 # Profile: policy and every detector's, e.g. signal_sim = 0.75)
    [profiles.standard.cooldown_s]
    emotion = 30

    [defaults]
    profile = "standard"
    mode = "silent"                # every category ...
    [defaults.modes]
    accuracy = "voice"             # ... except these

    [teams.east]
    profile = "training"
    [reps.sam]
    team = "east"
    mode = "voice"

    [vad]                          # listening: any field of audio.vad.VadOptions
    aggressiveness = 3
    end_ms = 300
    [asr]                          # any field of audio.asr.AsrOptions
    model = "/opt/models/whisper-small.en-ct2"
    device = "cpu"

    [serve]                        # the live service (config/live.py): ARI, HTTP, voice, worker name
    [store]                        # url = "postgresql://..." for a cluster's shared database (config/live.py)
    [live]                         # live delivery timing (live/options.py)

    [leads]                        # lead intake and calling (leads/options.py); secrets from env win
    call_hours = "09:00-20:00"
    [campaigns.solar]              # which Lead Ads forms/pages are ours, and their team (leads/options.py)
    form_ids = ["1234567890"]

    [score]                        # weight of each part of the call score (report/score.py WEIGHTS)
    accuracy = 0.4                 # accuracy, compliance, listening, momentum, handling, opportunity,
    listening = 0.05               # process (training calls only); non-negative numbers

    [redaction]                    # personal data out of transcripts (config/privacy.py); all on by default
    [retention]                    # days to keep transcripts, interventions, leads, webhook_inbox; 0 = for ever
    [models]                       # backend = "ray": Whisper and embeddings on Ray Serve (config/models.py)
    [crm]                          # CRM write-back: [[crm.webhook]], [crm.hubspot] (config/crm.py)

A rep's settings override their team's, which override the defaults.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Optional

from intervene.config.crm import CrmOptions, crm_options
from intervene.config.env import Env
from intervene.config.leads import Campaign, LeadOptions, campaign_options, lead_options
from intervene.config.live import LiveOptions, ServeOptions, StoreOptions, asterisk_servers, metrics_networks
from intervene.config.models import ModelsOptions, check_models
from intervene.config.privacy import redaction_kinds, retention_options
from intervene.core.policy import DEFAULT_MODES, PROFILES, SETTINGS, WHOLE, Profile, out_of_range
from intervene.errors import InterveneError
from intervene.listen.asr import AsrOptions
from intervene.listen.vad import VadOptions
from intervene.store.privacy import RetentionOptions
from intervene.vocab import REDACT_ALL, Category, Mode, Redact, Severity
from intervene.vocab import SCORE_WEIGHTS as WEIGHTS


class ConfigError(InterveneError):
    pass


SECTIONS = ("profiles", "defaults", "teams", "reps", "vad", "asr", "serve", "live", "leads", "campaigns",
            "score", "redaction", "retention", "store", "models", "crm")


@dataclass(frozen=True)
class Assignment:
    profile: Profile
    modes: dict[Category, Mode]


@dataclass
class Config:
    profiles: dict[str, Profile] = field(default_factory=lambda: dict(PROFILES))
    defaults: dict[str, Any] = field(default_factory=dict)
    teams: dict[str, dict[str, Any]] = field(default_factory=dict)
    reps: dict[str, dict[str, Any]] = field(default_factory=dict)
    vad: VadOptions = VadOptions()
    asr: AsrOptions = AsrOptions()
    serve: ServeOptions = ServeOptions()
    live: LiveOptions = LiveOptions()
    leads: LeadOptions = LeadOptions()
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    score: dict[str, float] = field(default_factory=lambda: dict(WEIGHTS))   # [score]: part -> weight
    redaction: frozenset[Redact] = REDACT_ALL          # [redaction]: the kinds taken out of what is said
    retention: RetentionOptions = RetentionOptions()   # [retention]: days to keep records
    store: StoreOptions = StoreOptions()               # [store]: which database (SQLite file or PostgreSQL)
    models: ModelsOptions = ModelsOptions()            # [models]: in-process models or Ray Serve (config/models.py)
    crm: CrmOptions = CrmOptions()                     # [crm]: webhooks and HubSpot write-back (config/crm.py)
    source: str = ""

    def resolve(self, rep: Optional[str] = None, team: Optional[str] = None,
                profile: Optional[str] = None, mode: Optional[str] = None) -> Assignment:
        """Profile and modes for a call; explicit arguments win over the file."""
        layers = [self.defaults]
        rep_cfg = self.reps.get(rep or "", {})
        team = team or rep_cfg.get("team")
        layers += [self.teams.get(team or "", {}), rep_cfg]
        name = profile
        modes = dict(DEFAULT_MODES)
        for layer in layers:
            if not profile and layer.get("profile"):
                name = layer["profile"]
            if layer.get("mode"):
                modes = {c: Mode(layer["mode"]) for c in Category}
            for cat, m in (layer.get("modes") or {}).items():
                modes[Category(cat)] = Mode(m)
        if mode:
            modes = {c: Mode(mode) for c in Category}
        name = name or "standard"
        if name not in self.profiles:
            raise ConfigError(f"unknown profile {name!r} (known: {', '.join(sorted(self.profiles))})")
        return Assignment(self.profiles[name], modes)


def load_config(path: Optional[str | Path] = None, env: Optional[Env] = None) -> Config:
    """--config, else INTERVENE_CONFIG, else none (built-in defaults). The environment's
    secrets and INTERVENE_ASR_MODEL count either way (`env`, read here unless given)."""
    env = env if env is not None else Env.read()
    path = path or env.config
    if not path:
        return Config(leads=lead_options({}, env.raw), asr=AsrOptions(model=env.asr_model or ""))
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file")
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: not UTF-8 text ({e.reason} at byte {e.start})")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})")
    cfg = Config(source=str(p))
    for key in data:
        if key not in SECTIONS:
            raise ConfigError(f"{p}: unknown section [{key}] (expected {', '.join(SECTIONS)})")
    for section in ("profiles", "teams", "reps", "campaigns"):
        if not isinstance(data.get(section) or {}, dict):
            raise ConfigError(f"{p}: [{section}] must be tables like [{section}.name]")
        for k, v in (data.get(section) or {}).items():
            if not isinstance(v, dict):
                raise ConfigError(f"{p}: [{section}.{k}] must be a table, got {v!r}")
    if "defaults" in data and not isinstance(data["defaults"], dict):
        raise ConfigError(f"{p}: [defaults] must be a table")
    for name, over in (data.get("profiles") or {}).items():
        base_name = over.get("base", name if name in cfg.profiles else "standard")
        if base_name not in cfg.profiles:
            raise ConfigError(f"{p}: [profiles.{name}] base: unknown profile {base_name!r} "
                              f"(known: {', '.join(sorted(cfg.profiles))})")
        base = cfg.profiles[base_name]
        cfg.profiles[name] = _tune(base, name, over, f"{p}: [profiles.{name}]")
    cfg.defaults = _layer(data.get("defaults") or {}, f"{p}: [defaults]")
    cfg.teams = {k: _layer(v, f"{p}: [teams.{k}]") for k, v in (data.get("teams") or {}).items()}
    cfg.reps = {k: _layer(v, f"{p}: [reps.{k}]") for k, v in (data.get("reps") or {}).items()}
    cfg.vad = _options(VadOptions(), data.get("vad") or {}, f"{p}: [vad]")
    cfg.asr = _options(AsrOptions(model=env.asr_model or ""), data.get("asr") or {}, f"{p}: [asr]")
    raw_serve = data.get("serve") or {}
    serve: dict[str, Any] = dict(raw_serve) if isinstance(raw_serve, dict) else {"": raw_serve}
    servers = serve.pop("asterisk", [])
    allow = serve.pop("metrics_allow", [])
    if "" in serve:
        raise ConfigError(f"{p}: [serve] must be a table")
    cfg.serve = _options(ServeOptions(), serve, f"{p}: [serve]")
    try:
        cfg.serve = replace(cfg.serve, asterisk=asterisk_servers(servers), metrics_allow=metrics_networks(allow))
    except ValueError as e:
        raise ConfigError(f"{p}: {e}")
    cfg.live = _options(LiveOptions(), data.get("live") or {}, f"{p}: [live]")
    cfg.store = _options(StoreOptions(), data.get("store") or {}, f"{p}: [store]")
    try:
        cfg.models = check_models(_options(ModelsOptions(), data.get("models") or {}, f"{p}: [models]"))
    except ValueError as e:
        raise ConfigError(f"{p}: [models]: {e}")
    try:
        cfg.leads = lead_options(data.get("leads") or {}, env.raw)
    except ValueError as e:
        raise ConfigError(f"{p}: [leads]: {e}")
    for cid, raw in (data.get("campaigns") or {}).items():
        try:
            cfg.campaigns[cid] = campaign_options(cid, raw)
        except ValueError as e:
            raise ConfigError(f"{p}: [campaigns.{cid}]: {e}")
    cfg.score = score_weights(data.get("score"), f"{p}: [score]")
    try:
        cfg.crm = crm_options(data.get("crm"), env.raw)
    except ValueError as e:
        raise ConfigError(f"{p}: [crm]: {e}")
    for section in ("redaction", "retention"):
        try:
            if section == "redaction":
                cfg.redaction = redaction_kinds(data.get(section))
            else:
                cfg.retention = retention_options(data.get(section))
        except ValueError as e:
            raise ConfigError(f"{p}: [{section}]: {e}")
    for kind in ("form_ids", "page_ids"):           # one form (page) = one campaign, or leads go astray
        owner: dict[str, str] = {}
        for cid, c in cfg.campaigns.items():
            for x in getattr(c, kind):
                if x in owner:
                    raise ConfigError(f"{p}: [campaigns.{cid}] {kind}: {x} is already in [campaigns.{owner[x]}]")
                owner[x] = cid
    for who, layer in [("defaults", cfg.defaults), *cfg.teams.items(), *cfg.reps.items()]:
        if layer.get("profile") and layer["profile"] not in cfg.profiles:
            raise ConfigError(f"{p}: {who}: unknown profile {layer['profile']!r}")
    return cfg


def score_weights(raw: Any, where: str = "[score]") -> dict[str, float]:
    """The [score] section: a weight per part of the call score, over WEIGHTS.
    Non-negative numbers, only known parts, and not all of them zero."""
    if raw is None:
        return dict(WEIGHTS)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table of part = weight")
    out = dict(WEIGHTS)
    for k, v in raw.items():
        if k not in WEIGHTS:
            raise ConfigError(f"{where}: unknown part `{k}` (expected one of {', '.join(WEIGHTS)})")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: `{k}` must be a number (a weight, 0 or more), got {v!r}")
        if not v >= 0 or v == float("inf"):
            raise ConfigError(f"{where}: `{k}` must be 0 or more (and finite), got {v!r}")
        out[k] = float(v)
    if not any(out[k] > 0 for k in WEIGHTS if k != "process"):
        raise ConfigError(f"{where}: at least one of {', '.join(k for k in WEIGHTS if k != 'process')} "
                          f"must have a weight above 0")
    return out


def _options(base, raw: dict[str, Any], where: str):
    """A frozen options dataclass with the file's values, each checked against the field's type."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    types = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    changes: dict[str, Any] = {}
    for k, v in raw.items():
        if k not in types:
            raise ConfigError(f"{where}: unknown key `{k}` (expected one of {', '.join(sorted(types))})")
        want = types[k]
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise ConfigError(f"{where}: `{k}` must be {want.__name__}, got {v!r}")
        changes[k] = v
    return replace(base, **changes)


def _layer(raw: dict[str, Any], where: str) -> dict[str, Any]:
    allowed = {"profile", "mode", "modes", "team", "name", "sip", "email"}
    for k in raw:
        if k not in allowed:
            raise ConfigError(f"{where}: unknown key `{k}` (expected one of {', '.join(sorted(allowed))})")
    if "modes" in raw and not isinstance(raw["modes"], dict):
        raise ConfigError(f"{where}: `modes` must be a table of category = \"voice\"|\"silent\"")
    try:
        if raw.get("mode"):
            Mode(raw["mode"])
        for cat, m in (raw.get("modes") or {}).items():
            Category(cat), Mode(m)
    except ValueError as e:
        raise ConfigError(f"{where}: {e} (modes are voice/silent/whisper; categories: "
                          f"{', '.join(c.value for c in Category)})")
    return raw


def _tune(base: Profile, name: str, over: dict[str, Any], where: str) -> Profile:
    """`base` with a [profiles.X] table's settings: any Profile setting - the
    policy's and every detector's threshold."""
    known = set(SETTINGS)
    changes: dict[str, Any] = {"name": name}
    for k, v in over.items():
        if k == "base":
            continue
        if k not in known:
            raise ConfigError(f"{where}: unknown threshold `{k}` (expected one of {', '.join(sorted(known))})")
        changes[k] = _setting(base, k, v, where)
    return replace(base, **changes)


def _setting(base: Profile, k: str, v: Any, where: str) -> Any:
    """One setting's new value, checked against its range (policy.out_of_range):
    a typo such as 70 for a similarity of 0.70 is an error naming the setting,
    not a detector silently switched off."""
    try:
        if k == "min_severity":
            return {**base.min_severity, **{Category(c): Severity(s) for c, s in v.items()}}
        if k == "cooldown_s":
            cooldowns = {Category(c): float(s) for c, s in v.items()}
        else:
            x = float(v)
    except (ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f"{where}: bad value for `{k}`: {e}")
    if k == "cooldown_s":
        for c, s in cooldowns.items():
            if not (math.isfinite(s) and s >= 0):
                raise ConfigError(f"{where}: `cooldown_s.{c.value}` must be a number of 0 or more, got {s!r}")
        return {**base.cooldown_s, **cooldowns}
    need = out_of_range(k, x)
    if need:
        raise ConfigError(f"{where}: `{k}` must be {need}, got {v!r}")
    return int(x) if k in WHOLE else x
