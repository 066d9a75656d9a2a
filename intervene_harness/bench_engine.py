"""`intervene bench ...`: speed measured by scripts that print figures.

Every bench command ends with one JSON line of named figures, so results can
be collected by machines and compared across changes.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Optional

import click

from intervene.app import Runtime
from intervene.core.detect.claims import ClaimChecker
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.formats.transcript import read_transcript
from intervene.kb.index import KBIndex
from intervene.kb.loader import load_kb
from intervene.vocab import Category, Fact, KnowledgeBase, Mode, Product
from intervene_harness.bench_audio import bench_audio

_FEATURES = ["remote monitoring", "priority support", "on-site installation", "data backup", "a dedicated manager",
             "firmware updates", "spare hardware", "training sessions", "a mobile app", "API access",
             "guest wifi", "security scanning", "cloud storage", "phone support", "email support",
             "quarterly reviews", "a static IP address", "failover internet", "usage reports", "audit logs"]
_UNITS = ["days", "weeks", "months", "years"]
_THINGS = ["devices", "users", "sites", "seats", "locations", "phones", "cameras", "accounts"]
_ADJ = ["Silver", "Gold", "Bronze", "Core", "Pro", "Max", "Lite", "Plus", "Edge", "Prime", "Ultra", "Basic"]
_NOUN = ["Office", "Retail", "Clinic", "Studio", "Warehouse", "Cafe", "Shop", "Campus", "Depot", "Salon"]


def synthetic_kb(base: KnowledgeBase, n_facts: int, seed: int = 7) -> KnowledgeBase:
    """`base` plus generated products and facts up to n_facts checkable sentences.
    Varied templates with numbers, units and negations, so retrieval and
    comparison work as hard as on a real catalogue."""
    rnd = random.Random(seed)
    products = list(base.products)
    facts = list(base.facts)
    i = 0
    while len(facts) < n_facts:
        pid = f"gen-{i}"
        name = f"{rnd.choice(_ADJ)} {rnd.choice(_NOUN)} {i} plan"
        lines = []
        for _ in range(8):
            f = rnd.choice(_FEATURES)
            t = rnd.randrange(5)
            if t == 0:
                lines.append(f"Includes {rnd.randint(1, 12)} {rnd.choice(_UNITS)} of {f}.")
            elif t == 1:
                lines.append(f"Does not include {f}.")
            elif t == 2:
                lines.append(f"Covers up to {rnd.choice([5, 10, 25, 50, 100, 250])} {rnd.choice(_THINGS)}.")
            elif t == 3:
                lines.append(f"Comes with a {rnd.randint(1, 10)}-year warranty on {f}.")
            else:
                lines.append(f"{f[0].upper() + f[1:]} is available {rnd.choice([8, 12, 24])} hours a day.")
        price = f"${rnd.randint(9, 499)} per month"
        products.append(Product(pid, name, (f"plan {i}",), price, tuple(lines)))
        facts += [Fact(f"{pid}#{k}", pid, t, pid, "product-fact") for k, t in enumerate(lines)]
        facts.append(Fact(f"{pid}#price", pid, f"The {name} costs {price}.", pid, "price"))
        i += 1
    return KnowledgeBase(base.company, base.assistant, tuple(products), tuple(facts[:n_facts]),
                         base.competitors, base.opportunities, base.promotions, base.forbidden,
                         base.required, source=f"synthetic {n_facts}")


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100 * (len(xs) - 1)))))
    return xs[k]


@click.group()
def bench() -> None:
    """Benchmarks (each ends with one JSON line of figures)."""


@bench.command(name="engine")
@click.option("--kb", "kb_path", type=click.Path(exists=True), default=None,
              help="Base KB (default: kb/acme.yaml of the source tree).")
@click.option("--calls", "calls_dir", type=click.Path(exists=True), default=None,
              help="Directory of transcripts to replay (default: ../shared/calls/dev, else kb/calls).")
@click.option("--sizes", default="100,1000,10000", show_default=True)
@click.option("--rounds", default=2, show_default=True, help="Replays of the call set per KB size.")
@click.pass_obj
def bench_engine(rt: Runtime, kb_path: Optional[str], calls_dir: Optional[str], sizes: str, rounds: int) -> None:
    """Decision latency per final utterance (detectors + policy, excluding model
    load) with KBs of 100, 1,000 and 10,000 facts."""

    root = Path(__file__).resolve().parent.parent
    base = load_kb(kb_path or root / "kb" / "acme.yaml")
    cdir = Path(calls_dir) if calls_dir else next(
        (p for p in (root.parent / "shared" / "calls" / "dev", root / "kb" / "calls") if p.is_dir()))
    calls = [read_transcript(p) for p in sorted(cdir.glob("*.jsonl"))]
    n_utts = sum(len(c) for c in calls)
    click.echo(f"calls: {len(calls)} from {cdir} ({n_utts} utterances); rounds: {rounds}")
    t0 = time.perf_counter()
    rt.embedder.warm()
    if rt.judge is not None:
        rt.judge.warm()
    click.echo(f"model load: {time.perf_counter() - t0:.1f} s (excluded below)")
    figures: dict[str, float] = {}
    for n in [int(s) for s in sizes.split(",")]:
        kb = synthetic_kb(base, n)
        t0 = time.perf_counter()
        index = KBIndex(kb, rt.embedder, rt.store, rt.judge)
        t_index = time.perf_counter() - t0
        profile = PROFILES["training"]       # every detector on
        lat: list[float] = []
        rt.embedder.model_ms = 0.0
        checker = index.shared("claims", lambda: ClaimChecker(index))  # noqa: B023 (called within this iteration)
        checker.verify_ms.clear()
        delivered = {"spoken": 0, "shown": 0, "held_back": 0}
        for _ in range(rounds):
            for c in calls:
                engine = CallEngine(index, profile, checker=checker)
                rt.embedder.clear_cache()    # live speech is new text: no warm cache for it
                for iv in replay(engine, c):
                    if iv.category == Category.ACCURACY:
                        delivered["spoken" if iv.mode == Mode.VOICE else "shown"] += 1
                delivered["held_back"] += len(engine.policy.held_back)
                lat += engine.decision_ms
        label = {100: "100", 1000: "1k", 10000: "10k"}.get(n, str(n))
        p50, p95 = _pct(lat, 50), _pct(lat, 95)
        figures[f"decision_p50_ms_{label}"] = round(p50, 2)
        figures[f"decision_p95_ms_{label}"] = round(p95, 2)
        share = rt.embedder.model_ms / max(1e-9, sum(lat))
        figures[f"model_share_{label}"] = round(share, 2)
        verify = list(checker.verify_ms)
        figures[f"verify_p95_ms_{label}"] = round(_pct(verify, 95), 2)
        if n == max(int(x) for x in sizes.split(",")):
            figures["verify_p95_ms"] = round(_pct(verify, 95), 2)
            figures.update({f"accuracy_{k}": v for k, v in delivered.items()})
        click.echo(f"{n:>6} facts: index ready in {t_index:5.1f} s; decision per utterance "
                   f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  max {max(lat):6.2f} ms  (n={len(lat)}); "
                   f"{share:.0%} of it in the embedding model")
    click.echo(json.dumps(figures))



bench.add_command(bench_audio)
