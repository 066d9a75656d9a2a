"""Issue 17, metrics: the allow-list is checked when the config is read, the
address check behind /metrics, the event-loop lag probe, and the Grafana
dashboard asking only for metrics that exist (and showing every one)."""
from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import pytest

from intervene import metrics as m
from intervene.config import ConfigError, load_config
from intervene.screen.web.metrics import allowed, networks

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "scripts" / "grafana" / "intervene-dashboard.json"


def value(name: str, **labels: str) -> float:
    return m.REGISTRY.get_sample_value(name, labels) or 0.0


# ---------------------------------------------------------------- config
def _config(tmp_path: Path, serve: str):
    p = tmp_path / "intervene.toml"
    p.write_text(f"[serve]\n{serve}\n")
    return load_config(p)


def test_metrics_allow_is_read_as_networks(tmp_path):
    cfg = _config(tmp_path, 'metrics_allow = ["127.0.0.1/32", "10.0.0.0/8", "::1", "192.168.1.7/24"]')
    assert cfg.serve.metrics_allow == ("127.0.0.1/32", "10.0.0.0/8", "::1/128", "192.168.1.0/24")
    assert load_config(None).serve.metrics_allow == ()          # default: nobody without the token


@pytest.mark.parametrize("raw, says", [
    ('["10.0.0.0/33"]', "'10.0.0.0/33' is not a network"),
    ('["localhost"]', "'localhost' is not a network"),
    ('"127.0.0.1/32"', "must be a list of networks"),
    ('[8]', "must be a list of networks"),
])
def test_a_bad_metrics_allow_is_a_clear_config_error(tmp_path, raw, says):
    with pytest.raises(ConfigError) as e:
        _config(tmp_path, f"metrics_allow = {raw}")
    assert "metrics_allow" in str(e.value) and says in str(e.value)


# --------------------------------------------------------------- address
def test_allowed_addresses():
    nets = networks(("127.0.0.1/32", "10.0.0.0/8", "fd00::/8"))
    assert allowed("127.0.0.1", nets) and allowed("10.200.3.4", nets) and allowed("fd12::5", nets)
    assert allowed("::ffff:10.1.2.3", nets)                    # an IPv4 client on a dual-stack socket
    assert not allowed("127.0.0.2", nets) and not allowed("192.168.1.1", nets) and not allowed("::1", nets)
    assert not allowed(None, nets) and not allowed("", nets) and not allowed("not-an-ip", nets)
    assert not allowed("127.0.0.1", ())                        # no allow-list: nobody by address


# ---------------------------------------------------------------- loop lag
def test_the_loop_lag_probe_sees_a_blocked_loop():
    async def go() -> tuple[float, float]:
        stop = asyncio.Event()
        count, total = value("intervene_event_loop_lag_seconds_count"), value("intervene_event_loop_lag_seconds_sum")
        probe = asyncio.create_task(m.watch_loop_lag(stop, every_s=0.02))
        await asyncio.sleep(0.1)
        quiet = value("intervene_event_loop_lag_last_seconds")
        time.sleep(0.3)                                        # what a blocking call on the loop does
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(probe, 1)                       # stops within one interval
        assert value("intervene_event_loop_lag_seconds_count") > count + 3
        return quiet, value("intervene_event_loop_lag_seconds_sum") - total
    quiet, lagged = asyncio.run(go())
    assert quiet < 0.2                                         # an idle loop: a few ms (a busy test machine: more)
    assert lagged >= 0.25                                      # the 0.3 s block, seen by the sample it delayed


# ---------------------------------------------------------------- dashboard
def _exported_names() -> dict[str, str]:
    """Every series name the registry can export -> its metric family, labelled or not yet."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    out = {}
    for fam in m.REGISTRY.collect():
        for s in suffixes[fam.type]:
            out[fam.name + s] = fam.name
    return out


def test_the_dashboard_queries_only_metrics_that_exist_and_shows_them_all():
    doc = json.loads(DASHBOARD.read_text())
    assert doc["title"] and doc["schemaVersion"] >= 30 and doc["uid"]
    ds = [v for v in doc["templating"]["list"] if v["type"] == "datasource"]
    assert ds and ds[0]["query"] == "prometheus"
    var = "${" + ds[0]["name"] + "}"
    exprs = []
    for panel in doc["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == var, panel["title"]
        assert panel["targets"], panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == var
            exprs.append(t["expr"])
    names = _exported_names()
    used = {n for e in exprs for n in re.findall(r"\bintervene_[a-z_]+\b", e)}
    assert used and not used - set(names), f"the dashboard asks for unknown metrics: {sorted(used - set(names))}"
    shown = {names[n] for n in used}
    families = set(names.values())
    assert shown == families, f"metrics on no panel: {sorted(families - shown)}"
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
