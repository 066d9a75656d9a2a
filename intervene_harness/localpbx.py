"""The local Asterisk 22 (`scripts/asterisk.sh`) from Python: for the demo,
the end-to-end tests and the live benchmark."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from intervene.errors import InterveneError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "asterisk.sh"


class PbxError(InterveneError, RuntimeError):
    pass


def _run(*args: str, timeout: float = 600) -> str:
    if not SCRIPT.exists():
        raise PbxError(f"{SCRIPT} not found: the local Asterisk needs a checkout of the intervene repository")
    r = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise PbxError(f"scripts/asterisk.sh {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-1500:]}"
                       f"{r.stderr[-1500:]}")
    return r.stdout


def run_dir() -> Path:
    return Path(os.environ.get("INTERVENE_ASTERISK_RUN", "/tmp/intervene-asterisk"))


def env() -> dict[str, str]:
    """INTERVENE_ARI_URL/USER/PASSWORD and INTERVENE_SIP_PASSWORD of the running local Asterisk."""
    out: dict[str, str] = {}
    f = run_dir() / "ari.env"
    if not f.exists():
        raise PbxError(f"{f} missing: is the local Asterisk started?")
    for line in f.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip().removeprefix("export ").strip()] = v.strip().strip("'\"")
    return out


def start() -> dict[str, str]:
    _run("start")
    return env()


def stop() -> None:
    _run("stop", timeout=60)


def restart() -> dict[str, str]:
    _run("restart")
    return env()


def running() -> bool:
    if not SCRIPT.exists():
        return False
    return subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode == 0

