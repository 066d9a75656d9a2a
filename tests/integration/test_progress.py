"""Long commands show progress (issue 17): a bar with counts on stderr when
it is a terminal, nothing when it is not or with `intervene --quiet`, never
anything on stdout; and the layers below report through a plain
(done, total) callback. The sentence model is a stand-in here: what is
tested is the reporting, not the embeddings."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest
from click.testing import CliRunner, Result

from intervene.app import Runtime
from intervene.cli import progress as progress_mod
from intervene.cli.main import main
from intervene.cli.progress import offset, progress
from intervene.config import Config
from intervene.kb.index import PROGRESS_CHUNK, KBIndex, embed_with_cache
from intervene.kb.loader import load_kb
from intervene.report.record import import_records
from intervene.report.tune import tune_calls
from intervene.store.db import Store

ROOT = Path(__file__).resolve().parents[2]
FITNESS_KB = ROOT / "kb" / "examples" / "peakform-fitness.yaml"
FITNESS_CALLS = ROOT / "tests" / "calls" / "fitness"


class Terminal(io.StringIO):
    """stderr as a terminal: what the bar draws lands here."""

    def isatty(self) -> bool:
        return True


class FakeEmbedder:
    """Deterministic unit vectors from a hash of the text: no model to load."""

    name = "fake-embedder"

    def __init__(self) -> None:
        self.calls = 0
        self.batches: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        self.batches.append(len(texts))
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest() * 12, dtype=np.uint8)[:384].astype(np.float32)
                - 127.5 for t in texts]
        out = np.vstack(rows) if rows else np.zeros((0, 384), np.float32)
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    term = Terminal()
    monkeypatch.setattr(progress_mod, "_stderr", lambda: term)
    return term


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    emb = FakeEmbedder()
    monkeypatch.setattr(Runtime, "embedder", property(lambda self: emb))
    monkeypatch.setattr(Runtime, "judge", property(lambda self: None))
    return emb


def cli(db: Path, *args: str, quiet: bool = False) -> Result:
    pre = ["--db", str(db)] + (["--quiet"] if quiet else [])
    return CliRunner().invoke(main, [*pre, *args], env={"INTERVENE_CONFIG": None, "INTERVENE_DB": None})


def record(call_id: str, outcome: str = "won") -> dict[str, Any]:
    return {"call_id": call_id, "started": "2026-11-24T15:02:11Z", "duration_s": 9.0, "rep": "sam",
            "profile": "standard", "mode": "silent", "outcome": outcome,
            "transcript": [{"start": 0.0, "end": 2.0, "speaker": "lead", "text": "how much is it"},
                           {"start": 2.0, "end": 3.0, "speaker": "rep", "text": "it's 49.99 a month"}],
            "interventions": []}


def _records_file(tmp_path: Path, n: int) -> Path:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(record(f"rec{i}", "won" if i % 2 else "lost")) + "\n" for i in range(n)))
    return src


# ------------------------------------------------------------- the helper
def test_the_bar_draws_counts_on_a_terminal_and_nothing_elsewhere() -> None:
    term, pipe = Terminal(), io.StringIO()
    with progress("embedding", 4, file=term) as bar:
        for i in range(1, 5):
            bar(i, 4)
    assert "embedding" in term.getvalue() and "4/4" in term.getvalue() and "2/4" in term.getvalue()
    with progress("embedding", 4, file=pipe) as bar:
        bar(2, 4)
    assert pipe.getvalue() == "" and not bar.shown


def test_the_total_may_grow_as_the_work_finds_its_size() -> None:
    term = Terminal()
    with progress("importing", file=term) as bar:
        bar(1, 10)
        bar(5, 20)
    assert "5/20" in term.getvalue()


def test_a_part_reports_after_the_parts_before_it() -> None:
    seen: list[tuple[int, int]] = []
    part = offset(lambda done, total: seen.append((done, total)), 3, 10)
    part(2, 5)
    assert seen == [(5, 10)]


# ---------------------------------------------------------- the commands
def test_calls_import_shows_counts_on_a_terminal_not_on_stdout(tmp_path: Path, terminal: Terminal) -> None:
    r = cli(tmp_path / "a.db", "calls", "import", str(_records_file(tmp_path, 3)))
    assert r.exit_code == 0, r.output
    assert "importing calls" in terminal.getvalue() and "3/3" in terminal.getvalue()
    assert "importing" not in r.stdout and r.stdout.strip() == "3 calls imported, 0 skipped"


def test_quiet_draws_nothing_even_on_a_terminal(tmp_path: Path, terminal: Terminal) -> None:
    r = cli(tmp_path / "a.db", "calls", "import", str(_records_file(tmp_path, 3)), quiet=True)
    assert r.exit_code == 0, r.output
    assert terminal.getvalue() == ""
    assert cli(tmp_path / "a.db", "-q", "calls", "list").exit_code == 0


def test_without_a_terminal_nothing_is_drawn(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    r = cli(db, "calls", "import", str(_records_file(tmp_path, 3)))
    assert r.exit_code == 0 and "importing" not in r.output          # CliRunner's stderr is no terminal
    r = cli(db, "calls", "import", str(_records_file(tmp_path, 3)))
    assert r.stderr.count("already stored") == 3 and "importing" not in r.output


def test_report_shows_the_calls_it_reads(tmp_path: Path, terminal: Terminal) -> None:
    db = tmp_path / "a.db"
    assert cli(db, "-q", "calls", "import", str(_records_file(tmp_path, 6))).exit_code == 0
    assert terminal.getvalue() == ""
    r = cli(db, "report", "--out", str(tmp_path / "rep"), "--min-calls", "5")
    assert r.exit_code == 0, r.output
    assert "reading calls" in terminal.getvalue() and "6/6" in terminal.getvalue()
    assert "reading" not in r.stdout


def test_kb_import_shows_the_facts_being_embedded(tmp_path: Path, terminal: Terminal,
                                                  fake_models: FakeEmbedder) -> None:
    r = cli(tmp_path / "a.db", "kb", "import", str(FITNESS_KB))
    assert r.exit_code == 0, r.output
    n = fake_models.calls
    assert n > 0 and "embedding the KB" in terminal.getvalue() and f"{n}/{n}" in terminal.getvalue()
    assert "embedding" not in r.stdout


def test_eval_shows_the_calls_it_scores(tmp_path: Path, terminal: Terminal, fake_models: FakeEmbedder) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    for stem in ("core-price-old-gym", "clean-plus-schedule-pause"):
        shutil.copy(FITNESS_CALLS / f"{stem}.jsonl", cases)
        expect = json.loads((FITNESS_CALLS / f"{stem}.expect.json").read_text())
        expect["kb"] = str(FITNESS_KB)
        (cases / f"{stem}.expect.json").write_text(json.dumps(expect))
    r = cli(tmp_path / "a.db", "eval", str(cases), "--summary")
    assert r.exit_code == 0, r.output
    assert "scoring calls" in terminal.getvalue() and "2/2" in terminal.getvalue()
    assert r.stdout.splitlines()[-1].startswith("recall ")       # stdout as before: the figures, last line last


# ------------------------------------------------------ the layers below
def test_embedding_reports_the_new_texts_in_chunks_and_gives_the_same_vectors() -> None:
    texts = [f"fact number {i} costs {i * 3} dollars" for i in range(PROGRESS_CHUNK * 2 + 10)]
    seen: list[tuple[int, int]] = []
    quiet, loud = FakeEmbedder(), FakeEmbedder()
    plain = embed_with_cache(quiet, texts)
    reported = embed_with_cache(loud, texts, None, lambda done, total: seen.append((done, total)))
    assert np.array_equal(plain, reported)
    total = len(texts)
    assert seen == [(0, total), (PROGRESS_CHUNK, total), (2 * PROGRESS_CHUNK, total), (total, total)]
    assert quiet.batches == [total] and loud.batches == [PROGRESS_CHUNK, PROGRESS_CHUNK, 10]


def test_the_index_passes_progress_to_the_embedding(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    store = Store(tmp_path / "v.db")
    KBIndex(load_kb(FITNESS_KB), FakeEmbedder(), store, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] > 0
    again: list[tuple[int, int]] = []          # cached now: nothing new to embed, nothing to report
    KBIndex(load_kb(FITNESS_KB), FakeEmbedder(), store, progress=lambda d, t: again.append((d, t)))
    assert again == []
    store.close()


def test_import_records_reports_each_record(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    seen: list[tuple[int, int]] = []
    done = import_records(store, [record("a"), record("b"), record("a")], lambda d, t: seen.append((d, t)))
    assert done == {"imported": ["a", "b"], "skipped": ["a"]} and seen == [(1, 3), (2, 3), (3, 3)]
    store.close()


def test_tune_reports_each_call(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    for cid in ("x", "y"):
        store.start_call(cid, source="live", profile="standard")      # no lines: skipped, but counted
    seen: list[tuple[int, int]] = []
    report = tune_calls(store, None, Config(), "standard", {"dead_air_s": 12.0},
                        [store.call("x"), store.call("y")], lambda d, t: seen.append((d, t)))  # type: ignore[list-item]
    assert len(report["skipped"]) == 2 and seen == [(0, 2), (1, 2), (2, 2)]
    store.close()
