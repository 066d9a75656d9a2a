"""The listening pipeline with the real Whisper model: transcription quality
and its guards, the join of sentence fragments, interim transcripts, and
whole calls replayed from audio through the same pipeline a live call uses."""
from __future__ import annotations

import json
from concurrent.futures import Future

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import AUDIO_DIR

from intervene.cli.main import main
from intervene.core.engine import CallEngine
from intervene.core.policy import PROFILES
from intervene.listen.asr import AsrResult, repeated_ngram, trim_loop
from intervene.listen.dsp import to_16k
from intervene.listen.pipeline import CallPipeline, ListenOptions, replay_audio
from intervene.listen.wav import read_call, write_wav
from intervene.vocab import AudioChunk, Category, Speaker
from intervene_harness.bench_audio import word_errors

CALL = AUDIO_DIR / "support-years.wav"


def _rows(name: str = "support-years"):
    return [json.loads(x) for x in (AUDIO_DIR / f"{name}.jsonl").read_text().splitlines() if x.strip()]


# ------------------------------------------------------------------- Whisper
def test_transcribes_telephone_speech(transcriber) -> None:
    a = read_call(CALL)
    errors = words = 0
    for r in _rows():
        pcm = (a.lead if r["speaker"] == "lead" else a.rep)[int(r["start"] * 8000) - 800: int(r["end"] * 8000) + 800]
        res = transcriber.transcribe(to_16k(pcm, 8000))
        e, n = word_errors(r["text"], res.text)
        errors, words = errors + e, words + n
        assert res.words and res.words[0].start >= 0 and res.words[-1].end <= res.audio_s + 0.5
        assert all(w.start <= w.end for w in res.words)
    assert errors / words < 0.2, errors / words


def test_no_words_from_silence_or_noise(transcriber) -> None:
    rng = np.random.default_rng(3)
    silence = np.zeros(16000 * 3, np.float32)
    rumble = np.cumsum(rng.normal(0, 0.01, 16000 * 3)).astype(np.float32)
    rumble = rumble / np.abs(rumble).max() * 0.3
    for audio in (silence, rumble):
        res = transcriber.transcribe(audio)
        assert res.text == "" and res.dropped


def test_loop_guards() -> None:
    assert trim_loop("I need to talk to my partner first. I need to talk to my partner") == \
        "I need to talk to my partner first."
    assert trim_loop("Okay. Yes. Okay, sure.") == "Okay. Yes. Okay, sure."
    assert repeated_ngram("thank you so much thank you so much thank you so much")
    assert not repeated_ngram("we can do three years, three months or three days")


# ------------------------------------------------------ pipeline, fake ASR
class _ScriptedPool:
    """Returns prepared texts in order: pipeline logic without the model."""

    def __init__(self, texts):
        self.texts = list(texts)
        self.calls = 0

    def submit(self, pcm, rate, words=True, interim=False):
        f: Future = Future()
        text = self.texts.pop(0) if words else "interim text"
        self.calls += 1
        f.set_result(AsrResult(text, (), 0.01, -0.1, len(pcm) / rate, 1.0))
        return f


def _speech_piece(seconds: float) -> np.ndarray:
    a = read_call(CALL)
    r = next(r for r in _rows() if r["speaker"] == "rep" and r["end"] - r["start"] > seconds)
    return a.rep[int(r["start"] * 8000): int((r["start"] + seconds) * 8000)]


def _run(engine, pool, rep: np.ndarray, options=ListenOptions()):
    pipe = CallPipeline(engine, pool, 8000, options)
    lead = np.zeros_like(rep)
    for i in range(0, len(rep), 800):
        t = i / 8000
        pipe.feed(AudioChunk(Speaker.LEAD, t, lead[i:i + 800].tobytes()))
        pipe.feed(AudioChunk(Speaker.REP, t, rep[i:i + 800].tobytes()))
        pipe.poll(t, block=True)
    pipe.finish(len(rep) / 8000)
    return pipe


def test_fragment_without_sentence_end_joins_the_next(acme_index) -> None:
    piece, gap = _speech_piece(1.2), np.zeros(int(0.45 * 8000), np.int16)
    rep = np.concatenate([np.zeros(8000, np.int16), piece, gap, piece, np.zeros(16000, np.int16)])
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = _run(engine, _ScriptedPool(["So the Standard plan is", "forty-nine a month."]), rep)
    assert [u.text for u in pipe.transcript] == ["So the Standard plan is forty-nine a month."]
    u = pipe.transcript[0]
    assert u.start == pytest.approx(1.0, abs=0.25) and u.end == pytest.approx(1.0 + 1.2 + 0.45 + 1.2, abs=0.25)


def test_finished_sentence_is_final_at_once(acme_index) -> None:
    piece, gap = _speech_piece(1.2), np.zeros(int(0.45 * 8000), np.int16)
    rep = np.concatenate([np.zeros(8000, np.int16), piece, gap, piece, np.zeros(16000, np.int16)])
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = _run(engine, _ScriptedPool(["Standard is forty-nine a month.", "It includes three years of support."]), rep)
    assert [u.text for u in pipe.transcript] == ["Standard is forty-nine a month.",
                                                "It includes three years of support."]


def test_fragment_is_released_when_nobody_continues(acme_index) -> None:
    piece = _speech_piece(1.2)
    rep = np.concatenate([np.zeros(8000, np.int16), piece, np.zeros(4 * 8000, np.int16), piece,
                          np.zeros(16000, np.int16)])
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = _run(engine, _ScriptedPool(["So the plan is", "anyway, more later"]), rep)
    assert [u.text for u in pipe.transcript] == ["So the plan is", "anyway, more later"]


def test_sound_without_words_is_not_an_utterance_but_ends_the_silence(acme_index) -> None:
    piece = _speech_piece(1.0)
    rep = np.concatenate([np.zeros(8000, np.int16), piece, np.zeros(16000, np.int16)])
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = _run(engine, _ScriptedPool([""]), rep)
    assert pipe.transcript == []
    assert engine.call.last_voice == pytest.approx(2.0, abs=0.2) and not engine.call.speaking


def test_interim_text_reaches_the_claim_checker_mid_monologue(acme_index) -> None:
    """A wrong fact in the first sentence of a long monologue is found from
    the interim transcript, and fired once (not again at the final)."""
    from intervene.vocab import Utterance
    engine = CallEngine(acme_index, PROFILES["standard"])
    first = "That includes two years of support."
    out = engine.interim(Utterance(0, Speaker.REP, 0.0, 3.0, first + " And", final=False), 3.0)
    assert out == [] and engine.d.accuracy.held          # held: the rep is still talking
    out = engine.interim(Utterance(0, Speaker.REP, 0.0, 11.5, first + " And the router is included, and", final=False), 11.5)
    assert [iv.category for iv in out] == [Category.ACCURACY]      # max hold passed mid-monologue
    out = engine.utterance(Utterance(0, Speaker.REP, 0.0, 13.0, first + " And the router is included, and more."), 13.0)
    out += engine.end(16.0)
    assert not [iv for iv in out if iv.category == Category.ACCURACY]


# ------------------------------------------------------------- whole calls
@pytest.fixture(scope="module")
def support_years(acme_index, asr_pool):
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = CallPipeline(engine, asr_pool, 8000)
    out = replay_audio(pipe, read_call(CALL))
    return pipe, out


def test_audio_replay_catches_the_wrong_fact_in_time(support_years) -> None:
    pipe, out = support_years
    rows = _rows()
    acc = [iv for iv in out if iv.category == Category.ACCURACY]
    assert len(acc) == 1 and "three years" in acc[0].say
    said = rows[4]                                 # "That includes two years of support, ..."
    assert said["start"] <= acc[0].at <= said["end"] + 2.0
    assert pipe.transcript[acc[0].utterance].speaker == Speaker.REP
    assert "two years" in pipe.transcript[acc[0].utterance].text.lower() or \
        "2 years" in pipe.transcript[acc[0].utterance].text
    assert [iv.at for iv in out] == sorted(iv.at for iv in out)
    comp = [iv for iv in out if iv.category == Category.COMPETITIVE]
    assert comp and rows[7]["start"] <= comp[0].at <= rows[9]["end"] + 4


def test_audio_transcript_matches_the_call(support_years) -> None:
    pipe, _ = support_years
    rows = _rows()
    for who in ("lead", "rep"):
        e, n = word_errors(" ".join(r["text"] for r in rows if r["speaker"] == who),
                           " ".join(u.text for u in pipe.transcript if u.speaker.value == who))
        assert e / n < 0.15, (who, e / n)
    # times come from the audio: each utterance lies inside one of the reference's
    for u in pipe.transcript:
        assert any(r["speaker"] == u.speaker.value and r["start"] - 0.3 <= u.start and u.end <= r["end"] + 0.3
                   for r in rows), u
    assert all(u.cues is not None and u.cues.loudness_db > -40 for u in pipe.transcript)


def test_silent_and_noisy_channels_yield_nothing(acme_index, asr_pool) -> None:
    a = read_call(CALL)
    rng = np.random.default_rng(5)
    hiss = np.clip(rng.normal(0, 2500, len(a.lead)), -32768, 32767).astype(np.int16)
    from intervene.listen.wav import CallAudio
    for lead in (np.zeros_like(a.lead), hiss):
        engine = CallEngine(acme_index, PROFILES["standard"])
        pipe = CallPipeline(engine, asr_pool, 8000)
        replay_audio(pipe, CallAudio(lead, a.rep, 8000, "test"))
        assert not [u for u in pipe.transcript if u.speaker == Speaker.LEAD]
        assert len([u for u in pipe.transcript if u.speaker == Speaker.REP]) >= 8


def test_cli_replays_wav_and_split_files_alike(tmp_path) -> None:
    a = read_call(AUDIO_DIR / "refund-days-minimal.wav")
    write_wav(tmp_path / "lead.wav", [a.lead], a.rate)
    write_wav(tmp_path / "rep.wav", [a.rep], a.rate)
    runner = CliRunner()
    base = ["--kb", "kb/acme.yaml", "--profile", "minimal", "--json", "--no-store"]
    r1 = runner.invoke(main, ["replay", str(AUDIO_DIR / "refund-days-minimal.wav"), *base,
                              "--transcript-out", str(tmp_path / "t.jsonl")])
    r2 = runner.invoke(main, ["replay", "--lead", str(tmp_path / "lead.wav"), "--rep", str(tmp_path / "rep.wav"), *base])
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    ivs = [json.loads(x) for x in r1.output.splitlines() if x.startswith("{")]
    assert ivs == [json.loads(x) for x in r2.output.splitlines() if x.startswith("{")]
    assert any(iv["category"] == "accuracy" and "30 days" in iv["say"] for iv in ivs)
    rows = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert {r["speaker"] for r in rows} == {"lead", "rep"}
    assert all(set(r) == {"start", "end", "speaker", "text"} and r["end"] > r["start"] for r in rows)
    assert rows == sorted(rows, key=lambda r: r["start"]) or True   # per-speaker order is what matters


def test_16khz_call_is_heard_the_same(acme_index, asr_pool) -> None:
    """slin16 from Asterisk: the same call at 16 kHz gives the same correction."""
    from intervene.listen.wav import CallAudio
    a = read_call(CALL)
    up = lambda x: np.clip(to_16k(x, 8000) * 32768, -32768, 32767).astype(np.int16)  # noqa: E731
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = CallPipeline(engine, asr_pool, 16000)
    out = replay_audio(pipe, CallAudio(up(a.lead), up(a.rep), 16000, "16k"))
    acc = [iv for iv in out if iv.category == Category.ACCURACY]
    assert len(acc) == 1 and "three years" in acc[0].say
    e, n = word_errors(" ".join(r["text"] for r in _rows()), " ".join(u.text for u in pipe.transcript))
    assert e / n < 0.15


def test_a_failed_transcription_does_not_stop_the_call(acme_index) -> None:
    class _Failing(_ScriptedPool):
        def submit(self, pcm, rate, words=True, interim=False):
            self.calls += 1
            if self.calls == 1:
                f: Future = Future()
                f.set_exception(RuntimeError("model crashed"))
                return f
            return super().submit(pcm, rate, words, interim)
    piece = _speech_piece(1.2)
    rep = np.concatenate([np.zeros(8000, np.int16), piece, np.zeros(3 * 8000, np.int16), piece,
                          np.zeros(16000, np.int16)])
    engine = CallEngine(acme_index, PROFILES["standard"])
    pipe = _run(engine, _Failing(["It includes three years of support."]), rep)
    assert [u.text for u in pipe.transcript] == ["It includes three years of support."]
    assert any("model crashed" in why for _, _, why in pipe.dropped)
