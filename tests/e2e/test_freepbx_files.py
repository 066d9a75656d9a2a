"""The FreePBX files (dialplans/freepbx/) loaded into a real Asterisk 22 laid
out like FreePBX: scripts/freepbx_check.sh starts a throwaway second Asterisk
from the dev chroot's binaries (not the shared one) on stubs of FreePBX's
extensions.conf, ari.conf and pjsip.conf, and asks it whether the contexts,
the ARI user and the endpoints' media options are there. The second test
shows the check can fail: a post file naming an endpoint that does not exist
is a config error in Asterisk's log, and the check says so."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts" / "freepbx_check.sh"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mount), like scripts/asterisk.sh")


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CHECK)], capture_output=True, text=True, timeout=600, env={**os.environ, **env})


def test_the_freepbx_files_load_with_freepbx_include_layout() -> None:
    r = run_check()
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    for check in ("hook context loaded", "custom destination context: rep by extension",
                  "internal test code reachable from from-internal",
                  "inbound route (from-trunk -> from-pstn -> DID) reaches the custom destination",
                  "custom destination with return (Gosub)", "queue fail over destination",
                  "ARI user beside FreePBX's", "endpoint 1001 has intervene's media options",
                  "endpoint carrier has intervene's media options", "no config errors or warnings in the log"):
        assert f"PASS  {check}" in out, out
    assert "Asterisk 22." in out and "FAIL" not in out


def test_the_check_fails_on_a_broken_custom_file(tmp_path: Path) -> None:
    src = tmp_path / "freepbx"
    shutil.copytree(ROOT / "dialplans" / "freepbx", src)
    post = src / "pjsip.endpoint_custom_post.conf"
    post.write_text(post.read_text() + "\n;; [9999](+,intervene-media)\n")   # no endpoint 9999
    r = run_check(INTERVENE_FREEPBX_SRC=str(src))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "FAIL  config errors or warnings in the log" in out, out
    assert "category '9999' does not exist" in out, out
