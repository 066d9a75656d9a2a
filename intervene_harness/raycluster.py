"""A throwaway Ray cluster on this machine: a head and one more node, each
started with `ray start` on free loopback ports and a fresh temp directory,
for the model-serving tests and `intervene bench cluster`.

Stopping does not use `ray stop`: that stops every Ray process of the user on
the machine, including another test run's cluster. Each `ray start` runs in a
session of its own, so every process it leaves behind (GCS, raylet, agents,
workers, replicas) carries its process group; we end exactly those, by id
(SIGTERM, then SIGKILL: Ray's agents ignore SIGTERM once their raylet is gone).

    with LocalRayCluster(cpus=(1, 1)) as rc:
        rc.address          # "127.0.0.1:PORT": [models] address, or ray.init(address=...)
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence


class RayUnavailable(RuntimeError):
    """Ray is not installed (`pip install "intervene[ray]"`) or would not start."""


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _free_block(n: int, avoid: set[int]) -> int:
    """The first port of `n` consecutive free ones below the kernel's
    ephemeral range (so no port picked with bind(0) can land in it)."""
    rng = random.Random()
    for _ in range(200):
        lo = rng.randrange(10000, 30000 - n)
        block = range(lo, lo + n)
        if avoid.intersection(block):
            continue
        try:
            for p in block:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return lo
    raise RayUnavailable(f"no block of {n} free ports for Ray's workers")


def _ray_bin() -> str:
    here = Path(sys.executable).with_name("ray")
    if here.exists():
        return str(here)
    found = shutil.which("ray")
    if not found:
        raise RayUnavailable('no `ray` command: pip install "intervene[ray]"')
    return found


class LocalRayCluster:
    def __init__(self, cpus: Sequence[int] = (1, 1), object_store_mb: int = 100) -> None:
        self.cpus = list(cpus)
        self.object_store_mb = object_store_mb
        self.address = ""
        self.temp = ""
        self.start_s = 0.0
        self._groups: set[int] = set()
        self._used: set[int] = set()                   # worker port blocks handed out (one per node)
        self._env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DEDUP_LOGS": "0"}

    def _node_ports(self) -> list[str]:
        nm, om, agent_grpc, agent_http, metrics, runtime_env = _free_ports(6)
        lo = _free_block(101, self._used | {nm, om, agent_grpc, agent_http, metrics, runtime_env})
        self._used.update(range(lo, lo + 101))
        return ["--node-manager-port", str(nm), "--object-manager-port", str(om),
                "--dashboard-agent-grpc-port", str(agent_grpc), "--dashboard-agent-listen-port", str(agent_http),
                "--metrics-export-port", str(metrics), "--runtime-env-agent-port", str(runtime_env),
                "--min-worker-port", str(lo), "--max-worker-port", str(lo + 100)]

    def start(self) -> "LocalRayCluster":
        ray = _ray_bin()
        # short: Ray puts Unix sockets under it (108-byte limit)
        self.temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
        gcs, client = _free_ports(2)
        common = ["--node-ip-address", "127.0.0.1", "--disable-usage-stats",
                  "--object-store-memory", str(self.object_store_mb * 1024 * 1024)]
        t0 = time.perf_counter()
        self._run([ray, "start", "--head", "--port", str(gcs), "--ray-client-server-port", str(client),
                   "--include-dashboard=false", "--temp-dir", self.temp, "--num-cpus", str(int(self.cpus[0])),
                   *common, *self._node_ports()])
        self.address = f"127.0.0.1:{gcs}"
        for n in self.cpus[1:]:
            self._run([ray, "start", "--address", self.address, "--num-cpus", str(int(n)), *common, *self._node_ports()])
        self.start_s = time.perf_counter() - t0
        return self

    def _run(self, cmd: list[str]) -> None:
        try:
            proc = subprocess.Popen(cmd, env=self._env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            self._groups.add(proc.pid)
            out, err = proc.communicate(timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.stop()
            raise RayUnavailable(f"{' '.join(cmd[:3])}: {e}") from e
        if proc.returncode != 0:
            self.stop()
            raise RayUnavailable(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {(err or out)[-2000:]}")

    def pids(self) -> list[int]:
        """Our cluster's processes: those in the process groups of our `ray start`s."""
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) == os.getpid():
                continue
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) in self._groups and fields[0] != "Z":
                out.append(int(d.name))
        return out

    def rss_mb(self) -> float:
        """Resident memory of the cluster's processes (start-up cost, in the bench)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self, grace_s: float = 5.0) -> None:
        pids = self.pids()
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and (pids := self.pids()):
                time.sleep(0.1)
            if not pids:
                break
        if self.temp:
            shutil.rmtree(self.temp, ignore_errors=True)
            self.temp = ""

    def __enter__(self) -> "LocalRayCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Optional[list[str]] = None) -> None:
    """`python -m intervene_harness.raycluster`: start one, print its address and cost, stop it."""
    with LocalRayCluster() as rc:
        time.sleep(2)
        print(f"address {rc.address}: started in {rc.start_s:.1f} s, {len(rc.pids())} processes, "
              f"{rc.rss_mb():.0f} MB resident")


if __name__ == "__main__":
    main()
