"""In-process scoring of labelled calls with the product's own scorer
(intervene.report.evaluate: the matching rules of ../shared/eval/score.py), so tests
and tuning load the model once instead of once per call."""
from __future__ import annotations

import sys
from pathlib import Path

from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.formats.transcript import read_transcript
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb
from intervene.report.evaluate import Tally, load_cases


def score_dir(cases: Path, embedder, cache=None, judge=None) -> Tally:
    """Every NAME.jsonl + NAME.expect.json in `cases`, replayed as text
    (with the claim checker's judge, as the product runs, when one is given)."""
    tally = Tally()
    indexes: dict[Path, KBIndex] = {}
    for case in load_cases(cases):
        if case.kb not in indexes:
            indexes[case.kb] = KBIndex(load_kb(case.kb), embedder, cache, judge)
        engine = CallEngine(indexes[case.kb], PROFILES[case.profile])
        transcript = read_transcript(case.transcript)
        out = [iv.to_json() for iv in replay(engine, transcript)]
        tally.score(case, out, transcript, held_back=len(engine.policy.held_back))
    return tally


def sets_under(root: Path) -> list[Path]:
    """The labelled directories below `root` (each with its own kb.yaml)."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.expect.json")))


if __name__ == "__main__":
    from intervene.nlp.embed import SentenceEmbedder
    emb = SentenceEmbedder()
    for d in sys.argv[1:]:
        t = score_dir(Path(d), emb)
        print(f"== {d}")
        print("\n".join(t.report(details="--summary" not in sys.argv)))
