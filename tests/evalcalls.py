"""In-process scoring of labelled calls (the matching rules of
../shared/eval/score.py: category, utterance window, `mentions` groups,
`ignore`), so tests and tuning load the model once instead of once per call."""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from intervene.engine import CallEngine
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb
from intervene.policy import PROFILES
from intervene.replay import read_transcript, replay


def norm(s: str) -> str:
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s.lower())
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9$%.\s]", " ", s)).strip()


def hits(label: dict, iv: dict) -> bool:
    if iv["category"] != label["category"]:
        return False
    if not label["utterance"] <= iv["utterance"] <= label["utterance"] + label.get("within", 1):
        return False
    text = norm(iv["say"] + " " + iv["detected"])
    return all(any(norm(a) in text for a in group) for group in label.get("mentions", []))


@dataclass
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0


def score_dir(cases: Path, embedder, cache=None) -> Score:
    sc = Score()
    indexes: dict[Path, KBIndex] = {}
    for exp_path in sorted(cases.glob("*.expect.json")):
        name = exp_path.name[: -len(".expect.json")]
        exp = json.loads(exp_path.read_text())
        kb_path = (cases / exp["kb"]).resolve()
        if kb_path not in indexes:
            indexes[kb_path] = KBIndex(load_kb(kb_path), embedder, cache)
        engine = CallEngine(indexes[kb_path], PROFILES[exp.get("profile", "standard")])
        out = [iv.to_json() for iv in replay(engine, read_transcript(cases / f"{name}.jsonl"))]
        used: set[int] = set()
        for lab in exp["expect"]:
            k = next((k for k, iv in enumerate(out) if k not in used and hits(lab, iv)), None)
            if k is None:
                sc.fn += 1
                sc.lines.append(f"MISS  {name}: {lab['category']}@{lab['utterance']} {lab.get('mentions', [])}")
            else:
                used.add(k)
                sc.tp += 1
        for k, iv in enumerate(out):
            if k not in used and iv["category"] not in exp.get("ignore", []):
                sc.fp += 1
                sc.lines.append(f"ALARM {name}: {iv['category']}@{iv['utterance']} t={iv['at']} "
                                f"{iv['detected'][:110]!r} -> {iv['say'][:80]!r}")
    return sc


if __name__ == "__main__":
    from intervene.nlp.embed import SentenceEmbedder
    emb = SentenceEmbedder()
    for d in sys.argv[1:]:
        s = score_dir(Path(d), emb)
        print(f"== {d}: recall {s.recall:.3f} precision {s.precision:.3f} (tp {s.tp} fn {s.fn} fp {s.fp})")
        for line in s.lines:
            print("  ", line)
