"""Call audio (formats.md section 3) from generated WAV files: random headers,
truncated and oversized chunks, wrong widths, rates and channel counts. Each
file gives a CallAudio that keeps its promises or one AudioError naming the
file - never a struct.error, a numpy error or a MemoryError."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intervene.listen.wav import RATES, AudioError, CallAudio, read_call, read_parties, write_wav

u16, u32 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)


def usually(valid: st.SearchStrategy[int], other: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    return st.one_of(valid, valid, valid, valid, other)


@st.composite
def fmt_body(draw: st.DrawFn) -> bytes:
    channels = draw(usually(st.sampled_from([2, 1]), st.one_of(st.sampled_from([0, 3]), u16)))
    bits = draw(usually(st.just(16), st.one_of(st.sampled_from([8, 24, 32, 0]), u16)))
    rate = draw(usually(st.sampled_from([8000, 16000]), st.one_of(st.sampled_from([44100, 0]), u32)))
    align = draw(usually(st.just(channels * bits // 8 & 0xFFFF), u16))
    tag = draw(usually(st.just(1), st.one_of(st.sampled_from([3, 0xFFFE]), u16)))
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * align & 0xFFFFFFFF, align, bits)
    if tag == 0xFFFE:        # extensible: cbSize, valid bits, channel mask, then the GUID's format tag
        body += struct.pack("<HHIH", 22, bits, 3, draw(st.sampled_from([1, 3]))) + b"\x00" * 14
    return body[:draw(st.integers(0, len(body)))] if draw(st.integers(0, 9)) == 9 else body


@st.composite
def chunk(draw: st.DrawFn) -> bytes:
    cid = draw(st.one_of(st.sampled_from([b"fmt ", b"data", b"LIST", b"fact"]), st.binary(min_size=4, max_size=4)))
    body = draw(fmt_body()) if cid == b"fmt " else draw(st.binary(max_size=64))
    size = draw(st.one_of(st.just(len(body)), st.just(len(body)), u32, st.integers(0, len(body) + 8)))
    return cid + struct.pack("<I", size) + body


@st.composite
def wav_bytes(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 2)) < 2:   # mostly a plausible file: fmt, maybe other chunks, data
        chunks = [b"fmt " + struct.pack("<I", 16) + draw(fmt_body())[:16].ljust(16, b"\x00")]
        chunks += draw(st.lists(chunk(), max_size=2))
        pcm = draw(st.binary(max_size=64))
        chunks.append(b"data" + struct.pack("<I", draw(st.one_of(st.just(len(pcm)), u32))) + pcm)
        order = draw(st.permutations(range(len(chunks)))) if draw(st.integers(0, 5)) == 5 else range(len(chunks))
        chunks = [chunks[i] for i in order]
    else:
        chunks = draw(st.lists(chunk(), max_size=4))
    body = b"WAVE" + b"".join(chunks)
    head = draw(st.one_of(st.just(b"RIFF"), st.just(b"RIFF"), st.just(b"RIFF"),
                          st.sampled_from([b"RIFX", b"RF64", b"\x00\x00\x00\x00"])))
    data = head + struct.pack("<I", draw(st.one_of(st.just(len(body)), u32))) + body
    if draw(st.integers(0, 5)) == 5:
        data = data[:draw(st.integers(0, len(data)))]
    return data


def _check(audio: CallAudio) -> None:
    assert audio.rate in RATES
    assert audio.lead.dtype == np.int16 and audio.rep.dtype == np.int16
    assert audio.lead.ndim == audio.rep.ndim == 1 and len(audio.lead) == len(audio.rep)
    assert audio.duration_s >= 0


def _tmp(factory: pytest.TempPathFactory, name: str, data: bytes) -> Path:
    path = factory.getbasetemp() / name
    path.write_bytes(data)
    return path


@settings(max_examples=500)
@given(st.one_of(wav_bytes(), st.binary(max_size=80)))
def test_any_file_is_a_call_or_refused(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = _tmp(tmp_path_factory, "call.wav", data)
    try:
        audio = read_call(path)
    except AudioError as e:
        assert str(e).startswith(str(path)) and e.problem
        return
    _check(audio)


@settings(max_examples=200)
@given(wav_bytes(), wav_bytes())
def test_any_two_files_are_the_parties_or_refused(tmp_path_factory: pytest.TempPathFactory,
                                                  lead: bytes, rep: bytes) -> None:
    paths = _tmp(tmp_path_factory, "lead.wav", lead), _tmp(tmp_path_factory, "rep.wav", rep)
    try:
        audio = read_parties(*paths)
    except AudioError as e:
        assert e.path in {str(p) for p in paths} and e.problem
        return
    _check(audio)


@settings(max_examples=100)
@given(st.sampled_from(RATES), st.lists(st.tuples(st.integers(-32768, 32767), st.integers(-32768, 32767)),
                                         max_size=50))
def test_what_write_wav_writes_reads_back(tmp_path_factory: pytest.TempPathFactory, rate: int,
                                          frames: list[tuple[int, int]]) -> None:
    path = tmp_path_factory.getbasetemp() / "written.wav"
    lead = np.array([f[0] for f in frames], np.int16)
    rep = np.array([f[1] for f in frames], np.int16)
    write_wav(path, [lead, rep], rate)
    audio = read_call(path)
    assert audio.rate == rate and audio.lead.tolist() == lead.tolist() and audio.rep.tolist() == rep.tolist()


@settings(max_examples=200)
@given(st.sampled_from(RATES), st.booleans(), st.lists(st.tuples(st.sampled_from([b"LIST", b"fact", b"junk"]),
                                                                 st.binary(max_size=9)), max_size=3),
       st.binary(max_size=40))
def test_a_well_formed_file_with_other_chunks_is_read(tmp_path_factory: pytest.TempPathFactory, rate: int,
                                                      extensible: bool, extra: list[tuple[bytes, bytes]],
                                                      pcm: bytes) -> None:
    """Chunks a reader must skip (odd sizes padded to even), and the extensible fmt."""
    tag = 0xFFFE if extensible else 1
    fmt = struct.pack("<HHIIHH", tag, 2, rate, rate * 4, 4, 16)
    if extensible:
        fmt += struct.pack("<HHIH", 22, 16, 3, 1) + b"\x00" * 14
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"".join(cid + struct.pack("<I", len(b)) + b + b"\x00" * (len(b) & 1) for cid, b in extra)
    chunks += b"data" + struct.pack("<I", len(pcm)) + pcm
    path = _tmp(tmp_path_factory, "ok.wav", b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    audio = read_call(path)
    _check(audio)
    assert audio.rate == rate and len(audio.lead) == len(pcm) // 4
