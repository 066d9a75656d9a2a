"""The environment is read once, in intervene/config/env.py, and handed down:
each variable reaches the part it configures, and nothing else reads it."""
from __future__ import annotations

import pathlib

from intervene.app import Runtime
from intervene.config import load_config
from intervene.config.env import Env
from intervene.pbx.ari import AriSettings


def test_every_variable_is_read() -> None:
    env = Env.read({"INTERVENE_CONFIG": "/etc/iv.toml", "INTERVENE_DB": "/var/iv.db", "STATE_DIRECTORY": "/s",
                    "CACHE_DIRECTORY": "/c", "INTERVENE_ASR_MODEL": "base.en", "INTERVENE_EMBED_MODEL": "/m",
                    "INTERVENE_EMBED_BACKEND": "torch", "INTERVENE_JUDGE": "Off", "INTERVENE_JUDGE_WEIGHTS": "/w",
                    "INTERVENE_SECRET": "s3", "INTERVENE_API_TOKEN": "t0", "INTERVENE_ARI_PASSWORD": "pw",
                    "UNRELATED": "x"})
    assert (env.config, env.db, env.state_directory, env.cache_directory) == ("/etc/iv.toml", "/var/iv.db", "/s", "/c")
    assert (env.asr_model, env.embed_model, env.embed_backend) == ("base.en", "/m", "torch")
    assert env.judge is False and env.judge_weights == "/w"
    assert (env.secret, env.api_token) == ("s3", "t0")
    assert AriSettings.from_env(env.raw).password == "pw"


def test_empty_values_count_as_unset() -> None:
    env = Env.read({"INTERVENE_DB": "", "INTERVENE_SECRET": ""})
    assert env.db is None and env.secret is None and env.judge is True


def test_the_database_follows_the_environment(tmp_path: pathlib.Path) -> None:
    assert Runtime(None, None, Env.read({"INTERVENE_DB": str(tmp_path / "a.db")})).db_path == tmp_path / "a.db"
    assert Runtime(None, None, Env.read({"STATE_DIRECTORY": f"{tmp_path}:/other"})).db_path == tmp_path / "intervene.db"
    assert Runtime(str(tmp_path / "b.db"), None, Env.read({"INTERVENE_DB": "x"})).db_path == tmp_path / "b.db"   # --db wins


def test_the_config_reads_the_given_environment(tmp_path: pathlib.Path) -> None:
    assert load_config(None, Env.read({"INTERVENE_ASR_MODEL": "small.en"})).asr.model == "small.en"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[asr]\nmodel = "base.en"\n')
    assert load_config(None, Env.read({"INTERVENE_CONFIG": str(cfg), "INTERVENE_ASR_MODEL": "small.en"})).asr.model \
        == "base.en"                                                             # the file wins, as before
    assert load_config(None, Env.read({})).asr.model == ""                       # the packaged tiny.en
