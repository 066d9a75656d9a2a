"""The service under `intervene bench soak`: the real `intervene serve` in a
child process, and the probe that times its event loop from outside.

A child process, not the service's classes in the bench's own loop, for
three reasons: the bench's load generators must not share (and so hide or
cause) the stalls it measures, SIGKILL and a restart must be the real thing,
and /proc/<pid> gives the service's own memory and file descriptors.
There is no Asterisk: the service keeps retrying ARI (port 9, nothing
listens) while its web side (screens, practice calls, lead webhooks) works.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

PROBE_EVERY_S = 0.02     # /healthz this often over one kept-alive connection
DOWN_RETRY_S = 0.05      # while nothing answers (the restart gap)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class ProcStats:
    t: float              # monotonic
    life: int             # which start of the service (0, then 1 after the first kill ...)
    rss_mb: float
    fds: int


class ServiceProcess:
    """`intervene serve --kb KB` on 127.0.0.1:<port> with a temp DB and
    config; started, SIGKILLed and started again on the bench's schedule."""

    def __init__(self, work: Path, kb: str, config_text: str, env: dict[str, str]) -> None:
        self.work, self.kb = work, kb
        self.port = free_port()
        self.db = work / "soak.db"
        self.config = work / "soak.toml"
        self.config.write_text(config_text.replace("{port}", str(self.port)))
        self.log_path = work / "service.log"
        self.env = {**os.environ, **env, "INTERVENE_DB": str(self.db)}
        self.env.pop("INTERVENE_CONFIG", None)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.life = -1
        self._log: Optional[IO[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.life += 1
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"=== start {self.life} ===\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "intervene.cli.main", "--config", str(self.config), "serve", "--kb", self.kb,
             "--listen", f"127.0.0.1:{self.port}"],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_up(self, timeout: float = 120.0) -> None:
        """Until /healthz answers (the models load first: seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"intervene serve exited at start (see {self.log_path}):\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"intervene serve did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM (the service writes what it holds and exits); True if it exited by itself."""
        if self.proc is None or self.proc.poll() is not None:
            return True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def stats(self) -> Optional[ProcStats]:
        """The running service's resident memory and open descriptors, from /proc."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return None
        rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        return ProcStats(time.monotonic(), self.life, rss_kb / 1024, fds)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])


class Probe:
    """GET /healthz every 20 ms on its own connection, from a process of its
    own: the answer's latency minus the idle median is how long the
    service's loop was busy with something else. A separate process (not a
    thread of the bench), so the bench's own work - SSE parsing, floods,
    building transcripts - cannot hold the timer back through the bench's
    GIL and pass for a stall of the service. CLOCK_MONOTONIC is the
    machine's, so its times line up with the bench's."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, float]] = []     # (monotonic at send, latency ms)
        self._proc: Optional[subprocess.Popen[str]] = None

    def start(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "intervene_harness.soak_service", "probe",
                                       str(self.port)], stdout=subprocess.PIPE, text=True)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGTERM)
        out, _ = self._proc.communicate(timeout=10)
        for line in out.splitlines():
            t, ms = line.split()
            self.samples.append((float(t), float(ms)))
        self._proc = None

    def stalls(self, baseline_until: float, excluded: list[tuple[float, float]]) -> tuple[float, list[float]]:
        """(idle median ms, stall ms of every sample outside `excluded`), the
        baseline from the samples before `baseline_until` (idle, after start)."""
        idle = [ms for t, ms in self.samples if t < baseline_until and not _inside(t, excluded)]
        base = statistics.median(idle) if idle else 0.0
        return base, [max(0.0, ms - base) for t, ms in self.samples
                      if t >= baseline_until and not _inside(t, excluded)]


def _inside(t: float, spans: list[tuple[float, float]]) -> bool:
    return any(a <= t <= b for a, b in spans)


def probe(port: int) -> None:
    """The probe process: one "monotonic latency_ms" line per answer, until SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    conn: Optional[http.client.HTTPConnection] = None
    out: list[str] = []
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.connect()
                t0 = time.monotonic()                # connecting is not the loop's time
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            out.append(f"{t0:.6f} {(time.monotonic() - t0) * 1000:.3f}")
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
            stop.wait(DOWN_RETRY_S)
            continue
        stop.wait(max(0.0, PROBE_EVERY_S - (time.monotonic() - t0)))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "probe":
        probe(int(sys.argv[2]))
