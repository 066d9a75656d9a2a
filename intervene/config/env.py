"""The environment, read in one place.

Secrets and machine-specific paths come from the environment (systemd sets
STATE_DIRECTORY and CACHE_DIRECTORY for the service; an admin sets the
INTERVENE_* secrets in the unit's EnvironmentFile). Reading them here, once,
and handing the values down means no module below the config changes its
behaviour behind the caller's back, and a test can build any environment as a
plain mapping."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

OFF = ("off", "0", "false", "no")


@dataclass(frozen=True)
class Env:
    """Every environment variable the product reads. Two groups are parsed where their
    settings are, from `raw`: the lead flow's secrets with the [leads] section
    (config/leads.py `ENV`) and INTERVENE_ARI_URL / _USER / _PASSWORD / _APP by
    `AriSettings.from_env`."""
    config: Optional[str] = None            # INTERVENE_CONFIG: the TOML config file
    db: Optional[str] = None                # INTERVENE_DB: the SQLite database, or a postgresql:// URL
    state_directory: Optional[str] = None   # STATE_DIRECTORY: systemd's StateDirectory (the database)
    cache_directory: Optional[str] = None   # CACHE_DIRECTORY: systemd's CacheDirectory (the ONNX export)
    asr_model: Optional[str] = None         # INTERVENE_ASR_MODEL: a Whisper model instead of tiny.en
    embed_model: Optional[str] = None       # INTERVENE_EMBED_MODEL: a sentence model instead of MiniLM
    embed_backend: Optional[str] = None     # INTERVENE_EMBED_BACKEND: auto, onnx or torch
    judge: bool = True                      # INTERVENE_JUDGE=off: the claim checker's rules alone
    judge_weights: Optional[str] = None     # INTERVENE_JUDGE_WEIGHTS: other fine-tuned judge weights
    secret: Optional[str] = None            # INTERVENE_SECRET: signs sessions and links
    api_token: Optional[str] = None         # INTERVENE_API_TOKEN: the dialplan's and the CRM's bearer token
    raw: Mapping[str, str] = field(default_factory=dict, repr=False)   # the whole environment, as read

    @classmethod
    def read(cls, environ: Optional[Mapping[str, str]] = None) -> Env:
        e = dict(os.environ if environ is None else environ)

        def get(key: str) -> Optional[str]:
            return e.get(key) or None
        return cls(config=get("INTERVENE_CONFIG"), db=get("INTERVENE_DB"),
                   state_directory=get("STATE_DIRECTORY"), cache_directory=get("CACHE_DIRECTORY"),
                   asr_model=get("INTERVENE_ASR_MODEL"), embed_model=get("INTERVENE_EMBED_MODEL"),
                   embed_backend=get("INTERVENE_EMBED_BACKEND"),
                   judge=e.get("INTERVENE_JUDGE", "on").strip().lower() not in OFF,
                   judge_weights=get("INTERVENE_JUDGE_WEIGHTS"), secret=get("INTERVENE_SECRET"),
                   api_token=get("INTERVENE_API_TOKEN"), raw=e)
