"""`intervene tune` (intervene/report/tune.py): stored calls replayed with the
profile as configured now and with changed thresholds, compared with each other
and with the interventions the calls got (and the reps' feedback on them);
--apply writes the change into the config file."""
from __future__ import annotations

import json
import pathlib
import tomllib
from dataclasses import replace

import pytest
from click.testing import CliRunner, Result

from intervene.cli.main import Runtime, main
from intervene.config import Config, load_config
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.formats.transcript import read_transcript
from intervene.report import tune as t
from intervene.store.db import Store
from intervene.vocab import Category, Speaker, Utterance

REPO = pathlib.Path(__file__).resolve().parents[2]
DEV = pathlib.Path("/work/shared/calls/dev")
# calls with dead air in them (momentum interventions at the standard 6 s) and one without
CALLS = [p for p in (REPO / "kb/calls/live-demo.jsonl", REPO / "kb/calls/acme-support-years.jsonl",
                     DEV / "dead-air-coverage.jsonl", DEV / "onsite-install.jsonl") if p.exists()]


def store_replayed(store: Store, index, call_id: str, path: pathlib.Path, profile: str = "standard",
                   rep: str = "sam", team: str = "east", ai_intro: bool = False) -> list:
    """A call as `intervene replay` stores it: the transcript replayed through
    the engine with the built-in profile. With `ai_intro`, the assistant's line
    comes first in the store (index 0), as in the lead flow, so every stored
    utterance index is one more than the engine's."""
    utts = read_transcript(path)
    ivs = replay(CallEngine(index, PROFILES[profile]), utts)
    shift = 1 if ai_intro else 0
    store.start_call(call_id, source=str(path), rep=rep, team=team, profile=profile, mode="silent")
    if ai_intro:
        store.add_utterance(call_id, Utterance(0, Speaker.AI, 0.0, 0.3, "Hi, this is the Acme assistant."))
    for u in utts:
        store.add_utterance(call_id, Utterance(u.index + shift, u.speaker, u.start, u.end, u.text))
    for i, iv in enumerate(ivs):
        store.add_intervention(call_id, i, replace(iv, utterance=iv.utterance + shift))
    store.finish_call(call_id, max(u.end for u in utts))
    return ivs


@pytest.fixture
def store(tmp_path: pathlib.Path, acme_index):
    s = Store(tmp_path / "calls.db")
    for p in CALLS:
        store_replayed(s, acme_index, p.stem, p)
    yield s
    s.close()


def config(tmp_path: pathlib.Path, text: str) -> Config:
    f = tmp_path / "current.toml"
    f.write_text(text)
    return load_config(f)


def momentum(report: dict) -> dict:
    return report["categories"]["momentum"]


# ----------------------------------------------------------------- replaying

def test_unchanged_thresholds_reproduce_the_stored_calls(store: Store, acme_index) -> None:
    report = t.tune_calls(store, acme_index, Config(), "standard", {"dead_air_s": 6.0}, store.calls())
    assert report["calls"] == len(CALLS) and report["skipped"] == []
    for cat, c in report["categories"].items():
        assert c["before"] == c["now"] == c["stored"] and c["new"] == c["gone"] == c["not_reproduced"] == 0, cat


def test_raising_dead_air_removes_momentum_interventions(store: Store, acme_index) -> None:
    report = t.tune_calls(store, acme_index, Config(), "standard", {"dead_air_s": 30.0}, store.calls())
    m = momentum(report)
    assert m["before"] >= 1 and m["now"] < m["before"] and m["gone"] == m["before"] - m["now"]
    assert m["new"] == 0
    for cat, c in report["categories"].items():         # nothing else moves
        if cat != "momentum":
            assert c["before"] == c["now"], cat
    gone = [iv for p in report["per_call"] for iv in p["gone"]]
    assert gone and {iv["trigger"] for iv in gone} == {"dead-air"}


def test_lowering_dead_air_adds_momentum_interventions(store: Store, acme_index, tmp_path) -> None:
    """Configured now at 20 s; back to 6 s brings the dead-air cards back."""
    cfg = config(tmp_path, "[profiles.standard]\ndead_air_s = 20\n")
    report = t.tune_calls(store, acme_index, cfg, "standard", {"dead_air_s": 6.0}, store.calls())
    m = momentum(report)
    assert m["now"] > m["before"] and m["new"] == m["now"] - m["before"]
    assert m["not_reproduced"] == m["stored"] > 0      # the calls ran at 6 s: 20 s doesn't reproduce them
    # and a shorter momentum cooldown on top adds more than the default one
    more = t.tune_calls(store, acme_index, Config(), "standard",
                        t.parse_settings(["dead_air_s=4", "cooldown_s.momentum=2"]), store.calls())
    assert momentum(more)["now"] > momentum(more)["before"]


def test_a_detector_threshold_is_tried_like_any_other(store: Store, acme_index) -> None:
    """`--set pickup_sim=0`: any reply of the rep counts as picking the lead's
    signal up, so the opportunity and competitor cards go and nothing else moves."""
    report = t.tune_calls(store, acme_index, Config(), "standard", t.parse_settings(["pickup_sim=0"]),
                          store.calls())
    cats = report["categories"]
    waiting = [c for c in ("opportunity", "competitive") if c in cats]
    assert waiting and all(cats[c]["before"] > 0 == cats[c]["now"] for c in waiting), cats
    for cat, c in cats.items():
        if cat not in waiting:
            assert c["before"] == c["now"], cat


def test_dismissed_and_used_cards_that_disappear(store: Store, acme_index) -> None:
    momentum_ivs = [(row["id"], iv["seq"]) for row in store.calls() for iv in store.interventions(row["id"])
                    if iv["category"] == "momentum"]
    assert len(momentum_ivs) >= 1
    store.set_feedback(*momentum_ivs[0], "dismissed", None, "sam")
    if len(momentum_ivs) > 1:
        store.set_feedback(*momentum_ivs[1], "used", None, "sam")
    other = [(row["id"], iv["seq"]) for row in store.calls() for iv in store.interventions(row["id"])
             if iv["category"] == "accuracy"]
    store.set_feedback(*other[0], "dismissed", None, "sam")
    report = t.tune_calls(store, acme_index, Config(), "standard", {"dead_air_s": 30.0}, store.calls())
    m = momentum(report)
    assert m["dismissed"] == m["dismissed_gone"] == 1
    assert m["acted"] == m["acted_lost"] == (1 if len(momentum_ivs) > 1 else 0)
    acc = report["categories"]["accuracy"]
    assert acc["dismissed"] == 1 and acc["dismissed_gone"] == 0     # still fires: not counted as gone
    text = t.table(report["categories"])
    assert "momentum" in text and "1 of 1" in text and text.splitlines()[-1].startswith("all")


def test_ai_lines_are_skipped_and_indexes_line_up(tmp_path: pathlib.Path, acme_index) -> None:
    s = Store(tmp_path / "ai.db")
    try:
        ivs = store_replayed(s, acme_index, "flow", CALLS[0], ai_intro=True)
        assert ivs and s.utterances("flow")[0]["speaker"] == "ai"
        report = t.tune_calls(s, acme_index, Config(), "standard", {"dead_air_s": 6.0}, s.calls())
        assert sum(c["not_reproduced"] for c in report["categories"].values()) == 0
        assert sum(c["before"] for c in report["categories"].values()) == len(ivs)
        s.start_call("assistant-only", profile="standard", mode="silent")
        s.add_utterance("assistant-only", Utterance(0, Speaker.AI, 0.0, 1.0, "Hello?"))
        report = t.tune_calls(s, acme_index, Config(), "standard", {"dead_air_s": 6.0}, s.calls())
        assert [x["call_id"] for x in report["skipped"]] == ["assistant-only"]
    finally:
        s.close()


# ------------------------------------------------------------ pure comparison

def iv(cat: str, trigger: str, utt: int, feedback=None) -> dict:
    return {"category": cat, "trigger": trigger, "utterance": utt, "feedback": feedback}


def test_compare_matches_by_category_trigger_and_utterance() -> None:
    stored = [iv("momentum", "dead-air", 4, "dismissed"), iv("momentum", "dead-air", 9, "used"),
              iv("emotion", "lead-frustration", 2, "dismissed"), iv("accuracy", "kb-mismatch", 1, "edited")]
    before = [iv("momentum", "dead-air", 4), iv("momentum", "dead-air", 9), iv("accuracy", "kb-mismatch", 1)]
    now = [iv("momentum", "dead-air", 9), iv("momentum", "low-content", 4), iv("accuracy", "kb-mismatch", 1)]
    c = t.compare(stored, before, now)
    assert c["momentum"] == {"before": 2, "now": 2, "new": 1, "gone": 1, "stored": 2, "dismissed": 1,
                             "dismissed_gone": 1, "acted": 1, "acted_lost": 0, "not_reproduced": 0}
    # the emotion card the current settings no longer give is not credited to the change
    assert c["emotion"]["dismissed"] == 1 and c["emotion"]["dismissed_gone"] == 0
    assert c["emotion"]["not_reproduced"] == 1
    assert c["accuracy"]["acted"] == 1 and c["accuracy"]["acted_lost"] == 0


def test_compare_is_one_to_one() -> None:
    same = iv("opportunity", "multi-site", 3)
    c = t.compare([dict(same, feedback="used")] * 2, [same, same], [same])
    assert c["opportunity"]["gone"] == 1 and c["opportunity"]["acted_lost"] == 1
    summed = t.total([c, c])
    assert summed["opportunity"]["before"] == 4 and list(summed) == ["opportunity"]


# --------------------------------------------------------------------- --set

def test_parse_settings() -> None:
    assert t.parse_settings(["dead_air_s=12", "cooldown_s.emotion=60", "min_severity.emotion=high",
                             "emotion_shift=-0.05", "dead_air_s = 14"]) == {
        "dead_air_s": 14.0, "cooldown_s": {"emotion": 60.0}, "min_severity": {"emotion": "high"},
        "emotion_shift": -0.05}
    # the detectors' thresholds too; counts are whole numbers, sentiments may be negative
    over = t.parse_settings(["signal_sim=0.8", "stall_turns=5", "emotion_aimed_sentiment=-0.6"])
    assert over == {"signal_sim": 0.8, "stall_turns": 5, "emotion_aimed_sentiment": -0.6}
    assert isinstance(over["stall_turns"], int)
    assert t.changed_profile(PROFILES["training"], over).stall_turns == 5


@pytest.mark.parametrize("item, message", [
    ("deadair_s=12", "unknown threshold `deadair_s`"),
    ("dead_air_s=soon", "expected a number"),
    ("dead_air_s=-1", "0 or more"),
    ("dead_air_s=inf", "0 or more"),
    ("dead_air_s", "expected KEY=VALUE"),
    ("=3", "expected KEY=VALUE"),
    ("cooldown_s=30", "per category"),
    ("cooldown_s.mood=30", "unknown category `mood`"),
    ("min_severity.emotion=huge", "expected a severity"),
    ("name=x", "unknown threshold `name`"),
    ("dead_air_s.x=1", "unknown threshold"),
    ("signal_sim=70", "expected a number from 0 to 1, got 70"),
    ("stall_turns=0", "expected a whole number of 1 or more"),
    ("cooldown_s.emotion=-5", "0 or more"),
])
def test_bad_settings(item: str, message: str) -> None:
    with pytest.raises(t.TuneError, match=message.replace("[", r"\[")):
        t.parse_settings([item])


# ----------------------------------------------------------------- the file

def test_edit_config_keeps_everything_else() -> None:
    text = ("# team settings\n[profiles.standard]  # tuned in May\ndead_air_s = 7   # was 6\n\n"
            "[profiles.standard.cooldown_s]\nemotion = 30\n\n[defaults]\nprofile = \"standard\"  # all\n")
    new = t.edit_config(text, "standard", t.parse_settings(
        ["dead_air_s=12", "cooldown_s.emotion=60", "cooldown_s.momentum=45", "min_severity.emotion=high"]))
    assert "# team settings" in new and "# tuned in May" in new and "dead_air_s = 12   # was 6" in new
    assert "profile = \"standard\"  # all" in new
    doc = tomllib.loads(new)
    assert doc["profiles"]["standard"] == {"dead_air_s": 12, "min_severity": {"emotion": "high"},
                                           "cooldown_s": {"emotion": 60, "momentum": 45}}
    assert doc["defaults"] == {"profile": "standard"}
    created = t.edit_config("", "training", {"dead_air_s": 3.5, "cooldown_s": {"emotion": 10.0}})
    assert tomllib.loads(created) == {"profiles": {"training": {"dead_air_s": 3.5, "cooldown_s": {"emotion": 10}}}}
    with pytest.raises(t.TuneError, match="by hand"):
        t.edit_config("[profiles]\nstandard = { dead_air_s = 7 }\n", "standard", {"dead_air_s": 9.0})


# ----------------------------------------------------------------------- CLI

def cli(db: pathlib.Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(db), *args], env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


@pytest.fixture
def fast_index(monkeypatch, acme_index):
    """The CLI's KB index is the session's (no second model load)."""
    monkeypatch.setattr(Runtime, "index", lambda self, kb: acme_index)


def test_cli_tune_apply_writes_the_config(store: Store, tmp_path: pathlib.Path, fast_index) -> None:
    conf = tmp_path / "intervene.toml"
    conf.write_text("# ours\n[defaults]\nprofile = \"standard\"\n")
    db = store.path
    kb = str(REPO / "kb" / "acme.yaml")
    r = cli(db, "tune", "--profile", "standard", "--set", "dead_air_s=30", "--kb", kb, "--config", str(conf))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"{len(CALLS)} calls replayed with profile standard")
    row = next(line.split() for line in lines if line.startswith("momentum"))
    assert int(row[1]) > int(row[2])                       # before > now
    assert "--apply" in r.output and conf.read_text() == "# ours\n[defaults]\nprofile = \"standard\"\n"

    r = cli(db, "tune", "--profile", "standard", "--set", "dead_air_s=30", "--set", "cooldown_s.emotion=60",
            "--kb", kb, "--config", str(conf), "--apply")
    assert r.exit_code == 0, r.output
    assert "+[profiles.standard]" in r.output and "+dead_air_s = 30" in r.output
    assert "+cooldown_s.emotion = 60" in r.output and f"written to {conf}" in r.output
    assert conf.read_text().startswith("# ours\n[defaults]\n")
    cfg = load_config(conf)
    assert cfg.profiles["standard"].dead_air_s == 30.0
    assert cfg.profiles["standard"].cooldown_s[Category.EMOTION] == 60.0

    # now configured at 30 s: trying 6 s again brings the cards back (JSON report)
    r = cli(db, "tune", "--profile", "standard", "--set", "dead_air_s=6", "--kb", kb, "--config", str(conf),
            "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["categories"]["momentum"]["now"] > report["categories"]["momentum"]["before"]
    assert report["set"] == {"dead_air_s": 6.0} and "config" not in report

    new_file = tmp_path / "sub-new.toml"                   # --apply creates a missing file
    r = cli(db, "tune", "--profile", "training", "--set", "dead_air_s=5", "--config", str(new_file), "--apply")
    assert r.exit_code == 0, r.output
    assert "0 calls replayed" in r.output and f"{len(CALLS)} calls of other profiles left out" in r.output
    assert load_config(new_file).profiles["training"].dead_air_s == 5.0


def test_cli_tune_filters(store: Store, fast_index) -> None:
    store.update_call(CALLS[0].stem, rep="kim", team="west")
    r = cli(store.path, "tune", "--profile", "standard", "--set", "dead_air_s=30", "--rep", "kim",
            "--kb", str(REPO / "kb" / "acme.yaml"), "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["calls"] == 1 and [p["call_id"] for p in report["per_call"]] == [CALLS[0].stem]
    r = cli(store.path, "tune", "--profile", "standard", "--set", "dead_air_s=30", "--team", "nowhere", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["calls"] == 0
    r = cli(store.path, "tune", "--profile", "standard", "--set", "dead_air_s=30", "--since", "2999-01-01",
            "--json")
    assert r.exit_code == 0 and json.loads(r.output)["calls"] == 0


@pytest.mark.parametrize("args, message", [
    (["--set", "deadair_s=3"], "unknown threshold `deadair_s`"),
    (["--set", "dead_air_s=abc"], "expected a number"),
    (["--set", "min_severity.emotion=loud"], "expected a severity"),
    (["--set", "cooldown_s.mood=3"], "unknown category `mood`"),
    (["--set", "dead_air_s=3", "--profile", "nope"], "unknown profile 'nope'"),
    (["--set", "dead_air_s=3", "--apply"], "--apply needs a config file"),
    (["--set", "dead_air_s=3", "--since", "soon"], "--since"),
])
def test_cli_tune_bad_input(tmp_path: pathlib.Path, args: list, message: str) -> None:
    if "--profile" not in args:
        args = ["--profile", "standard", *args]
    r = cli(tmp_path / "x.db", "tune", *args)
    assert r.exit_code == 2 and message in r.output, r.output
