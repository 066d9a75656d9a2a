"""`intervene kb ...`: the sales-ops person's tool for the knowledge base."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click
import yaml

from intervene.cli._runtime import fail
from intervene.cli.progress import progress
from intervene.core.detect.claims import ClaimChecker
from intervene.core.policy import PROFILES
from intervene.kb.loader import KBError, dump_kb, load_kb, load_kb_text
from intervene.nlp.lexicon import normalize_numbers
from intervene.store.db import KB_SECTIONS


def _fail(msg: str) -> None:
    fail(msg)


@click.group()
def kb() -> None:
    """Manage the knowledge base stored in the database."""


@kb.command(name="import")
@click.argument("path", type=click.Path())
@click.pass_obj
def kb_import(rt, path: str) -> None:
    """Import (merge) a KB YAML file or a directory of them; entries with the
    same section and id are replaced. Embeddings are computed for new or
    changed text only."""
    try:
        checked = load_kb(Path(path))   # validates everything before anything is written
    except KBError as e:
        _fail(str(e))
    # store the validated document (ids and texts as the loader read them), not raw YAML
    totals = rt.store.kb_import(yaml.safe_load(dump_kb(checked)), str(path))
    before = rt.embedder.calls if rt._embedder is not None else 0
    with progress("embedding the KB") as bar:      # the slow part of a large KB; stderr, on a terminal only
        index = rt.index(rt.kb(None), bar)
    embedded = rt.embedder.calls - before
    click.echo(f"imported {path}: {totals['added']} added, {totals['changed']} changed, "
               f"{totals['unchanged']} unchanged; {len(index.facts)} facts, "
               f"{embedded} text(s) embedded ({rt.db_label})")


@kb.command(name="list")
@click.pass_obj
def kb_list(rt) -> None:
    """Every entry: section, id, and its text."""
    items = rt.store.kb_items()
    if not items:
        click.echo("the knowledge base is empty - `intervene kb import FILE`")
        return
    for it in items:
        d = it["data"]
        text = d.get("name") or d.get("text") or d.get("say") or ", ".join(d.get("phrases") or d.get("signals") or [])
        click.echo(f"{it['section']:<20} {it['id']:<24} {str(text)[:70]}")


@kb.command(name="show")
@click.argument("item_id")
@click.option("--understood", is_flag=True,
              help="Also show how the claim checker reads each of its facts (loads the model).")
@click.pass_obj
def kb_show(rt, item_id: str, understood: bool) -> None:
    """One entry (every section that has this id), as YAML, and how its facts are read."""
    hits = [it for it in rt.store.kb_items() if it["id"] == item_id]
    if not hits:
        _fail(f"no KB entry with id {item_id!r} (see `intervene kb list`)")
    for it in hits:
        click.echo(f"# {it['section']} (from {it['source']})")
        click.echo(yaml.safe_dump(it["data"], sort_keys=False, allow_unicode=True).rstrip())
    if understood and any(it["section"] in ("products", "facts", "promotions") for it in hits):
        checker = ClaimChecker(rt.index(rt.kb(None)))
        click.echo("# understood as")
        for fact in checker.index.facts:
            if fact.kb_id == item_id:
                click.echo(yaml.safe_dump([{"text": fact.text, **checker.understood(fact),
                                            **({"lint": checker.lint(fact)} if checker.lint(fact) else {})}],
                                          sort_keys=False, allow_unicode=True).rstrip())


@kb.command(name="search")
@click.argument("text")
@click.option("-k", "--top", default=5, show_default=True, help="How many matches.")
@click.option("--kb", "kb_path", type=click.Path(), help="Search this KB file instead of the imported one.")
@click.pass_obj
def kb_search(rt, text: str, top: int, kb_path: Optional[str]) -> None:
    """The facts closest in meaning to TEXT, with similarity scores."""
    index = rt.index(rt.kb(kb_path))
    vec = index.embed([normalize_numbers(text)])[0]
    for fact, sim in index.search_facts(vec, k=top):
        owner = f"[{fact.product}] " if fact.product else ""
        click.echo(f"{sim:.3f}  {fact.kb_id:<18} {owner}{fact.text}")


@kb.command(name="check")
@click.argument("utterance")
@click.option("--product", default=None, help="Product under discussion (id), as the live call would know it.")
@click.option("--kb", "kb_path", type=click.Path(), help="Check against this KB file instead of the imported one.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def kb_check(rt, utterance: str, product: Optional[str], kb_path: Optional[str], as_json: bool) -> None:
    """The verdict the live system would give on a rep utterance, with evidence."""
    kbase = rt.kb(kb_path)
    if product and kbase.product(product) is None:
        _fail(f"--product {product!r}: no such product (have: {', '.join(p.id for p in kbase.products)})")
    checker = ClaimChecker(rt.index(kbase))
    result = checker.check(utterance, product)
    errors = [v for v in result.verdicts if not v.ok]
    if as_json:
        click.echo(json.dumps({
            "verdict": "error" if errors else ("consistent" if result.verdicts else "no-claim"),
            "product_after": result.product_after,
            "checks": [{"ok": v.ok, "claim": v.claim, "reason": v.reason, "score": round(v.score, 3),
                        "kb_id": v.fact.kb_id if v.fact else None, "fact": v.fact.text if v.fact else None,
                        "correction": v.correction or None,
                        **({} if v.ok else {"confidence": v.confidence, "doubts": list(v.doubts),
                                            "delivery": _delivery(v.confidence)})}
                       for v in result.verdicts]}))
        return
    if not result.verdicts:
        click.echo("NO CLAIM - nothing in it matches a KB fact closely enough to check")
    for v in result.verdicts:
        head = click.style("OK   ", fg="green") if v.ok else click.style("ERROR", fg="red", bold=True)
        click.echo(f"{head} {v.claim}")
        click.echo(f"      KB {v.fact.kb_id if v.fact else '-'} ({v.score:.2f}): {v.fact.text if v.fact else ''}")
        if v.fact:
            read = checker.understood(v.fact)
            click.echo(f"      read as: {json.dumps(read, ensure_ascii=False)}")
        click.echo(f"      {v.reason}")
        if not v.ok:
            why = f" - doubts: {', '.join(v.doubts)}" if v.doubts else ""
            click.echo(f"      confidence {v.confidence:.2f} ({_delivery(v.confidence)}){why}")
        if v.correction:
            click.echo(f"      say: {v.correction}")


def _delivery(confidence: float) -> str:
    """What the standard profile does with a correction this sure."""
    p = PROFILES["standard"]
    return ("spoken (proven)" if confidence >= p.accuracy_voice_min else
            "check-this card" if confidence >= p.accuracy_card_min else "held back")


@kb.command(name="lint")
@click.option("--kb", "kb_path", type=click.Path(), help="Lint this KB file instead of the imported one.")
@click.option("--strict", is_flag=True, help="Exit 1 when any fact has a warning.")
@click.pass_obj
def kb_lint(rt, kb_path: Optional[str], strict: bool) -> None:
    """Facts the claim checker cannot read unambiguously, and how to rephrase them."""
    kbase = rt.kb(kb_path)
    checker = ClaimChecker(rt.index(kbase))
    n = 0
    for fact in checker.index.facts:
        warnings = checker.lint(fact)
        if not warnings:
            continue
        n += 1
        click.echo(f"{fact.kb_id} ({fact.key}): {fact.text}")
        for w in warnings:
            click.echo(f"  - {w}")
    click.echo(f"{n} of {len(checker.index.facts)} facts with warnings")
    if strict and n:
        sys.exit(1)


@kb.command(name="remove")
@click.argument("item_id")
@click.option("--section", default=None, help="Only in this section (e.g. products, opportunities).")
@click.pass_obj
def kb_remove(rt, item_id: str, section: Optional[str]) -> None:
    """Remove an entry by id."""
    doc = rt.store.kb_document() or {}
    rest = _without(doc, item_id, section)
    if rest != doc and rest.get("company"):
        try:
            load_kb_text(yaml.safe_dump(rest, sort_keys=False), source="the knowledge base after removal")
        except KBError as e:
            _fail(f"not removed: {item_id} is still needed ({e.message} at {e.key})")
    n = rt.store.kb_remove(item_id, section)
    if n == 0:
        _fail(f"no KB entry with id {item_id!r}" + (f" in {section}" if section else ""))
    click.echo(f"removed {n} entr{'y' if n == 1 else 'ies'} with id {item_id}")


@kb.command(name="export")
@click.pass_obj
def kb_export(rt) -> None:
    """The stored KB as one YAML document (formats.md section 1)."""
    click.echo(dump_kb(rt.kb(None)).rstrip())


def _without(doc: dict, item_id: str, section: Optional[str]) -> dict:
    """The KB document minus the entries with this id (in `section` only, if given)."""
    out = dict(doc)
    for sec in KB_SECTIONS:
        if section and sec != section:
            continue
        if sec.startswith("compliance."):
            comp = dict(out.get("compliance") or {})
            key = sec.split(".")[1]
            if comp.get(key):
                comp[key] = [i for i in comp[key] if i.get("id") != item_id]
            out["compliance"] = comp
        elif out.get(sec):
            out[sec] = [i for i in out[sec] if i.get("id") != item_id]
    return out
