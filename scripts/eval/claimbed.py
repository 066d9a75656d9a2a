"""Score the whole claim checker (rules, judge, graded delivery) on the judge's
training claims (scripts/judge/): each labelled claim becomes a short call -
the lead's line before it, the rep's claim, a pause - replayed through the
engine with the `standard` profile.

The claims are the judge's training data, so a fair score needs a judge that
never saw them: train one with some industries held out and score those.

    .venv/bin/python scripts/train_judge.py --val IND,IND,... --out /tmp/judge-half.safetensors
    .venv/bin/python scripts/eval/claimbed.py --judge /tmp/judge-half.safetensors --only IND,IND,...

It prints, for spoken corrections, cards and held-back verdicts, how many were
about a claim labelled wrong (right to act) and how many about a correct claim
(a false correction), then one JSON line of the same figures. --list prints
every false correction with its doubts.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from intervene.core.detect.claims import ClaimChecker
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.kb.index import KBIndex
from intervene.kb.loader import KBError, load_kb
from intervene.nlp.embed import SentenceEmbedder
from intervene.nlp.judge import CrossEncoderJudge
from intervene.vocab import Category, Mode, Speaker, Utterance

DATA = Path(__file__).resolve().parents[1] / "judge"


def call_of(claim: dict) -> list[Utterance]:
    """The lead's line (if any), the rep's claim, then a pause and a short reply."""
    out = [Utterance(0, Speaker.LEAD, 0.0, 3.0, claim["prior"])] if claim.get("prior") else []
    out.append(Utterance(len(out), Speaker.REP, 3.5, 7.5, claim["claim"]))
    out.append(Utterance(len(out), Speaker.LEAD, 12.0, 13.0, "Okay."))
    return out


def score(data: Path, only: set[str], judge: CrossEncoderJudge | None, profile: str) -> list[dict]:
    embedder = SentenceEmbedder()
    rows: list[dict] = []
    for kb_file in sorted(data.glob("*.yaml")):
        if only and kb_file.stem not in only:
            continue
        try:
            kb = load_kb(kb_file)
        except KBError as e:
            print(f"skipped: {e}", file=sys.stderr)
            continue
        index = KBIndex(kb, embedder, None, judge)
        checker = ClaimChecker(index)
        for line in kb_file.with_suffix(".claims.jsonl").read_text().splitlines():
            if not line.strip():
                continue
            claim = json.loads(line)
            engine = CallEngine(index, PROFILES[profile], checker=checker)
            acted = [iv for iv in replay(engine, call_of(claim)) if iv.category == Category.ACCURACY]
            base = {"industry": kb_file.stem, "claim": claim["claim"], "claim_is_wrong": claim["label"] == "wrong",
                    "kind": claim.get("kind", "")}
            rows += [{**base, "as": "spoken" if iv.mode == Mode.VOICE else "card", "confidence": iv.confidence,
                      "say": iv.say} for iv in acted]
            rows += [{**base, "as": "held", "confidence": t.confidence, "doubts": list(t.doubts), "say": t.say}
                     for t in engine.policy.held_back]
            if not acted and base["claim_is_wrong"]:
                rows.append({**base, "as": "missed"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--only", default="", help="industries to score (comma-separated; default all)")
    ap.add_argument("--judge", default="", help="judge weights (default the shipped judge; 'none': rules alone)")
    ap.add_argument("--profile", default="standard")
    ap.add_argument("--list", action="store_true", help="print every false correction")
    a = ap.parse_args()
    judge = None if a.judge == "none" else CrossEncoderJudge(Path(a.judge)) if a.judge else CrossEncoderJudge()
    rows = score(a.data, set(filter(None, a.only.split(","))), judge, a.profile)
    n = Counter((r["as"], r["claim_is_wrong"]) for r in rows)
    figures = {}
    for kind in ("spoken", "card", "held"):
        right, wrong = n[(kind, True)], n[(kind, False)]
        figures[f"{kind}_right"], figures[f"{kind}_false"] = right, wrong
        print(f"{kind:>7}: {right} about wrong claims, {wrong} about correct claims")
    figures["missed"] = n[("missed", True)]
    print(f" missed: {figures['missed']} wrong claims with no correction")
    if a.list:
        for r in rows:
            if r["as"] in ("spoken", "card") and not r["claim_is_wrong"]:
                print(f"FALSE {r['as']} {r['confidence']:.2f} {r['industry']}: {r['claim']!r} -> {r['say']!r}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
