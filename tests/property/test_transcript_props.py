"""Transcripts (formats.md section 2) from generated text: every input is read
into utterances that keep the format's promises, or refused with one
TranscriptError naming the line - never another exception."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from propkit import dumps, json_values, mixed, nested, plain_text, text

from intervene.formats.transcript import TranscriptError, parse_transcript, read_transcript, write_transcript
from intervene.vocab import Speaker, Utterance

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
utterance = st.fixed_dictionaries(
    {"start": mixed(seconds), "end": mixed(seconds), "speaker": mixed(st.sampled_from(["lead", "rep", "ai"])),
     "text": mixed(text)},
    optional={"extra": json_values})
line = st.one_of(
    utterance.map(dumps), utterance.map(dumps), utterance.map(dumps),
    json_values.map(dumps), st.just(""), st.just("# a comment"), text,
    st.integers(1, 5000).map(nested),
    utterance.map(dumps).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])))
documents = st.tuples(st.lists(line, max_size=8), st.sampled_from(["\n", "\r\n", "\r"])).map(
    lambda t: t[1].join(t[0]))


def _check(utterances: list[Utterance]) -> None:
    prev = -math.inf
    for i, u in enumerate(utterances):
        assert u.index == i and isinstance(u.speaker, Speaker) and isinstance(u.text, str)
        assert math.isfinite(u.start) and math.isfinite(u.end) and 0 <= u.start <= u.end
        assert u.start >= prev
        prev = u.start
        u.text.encode("utf-8")          # storable and printable: no lone surrogates


@settings(max_examples=500)
@given(documents)
def test_any_text_is_read_or_refused_with_its_line(raw: str) -> None:
    try:
        utterances = parse_transcript(raw, "call.jsonl")
    except TranscriptError as e:
        assert str(e).startswith("call.jsonl") and e.message
        return
    _check(utterances)


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_any_file_is_read_or_refused(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "any.jsonl"
    path.write_bytes(data)
    try:
        _check(read_transcript(path))
    except TranscriptError as e:
        assert str(e).startswith(str(path))


written = st.lists(st.tuples(st.floats(0, 1e5), st.floats(0, 100), st.sampled_from(list(Speaker)), plain_text),
                   max_size=6)


@settings(max_examples=300)
@given(written)
def test_what_write_transcript_writes_reads_back(tmp_path_factory: pytest.TempPathFactory,
                                                 parts: list[tuple[float, float, Speaker, str]]) -> None:
    starts = sorted(p[0] for p in parts)
    utterances = [Utterance(i, sp, s, s + d, t) for i, (s, (_, d, sp, t)) in enumerate(zip(starts, parts))]
    path = tmp_path_factory.getbasetemp() / "written.jsonl"
    write_transcript(path, utterances)
    back = read_transcript(path)
    assert [(u.speaker, u.text) for u in back] == [(u.speaker, u.text) for u in utterances]
    assert [u.start for u in back] == [round(u.start, 2) for u in utterances]


# ------------------------------------------------------ fixed regressions
@pytest.mark.parametrize("raw, what", [
    ('{"start": 1' + "0" * 5000 + ', "end": 2, "speaker": "rep", "text": "x"}', "4300 digits"),   # ValueError
    ('{"start": 1' + "0" * 400 + ', "end": 2, "speaker": "rep", "text": "x"}', "`start`"),    # OverflowError
    (nested(100000), "not valid JSON"),                                                      # RecursionError
    ('{"start": 0, "end": 1, "speaker": "rep", "text": "a\\ud800b"}', "`text`"),              # unstorable text
])
def test_refused_with_a_message_not_a_traceback(raw: str, what: str) -> None:
    with pytest.raises(TranscriptError) as e:
        parse_transcript(raw, "bad.jsonl")
    assert str(e.value).startswith("bad.jsonl:1:") and what in str(e.value)


def test_a_line_separator_inside_text_reads_back(tmp_path: Path) -> None:
    """write_transcript writes U+2028 and U+0085 as they are (ensure_ascii=False);
    they are not line ends of a JSON Lines file."""
    path = tmp_path / "t.jsonl"
    said = "one\u2028two\x85three\u2029"
    write_transcript(path, [Utterance(0, Speaker.REP, 0.0, 1.0, said), Utterance(1, Speaker.LEAD, 1.0, 2.0, "ok")])
    back = read_transcript(path)
    assert [u.text for u in back] == [said, "ok"]


def test_any_line_end_ends_a_line() -> None:
    lines = [f'{{"start": {i}, "end": {i + 1}, "speaker": "rep", "text": "t{i}"}}' for i in range(4)]
    raw = lines[0] + "\r" + lines[1] + "\r\n" + lines[2] + "\n" + lines[3]
    assert [u.text for u in parse_transcript(raw)] == ["t0", "t1", "t2", "t3"]
