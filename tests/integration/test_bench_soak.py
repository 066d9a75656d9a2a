"""`intervene bench soak`, a short run: the real service in a child process
under every kind of load, killed and restarted once, ends with one JSON line.
Timing goals are not asserted here (a shared test machine is no place for
them); what is asserted is that the run happened and its accounting is whole."""
from __future__ import annotations

import json
import subprocess
import sys

KEYS = ("loop_stall_p99_ms", "loop_stall_max_ms", "rss_growth_mb", "open_fds_growth", "utterances_lost",
        "interventions_lost", "leads_called_twice")


def test_a_short_soak_runs_every_load_and_prints_one_json_line() -> None:
    proc = subprocess.run([sys.executable, "-m", "intervene.cli.main", "bench", "soak", "--minutes", "0.3",
                           "--reps", "3", "--live-speed", "10", "--big-kb", "4", "--big-speed", "20",
                           "--drain-s", "30"], capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in KEYS:
        assert key in result, key
    assert result["loop_stall_max_ms"] is not None and result["probes"] > 100
    assert result["restarts"] == 1 and result["clean_stop"] is True
    assert result["calls_started"] >= 3 and result["logins_tried"] >= 12
    assert result["webhooks_sent"] >= 10 and result["lead_numbers"] >= 1
    assert result["leads_called_twice"] == 0          # the same number by every route, each body replayed
    assert result["tracebacks_in_log"] == 0
