"""Call records (formats.md section 6) from generated files, through what
`calls import` does: parse_records never raises - each bad record becomes one
message naming the source - and every record it accepts goes into a store
and comes back out (`calls export`) as a record it accepts again."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from propkit import dumps, json_values, mixed, nested, plain_text, text

from intervene.formats.record import parse_records, read_path, read_record, write_records
from intervene.report.record import call_record, import_records
from intervene.store.db import Store

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
choice = lambda *xs: mixed(st.sampled_from(xs))  # noqa: E731
utterance = st.fixed_dictionaries({"start": mixed(seconds), "end": mixed(seconds),
                                   "speaker": choice("lead", "rep", "ai"), "text": mixed(text)})
intervention = st.fixed_dictionaries(
    {"at": mixed(seconds), "utterance": mixed(st.integers(0, 3)),
     "category": choice("accuracy", "emotion", "momentum", "opportunity", "competitive", "compliance", "process"),
     "severity": choice("low", "medium", "high"), "mode": choice("voice", "silent"),
     "trigger": mixed(text), "detected": mixed(text), "say": mixed(text)},
    optional={"evidence": mixed(st.lists(st.fixed_dictionaries({"kb_id": mixed(text), "text": mixed(text)}),
                                         max_size=2)),
              "feedback": choice("used", "edited", "dismissed", None), "feedback_text": mixed(text),
              "delivery": mixed(text)})
lead = st.fixed_dictionaries({"id": mixed(st.one_of(plain_text, st.integers()))},
                             optional={"source": mixed(text), "campaign": mixed(text), "fields": json_values})
record = st.fixed_dictionaries(
    {"call_id": mixed(plain_text), "started": mixed(st.sampled_from(["2026-11-24T15:02:11Z", "2026-11-24"])),
     "duration_s": mixed(seconds), "rep": mixed(text), "profile": choice("standard", "training"),
     "mode": choice("silent", "voice"), "outcome": choice("won", "follow-up", "lost", "no-decision", "unknown"),
     "transcript": mixed(st.lists(utterance, max_size=3)), "interventions": mixed(st.lists(intervention, max_size=2))},
    optional={"team": mixed(text), "lead": mixed(lead), "value": mixed(seconds), "outcome_detail": mixed(text),
              "score": mixed(st.fixed_dictionaries({"total": mixed(seconds)},
                                                   optional={"parts": st.dictionaries(text, mixed(seconds))}))})


@st.composite
def records_file(draw: st.DrawFn) -> str:
    recs = draw(st.lists(st.one_of(record, record, record, json_values), min_size=1, max_size=3))
    layout = draw(st.sampled_from(["lines", "one", "list", "pretty"]))
    if layout == "one":
        whole = dumps(recs[0])
    elif layout == "list":
        whole = dumps(recs)
    elif layout == "pretty":
        whole = "\n".join("  " + line for line in dumps(recs[0]).replace(", ", ",\n").splitlines())
    else:
        lines = [dumps(r) for r in recs]
        extra = draw(st.lists(st.one_of(st.just(""), st.just("# comment"), text, st.integers(1, 5000).map(nested)),
                              max_size=2))
        whole = "\n".join(lines + extra)
    if draw(st.integers(0, 5)) == 5:
        whole = whole[:draw(st.integers(0, len(whole)))]
    return whole


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(tmp_path_factory.mktemp("records") / "calls.db")
    yield s
    s.close()


def _check(store: Store, text_: str) -> None:
    records, errors = parse_records(text_, "calls.jsonl")
    assert all(isinstance(e, str) and e.startswith("calls.jsonl") for e in errors)
    for rec in records:
        assert read_record(rec) == rec                   # what comes back is valid as it is
        for key in ("duration_s", "value"):
            assert key not in rec or math.isfinite(rec[key])
        json.dumps(rec, allow_nan=False).encode("utf-8")   # and can be written out again
    done = import_records(store, records)
    for call_id in done["imported"]:
        exported = call_record(store, call_id)
        assert read_record(json.loads(json.dumps(exported))) is not None


@settings(max_examples=400)
@given(records_file())
def test_any_records_file_imports_or_is_reported(store: Store, text_: str) -> None:
    _check(store, text_)


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_any_text_is_reported_not_raised(store: Store, text_: str) -> None:
    _check(store, text_)


@settings(max_examples=100)
@given(st.binary(max_size=300))
def test_any_file_is_read_or_reported(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "any.jsonl"
    path.write_bytes(data)
    files, errors = read_path(path)
    assert all(e.startswith(str(path)) for e in errors)
    assert sum(len(recs) for _, recs in files) + len(errors) >= 1


# ------------------------------------------------------ fixed regressions
GOOD: dict[str, Any] = {"call_id": "c1", "started": "2026-11-24T15:02:11Z", "duration_s": 12.0, "rep": "sam",
                        "profile": "standard", "mode": "silent", "outcome": "won",
                        "transcript": [{"start": 0.0, "end": 2.0, "speaker": "rep", "text": "Hello"}],
                        "interventions": []}


def _one(**changes: Any) -> str:
    return dumps({**GOOD, **changes})


@pytest.mark.parametrize("line, key", [
    (_one(duration_s=float("nan")), "`duration_s`"),
    (_one(duration_s=float("inf")), "`duration_s`"),
    (_one(value=float("-inf")), "`value`"),
    (_one(duration_s=10**400), "`duration_s`"),                       # OverflowError in float()
    (_one(score={"total": float("nan")}), "`score.total`"),
    (_one(rep="sam\ud800"), "`rep`"),                                   # UnicodeEncodeError in SQLite
    (_one(lead={"id": "1", "fields": {"q\udc00": "a"}}), "`lead.fields`"),
    (_one(interventions=[{"at": 1.0, "utterance": 2**70, "category": "accuracy", "severity": "high",
                          "mode": "silent", "trigger": "t", "detected": "d", "say": "s"}],
          transcript=[]), "`interventions[0].utterance`"),               # OverflowError in SQLite
    (_one(duration_s=json.loads("1")).replace('"duration_s": 1', '"duration_s": ' + "9" * 5000), "4300 digits"),
    (nested(100000), "nested too deeply"),
])
def test_a_bad_record_is_reported_not_raised(store: Store, line: str, key: str) -> None:
    records, errors = parse_records(_one(call_id="ok-" + key) + "\n" + line, "calls.jsonl")
    assert [r["call_id"] for r in records] == ["ok-" + key]            # the good line still comes back
    assert len(errors) == 1 and errors[0].startswith("calls.jsonl:2: ") and key in errors[0], errors
    import_records(store, records)


def test_a_line_separator_inside_text_reads_back(tmp_path: Path) -> None:
    """write_records writes U+2028 and U+0085 as they are (ensure_ascii=False);
    they do not end a JSON Lines record."""
    rec = {**GOOD, "transcript": [{"start": 0.0, "end": 1.0, "speaker": "lead", "text": "one\u2028two\x85three"}]}
    write_records(tmp_path / "calls.jsonl", [rec, {**rec, "call_id": "c2"}])
    files, errors = read_path(tmp_path / "calls.jsonl")
    assert errors == [] and [r["transcript"][0]["text"] for r in files[0][1]] == ["one\u2028two\x85three"] * 2
