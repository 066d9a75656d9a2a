"""`intervene` command line: replay calls, manage the knowledge base, benchmark."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import click
import yaml

from intervene.config import ConfigError, load_config
from intervene.kb.loader import KBError, load_kb, load_kb_text
from intervene.replay import TranscriptError, read_transcript, replay
from intervene.store.db import Store, StoreError, default_db_path
from intervene.vocab import KnowledgeBase

EXIT_BAD_INPUT = 2


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


class Runtime:
    """Lazily opened shared pieces: the store, the embedder, indexes."""

    def __init__(self, db: Optional[str], config: Optional[str]) -> None:
        self.db_path = Path(db) if db else default_db_path()
        self.config_path = config
        self._store: Optional[Store] = None
        self._embedder = None

    @property
    def store(self) -> Store:
        if self._store is None:
            try:
                self._store = Store(self.db_path)
            except StoreError as e:
                fail(str(e))
        return self._store

    @property
    def embedder(self):
        if self._embedder is None:
            from intervene.nlp.embed import SentenceEmbedder
            self._embedder = SentenceEmbedder()
        return self._embedder

    def kb(self, path: Optional[str]) -> KnowledgeBase:
        try:
            if path:
                return load_kb(path)
            doc = self.store.kb_document()
            if doc is None:
                fail(f"no knowledge base: pass --kb FILE or run `intervene kb import FILE` (database {self.db_path})")
            return load_kb_text(yaml.safe_dump(doc, sort_keys=False), source=f"{self.db_path} (imported KB)")
        except KBError as e:
            fail(str(e))
        raise AssertionError

    def index(self, kb: KnowledgeBase):
        from intervene.kb.index import KBIndex
        return KBIndex(kb, self.embedder, self.store)


@click.group()
@click.option("--db", type=click.Path(dir_okay=False), envvar="INTERVENE_DB",
              help="SQLite database (default: $INTERVENE_DB or the user data directory).")
@click.option("--config", "config", type=click.Path(dir_okay=False), envvar="INTERVENE_CONFIG",
              help="Config file (TOML) with profiles and rep/team assignments.")
@click.version_option(package_name="intervene")
@click.pass_context
def main(ctx: click.Context, db: Optional[str], config: Optional[str]) -> None:
    """intervene - steps into live sales calls when it can change the outcome."""
    ctx.obj = Runtime(db, config)


# ---------------------------------------------------------------------- replay
@main.command(name="replay")
@click.argument("call", type=click.Path())
@click.option("--kb", "kb_path", type=click.Path(), help="KB YAML file or directory (default: the imported KB).")
@click.option("--profile", type=click.Choice(["minimal", "standard", "training"]), default=None,
              help="Sensitivity profile (default: from config, else standard).")
@click.option("--rep", default=None, help="Rep name: picks their profile and delivery modes from the config.")
@click.option("--team", default=None, help="Team name (default: the rep's team from the config).")
@click.option("--mode", type=click.Choice(["voice", "silent"]), default=None, help="Deliver everything this way.")
@click.option("--json", "as_json", is_flag=True, help="Interventions as JSON Lines (formats.md section 4).")
@click.option("--no-store", is_flag=True, help="Don't record the call in the database.")
@click.pass_obj
def replay_cmd(rt: Runtime, call: str, kb_path: Optional[str], profile: Optional[str], rep: Optional[str],
               team: Optional[str], mode: Optional[str], as_json: bool, no_store: bool) -> None:
    """Replay a recorded call (transcript JSONL) through the live engine."""
    from intervene.engine import CallEngine
    try:
        cfg = load_config(rt.config_path)
        assignment = cfg.resolve(rep=rep, team=team, profile=profile, mode=mode)
    except ConfigError as e:
        fail(str(e))
    if Path(call).suffix.lower() == ".wav":
        fail(f"{call}: audio replay arrives with the listening pipeline; pass a transcript (.jsonl)")
    try:
        utterances = read_transcript(call)
    except TranscriptError as e:
        fail(str(e))
    kb = rt.kb(kb_path)
    index = rt.index(kb)
    engine = CallEngine(index, assignment.profile, assignment.modes)
    interventions = replay(engine, utterances)
    if not no_store:
        store = rt.store
        call_id = f"replay-{Path(call).stem}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6:06d}"
        store.start_call(call_id, source=str(call), rep=rep, team=team, profile=assignment.profile.name,
                         mode=mode or "mixed", kb=kb.source)
        for u in utterances:
            store.add_utterance(call_id, u)
        for i, iv in enumerate(interventions):
            store.add_intervention(call_id, i, iv)
        store.finish_call(call_id, max((u.end for u in utterances), default=0.0))
    if as_json:
        for iv in interventions:
            click.echo(json.dumps(iv.to_json(), ensure_ascii=False))
        return
    click.echo(f"{Path(call).name}: {len(utterances)} utterances, profile {assignment.profile.name}, "
               f"KB {kb.company}")
    pending = list(interventions)
    for u in utterances:
        while pending and pending[0].at <= u.start:
            _print_iv(pending.pop(0))
        click.echo(f"{u.start:7.1f}s  {u.speaker.value:>4}: {u.text}")
    for iv in pending:
        _print_iv(iv)
    click.echo(f"{len(interventions)} intervention(s)")


def _print_iv(iv) -> None:
    color = {"accuracy": "red", "compliance": "red", "emotion": "yellow"}.get(iv.category.value, "cyan")
    click.secho(f"{iv.at:7.1f}s  >> {iv.category.value.upper()} ({iv.severity.value}, {iv.mode.value}) "
                f"on utterance {iv.utterance}", fg=color, bold=True)
    click.echo(f"           detected: {iv.detected}")
    click.echo(f"           say:      {iv.say}")
    for e in iv.evidence:
        click.echo(f"           KB {e.kb_id}: {e.text}")


from intervene.kb_cli import kb  # noqa: E402  (the `kb` command group)
from intervene.bench import bench  # noqa: E402

main.add_command(kb)
main.add_command(bench)

if __name__ == "__main__":
    main()
