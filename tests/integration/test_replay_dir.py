"""`intervene replay DIR` (issue 17): every call in a directory, in name
order, with the options of one replay; a header per call (text) or a `call`
key on each intervention (--json); a bad file named and skipped (exit 1);
progress on a terminal only. The sentence model is a stand-in (what is
tested is the running of many calls, not the embeddings); each call's
interventions are checked against replaying that call alone."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np
import pytest
from click.testing import CliRunner, Result

from intervene.app import Runtime
from intervene.cli import progress as progress_mod
from intervene.cli.main import main
from intervene.cli.replay import calls_in

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "kb" / "acme.yaml"
DEV = Path("/work/shared/calls/dev")
STEMS = ("support-years", "already-told-you", "guarantee-fibrelink")      # copied out of name order


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeEmbedder:
    """Deterministic unit vectors from the text's bytes: no model to load."""

    name = "fake-embedder"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest() * 12, dtype=np.uint8)[:384].astype(np.float32)
                - 127.5 for t in texts]
        out = np.vstack(rows) if rows else np.zeros((0, 384), np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(autouse=True)
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    emb = FakeEmbedder()
    monkeypatch.setattr(Runtime, "embedder", property(lambda self: emb))
    monkeypatch.setattr(Runtime, "judge", property(lambda self: None))


@pytest.fixture
def calls(tmp_path: Path) -> Path:
    d = tmp_path / "calls"
    d.mkdir()
    for stem in STEMS:
        shutil.copy(DEV / f"{stem}.jsonl", d)
        shutil.copy(DEV / f"{stem}.expect.json", d)          # labels beside the calls: no calls
    (d / "notes.txt").write_text("not a call\n")
    (d / "sub").mkdir()
    return d


def cli(db: Path, *args: str, quiet: bool = False) -> Result:
    pre = ["--db", str(db)] + (["--quiet"] if quiet else [])
    return CliRunner().invoke(main, [*pre, *args], env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


def ok(r: Result) -> str:
    assert r.exit_code == 0, f"exit {r.exit_code}\nstdout: {r.stdout}\nstderr: {r.stderr}\n{r.exception!r}"
    assert "Traceback" not in r.stderr
    return r.stdout


def stored_sources(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return sorted(row[0] for row in conn.execute("select source from calls"))
    finally:
        conn.close()


def test_the_calls_of_a_directory_are_its_transcripts_and_audio_in_name_order(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.WAV", "c.expect.json", "c.jsonl", "record.json", "notes.txt", ".hidden.jsonl"):
        (tmp_path / name).write_text("")
    (tmp_path / "d.jsonl").mkdir()
    assert [p.name for p in calls_in(tmp_path)] == [".hidden.jsonl", "a.WAV", "b.jsonl", "c.jsonl"]


def test_text_output_has_a_header_per_call_in_name_order(tmp_path: Path, calls: Path) -> None:
    db = tmp_path / "r.db"
    out = ok(cli(db, "replay", str(calls), "--kb", str(ACME)))
    names = sorted(f"{s}.jsonl" for s in STEMS)
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    assert headers == [f"== {n} ==" for n in names]
    lines = out.splitlines()
    for n in names:                       # each header is followed by that call's own summary line
        i = lines.index(f"== {n} ==")
        assert lines[i + 1].startswith(f"{n}: ") and " utterances, profile standard, KB " in lines[i + 1]
    assert out.count("intervention(s)") == 3
    assert stored_sources(db) == sorted(str(calls / n) for n in names)     # each call recorded


def test_json_lines_carry_the_call_and_match_replaying_each_call_alone(tmp_path: Path, calls: Path) -> None:
    db = tmp_path / "r.db"
    out = ok(cli(db, "replay", str(calls), "--kb", str(ACME), "--json", "--profile", "training", "--no-store"))
    got = [json.loads(line) for line in out.splitlines()]
    assert got and {iv["call"] for iv in got} <= {f"{s}.jsonl" for s in STEMS}
    assert [iv["call"] for iv in got] == sorted(iv["call"] for iv in got)      # calls in name order
    for stem in STEMS:
        alone = ok(cli(db, "replay", str(calls / f"{stem}.jsonl"), "--kb", str(ACME), "--json",
                       "--profile", "training", "--no-store"))
        expected = [json.loads(line) for line in alone.splitlines()]
        assert all("call" not in iv for iv in expected)                      # one call: format 4 as before
        assert [{k: v for k, v in iv.items() if k != "call"} for iv in got if iv["call"] == f"{stem}.jsonl"] \
            == expected
    assert not db.exists() or stored_sources(db) == []


def test_a_bad_call_is_named_and_the_others_still_run(tmp_path: Path, calls: Path) -> None:
    (calls / "b-broken.jsonl").write_text('{"start": 0, "end": 1, "speaker": "rep", "text": "hi"\n')
    (calls / "c-noise.wav").write_bytes(b"not a wav at all")
    db = tmp_path / "r.db"
    r = cli(db, "replay", str(calls), "--kb", str(ACME))
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.stderr and isinstance(r.exception, SystemExit)
    assert f"error: {calls / 'b-broken.jsonl'}:1" in r.stderr
    assert f"error: {calls / 'c-noise.wav'}: " in r.stderr
    assert "2 of 5 call(s) could not be replayed" in r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("== ")] == \
        [f"== {n}.jsonl ==" for n in sorted(STEMS)]
    assert len(stored_sources(db)) == 3


def test_directory_misuse_is_a_clear_error(tmp_path: Path, calls: Path) -> None:
    db = tmp_path / "r.db"
    r = cli(db, "replay", str(calls), "--kb", str(ACME), "--transcript-out", str(tmp_path / "t.jsonl"))
    assert r.exit_code == 2 and r.stderr.startswith("error: --transcript-out") and "one call" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli(db, "replay", str(empty), "--kb", str(ACME))
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {empty}: no calls")
    r = cli(db, "replay", str(calls), "--lead", "a.wav", "--rep", "b.wav", "--kb", str(ACME))
    assert r.exit_code == 2 and r.stderr.startswith("error: give either CALL")
    assert not (tmp_path / "t.jsonl").exists()


def test_progress_on_a_terminal_only_never_on_stdout(tmp_path: Path, calls: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    term = Terminal()
    monkeypatch.setattr(progress_mod, "_stderr", lambda: term)
    out = ok(cli(tmp_path / "r.db", "replay", str(calls), "--kb", str(ACME), "--json"))
    assert "replaying calls" in term.getvalue() and "3/3" in term.getvalue()
    assert "replaying" not in out and all(line.startswith("{") for line in out.splitlines())
    term.seek(0)
    term.truncate()
    ok(cli(tmp_path / "r.db", "replay", str(calls), "--kb", str(ACME), quiet=True))
    assert term.getvalue() == ""
