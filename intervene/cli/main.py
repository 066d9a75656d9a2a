"""`intervene` command line: the group and `eval`; the other commands and
groups live beside it, one module each. The demo and benchmark commands come
from the test harness (`intervene_harness`), found through the
`intervene.commands` entry point so the product never imports it."""
from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Optional

import click

from intervene.app import Runtime, transcriber
from intervene.cli._runtime import fail, read_audio
from intervene.cli.calls import calls, report_cmd, tune_cmd
from intervene.cli.db import db
from intervene.cli.doctor import doctor_cmd
from intervene.cli.kb import kb
from intervene.cli.leads import dnc, leads
from intervene.cli.models import models
from intervene.cli.outbox import outbox_group
from intervene.cli.privacy import forget_cmd, purge_cmd
from intervene.cli.progress import QUIET_KEY, progress
from intervene.cli.replay import replay_cmd
from intervene.cli.serve import serve_cmd
from intervene.cli.users import users
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.errors import InterveneError
from intervene.formats.transcript import TranscriptError, read_transcript
from intervene.listen.pipeline import AsrPool, CallPipeline, ListenOptions, asr_prompt, replay_audio
from intervene.report.evaluate import EvalError, Tally, load_cases

HARNESS_COMMANDS = ("demo", "bench")


class Cli(click.Group):
    """The root group: any `InterveneError` a command lets through is one
    `error: ...` line and exit status 2, and the harness's commands say how to
    install them where the harness extra is missing."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InterveneError as e:
            fail(str(e))

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        cmd = super().get_command(ctx, name)
        if cmd is None and name in HARNESS_COMMANDS:
            fail(f"`intervene {name}` comes with the test harness: pip install -e '.[harness]' "
                 f"(scripts/setup.sh installs it)")
        return cmd


@click.group(cls=Cli)
@click.option("--db", type=click.Path(dir_okay=False), envvar="INTERVENE_DB",
              help="SQLite database (default: $INTERVENE_DB or the user data directory).")
@click.option("--config", "config", type=click.Path(dir_okay=False), envvar="INTERVENE_CONFIG",
              help="Config file (TOML) with profiles and rep/team assignments.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars (they appear only when stderr is a terminal).")
@click.version_option(package_name="intervene")
@click.pass_context
def main(ctx: click.Context, db: Optional[str], config: Optional[str], quiet: bool) -> None:
    """intervene - steps into live sales calls when it can change the outcome."""
    ctx.obj = Runtime(db, config)
    ctx.meta[QUIET_KEY] = quiet


# ------------------------------------------------------------------------ eval
@main.command(name="eval")
@click.argument("cases_dir", type=click.Path())
@click.option("--kb", "kb_path", type=click.Path(), help="KB for every call (default: each case's `kb`).")
@click.option("--profile", type=click.Choice(["minimal", "standard", "training"]), default=None,
              help="Profile for every call (default: each case's `profile`).")
@click.option("--audio", is_flag=True, help="Replay NAME.wav instead of NAME.jsonl; hits are matched by time.")
@click.option("--slack", "slack_s", type=float, default=4.0, show_default=True,
              help="With --audio: seconds after the labelled utterance a hit may come.")
@click.option("--summary", is_flag=True, help="Figures only: no list of each false alarm and miss.")
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON line before the last line.")
@click.option("--asr-model", default=None, envvar="INTERVENE_ASR_MODEL", help="Whisper model for --audio.")
@click.pass_obj
def eval_cmd(rt: Runtime, cases_dir: str, kb_path: Optional[str], profile: Optional[str], audio: bool,
             slack_s: float, summary: bool, as_json: bool, asr_model: Optional[str]) -> None:
    """Score labelled calls: recall, precision, false alarms and misses per category.

    CASES_DIR holds NAME.jsonl (or NAME.wav with --audio) + NAME.expect.json
    (the labels; README "Testing your KB on your calls"). The last line is
    `recall R precision P false_alarms F misses M cases N`, as ../shared/eval/score.py prints."""
    try:
        cases = load_cases(Path(cases_dir), audio, Path(kb_path) if kb_path else None, profile)
        cfg = rt.config
    except EvalError as e:
        fail(str(e))
    if not cases:
        fail(f"{cases_dir}: no labelled calls (NAME.expect.json with a matching NAME.{'wav' if audio else 'jsonl'})")
    indexes: dict[Path, Any] = {}
    tally = Tally()
    pool = None
    bar = progress("scoring calls", len(cases))     # stderr, on a terminal only
    try:
        for done, case in enumerate(cases, 1):
            if case.kb not in indexes:
                indexes[case.kb] = rt.index(rt.kb(str(case.kb)))
            index = indexes[case.kb]
            prof = cfg.profiles.get(case.profile, PROFILES[case.profile])
            engine = CallEngine(index, prof)
            try:
                transcript = read_transcript(case.transcript)
            except TranscriptError as e:
                fail(str(e))
            if audio:
                if pool is None:
                    pool = AsrPool(transcriber(cfg, asr_model, asr_prompt(index.kb)))
                pool.transcriber.set_prompt(asr_prompt(index.kb))
                call_audio = read_audio(lambda w: w.read_call(str(case.call)))  # noqa: B023 (called within this iteration)
                out = replay_audio(CallPipeline(engine, pool, call_audio.rate, ListenOptions(vad=cfg.vad)), call_audio)
            else:
                out = replay(engine, transcript)
            tally.score(case, [iv.to_json() for iv in out], transcript, audio, slack_s,
                        len(engine.policy.held_back))
            bar(done, len(cases))
    finally:
        bar.close()
        if pool is not None:
            pool.close()
    lines = tally.report(details=not summary)
    for line in lines[:-1]:
        click.echo(line)
    if as_json:
        click.echo(json.dumps(tally.figures()))
    click.echo(lines[-1])


def _add_plugins(group: click.Group) -> None:
    """The commands other installed packages offer (`intervene.commands` entry points:
    callables returning commands); one whose dependencies are missing is left out."""
    for ep in entry_points(group="intervene.commands"):
        try:
            commands = ep.load()()
        except ImportError:
            continue
        for cmd in commands:
            group.add_command(cmd)


main.add_command(replay_cmd)
main.add_command(kb)
main.add_command(serve_cmd)
main.add_command(report_cmd)
main.add_command(tune_cmd)
main.add_command(users)
main.add_command(leads)
main.add_command(dnc)
main.add_command(calls)
main.add_command(purge_cmd)
main.add_command(forget_cmd)
main.add_command(db)
main.add_command(doctor_cmd)
main.add_command(models)
main.add_command(outbox_group)
_add_plugins(main)

if __name__ == "__main__":
    main()
