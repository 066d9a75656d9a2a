"""Train the claim checker's judge (intervene/nlp/judge.py) from scripts/judge/.

The training data are knowledge bases and labelled rep claims for industries
that no evaluation set uses, written by people who never saw the checker
(scripts/judge/<industry>.yaml and .claims.jsonl). Each claim gives three kinds
of (claim, fact) pairs:
- the claim with the fact it is about (a contradiction only if labelled wrong);
- the claim with the two nearest other facts (never a contradiction of those);
- the claim with each fact the rule-based checker calls it wrong against
  (a contradiction only if the claim is wrong about that very fact) - the
  pairs the judge will really see, so they weigh most.
The packaged all-MiniLM-L6-v2 is fine-tuned as a cross-encoder on them (word
embeddings frozen) and the changed tensors are written in float16.

    .venv/bin/python scripts/train_judge.py [--val IND,IND] [--out intervene/nlp/judge.safetensors]

With --val it reports, for the held-out industries, how many of the rules'
right and wrong corrections each threshold keeps, and writes the weights only
with --out: a judge that never saw those industries, for
scripts/eval/claimbed.py to score the whole checker on them.
Two cores: about 15 minutes.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertForSequenceClassification

from intervene.core.detect.claims import ClaimChecker
from intervene.kb.index import KBIndex
from intervene.kb.loader import KBError, load_kb
from intervene.nlp.embed import SentenceEmbedder, default_model_path

DATA = Path(__file__).with_name("judge")
WEIGHT = {"label": 1.0, "near": 0.5, "rule": 2.0}


def _norm(s: str) -> str:
    return " ".join(s.lower().split()).rstrip(".")


def pairs(data: Path) -> list[dict]:
    embedder = SentenceEmbedder()
    out: list[dict] = []
    for kb_file in sorted(data.glob("*.yaml")):
        try:
            kb = load_kb(kb_file)
        except KBError as e:
            print(f"skipped: {e}", file=sys.stderr)
            continue
        index = KBIndex(kb, embedder)
        checker = ClaimChecker(index)          # rules alone: no judge while training one
        by_text = {_norm(f.text): f for f in kb.facts}
        for p in kb.products:
            if p.price:
                by_text.setdefault(_norm(p.price), next(f for f in kb.facts if f.key == f"{p.id}#price"))
        lines = [json.loads(x) for x in kb_file.with_suffix(".claims.jsonl").read_text().splitlines() if x.strip()]
        vecs = index.embed([x["claim"] for x in lines])
        for x, vec in zip(lines, vecs):
            fact = by_text.get(_norm(x["fact"])) or next(
                (f for f in kb.facts if _norm(x["fact"]) in _norm(f.text)), None)
            if fact is None:
                continue            # a competitor's positioning: not a fact the checker compares with
            wrong = x["label"] == "wrong"

            def pair(claim: str, f, y: bool, src: str) -> None:
                out.append({"industry": kb_file.stem, "claim": claim, "fact": checker.judged_text(f),  # noqa: B023 (called within this iteration)
                            "y": int(y), "w": WEIGHT[src], "src": src})
            pair(x["claim"], fact, wrong, "label")
            near = [f for f, _ in index.search_many(vec[None, :], k=4, floor=0.0)[0] if f.key != fact.key]
            for f in near[:2]:
                pair(x["claim"], f, False, "near")
            for v in checker.check(x["claim"], None, (), x.get("prior", "")).verdicts:
                if not v.ok and v.fact is not None:
                    pair(v.claim, v.fact, wrong and v.fact.key == fact.key, "rule")
    return out


def train(train_set: list[dict], epochs: int, lr: float, batch: int):
    torch.manual_seed(0)
    random.seed(0)
    base = default_model_path()
    tok = AutoTokenizer.from_pretrained(base)
    model = BertForSequenceClassification.from_pretrained(base, num_labels=1)
    for p in model.bert.embeddings.parameters():
        p.requires_grad = False
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    steps = epochs * ((len(train_set) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, s / (0.1 * steps)) * max(0.0, (steps - s) / steps))
    loss_f = torch.nn.BCEWithLogitsLoss(reduction="none")
    t0 = time.time()
    model.train()
    for epoch in range(epochs):
        random.shuffle(train_set)
        for i in range(0, len(train_set), batch):
            b = train_set[i:i + batch]
            enc = tok([p["claim"] for p in b], [p["fact"] for p in b], padding=True, truncation=True,
                      max_length=128, return_tensors="pt")
            y = torch.tensor([float(p["y"]) for p in b])
            w = torch.tensor([p["w"] for p in b])
            loss = (loss_f(model(**enc).logits[:, 0], y) * w).mean()
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
        print(f"epoch {epoch + 1}/{epochs} done at {time.time() - t0:.0f} s", flush=True)
    model.eval()
    return model, tok


def predict(model, tok, ps: list[dict]) -> list[float]:
    out: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(ps), 64):
            b = ps[i:i + 64]
            enc = tok([p["claim"] for p in b], [p["fact"] for p in b], padding=True, truncation=True,
                      max_length=128, return_tensors="pt")
            out += torch.sigmoid(model(**enc).logits[:, 0]).tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--val", default="", help="industries to hold out and report on (comma-separated)")
    ap.add_argument("--out", type=Path, default=None,
                    help="where to write the weights (default intervene/nlp/judge.safetensors; with --val only if given)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(2)
    all_pairs = pairs(a.data)
    held = set(filter(None, a.val.split(",")))
    train_set = [p for p in all_pairs if p["industry"] not in held]
    print(f"{len(train_set)} training pairs, {sum(p['y'] for p in train_set)} contradictions", flush=True)
    model, tok = train(train_set, a.epochs, a.lr, a.batch)
    if held:
        rule = [p for p in all_pairs if p["industry"] in held and p["src"] == "rule"]
        probs = predict(model, tok, rule)
        right = sum(p["y"] for p in rule)
        for t in (0.1, 0.2, 0.3, 0.5):
            kept = [p["y"] for p, s in zip(rule, probs) if s >= t]
            print(f"below {t}: rules' right corrections kept {sum(kept)}/{right}, "
                  f"wrong ones kept {len(kept) - sum(kept)}/{len(rule) - right}")
        if a.out is None:
            return
    out = a.out or Path("intervene/nlp/judge.safetensors")
    base = BertForSequenceClassification.from_pretrained(default_model_path(), num_labels=1).state_dict()
    tuned = {k: v.half().contiguous() for k, v in model.state_dict().items()
             if k.startswith("classifier") or not torch.equal(v, base[k])}
    save_file(tuned, str(out))
    print(f"wrote {out}: {len(tuned)} tensors")


if __name__ == "__main__":
    main()
