"""The labelled calls, scored in-process with the product's own scorer
(intervene.evaluate, the rules of ../shared/eval/score.py): floors a little
under what was measured, so precision - above all, wrong corrections said
aloud - cannot quietly regress.

- dev: ../shared/calls/dev (Acme, the original tuning set);
- older: tests/calls/{solar,saas,fitness,insurance}, tuned on in earlier issues;
- tune: tests/calls/tune/*, fifteen industries written by helpers who never saw
  the code, used to build the verification stage (issue 13);
- blind: tests/calls/blind/*, four more industries written the same way at the
  same time as the first eight tune sets and set aside unread: only their
  totals were ever looked at;
- blind2: tests/calls/blind2/*, two industries written with the last four tune
  sets and set aside the same way.
The blind sets are the honest figure of how the checker does on a company it
has not seen. Do not tune on them; write new sets instead.
"""
from __future__ import annotations

import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from evalcalls import score_dir, sets_under  # noqa: E402

from intervene.evaluate import Tally  # noqa: E402

DEV = REPO.parent / "shared" / "calls" / "dev"
GROUPS = {
    "older": [HERE / "calls" / s for s in ("solar", "saas", "fitness", "insurance")],
    "tune": sets_under(HERE / "calls" / "tune"),
    "blind": sets_under(HERE / "calls" / "blind"),
    "blind2": sets_under(HERE / "calls" / "blind2"),
}
# (overall recall, overall precision, accuracy precision, most wrong spoken corrections)
FLOORS = {
    "dev": (0.95, 0.95, 0.95, 0),
    "older": (0.70, 0.91, 0.95, 0),     # measured: 0.738 / 0.938 / 1.00 / 0
    "tune": (0.60, 0.86, 0.93, 1),      # measured: 0.637 / 0.891 / 0.97 / 0 wrong spoken of 34
    "blind": (0.59, 0.83, 0.68, 3),     # measured: 0.624 / 0.861 / 0.73 / 2 wrong spoken of 11
    "blind2": (0.57, 0.84, 0.80, 1),    # measured: 0.608 / 0.882 / 0.90 / 0 wrong spoken of 3
}


def total(dirs, embedder) -> Tally:
    t = Tally()
    for d in dirs:
        assert list(d.glob("*.expect.json")), f"no labelled calls in {d}"
        t.add(score_dir(d, embedder))
    return t


def check(name: str, t: Tally) -> None:
    recall, precision, acc_precision, wrong_spoken = FLOORS[name]
    report = "\n".join([f"== {name}", *t.report(details=not name.startswith("blind"))])
    assert t.cases > 0
    assert t.recall >= recall and t.precision >= precision, report
    tp, fp = t.tp["accuracy"], t.fp["accuracy"]
    assert tp / max(1, tp + fp) >= acc_precision, report
    assert t.spoken[1] <= wrong_spoken, report


@pytest.mark.skipif(not DEV.is_dir(), reason=f"shared dev calls not found at {DEV}")
def test_dev_set(embedder) -> None:
    check("dev", score_dir(DEV, embedder))


@pytest.mark.parametrize("group", list(GROUPS))
def test_labelled_sets(embedder, group: str) -> None:
    assert GROUPS[group], f"no labelled sets for {group}"
    check(group, total(GROUPS[group], embedder))
