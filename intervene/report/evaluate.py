"""Scoring labelled calls (`intervene eval DIR`): how the product does on a
team's own recorded calls before it goes live, and how we measure it.

The labels and matching rules are those of `../shared/eval/score.py`, so the
figures agree with it: a label {category, utterance, within, mentions} is hit
by an unused intervention of that category whose utterance index lies in
[utterance, utterance + within] (with audio: whose decision time lies between
the labelled utterance's start and the end of the last utterance of the window
plus `slack_s`, times from the case's transcript) and whose `say` + `detected`
contains one alternative of every `mentions` group. Interventions that hit no
label are false alarms unless their category is in the case's `ignore`.

Accuracy corrections are also counted by how they went out (spoken, shown as a
card, held back by the verifier), because a wrong spoken correction is the
error that matters most.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from intervene.errors import InterveneError
from intervene.vocab import Category, Utterance

CATEGORIES = [c.value for c in Category]


class EvalError(InterveneError):
    """A labelled case that cannot be read: names the file and the key."""


@dataclass(frozen=True)
class Label:
    category: str
    utterance: int
    within: int = 1
    mentions: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class Case:
    name: str
    transcript: Path
    call: Path                     # what is replayed: the transcript, or NAME.wav with --audio
    kb: Path
    profile: str
    labels: tuple[Label, ...]
    ignore: frozenset[str] = frozenset()


def _int(x: Any, where: str) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise EvalError(f"{where}: expected a non-negative whole number, got {x!r}")
    return x


def _label(raw: Any, where: str) -> Label:
    if not isinstance(raw, dict):
        raise EvalError(f"{where}: expected an object with category, utterance, within, mentions")
    cat = raw.get("category")
    if cat not in CATEGORIES:
        raise EvalError(f"{where}.category: expected one of {', '.join(CATEGORIES)}, got {cat!r}")
    if "utterance" not in raw:
        raise EvalError(f"{where}: missing `utterance`")
    mentions = raw.get("mentions", [])
    if not isinstance(mentions, list) or not all(
            isinstance(g, list) and g and all(isinstance(a, str) for a in g) for g in mentions):
        raise EvalError(f"{where}.mentions: expected a list of lists of strings")
    return Label(cat, _int(raw["utterance"], f"{where}.utterance"), _int(raw.get("within", 1), f"{where}.within"),
                 tuple(tuple(g) for g in mentions))


def load_case(exp_path: Path, audio: bool = False, kb: Optional[Path] = None,
              profile: Optional[str] = None) -> Optional[Case]:
    """One NAME.expect.json; None when the call to replay (NAME.jsonl, or NAME.wav
    with audio) is not there, as score.py skips it."""
    name = exp_path.name[: -len(".expect.json")]
    where = str(exp_path)
    try:
        raw = json.loads(exp_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"{where}: cannot read: {e}")
    except json.JSONDecodeError as e:
        raise EvalError(f"{where}:{e.lineno}: not valid JSON ({e.msg})")
    if not isinstance(raw, dict):
        raise EvalError(f"{where}: expected a JSON object with kb, profile, expect")
    transcript = exp_path.with_name(f"{name}.jsonl")
    call = exp_path.with_name(f"{name}.wav") if audio else transcript
    if not call.exists() or not transcript.exists():
        return None
    if kb is None:
        if not isinstance(raw.get("kb"), str):
            raise EvalError(f"{where}: `kb` must be the path of the case's knowledge base (or pass --kb)")
        kb = (exp_path.parent / raw["kb"]).resolve()
    prof = profile or raw.get("profile", "standard")
    if prof not in ("minimal", "standard", "training"):
        raise EvalError(f"{where}: `profile` must be minimal, standard or training, got {prof!r}")
    expect = raw.get("expect", [])
    if not isinstance(expect, list):
        raise EvalError(f"{where}: `expect` must be a list of labels")
    ignore = raw.get("ignore", [])
    if not isinstance(ignore, list) or any(c not in CATEGORIES for c in ignore):
        raise EvalError(f"{where}: `ignore` must be a list of categories ({', '.join(CATEGORIES)})")
    labels = tuple(_label(x, f"{where}: expect[{i}]") for i, x in enumerate(expect))
    return Case(name, transcript, call, kb, prof, labels, frozenset(ignore))


def load_cases(root: Path, audio: bool = False, kb: Optional[Path] = None,
               profile: Optional[str] = None) -> list[Case]:
    if not root.is_dir():
        raise EvalError(f"{root}: not a directory of labelled calls")
    cases = [load_case(p, audio, kb, profile) for p in sorted(root.glob("*.expect.json"))]
    return [c for c in cases if c is not None]


def norm(s: str) -> str:
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s.lower())  # 19,800 -> 19800
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9$%.\s]", " ", s)).strip()


def hits(label: Label, iv: dict, transcript: Sequence[Utterance], audio: bool, slack_s: float) -> bool:
    if iv.get("category") != label.category:
        return False
    if audio:
        if label.utterance >= len(transcript):
            return False
        u = transcript[label.utterance]
        last = transcript[min(label.utterance + label.within, len(transcript) - 1)]
        at = float(iv.get("at", -1))
        if not u.start <= at <= last.end + slack_s:
            return False
    elif not label.utterance <= int(iv.get("utterance", -1)) <= label.utterance + label.within:
        return False
    text = norm(f"{iv.get('say', '')} {iv.get('detected', '')}")
    return all(any(norm(a) in text for a in group) for group in label.mentions)


@dataclass
class Tally:
    """Counts over every case scored, per category, and how accuracy went out."""
    tp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    fn: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    misses: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cases: int = 0
    # accuracy by delivery: [right, wrong] for spoken (voice) and shown (silent/whisper cards)
    spoken: list[int] = field(default_factory=lambda: [0, 0])
    shown: list[int] = field(default_factory=lambda: [0, 0])
    held_back: int = 0

    def score(self, case: Case, out: Sequence[dict], transcript: Sequence[Utterance], audio: bool = False,
              slack_s: float = 4.0, held_back: int = 0) -> None:
        self.cases += 1
        self.held_back += held_back
        used: set[int] = set()
        for lab in case.labels:
            k = next((k for k, iv in enumerate(out) if k not in used and hits(lab, iv, transcript, audio, slack_s)),
                     None)
            if k is None:
                self.fn[lab.category] += 1
                mentions = [list(g) for g in lab.mentions]
                self.misses.append(f"{case.name}: {lab.category}@{lab.utterance} mentions={mentions}")
            else:
                used.add(k)
                self.tp[lab.category] += 1
        for k, iv in enumerate(out):
            cat = iv.get("category", "")
            right = k in used
            if cat == Category.ACCURACY.value:
                bucket = self.spoken if iv.get("mode") == "voice" else self.shown
                bucket[0 if right else 1] += 1
            if right or cat in case.ignore:
                continue
            if cat in self.fp:
                self.fp[cat] += 1
            conf = f" conf={iv['confidence']}" if "confidence" in iv else ""
            self.alarms.append(f"{case.name}: {cat}@{iv.get('utterance')} t={iv.get('at')} {iv.get('mode')}{conf} "
                               f"say={str(iv.get('say'))[:90]!r}")

    def failed(self, case: Case, why: str) -> None:
        self.cases += 1
        self.failures.append(f"{case.name}: {why}")
        for lab in case.labels:
            self.fn[lab.category] += 1
            self.misses.append(f"{case.name}: {lab.category}@{lab.utterance} (run failed)")

    def add(self, other: "Tally") -> None:
        for c in CATEGORIES:
            self.tp[c] += other.tp[c]
            self.fn[c] += other.fn[c]
            self.fp[c] += other.fp[c]
        self.misses += other.misses
        self.alarms += other.alarms
        self.failures += other.failures
        self.cases += other.cases
        self.held_back += other.held_back
        for mine, theirs in ((self.spoken, other.spoken), (self.shown, other.shown)):
            mine[0] += theirs[0]
            mine[1] += theirs[1]

    @property
    def recall(self) -> float:
        t, f = sum(self.tp.values()), sum(self.fn.values())
        return t / (t + f) if t + f else 0.0

    @property
    def precision(self) -> float:
        t, p = sum(self.tp.values()), sum(self.fp.values())
        return t / (t + p) if t + p else 0.0

    def category(self, c: str) -> tuple[float, float]:
        """(recall, precision) of one category; nan where nothing counts."""
        tp, fn, fp = self.tp[c], self.fn[c], self.fp[c]
        return (tp / (tp + fn) if tp + fn else float("nan"), tp / (tp + fp) if tp + fp else float("nan"))

    def figures(self) -> dict[str, Any]:
        """Everything as one JSON-able object (for `--json` and CI floors)."""
        per = {}
        for c in CATEGORIES:
            if self.tp[c] + self.fn[c] + self.fp[c]:
                r, p = self.category(c)
                per[c] = {"recall": _r(r), "precision": _r(p), "tp": self.tp[c], "fn": self.fn[c], "fp": self.fp[c]}
        return {"cases": self.cases, "recall": _r(self.recall), "precision": _r(self.precision),
                "false_alarms": sum(self.fp.values()), "misses": sum(self.fn.values()), "categories": per,
                "accuracy_spoken": self.spoken[0] + self.spoken[1], "accuracy_spoken_wrong": self.spoken[1],
                "accuracy_shown": self.shown[0] + self.shown[1], "accuracy_shown_wrong": self.shown[1],
                "accuracy_held_back": self.held_back, "failures": len(self.failures)}

    def report(self, details: bool = True) -> list[str]:
        lines = [f"{'category':12} {'recall':>7} {'precision':>9}  tp fn fp"]
        for c in CATEGORIES:
            if self.tp[c] + self.fn[c] + self.fp[c]:
                r, p = self.category(c)
                lines.append(f"{c:12} {r:7.2f} {p:9.2f}  {self.tp[c]} {self.fn[c]} {self.fp[c]}")
        lines.append(f"accuracy delivery: spoken {sum(self.spoken)} (wrong {self.spoken[1]}), "
                     f"shown {sum(self.shown)} (wrong {self.shown[1]}), held back {self.held_back}")
        lines += [f"FAILED {x}" for x in self.failures]
        if details:
            lines += [f"MISS   {x}" for x in self.misses] + [f"ALARM  {x}" for x in self.alarms]
        lines.append(f"recall {self.recall:.3f} precision {self.precision:.3f} false_alarms {sum(self.fp.values())} "
                     f"misses {sum(self.fn.values())} cases {self.cases}")
        return lines


def _r(x: float) -> Optional[float]:
    return None if x != x else round(x, 3)


def tally_of(results: Iterable[tuple[Case, Sequence[dict], Sequence[Utterance], int]], audio: bool = False,
             slack_s: float = 4.0) -> Tally:
    """Score (case, interventions, transcript, held back) results."""
    t = Tally()
    for case, out, transcript, held in results:
        t.score(case, out, transcript, audio, slack_s, held)
    return t
