"""Tests for the `intervene` command line (intervene/cli/main.py, intervene/cli/kb.py).

Commands that embed (kb import/search/check, replay) load a ~90 MB model, so
they run in-process through click's CliRunner (the model loads once per
process) and are few; commands that fail on bad input run as real
subprocesses of the console script, so exit codes and stderr are the user's.
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import sqlite3
import subprocess
import textwrap

import pytest
import yaml
from click.testing import CliRunner, Result

from intervene.cli.main import main
from intervene.kb.loader import load_kb, load_kb_text

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACME = ROOT / "kb" / "acme.yaml"
EXE = ROOT / ".venv" / "bin" / "intervene"
CALL = pathlib.Path("/work/shared/calls/dev/support-years.jsonl")
JSON_KEYS = {"at", "utterance", "category", "severity", "mode", "trigger", "detected", "say", "evidence"}

_ENV = {k: v for k, v in os.environ.items() if k not in ("INTERVENE_CONFIG", "INTERVENE_DB")}


def cli(db: pathlib.Path, *args: str) -> Result:
    """In-process run (for commands that load the model)."""
    return CliRunner().invoke(main, ["--db", str(db), *args],
                              env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


def run(db: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """The console script as a user runs it."""
    return subprocess.run([str(EXE), "--db", str(db), *args], capture_output=True, text=True,
                          env=_ENV, cwd=ROOT, timeout=120)


def ok(r) -> str:
    code = r.exit_code if isinstance(r, Result) else r.returncode
    out = r.stdout
    err = r.stderr
    assert code == 0, f"exit {code}\nstdout: {out}\nstderr: {err}\n{getattr(r, 'exception', '')}"
    return out


def bad_input(r: subprocess.CompletedProcess, *words: str) -> str:
    """Exit 2, an `error:` message naming what is wrong, and no traceback."""
    assert r.returncode == 2, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("error: "), r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return r.stderr


def copy_db(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    """A consistent copy of a WAL-mode database."""
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        a.backup(b)
    finally:
        a.close()
        b.close()
    return dst


def kb_ids(listing: str) -> list[tuple[str, str]]:
    return [tuple(line.split()[:2]) for line in listing.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def acme_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, str]:
    """A database with kb/acme.yaml imported (loads the model once)."""
    db = tmp_path_factory.mktemp("acme") / "acme.db"
    out = ok(cli(db, "kb", "import", str(ACME)))
    return db, out


@pytest.fixture
def db(acme_db, tmp_path: pathlib.Path) -> pathlib.Path:
    """A private copy of the imported database, for tests that change it."""
    return copy_db(acme_db[0], tmp_path / "x.db")


# ------------------------------------------------------------------- kb import

def test_first_import_reports_counts(acme_db) -> None:
    _, out = acme_db
    assert "17 added, 0 changed, 0 unchanged" in out
    assert "19 facts" in out                                       # 11 product facts + 3 prices + 5 facts
    m = re.search(r"(\d+) text\(s\) embedded", out)
    assert m and int(m.group(1)) > 19, out                         # facts and phrases


def test_reimport_unchanged_embeds_nothing_and_edit_embeds_one(db: pathlib.Path, tmp_path: pathlib.Path) -> None:
    out = ok(cli(db, "kb", "import", str(ACME)))
    assert "0 added, 0 changed, 17 unchanged" in out
    assert "0 text(s) embedded" in out

    edited = tmp_path / "acme.yaml"
    text = ACME.read_text(encoding="utf-8")
    assert text.count("Includes three years of support.") == 1
    edited.write_text(text.replace("Includes three years of support.",
                                   "Includes four years of support."), encoding="utf-8")
    out = ok(cli(db, "kb", "import", str(edited)))
    assert "0 added, 1 changed, 16 unchanged" in out
    assert "1 text(s) embedded" in out
    show = ok(run(db, "kb", "show", "standard"))
    assert "Includes four years of support." in show
    assert "three years" not in show


# ------------------------------------------------------------ reading the KB

def test_kb_list(acme_db) -> None:
    out = ok(run(acme_db[0], "kb", "list"))
    ids = kb_ids(out)
    assert len(ids) == 17
    for pair in [("products", "standard"), ("products", "premium"), ("products", "multi-site"),
                 ("facts", "refund"), ("competitors", "netco"), ("opportunities", "multi-site"),
                 ("promotions", "year-end-install"), ("compliance.forbidden", "guarantee"),
                 ("compliance.required", "recording-disclosure"), ("process", "ask-devices")]:
        assert pair in ids, pair
    assert "Customers can cancel within 30 days" in out


def test_kb_list_empty(tmp_path: pathlib.Path) -> None:
    out = ok(run(tmp_path / "empty.db", "kb", "list"))
    assert "empty" in out


def test_kb_show_standard(acme_db) -> None:
    out = ok(run(acme_db[0], "kb", "show", "standard"))
    assert out.startswith("# products")
    data = yaml.safe_load(out)
    assert data["id"] == "standard" and data["name"] == "Standard package"
    assert data["price"] == "$49 per month"
    assert "Includes three years of support." in data["facts"]


def test_kb_search(acme_db) -> None:
    out = ok(cli(acme_db[0], "kb", "search", "how long is support"))
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 5                                         # default -k 5
    scores = [float(l.split()[0]) for l in lines]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert "support" in lines[0].lower()
    assert sum("support" in l.lower() for l in lines[:3]) == 3


def test_kb_check_error_and_ok(acme_db) -> None:
    out = ok(cli(acme_db[0], "kb", "check", "The Standard package includes two years of support."))
    assert "ERROR" in out
    assert "KB standard" in out
    [say] = [l for l in out.splitlines() if "say:" in l]
    assert "three years" in say

    out = ok(cli(acme_db[0], "kb", "check", "--product", "premium", "That comes with five years of support."))
    assert out.lstrip().startswith("OK")
    assert "ERROR" not in out
    assert "KB premium" in out


def test_kb_check_unknown_product(acme_db) -> None:
    bad_input(run(acme_db[0], "kb", "check", "--product", "platinum", "It has five years."),
              "platinum", "standard")


def test_kb_remove_then_show_fails(db: pathlib.Path) -> None:
    out = ok(run(db, "kb", "remove", "refund"))
    assert "removed 1" in out
    bad_input(run(db, "kb", "show", "refund"), "refund")
    bad_input(run(db, "kb", "remove", "refund"), "refund")
    assert ("facts", "refund") not in kb_ids(ok(run(db, "kb", "list")))


def test_kb_export_loads_back(db: pathlib.Path) -> None:
    ok(run(db, "kb", "remove", "refund"))
    out = ok(run(db, "kb", "export"))
    kb = load_kb_text(out, "export.yaml")
    acme = load_kb(ACME)
    assert kb.company == acme.company and kb.assistant == acme.assistant
    assert kb.products == acme.products
    assert [f for f in acme.facts if f.key != "refund"] == list(kb.facts)
    assert (kb.competitors, kb.opportunities, kb.promotions, kb.forbidden, kb.required) == \
           (acme.competitors, acme.opportunities, acme.promotions, acme.forbidden, acme.required)


def test_kb_export_empty_database_fails(tmp_path: pathlib.Path) -> None:
    bad_input(run(tmp_path / "empty.db", "kb", "export"), "no knowledge base")


def test_kb_remove_never_leaves_an_unloadable_kb(db: pathlib.Path) -> None:
    run(db, "kb", "remove", "multi-site", "--section", "products")
    out = ok(run(db, "kb", "export"))
    load_kb_text(out, "export.yaml")


def test_import_keeps_ids_as_validated(tmp_path: pathlib.Path) -> None:
    kbfile = tmp_path / "tiny.yaml"
    kbfile.write_text(textwrap.dedent("""\
        company: Tiny Co
        facts:
          - id: off
            text: The office is closed on Sundays.
          - id: 010
            text: Support tickets are answered within one day.
        """), encoding="utf-8")
    assert [f.key for f in load_kb(kbfile).facts] == ["off", "010"]
    db = tmp_path / "tiny.db"
    ok(cli(db, "kb", "import", str(kbfile)))
    assert [f.key for f in load_kb_text(ok(run(db, "kb", "export"))).facts] == ["off", "010"]


# ------------------------------------------------------------- bad KB input

BAD_KB = """\
company: Acme Business Networks
products:
  - id: standard
    name: Standard package
    alias: [standard]
    facts:
      - Includes ten years of support.
"""


def test_malformed_kb_import_fails_and_keeps_stored_kb(db: pathlib.Path, tmp_path: pathlib.Path) -> None:
    before = ok(run(db, "kb", "list"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_KB, encoding="utf-8")
    err = bad_input(run(db, "kb", "import", str(bad)), f"{bad}:5", "alias")
    assert "aliases" in err                                        # says what it should be

    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("company: Acme\nproducts:\n  - id: standard\n    name: [unclosed\n", encoding="utf-8")
    bad_input(run(db, "kb", "import", str(syntax)), str(syntax), "invalid YAML")

    assert ok(run(db, "kb", "list")) == before
    assert "Includes three years of support." in ok(run(db, "kb", "show", "standard"))


def test_directory_with_one_bad_file_imports_nothing(db: pathlib.Path, tmp_path: pathlib.Path) -> None:
    before = ok(run(db, "kb", "list"))
    d = tmp_path / "kbdir"
    d.mkdir()
    (d / "a-good.yaml").write_text("company: Acme Business Networks\nfacts:\n"
                                   "  - id: trial\n    text: New customers get a 14-day free trial.\n",
                                   encoding="utf-8")
    (d / "b-bad.yaml").write_text("facts:\n  - id: Bad_ID\n    text: Something.\n", encoding="utf-8")
    bad_input(run(db, "kb", "import", str(d)), "b-bad.yaml:2", "Bad_ID")
    assert ok(run(db, "kb", "list")) == before


def test_import_missing_file(db: pathlib.Path, tmp_path: pathlib.Path) -> None:
    bad_input(run(db, "kb", "import", str(tmp_path / "nope.yaml")), "nope.yaml")


def test_database_that_is_not_sqlite(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "notes.db"
    p.write_text("just some notes\n" * 50)
    bad_input(run(p, "kb", "list"), str(p))


# ---------------------------------------------------------------------- replay

def test_replay_json_and_call_record(tmp_path: pathlib.Path) -> None:
    db = tmp_path / "replay.db"
    r = run(db, "replay", str(CALL), "--kb", str(ACME), "--json")
    out = ok(r)
    assert "Traceback" not in r.stderr
    ivs = [json.loads(l) for l in out.splitlines() if l.strip()]
    assert ivs, out
    for iv in ivs:
        # format 4; a factual correction also carries the verifier's confidence
        assert set(iv) == JSON_KEYS | ({"confidence"} if iv["category"] == "accuracy" else set()), iv
        assert iv["category"] in {"accuracy", "emotion", "momentum", "opportunity", "competitive",
                                  "compliance", "process"}
        assert iv["severity"] in {"low", "medium", "high"} and iv["mode"] in {"voice", "silent"}
        assert isinstance(iv["at"], (int, float)) and isinstance(iv["utterance"], int)
        assert 0 <= iv["utterance"] < 11
        assert isinstance(iv["say"], str) and iv["say"]
        assert all(set(e) == {"kb_id", "text"} for e in iv["evidence"])
    assert [iv["at"] for iv in ivs] == sorted(iv["at"] for iv in ivs)      # time order
    [acc] = [iv for iv in ivs if iv["category"] == "accuracy"]
    assert acc["utterance"] == 4 and acc["mode"] == "voice"
    assert "three years" in acc["say"]
    assert {"kb_id": "standard", "text": "Includes three years of support."} in acc["evidence"]
    assert 21.0 <= acc["at"] <= 29.0
    assert all(iv["mode"] == "silent" for iv in ivs if iv["category"] != "accuracy")

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        [call] = conn.execute("select * from calls").fetchall()
        assert call["source"] == str(CALL)
        assert call["profile"] == "standard"
        assert call["duration_s"] == 46.0
        utts = conn.execute("select idx, speaker, text from utterances where call_id=? order by idx",
                            [call["id"]]).fetchall()
        assert len(utts) == 11
        assert utts[4]["text"] == "That includes two years of support, so you're covered."
        rows = conn.execute("select * from interventions where call_id=? order by seq",
                            [call["id"]]).fetchall()
        assert [(r["category"], r["utterance"], r["say"]) for r in rows] == \
               [(iv["category"], iv["utterance"], iv["say"]) for iv in ivs]
        assert json.loads(rows[0]["evidence"]) == ivs[0]["evidence"]
    finally:
        conn.close()


def test_replay_malformed_transcript(tmp_path: pathlib.Path) -> None:
    call = tmp_path / "call.jsonl"
    call.write_text('{"start": 0, "end": 1, "speaker": "rep", "text": "hi"}\n'
                    "# comment\n"
                    '{"start": 2, "end": 1, "speaker": "lead", "text": "hello"}\n', encoding="utf-8")
    db = tmp_path / "x.db"
    bad_input(run(db, "replay", str(call), "--kb", str(ACME), "--json"), f"{call}:3", "`end`")
    notjson = tmp_path / "broken.jsonl"
    notjson.write_text('{"start": 0, "end": 1, "speaker": "rep", "text": "hi"\n', encoding="utf-8")
    bad_input(run(db, "replay", str(notjson), "--kb", str(ACME)), f"{notjson}:1", "JSON")
    bad_input(run(db, "replay", str(tmp_path / "missing.jsonl"), "--kb", str(ACME)), "missing.jsonl")
    if db.exists():                                                # nothing was recorded
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("select count(*) from calls").fetchone()[0] == 0
        finally:
            conn.close()


def test_replay_malformed_kb(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_KB, encoding="utf-8")
    bad_input(run(tmp_path / "x.db", "replay", str(CALL), "--kb", str(bad)), f"{bad}:5")


def test_replay_without_any_kb(tmp_path: pathlib.Path) -> None:
    bad_input(run(tmp_path / "x.db", "replay", str(CALL)), "no knowledge base")


def test_replay_bad_config(tmp_path: pathlib.Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[reps.sam]\nprofile = "coaching"\n', encoding="utf-8")
    bad_input(run(tmp_path / "x.db", "--config", str(cfg), "replay", str(CALL), "--kb", str(ACME)),
              str(cfg), "coaching")


def test_replay_config_with_modes_not_a_table(tmp_path: pathlib.Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[defaults]\nmodes = "voice"\n', encoding="utf-8")
    bad_input(run(tmp_path / "x.db", "--config", str(cfg), "replay", str(CALL), "--kb", str(ACME)),
              str(cfg))
