"""Tests for call transcripts (formats.md section 2): intervene.formats.transcript
parse_transcript / read_transcript. A malformed line is one TranscriptError
naming the file, the line and the problem."""
from __future__ import annotations

import json
import pathlib

import pytest

from intervene.core.replay import events
from intervene.formats.transcript import TranscriptError, parse_transcript, read_transcript
from intervene.vocab import Speaker, Utterance

DEV = pathlib.Path("/work/shared/calls/dev")

GOOD = """\
# a recorded call
{"start": 0.0, "end": 2.1, "speaker": "ai", "text": "Hi, this is the Acme assistant."}

{"start": 2.5, "end": 5, "speaker": "rep", "text": "Thanks for calling Acme."}
   # indented comment
{"start": 5.4, "end": 9.0, "speaker": "lead", "text": "Hi. How long is support?", "confidence": 0.9}
{"start": 5.4, "end": 6.0, "speaker": "rep", "text": ""}
"""


def line(**kw) -> str:
    base = {"start": 1.0, "end": 2.0, "speaker": "rep", "text": "hello"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not _DROP})


_DROP = object()
OK1 = '{"start": 0.0, "end": 1.0, "speaker": "lead", "text": "hi"}'
OK2 = '{"start": 3.0, "end": 4.0, "speaker": "rep", "text": "hello"}'


def bad(text: str, name: str = "call.jsonl") -> TranscriptError:
    with pytest.raises(TranscriptError) as info:
        parse_transcript(text, name)
    return info.value


# --------------------------------------------------------------------- valid

def test_valid_transcript() -> None:
    us = parse_transcript(GOOD, "good.jsonl")
    assert us == [
        Utterance(0, Speaker.AI, 0.0, 2.1, "Hi, this is the Acme assistant."),
        Utterance(1, Speaker.REP, 2.5, 5.0, "Thanks for calling Acme."),
        Utterance(2, Speaker.LEAD, 5.4, 9.0, "Hi. How long is support?"),
        Utterance(3, Speaker.REP, 5.4, 6.0, ""),
    ]
    assert all(isinstance(u.start, float) and isinstance(u.end, float) for u in us)


def test_empty_and_comment_only_transcripts() -> None:
    assert parse_transcript("") == []
    assert parse_transcript("# nothing\n\n   \n") == []


def test_crlf_line_endings(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "win.jsonl"
    p.write_bytes((OK1 + "\r\n" + OK2 + "\r\n").encode())
    assert [u.text for u in read_transcript(p)] == ["hi", "hello"]


@pytest.mark.parametrize("path", sorted(DEV.glob("*.jsonl")), ids=lambda p: p.name)
def test_dev_calls_parse(path: pathlib.Path) -> None:
    us = read_transcript(path)
    assert us, path
    assert [u.index for u in us] == list(range(len(us)))
    assert all(a.start <= b.start for a, b in zip(us, us[1:]))


def test_events_put_final_before_start_at_equal_times() -> None:
    us = parse_transcript(OK1 + "\n" + '{"start": 1.0, "end": 2.0, "speaker": "rep", "text": "x"}')
    ev = [(e.t, e.kind, e.utterance.index) for e in events(us)]
    assert ev == [(0.0, "start", 0), (1.0, "final", 0), (1.0, "start", 1), (2.0, "final", 1)]


# ------------------------------------------------------------------ malformed

def assert_where(err: TranscriptError, name: str, line_no: int, *words: str) -> None:
    msg = str(err)
    assert msg.startswith(f"{name}:{line_no}: "), msg
    assert err.file == name and err.line == line_no
    for w in words:
        assert w in msg, msg


def test_line_numbers_count_comments_and_blank_lines() -> None:
    text = "# header\n\n" + OK1 + "\n\n# note\n" + '{"start": 1, "end": 0.5, "speaker": "rep", "text": "x"}\n'
    assert_where(bad(text), "call.jsonl", 6, "end", "start")


def test_invalid_json() -> None:
    err = bad(OK1 + "\n" + '{"start": 1, "end": 2, "speaker": "rep", "text": "unterminated}\n')
    assert_where(err, "call.jsonl", 2, "not valid JSON")


def test_trailing_comma_is_invalid_json() -> None:
    assert_where(bad('{"start": 1, "end": 2, "speaker": "rep", "text": "x",}'), "call.jsonl", 1, "JSON")


@pytest.mark.parametrize("value", ['[1, 2]', '"text"', '42', 'null'])
def test_not_an_object(value: str) -> None:
    assert_where(bad(OK1 + "\n" + value), "call.jsonl", 2, "object")


@pytest.mark.parametrize("key", ["start", "end", "speaker", "text"])
def test_missing_key(key: str) -> None:
    assert_where(bad(OK1 + "\n" + line(**{key: _DROP})), "call.jsonl", 2, "missing", key)


@pytest.mark.parametrize("key", ["start", "end"])
@pytest.mark.parametrize("value,shown", [
    ("-1", "-1"), ("NaN", "nan"), ("Infinity", "inf"), ("true", "True"), ("false", "False"),
    ('"1.5"', "'1.5'"), ("null", "None"),
])
def test_bad_time(key: str, value: str, shown: str) -> None:
    fields = {"start": "1.0", "end": "2.0"}
    fields[key] = value
    text = f'{{"start": {fields["start"]}, "end": {fields["end"]}, "speaker": "rep", "text": "x"}}'
    err = bad(OK1 + "\n" + text)
    assert_where(err, "call.jsonl", 2, f"`{key}`", shown)


def test_end_before_start() -> None:
    assert_where(bad(line(start=5.0, end=4.5)), "call.jsonl", 1, "`end`", "before", "4.5", "5.0")


def test_zero_length_utterance_is_fine() -> None:
    assert parse_transcript(line(start=5.0, end=5.0))[0].end == 5.0


def test_out_of_time_order() -> None:
    err = bad(OK2 + "\n" + OK1)
    assert_where(err, "call.jsonl", 2, "time order")


def test_time_order_checked_against_last_real_line() -> None:
    err = bad(OK1 + "\n" + OK2 + "\n# comment\n" + line(start=2.0, end=5.0))
    assert_where(err, "call.jsonl", 4, "time order")


@pytest.mark.parametrize("speaker", ["customer", "Rep", "", 1, None])
def test_bad_speaker(speaker) -> None:
    assert_where(bad(OK1 + "\n" + line(speaker=speaker)), "call.jsonl", 2, "`speaker`", "lead", "rep")


@pytest.mark.parametrize("text", [5, None, ["a"], {"t": "x"}])
def test_non_string_text(text) -> None:
    assert_where(bad(line(text=text)), "call.jsonl", 1, "`text`", "string")


def test_missing_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "nope.jsonl"
    with pytest.raises(TranscriptError) as info:
        read_transcript(p)
    assert str(p) in str(info.value)
    assert "no such file" in str(info.value)


def test_directory_instead_of_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(TranscriptError) as info:
        read_transcript(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_non_utf8_file(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "latin1.jsonl"
    p.write_bytes((OK1 + "\n").encode() + '{"start": 2, "end": 3, "speaker": "rep", "text": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(TranscriptError) as info:
        read_transcript(p)
    msg = str(info.value)
    assert str(p) in msg
    assert "utf-8" in msg.lower()


def test_read_transcript_names_the_file_for_bad_lines(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "call.jsonl"
    p.write_text(OK1 + "\n" + OK2 + "\n" + line(speaker="bot", start=9, end=10) + "\n", encoding="utf-8")
    with pytest.raises(TranscriptError) as info:
        read_transcript(p)
    assert str(info.value).startswith(f"{p}:3: ")


def test_utf8_bom_is_accepted(tmp_path: pathlib.Path) -> None:
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + (OK1 + "\n" + OK2 + "\n").encode())
    assert [u.text for u in read_transcript(p)] == ["hi", "hello"]
