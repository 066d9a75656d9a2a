"""`intervene doctor` run in-process (as a test or a wrapper script would)
leaves the process's logging as it found it: it quiets the service's loggers
only while its own lines speak."""
from __future__ import annotations

import logging
import socket
from pathlib import Path

from click.testing import CliRunner

from intervene.cli.main import main


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_doctor_sets_the_log_level_back(tmp_path: Path, monkeypatch) -> None:
    port = _closed_port()
    monkeypatch.setenv("INTERVENE_ARI_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("INTERVENE_ARI_PASSWORD", "x")
    logger = logging.getLogger("intervene")
    before = logger.level
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "d.db"), "doctor", "--no-models", "--timeout", "1",
                                       "--listen", f"127.0.0.1:{_closed_port()}"])
    assert result.exit_code == 1, result.output               # ARI is not there: a FAIL line, not a traceback
    assert "FAIL" in result.output and "ARI" in result.output
    assert logger.level == before
