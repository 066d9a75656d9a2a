"""The shipped judge (intervene/nlp/judge.py) on pairs made up here, for a
marina none of its training industries resembles: it must load from the
packaged MiniLM plus the shipped fine-tuned layers, without a download, and
tell the contradictions from the same facts said right in other words.
"""
from __future__ import annotations

import pytest

from intervene.app import Runtime
from intervene.config.env import Env
from intervene.nlp.judge import WEIGHTS, CrossEncoderJudge

pytestmark = pytest.mark.skipif(not WEIGHTS.exists(), reason="judge weights not shipped")

# (claim, fact): the fact proves the claim wrong
WRONG = [
    ("The Harbor slip is sixty-nine a month.", "The Harbor slip costs $59 per month."),
    ("You can leave whenever you like, no notice at all.", "Slip leases can be ended with 60 days' written notice."),
    ("The winter haul-out is included with every slip.", "Winter haul-out is sold separately for $350."),
    ("we waive the mooring fee for everybody", "The $99 mooring fee is waived for returning boaters only."),
    ("You get your money back any time in the first ninety days.", "Deposits are refundable within 30 days of booking."),
    ("Weekend launches cost the same as weekday ones.", "Weekend launches cost $20 more than weekday launches."),
]
# the same facts, said right
RIGHT = [
    ("The Harbor slip is fifty-nine a month.", "The Harbor slip costs $59 per month."),
    ("You'd give us sixty days' notice in writing to end the lease.",
     "Slip leases can be ended with 60 days' written notice."),
    ("Haul-out in the winter is extra, three hundred fifty.", "Winter haul-out is sold separately for $350."),
    ("if you've kept a boat with us before there's no mooring fee",
     "The $99 mooring fee is waived for returning boaters only."),
    ("You can get the deposit back within thirty days of booking.",
     "Deposits are refundable within 30 days of booking."),
    ("Weekends are twenty dollars more than weekdays to launch.",
     "Weekend launches cost $20 more than weekday launches."),
]


@pytest.fixture(scope="module")
def judge() -> CrossEncoderJudge:
    j = CrossEncoderJudge()
    j.warm()
    return j


def test_scores_are_probabilities_in_order(judge):
    probs = judge.contradiction(WRONG + RIGHT)
    assert len(probs) == len(WRONG) + len(RIGHT)
    assert all(0.0 <= p <= 1.0 for p in probs)
    # batched or one by one, the same answer
    assert judge.contradiction(WRONG[:1])[0] == pytest.approx(probs[0], abs=1e-4)


def test_tells_contradictions_from_right_paraphrases(judge):
    wrong = judge.contradiction(WRONG)
    right = judge.contradiction(RIGHT)
    # ranking: of all (wrong, right) pairs, most put the contradiction higher
    above = sum(w > r for w in wrong for r in right) / (len(wrong) * len(right))
    assert above >= 0.7, (wrong, right)
    # and on the same fact, the wrong claim scores above the right one more often than not
    assert sum(w > r for w, r in zip(wrong, right)) >= 4, (wrong, right)


def test_the_judge_runs_on_onnx_runtime_as_on_pytorch(judge, tmp_path):
    """The judge is exported once to ONNX Runtime (twice as fast) and used
    only if it scores as PyTorch does; a second start reuses the export, and
    `torch` keeps it on PyTorch."""
    fast = CrossEncoderJudge(cache_directory=str(tmp_path))
    slow = CrossEncoderJudge(backend="torch", cache_directory=str(tmp_path / "unused"))
    pairs = WRONG + RIGHT
    a, b = fast.contradiction(pairs), slow.contradiction(pairs)
    assert fast._onnx is not None and slow._onnx is None
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-3
    exported = list((tmp_path / "judge").glob("*.onnx"))
    assert len(exported) == 1 and not (tmp_path / "unused").exists()
    made = exported[0].stat().st_mtime_ns
    again = CrossEncoderJudge(cache_directory=str(tmp_path))
    assert again.contradiction(pairs[:2]) == pytest.approx(a[:2], abs=1e-5)
    assert list((tmp_path / "judge").glob("*.onnx")) == exported and exported[0].stat().st_mtime_ns == made


def test_missing_weights_say_so(tmp_path):
    j = CrossEncoderJudge(weights=tmp_path / "none.safetensors")
    assert not j.available()


def test_damaged_weights_leave_the_rules_alone(tmp_path, caplog):
    bad = tmp_path / "judge.safetensors"
    bad.write_bytes(b"not a safetensors file")
    j = CrossEncoderJudge(weights=bad)
    assert j.available()
    assert j.contradiction(WRONG[:2] + RIGHT[:1]) == [1.0, 1.0, 1.0]     # no doubt added to any verdict
    assert "could not be loaded" in caplog.text


@pytest.mark.parametrize("value, on", [("off", False), ("0", False), ("no", False), ("on", True), ("", True)])
def test_judge_can_be_turned_off(monkeypatch, value, on):
    monkeypatch.setenv("INTERVENE_JUDGE", value)
    assert Env.read().judge is on
    assert (Runtime(None, None).judge is not None) is (on and WEIGHTS.exists())
