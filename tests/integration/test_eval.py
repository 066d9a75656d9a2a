"""The labelled calls, scored in-process with the product's own scorer
(intervene.report.evaluate, the rules of ../shared/eval/score.py): floors a little
under what was measured, so precision - above all, wrong corrections said
aloud - cannot quietly regress.

- dev: ../shared/calls/dev (Acme, the original tuning set);
- older: tests/calls/{solar,saas,fitness,insurance}, tuned on in earlier issues;
- tune: tests/calls/tune/*, fifty-seven industries written by helpers who never saw
  the code, used to build the verification stage (issue 13);
- blind: tests/calls/blind/*, four more industries written the same way at the
  same time as the first eight tune sets and set aside unread: only their
  totals were ever looked at;
- blind2: tests/calls/blind2/*, two industries written with the last four tune
  sets and set aside the same way;
- blind3: tests/calls/blind3/*, two industries written with the last two tune
  sets (third session) and set aside the same way;
- blind4: tests/calls/blind4/*, two industries written with two tune sets in the
  sixth session and first scored after the changes those tune sets led to;
- blind5: tests/calls/blind5/*, the same for the sixth session's second round;
- blind6, blind7: tests/calls/blind6/*, blind7/*, the same for the seventh
  session's two rounds (each also scored once before its round's changes);
- blind8: tests/calls/blind8/*, the eighth session's blind pair, scored once
  before the session's changes;
- blind9: tests/calls/blind9/*, two industries written in the eleventh session
  (issue 17's) by a helper who never read the code, scored once, tuned on never;
- blind10: tests/calls/blind10/*, two industries written in the fifteenth session
  by helpers who never read the code, with two tune sets (fence installation,
  self storage), and scored once before that session's changes (their self-check is
  blind9's: `python3 tests/calls/blind9/check.py tests/calls/blind10/test-prep`).
- blind11: tests/calls/blind11/*, two industries written in the sixteenth session
  the same way, with two tune sets (HVAC maintenance, a mobile carrier), and scored
  once before that session's changes (same self-check). Their industries (a
  wedding venue, funeral pre-planning) are also in blind A and blind F: other
  companies, KBs and writers.
- blind12: tests/calls/blind12/*, two industries (a dance studio, chimney services)
  written in the seventeenth session the same way, with two tune sets (asphalt
  paving, a translation agency), and scored once before that session's changes.
- blind13: tests/calls/blind13/*, two industries (a locksmith, home staging) written
  in the eighteenth session the same way, with two tune sets (junk removal, office
  water and coffee delivery), and scored once before that session's changes.
- blind14: tests/calls/blind14/*, two industries (medical alert systems, mobile car
  detailing) written in the nineteenth session the same way, with two tune sets
  (laundry pickup and delivery, standby generators), and scored once before that
  session's changes.
- blind15: tests/calls/blind15/*, two industries (document shredding, furniture
  rental) written in the twentieth session the same way, with two tune sets
  (carpet & upholstery cleaning, home inspection), and scored once before that
  session's changes.
- blind16: tests/calls/blind16/*, two industries (a scuba diving school, automotive
  window tinting) written in the twenty-first session the same way, with two tune
  sets (gutter services, a trampoline park), and scored once before that session's
  changes (one KB line was fixed mechanically first: an opportunity's `offer` named
  no product, which the loader rejects).
- blind17: tests/calls/blind17/*, two industries (an in-home private chef, aquarium
  installation & maintenance) written in the twenty-second session the same way, with
  two tune sets (an escape room venue, piano moving & tuning), and scored once before
  that session's changes.
- blind18: tests/calls/blind18/*, two industries (a home insulation contractor, a
  tennis academy) written in the twenty-third session the same way, with two tune
  sets (dumpster rental, a reformer pilates studio), and scored once before that
  session's changes.
- blind19: tests/calls/blind19/*, two industries (lawn irrigation, a massage clinic)
  written in the twenty-fourth session the same way, with two tune sets (pressure
  washing, a climbing gym), and scored once before that session's changes.
- blind20: tests/calls/blind20/*, two industries (party & event rentals, a pottery
  studio) written in the twenty-fifth session the same way, with eight tune sets
  (bicycle servicing, residential solar, phone repair, car-wash memberships, auto
  glass, a ski school, senior living, a hair salon), and scored once before that
  session's changes.
The blind sets are the honest figure of how the checker does on a company it
has not seen. Do not tune on them; write new sets instead.
"""
from __future__ import annotations

import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parents[1]          # tests/
REPO = HERE.parent
from evalcalls import score_dir, sets_under  # noqa: E402

from intervene.report.evaluate import Tally  # noqa: E402

DEV = REPO.parent / "shared" / "calls" / "dev"
pytestmark = pytest.mark.eval

GROUPS = {
    "older": [HERE / "calls" / s for s in ("solar", "saas", "fitness", "insurance")],
    "tune": sets_under(HERE / "calls" / "tune"),
    "blind": sets_under(HERE / "calls" / "blind"),
    "blind2": sets_under(HERE / "calls" / "blind2"),
    "blind3": sets_under(HERE / "calls" / "blind3"),
    "blind4": sets_under(HERE / "calls" / "blind4"),
    "blind5": sets_under(HERE / "calls" / "blind5"),
    "blind6": sets_under(HERE / "calls" / "blind6"),
    "blind7": sets_under(HERE / "calls" / "blind7"),
    "blind8": sets_under(HERE / "calls" / "blind8"),
    "blind9": sets_under(HERE / "calls" / "blind9"),
    "blind10": sets_under(HERE / "calls" / "blind10"),
    "blind11": sets_under(HERE / "calls" / "blind11"),
    "blind12": sets_under(HERE / "calls" / "blind12"),
    "blind13": sets_under(HERE / "calls" / "blind13"),
    "blind14": sets_under(HERE / "calls" / "blind14"),
    "blind15": sets_under(HERE / "calls" / "blind15"),
    "blind16": sets_under(HERE / "calls" / "blind16"),
    "blind17": sets_under(HERE / "calls" / "blind17"),
    "blind18": sets_under(HERE / "calls" / "blind18"),
    "blind19": sets_under(HERE / "calls" / "blind19"),
    "blind20": sets_under(HERE / "calls" / "blind20"),
}
# (overall recall, overall precision, accuracy precision, most wrong spoken corrections)
FLOORS = {
    "dev": (0.95, 0.95, 0.95, 0),
    "older": (0.71, 0.95, 0.95, 0),     # measured: 0.738 / 0.978 / 1.00 / 0 wrong spoken of 7
    "tune": (0.56, 0.91, 0.95, 1),      # measured: 0.587 / 0.934 / 0.974 / 0 wrong spoken of 93 (57 sets;
                                        # 0.610 / 0.931 on the 49 before eight new ones were added)
    "blind": (0.65, 0.89, 0.80, 1),     # measured: 0.678 / 0.927 / 0.89 / 0 wrong spoken of 8
    "blind2": (0.63, 0.89, 0.85, 1),    # measured: 0.662 / 0.925 / 1.00 / 0 wrong spoken of 2
    "blind3": (0.45, 0.85, 0.60, 1),    # measured: 0.487 / 0.860 / 0.62 / 0 wrong spoken of 0
    "blind4": (0.59, 0.86, 0.80, 1),    # measured: 0.623 / 0.889 / 0.92 / 0 wrong spoken of 4
    "blind5": (0.62, 0.84, 0.72, 1),    # measured: 0.658 / 0.873 / 0.80 / 0 wrong spoken of 3
    "blind6": (0.51, 0.84, 0.40, 1),    # measured: 0.545 / 0.875 / 0.50 / 0 wrong spoken of 1
    "blind7": (0.55, 0.76, 0.55, 1),    # measured: 0.583 / 0.792 / 0.65 / 0 wrong spoken of 5
    "blind8": (0.59, 0.86, 0.70, 1),    # measured: 0.622 / 0.895 / 0.80 / 0 wrong spoken of 3
    "blind9": (0.49, 0.76, 0.70, 1),    # measured: 0.522 / 0.800 / 0.75 / 0 wrong spoken of 1
    "blind10": (0.53, 0.86, 0.90, 1),   # measured: 0.567 / 0.905 / 1.00 / 0 wrong spoken of 3 (first run)
    "blind11": (0.45, 0.76, 0.60, 1),   # measured: 0.476 / 0.811 / 0.70 / 1 wrong spoken of 6 (first run),
                                        # 0.492 / 0.795 / 0.70 / 1 of 6 after the sixteenth session
    "blind12": (0.42, 0.74, 0.30, 1),   # measured: 0.452 / 0.778 / 0.40 / 0 wrong spoken of 0 (first run)
    "blind13": (0.36, 0.63, 0.75, 1),   # measured: 0.391 / 0.667 / 0.85 / 0 wrong spoken of 3 (first run)
    "blind14": (0.29, 0.75, 0.60, 1),   # measured: 0.323 / 0.789 / 0.70 / 0 wrong spoken of 0 (first run)
    "blind15": (0.39, 0.70, 0.63, 1),   # measured: 0.419 / 0.735 / 0.73 / 0 wrong spoken of 4 (first run)
    "blind16": (0.39, 0.74, 0.70, 1),   # measured: 0.418 / 0.776 / 0.77 / 0 wrong spoken of 3 (first run)
    "blind17": (0.40, 0.74, 0.70, 1),   # measured: 0.438 / 0.780 / 0.75 / 0 wrong spoken of 4 (first run),
                                        # 0.438 / 0.796 after the twenty-third session
    "blind18": (0.38, 0.74, 0.75, 1),   # measured: 0.418 / 0.776 / 0.83 / 0 wrong spoken of 2 (first run),
                                        # 0.418 / 0.792 after that session's changes,
                                        # 0.429 / 0.796 after the twenty-fourth session
    "blind19": (0.48, 0.94, 0.90, 1),   # measured: 0.515 / 0.981 / 0.95 / 0 wrong spoken of 5 (first run;
                                        # the same after that session's changes; 0.525 / 0.981 after the
                                        # twenty-fifth)
    "blind20": (0.33, 0.78, 0.60, 1),   # measured: 0.369 / 0.826 / 0.67 / 0 wrong spoken of 3 (first run)
}
# (with the judge, as shipped; INTERVENE_JUDGE=off runs the rules alone and misses these floors)


def total(dirs, embedder, judge) -> Tally:
    t = Tally()
    for d in dirs:
        assert list(d.glob("*.expect.json")), f"no labelled calls in {d}"
        t.add(score_dir(d, embedder, judge=judge))
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
def test_dev_set(embedder, judge) -> None:
    check("dev", score_dir(DEV, embedder, judge=judge))


@pytest.mark.parametrize("group", list(GROUPS))
def test_labelled_sets(embedder, judge, group: str) -> None:
    assert GROUPS[group], f"no labelled sets for {group}"
    check(group, total(GROUPS[group], embedder, judge))
