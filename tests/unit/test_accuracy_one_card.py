"""One accuracy card per thing the rep said: where one utterance seems to
contradict two facts, only the surest verdict is released (seen on a new
company's call: "there's a $25 setup fee but we waive it for anybody switching"
gave a right card on the setup fee and a wrong one on a promotion's fee)."""
from __future__ import annotations

from dataclasses import dataclass

from intervene.core.detect.accuracy import AccuracyDetector
from intervene.core.detect.claims.checker import UtteranceCheck
from intervene.core.detect.state import CallState
from intervene.vocab import Fact, Speaker, Utterance, Verdict


def _wrong(key: str, confidence: float) -> Verdict:
    return Verdict(False, "the claim", Fact(key=key, kb_id=key, text=f"{key} fact"), "differs",
                   correction=f"about {key}", confidence=confidence)


@dataclass
class _Checker:
    """Stands in for the claim checker: the verdicts each rep text gets."""
    verdicts: dict[str, list[Verdict]]

    def check(self, text, product=None, echoed=(), prior="", measures=()) -> UtteranceCheck:
        return UtteranceCheck(list(self.verdicts.get(text, [])))


def _released(verdicts: dict[str, list[Verdict]], *texts: str) -> list:
    det, call = AccuracyDetector(_Checker(verdicts)), CallState()  # type: ignore[arg-type]
    out = []
    for i, text in enumerate(texts):
        u = Utterance(i, Speaker.REP, i * 4.0, i * 4.0 + 3.0, text)
        call.utterances.append(u)
        out += det.on_utterance(u, call, u.end)      # (a hold may expire as the rep goes on)
    return out + det.turn_ended(len(texts) * 4.0 + 2.0)


def test_two_facts_contradicted_by_one_utterance_release_only_the_surest() -> None:
    out = _released({"Fee talk.": [_wrong("promo", 0.65), _wrong("setup-fee", 0.75)]}, "Fee talk.")
    assert [t.key for t in out] == ["accuracy:setup-fee"], out


def test_errors_in_two_utterances_are_both_released() -> None:
    out = _released({"First.": [_wrong("price", 0.9)], "Second.": [_wrong("term", 0.7)]}, "First.", "Second.")
    assert sorted(t.key for t in out) == ["accuracy:price", "accuracy:term"], out
