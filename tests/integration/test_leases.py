"""Call leases on both databases: who monitors a live call, and how exactly
one worker takes over the calls of one that died (store/leases.py)."""
from __future__ import annotations

import json
import threading

from intervene.report.record import call_record
from intervene.store import leases
from intervene.store.db import Store


def test_a_lease_is_renewed_by_its_worker_only(store_target):
    s = Store(store_target)
    leases.take(s, "c1", "w1", "intervene-w1", now=100.0)
    assert leases.renew(s, "w1", ["c1"], now=103.0) == []
    assert leases.expired(s, now=107.0) == []                        # renewed at 103: good until 108
    assert [r["call_id"] for r in leases.expired(s, now=108.5)] == ["c1"]
    assert leases.renew(s, "w2", ["c1"], now=104.0) == ["c1"]        # not w2's: w2 must let go
    assert leases.held_by_others(s, "w2", now=105.0) == {"c1"}
    assert leases.held_by_others(s, "w1", now=105.0) == set()
    assert leases.held_by_others(s, "w2", now=200.0) == set()        # expired: nobody's any more
    assert [w["name"] for w in leases.workers(s)] == ["w1", "w2"]    # heartbeats


def test_an_expired_lease_is_taken_by_exactly_one_worker(store_target):
    s = Store(store_target)
    leases.take(s, "c1", "w1", "intervene-w1", now=100.0)
    assert leases.steal(s, "c1", "w2", "intervene-w2", now=102.0) is None     # still w1's
    won = leases.steal(s, "c1", "w2", "intervene-w2", now=106.0)
    assert won is not None and won["worker"] == "w1" and won["renewed"] == 100.0
    assert leases.steal(s, "c1", "w3", "intervene-w3", now=106.5) is None     # w2 holds it now
    assert leases.get(s, "c1")["worker"] == "w2"


def test_racing_workers_never_both_win(store_target):
    """Eight workers (each with its own connection, as each is its own process) race for one expired lease."""
    Store(store_target).close()
    seed = Store(store_target)
    leases.take(seed, "c1", "w0", "intervene-w0", now=100.0)
    stores = [Store(store_target) for _ in range(8)]
    wins: list[str] = []
    go = threading.Barrier(8)

    def race(i: int) -> None:
        go.wait()
        if leases.steal(stores[i], "c1", f"w{i + 1}", f"intervene-w{i + 1}", now=200.0) is not None:
            wins.append(f"w{i + 1}")
    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and leases.get(seed, "c1")["worker"] == wins[0]


def test_a_gap_in_monitoring_is_in_the_record(store_target):
    s = Store(store_target)
    s.start_call("c1", source="live", rep="alice", profile="standard", mode="mixed",
                 conversation_started=1000.0)
    leases.add_gap(s, "c1", 1004.0, 1009.5)
    s.finish_call("c1", 30.0)
    rec = call_record(s, "c1")
    assert rec["monitoring_gaps"] == [[4.0, 9.5]] and rec["monitoring_paused_s"] == 5.5
    s.start_call("c2", source="live", rep="alice", profile="standard", mode="mixed")
    assert "monitoring_gaps" not in call_record(s, "c2")


def test_a_call_that_ended_while_nobody_monitored_it_is_closed_once(store_target):
    s = Store(store_target)
    s.start_call("c1", source="live", rep="alice", conversation_started=1000.0)
    leases.take(s, "c1", "w1", "intervene-w1", now=1010.0)
    leases.close_orphan(s, "c1", last_monitored=1012.0)
    row = s.call("c1")
    assert row["duration_s"] == 12.0 and json.loads(row["gaps"]) == [[1012.0, 1012.0]]
    assert leases.get(s, "c1") is None
    s.start_call("c2", source="live", rep="alice", conversation_started=1000.0)
    s.finish_call("c2", 40.0)
    leases.take(s, "c2", "w1", "intervene-w1", now=1010.0)
    leases.close_orphan(s, "c2", last_monitored=1012.0)               # finished already: kept as it was
    assert s.call("c2")["duration_s"] == 40.0 and s.call("c2")["gaps"] is None


def test_a_worker_takes_over_only_calls_on_its_own_asterisk(store_target):
    """The channels of a call on another Asterisk cannot be moved here."""
    s = Store(store_target)
    leases.take(s, "a1", "w1", "iv-w1", now=100.0, asterisk="http://pbx-a:8088")
    leases.take(s, "b1", "w2", "iv-w2", now=100.0, asterisk="http://pbx-b:8088")
    leases.take(s, "old", "w3", "iv-w3", now=100.0)                      # a lease from before the column
    assert {r["call_id"] for r in leases.expired(s, 200.0, "http://pbx-a:8088")} == {"a1", "old"}
    assert {r["call_id"] for r in leases.expired(s, 200.0)} == {"a1", "b1", "old"}
