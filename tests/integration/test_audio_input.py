"""Call audio in: WAV validation (format 3), VAD segmentation, resampling,
acoustic cues. Pure signal code, no models."""
from __future__ import annotations

import json
import struct
import wave

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import AUDIO_DIR

from intervene.cli.main import main
from intervene.listen.cues import CueTracker
from intervene.listen.dsp import level_db, pitch_hz, to_16k
from intervene.listen.vad import Segmenter, SpeechEnd, SpeechStart, VadOptions
from intervene.listen.wav import AudioError, read_call, read_parties, write_wav
from intervene.vocab import Speaker

CALL = AUDIO_DIR / "support-years.wav"


def _write(path, channels: int, rate: int, width: int, frames: int = 800) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x01" * frames * channels * width)


def _reference():
    return [json.loads(x) for x in (AUDIO_DIR / "support-years.jsonl").read_text().splitlines() if x.strip()]


# ----------------------------------------------------------------- WAV input
def test_reads_two_channel_call() -> None:
    a = read_call(CALL)
    assert a.rate == 8000 and len(a.lead) == len(a.rep) and a.duration_s > 40
    rows = _reference()
    first_lead = next(r for r in rows if r["speaker"] == "lead")
    # the lead's channel is silent while only the rep talks, and loud when the lead does
    assert level_db(a.lead[: int(rows[0]["end"] * 8000)]) < -60
    s, e = int(first_lead["start"] * 8000), int(first_lead["end"] * 8000)
    assert level_db(a.lead[s:e]) > -40


@pytest.mark.parametrize("channels,rate,width,needle", [
    (1, 8000, 2, "1 channel(s); a call needs 2"),
    (2, 44100, 2, "unsupported sample rate 44100"),
    (2, 8000, 1, "unsupported sample width 8 bits"),
    (2, 8000, 4, "unsupported sample width 32 bits"),
])
def test_rejects_wrong_shape(tmp_path, channels, rate, width, needle) -> None:
    p = tmp_path / "bad.wav"
    _write(p, channels, rate, width)
    with pytest.raises(AudioError) as e:
        read_call(p)
    assert needle in str(e.value) and str(p) in str(e.value)


def test_rejects_truncated_and_non_wav(tmp_path) -> None:
    good = CALL.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good[: len(good) // 3])
    with pytest.raises(AudioError, match="truncated"):
        read_call(cut)
    notwav = tmp_path / "notes.wav"
    notwav.write_text("this is not audio")
    with pytest.raises(AudioError, match="not a WAV file"):
        read_call(notwav)
    with pytest.raises(AudioError, match="cannot read"):
        read_call(tmp_path / "missing.wav")


def test_float_wav_is_refused(tmp_path) -> None:
    p = tmp_path / "float.wav"
    body = np.zeros(1600, np.float32).tobytes()
    fmt = struct.pack("<HHIIHH", 3, 2, 8000, 8000 * 8, 8, 32)
    p.write_bytes(b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                  + b"data" + struct.pack("<I", len(body)) + body)
    with pytest.raises(AudioError, match="format tag 3"):
        read_call(p)


def test_mono_pair(tmp_path) -> None:
    a = read_call(CALL)
    write_wav(tmp_path / "lead.wav", [a.lead], a.rate)
    write_wav(tmp_path / "rep.wav", [a.rep[: len(a.rep) // 2]], a.rate)
    both = read_parties(tmp_path / "lead.wav", tmp_path / "rep.wav")
    assert np.array_equal(both.lead, a.lead)
    assert len(both.rep) == len(a.lead) and not both.rep[len(a.rep) // 2 + 1:].any()
    write_wav(tmp_path / "r16.wav", [np.zeros(16000, np.int16)], 16000)
    with pytest.raises(AudioError, match="differs"):
        read_parties(tmp_path / "lead.wav", tmp_path / "r16.wav")
    with pytest.raises(AudioError, match="one mono file per party"):
        read_parties(CALL, tmp_path / "rep.wav")


@pytest.mark.parametrize("args,needle", [
    (["MONO"], "a call needs 2"),
    (["TRUNC"], "truncated"),
    (["--lead", "MONO"], "both --lead FILE and --rep FILE"),
])
def test_cli_bad_audio_exits_2(tmp_path, args, needle) -> None:
    mono, trunc = tmp_path / "mono.wav", tmp_path / "trunc.wav"
    _write(mono, 1, 8000, 2)
    trunc.write_bytes(CALL.read_bytes()[:5000])
    args = [{"MONO": str(mono), "TRUNC": str(trunc)}.get(a, a) for a in args]
    r = CliRunner().invoke(main, ["replay", *args, "--kb", "kb/", "--no-store", "--json"])
    assert r.exit_code == 2, r.output
    assert needle in r.output


# ---------------------------------------------------------------------- VAD
def _segments(pcm: np.ndarray, rate: int, options: VadOptions = VadOptions()):
    seg = Segmenter(Speaker.REP, rate, options)
    events = []
    step = rate // 10
    for i in range(0, len(pcm), step):
        events += seg.feed(pcm[i:i + step].tobytes(), i / rate)
    return events + seg.flush()


def test_vad_finds_each_utterance_on_its_own_channel() -> None:
    a = read_call(CALL)
    ends = [e for e in _segments(a.rep, a.rate) if isinstance(e, SpeechEnd) and e.is_speech]
    rep_rows = [r for r in _reference() if r["speaker"] == "rep"]
    # every utterance of the rep is covered by segments that start and end within 0.25 s of it
    for r in rep_rows:
        inside = [e for e in ends if e.start < r["end"] and e.end > r["start"]]
        assert inside, r
        assert abs(inside[0].start - r["start"]) < 0.25 and abs(inside[-1].end - r["end"]) < 0.25, (r, inside)
        for e in inside:
            assert e.decided - e.end == pytest.approx(0.3, abs=0.021)      # the end hangover, nothing more
    # nothing on the rep's channel while only the lead speaks
    assert all(any(e.start < r["end"] + 0.3 and e.end > r["start"] - 0.3 for r in rep_rows) for e in ends)


def test_vad_hangover_is_configurable() -> None:
    a = read_call(CALL)
    short = [e for e in _segments(a.rep, a.rate, VadOptions(end_ms=200)) if isinstance(e, SpeechEnd)]
    long = [e for e in _segments(a.rep, a.rate, VadOptions(end_ms=800)) if isinstance(e, SpeechEnd)]
    assert len(long) < len(short)                       # pauses inside turns no longer end an utterance
    assert all(abs(e.decided - e.end - 0.2) < 0.021 for e in short)


def test_vad_ignores_silence_and_hiss() -> None:
    rng = np.random.default_rng(1)
    silence = np.zeros(8000 * 5, np.int16)
    hiss = (rng.normal(0, 30, 8000 * 5)).astype(np.int16)          # about -60 dBFS line noise
    assert _segments(silence, 8000) == []
    assert _segments(hiss, 8000) == []


def test_vad_interim_audio_for_long_speech() -> None:
    a = read_call(CALL)
    events = _segments(a.rep, a.rate, VadOptions(end_ms=1500, interim_after_s=2.0, interim_every_s=1.0))
    from intervene.listen.vad import InterimAudio
    interims = [e for e in events if isinstance(e, InterimAudio)]
    assert interims
    for e in interims:
        assert e.decided - e.start >= 2.0 - 0.02
        assert len(e.pcm) / a.rate <= e.decided - e.start + 0.25      # only audio heard so far


def test_start_needs_several_voiced_frames() -> None:
    a = read_call(CALL)
    r = next(r for r in _reference() if r["speaker"] == "rep")
    speech = a.rep[int(r["start"] * 8000): int(r["end"] * 8000)]
    click = np.concatenate([np.zeros(8000, np.int16), speech[:160], np.zeros(8000, np.int16)])   # 20 ms
    assert not [e for e in _segments(click, 8000) if isinstance(e, SpeechStart)]


# ------------------------------------------------------------ signal helpers
def test_resample_keeps_the_band_and_length() -> None:
    t = np.arange(8000) / 8000
    tone = (np.sin(2 * np.pi * 1000 * t) * 10000).astype(np.int16)
    up = to_16k(tone, 8000)
    assert len(up) == 16000
    spec = np.abs(np.fft.rfft(up[2000:14000]))
    freqs = np.fft.rfftfreq(12000, 1 / 16000)
    assert abs(freqs[np.argmax(spec)] - 1000) < 5
    assert spec[freqs > 4500].max() < spec.max() * 0.05       # no image at 7 kHz
    assert np.array_equal(to_16k(tone, 16000), tone.astype(np.float32) / 32768)


def test_pitch_of_a_voiced_sound() -> None:
    t = np.arange(8000) / 8000
    for f0 in (110.0, 220.0):
        voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
        pcm = (voice / np.abs(voice).max() * 8000).astype(np.int16)
        assert pitch_hz(pcm, 8000) == pytest.approx(f0, rel=0.05)
    assert pitch_hz(np.zeros(8000, np.int16), 8000) == 0.0


def test_cues_compare_a_speaker_with_their_own_baseline() -> None:
    a = read_call(CALL)
    lead = [r for r in _reference() if r["speaker"] == "lead"]
    cues = CueTracker(8000)
    got = []
    for i, r in enumerate(lead):
        pcm = a.lead[int(r["start"] * 8000): int(r["end"] * 8000)]
        if i == len(lead) - 1:
            pcm = np.clip(pcm.astype(np.int32) * 4, -32768, 32767).astype(np.int16)      # +12 dB: shouting
        got.append(cues.measure(Speaker.LEAD, r["start"], r["end"], pcm, r["end"] - r["start"], len(r["text"].split())))
    assert all(abs(c.loudness_rise_db) < 6 for c in got[2:-1])
    assert got[-1].loudness_rise_db > 9
    assert all(1.0 < c.rate_wps < 5.0 for c in got)
    assert all(c.pitch_hz > 120 for c in got)        # the lead's voice is a female one


def test_overlap_and_interruption_from_both_parties_vad() -> None:
    cues = CueTracker(8000)
    cues.started(SpeechStart(Speaker.REP, 10.0, 10.1))
    cues.speech(SpeechEnd(Speaker.REP, 10.0, 14.0, 14.3, np.zeros(10, np.int16), 4.0))
    c = cues.measure(Speaker.LEAD, 12.5, 16.0, np.zeros(8000, np.int16), 3.0, 8)
    assert c.overlap_s == pytest.approx(1.5) and c.interrupted
    c2 = cues.measure(Speaker.LEAD, 14.5, 16.0, np.zeros(8000, np.int16), 1.5, 4)
    assert c2.overlap_s == 0 and not c2.interrupted


def test_noise_floor_and_line_snr_follow_the_line() -> None:
    """The segmenter learns each party's noise floor between utterances, and an
    utterance's cues carry its speech level over that floor: high on a quiet
    line, low once hiss at 18 dB under the speech is added."""
    a = read_call(CALL)
    rng = np.random.default_rng(7)
    speech = a.rep.astype(np.float64)
    level = 10 ** (level_db(a.rep[np.abs(a.rep) > 300]) / 20) * 32768
    hiss = rng.normal(0, level / 10 ** (18 / 20), len(speech))
    for pcm, lo, hi in ((a.rep, 40.0, 200.0), (np.clip(speech + hiss, -32768, 32767).astype(np.int16), 5.0, 30.0)):
        seg = Segmenter(Speaker.REP, a.rate)
        assert seg.noise_db is None                                  # nothing heard yet
        cues = CueTracker(a.rate)
        snrs = []
        step = a.rate // 10
        for i in range(0, len(pcm), step):
            for e in seg.feed(pcm[i:i + step].tobytes(), i / a.rate):
                if isinstance(e, SpeechEnd) and e.is_speech and seg.noise_db is not None:
                    snrs.append(cues.measure(Speaker.REP, e.start, e.end, e.pcm, e.voiced_s, 5, seg.noise_db).snr_db)
        assert snrs and all(lo <= s <= hi for s in snrs), (lo, hi, str(snrs))
