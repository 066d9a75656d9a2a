"""The cluster's settings: [store], [serve] worker and [[serve.asterisk]]."""
from __future__ import annotations

import pytest

from intervene.app import ari_settings
from intervene.config import ConfigError, load_config


def write(tmp_path, text: str) -> str:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return str(p)


def test_several_asterisk_servers_each_with_its_app_and_password(tmp_path):
    cfg = load_config(write(tmp_path, """
[serve]
worker = "w1"
app = "intervene-w1"
[[serve.asterisk]]
url = "http://pbx-a:8088"
[[serve.asterisk]]
url = "http://pbx-b:8088"
app = "floor-b"
password_env = "PW_B"
[store]
url = "postgresql://iv@db/iv"
"""))
    assert cfg.serve.worker == "w1" and cfg.store.url == "postgresql://iv@db/iv"
    env = {"INTERVENE_ARI_PASSWORD": "pa", "PW_B": "pb", "INTERVENE_ARI_USER": "ari"}
    a, b = ari_settings(env, cfg.serve)
    assert (a.url, a.app, a.password, a.user) == ("http://pbx-a:8088", "intervene-w1", "pa", "ari")
    assert (b.url, b.app, b.password) == ("http://pbx-b:8088", "floor-b", "pb")
    with pytest.raises(ConfigError, match="PW_B"):
        ari_settings({"INTERVENE_ARI_PASSWORD": "pa"}, cfg.serve)             # b's password is missing


def test_without_entries_the_single_asterisk_of_before(tmp_path):
    cfg = load_config(write(tmp_path, '[serve]\nari_url = "http://pbx:8088"\napp = "iv"\n'))
    (only,) = ari_settings({"INTERVENE_ARI_PASSWORD": "p"}, cfg.serve)
    assert (only.url, only.app, only.password) == ("http://pbx:8088", "iv", "p")


@pytest.mark.parametrize("text, says", [
    ('[[serve.asterisk]]\napp = "x"\n', "`url` must be"),
    ('[[serve.asterisk]]\nurl = "http://a:8088"\nport = "1"\n', "unknown key `port`"),
    ('[[serve.asterisk]]\nurl = "http://a:8088"\n[[serve.asterisk]]\nurl = "http://a:8088"\n', "listed twice"),
    ('[serve]\nasterisk = "http://a:8088"\n', "array of tables"),
    ('[store]\nurl = 5\n', "`url` must be str"),
])
def test_bad_cluster_settings_are_named(tmp_path, text, says):
    with pytest.raises(ConfigError, match=says):
        load_config(write(tmp_path, text))
