"""Knowledge bases (formats.md section 1) from generated YAML: the KB shape
with wrong types, missing and unknown keys, odd numbers and text, broken YAML
syntax, anchors and merges, deep nesting and random bytes. Each document
loads into a KnowledgeBase that dumps and loads back the same, or is refused
with one KBError naming the file - never another exception."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from propkit import SPECIAL_TEXT, damaged, plain_text

from intervene.kb.loader import KBError, dump_kb, load_kb, load_kb_text
from intervene.vocab import KnowledgeBase

ident = st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True)
words = st.one_of(plain_text, st.sampled_from(["Standard package", "NetCo", "Includes three years of support."]))
yaml_odd = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from(SPECIAL_TEXT), st.just([]), st.just({}), st.dates(),
                     st.lists(st.integers(), max_size=2), st.dictionaries(plain_text, st.integers(), max_size=2))


def usually(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, valid, yaml_odd)


texts = usually(st.one_of(words, st.lists(words, max_size=3)))
seconds = usually(st.one_of(st.integers(1, 600), st.floats(0.5, 600), st.sampled_from([0, -1, 10**400])))
FIELDS: dict[str, tuple[st.SearchStrategy[Any], ...]] = {
    "products": (usually(ident), usually(words), texts, usually(words), texts),
    "facts": (usually(ident), usually(words), texts),
    "competitors": (usually(ident), usually(words), texts, usually(words)),
    "opportunities": (usually(ident), texts, usually(words), usually(ident)),
    "promotions": (usually(ident), usually(words), texts),
    "forbidden": (usually(ident), texts, usually(words)),
    "required": (usually(ident), texts, seconds),
    "process": (usually(ident), texts, seconds),
}
KEYS = {"products": ("id", "name", "aliases", "price", "facts"), "facts": ("id", "text", "tags"),
        "competitors": ("id", "name", "aliases", "positioning"), "opportunities": ("id", "signals", "say", "offer"),
        "promotions": ("id", "text", "signals"), "forbidden": ("id", "phrases", "say"),
        "required": ("id", "phrases", "within_s"), "process": ("id", "phrases", "by_s")}


@st.composite
def entry(draw: st.DrawFn, section: str) -> Any:
    keys = KEYS[section]
    out = {k: draw(s) for k, s in zip(keys, FIELDS[section]) if draw(st.integers(0, 5)) < 5}
    if draw(st.integers(0, 9)) == 9:
        out[draw(st.sampled_from(["alias", "x-note", "ID", ""]))] = draw(words)
    return out if draw(st.integers(0, 9)) < 9 else draw(yaml_odd)


@st.composite
def kb_doc(draw: st.DrawFn) -> Any:
    doc: dict[str, Any] = {}
    if draw(st.integers(0, 9)) < 9:
        doc["company"] = draw(usually(words))
    if draw(st.booleans()):
        doc["assistant"] = draw(usually(st.fixed_dictionaries({}, optional={"name": usually(words),
                                                                            "intro": usually(words)})))
    for section in ("products", "facts", "competitors", "opportunities", "promotions", "process"):
        if draw(st.booleans()):
            doc[section] = draw(usually(st.lists(entry(section), max_size=3)))
    if draw(st.booleans()):
        doc["compliance"] = draw(usually(st.fixed_dictionaries({}, optional={
            "forbidden": usually(st.lists(entry("forbidden"), max_size=2)),
            "required": usually(st.lists(entry("required"), max_size=2))})))
    if draw(st.integers(0, 19)) == 19:
        doc[draw(st.sampled_from(["comapny", "x-owner", "Products"]))] = draw(words)
    return doc if draw(st.integers(0, 19)) < 19 else draw(yaml_odd)


@st.composite
def kb_text(draw: st.DrawFn) -> str:
    doc = draw(kb_doc())
    try:
        whole = yaml.safe_dump(doc, allow_unicode=draw(st.booleans()), sort_keys=False,
                               default_flow_style=draw(st.sampled_from([False, None, True])))
    except (yaml.YAMLError, OverflowError):
        assume(False)
    return draw(damaged(whole))


YAML_TOKENS = ["company: Acme", "products:", "- id: a", "  name: A", "  facts: [x, y]", "facts:", "- ", "  ",
               "\n", ":", "[", "]", "{", "}", ",", "&a ", "*a", "<<: *a", "? ", "!!python/object:os.system",
               "!!binary", "'", '"', "%YAML 1.1\n", "---\n", "...\n", "|\n", ">-\n", "\t", "#", "\ufeff",
               "\x00", "\x85", "\ud800", "!!int", "!!float", "1e400", ".nan", "~", "@", "`"]
yaml_soup = st.lists(st.sampled_from(YAML_TOKENS), max_size=30).map("".join)


def _check_loaded(kb: KnowledgeBase, source: str) -> None:
    assert kb.company and kb.source == source
    assert load_kb_text(dump_kb(kb), source) == kb     # what loads also dumps and loads back the same


def _load_or_refuse(text: str) -> None:
    try:
        kb = load_kb_text(text, "kb.yaml")
    except KBError as e:
        assert e.file == "kb.yaml" and e.message and str(e).startswith("kb.yaml")
        return
    _check_loaded(kb, "kb.yaml")


@settings(max_examples=700)
@given(kb_text())
def test_kb_shaped_yaml_loads_or_is_refused(text: str) -> None:
    _load_or_refuse(text)


@settings(max_examples=600)
@given(yaml_soup)
def test_yaml_soup_loads_or_is_refused(text: str) -> None:
    _load_or_refuse(text)


@settings(max_examples=200)
@given(st.lists(st.one_of(kb_text(), st.binary(max_size=200)), min_size=1, max_size=3))
def test_a_directory_of_files_loads_or_is_refused(tmp_path_factory: pytest.TempPathFactory,
                                                  files: list[str | bytes]) -> None:
    folder = Path(tmp_path_factory.mktemp("kb"))
    for i, content in enumerate(files):
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        (folder / f"{i}.yaml").write_bytes(data)
    try:
        kb = load_kb(folder)
    except KBError as e:
        assert e.message and e.file.startswith(str(folder))
        return
    assert kb.company


# ------------------------------------------------------ fixed regressions
@pytest.mark.parametrize("text", [
    "[" * 100000 + "]" * 100000,
    "company: A\n" + "x-deep: " + "[" * 100000 + "]" * 100000,
])
def test_deep_nesting_is_refused(text: str) -> None:
    with pytest.raises(KBError):
        load_kb_text(text, "deep.yaml")


nonblank = st.one_of(plain_text, st.sampled_from(SPECIAL_TEXT + ["yes", "1.5", "- a", "a: b", "#x", "'q'", '"q"',
                                                                 "*a", "a\u2028b", "é\x85ü"])).filter(lambda s: bool(s.split()))
phrases = st.lists(nonblank, min_size=1, max_size=3)


def section(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    required = {k: s for k, s in fields.items() if not k.startswith("?")}
    optional = {k[1:]: s for k, s in fields.items() if k.startswith("?")}
    return st.lists(st.fixed_dictionaries({"id": ident, **required}, optional=optional),
                    max_size=3, unique_by=lambda d: d["id"])


valid_doc = st.fixed_dictionaries({"company": nonblank}, optional={
    "assistant": st.fixed_dictionaries({}, optional={"name": nonblank, "intro": plain_text}),
    "products": section({"name": nonblank, "?aliases": phrases, "?price": nonblank, "?facts": phrases}),
    "facts": section({"text": nonblank, "?tags": phrases}),
    "competitors": section({"name": nonblank, "?aliases": phrases, "?positioning": nonblank}),
    "opportunities": section({"signals": phrases, "say": nonblank}),
    "promotions": section({"text": nonblank, "?signals": phrases}),
    "compliance": st.fixed_dictionaries({}, optional={
        "forbidden": section({"phrases": phrases, "?say": nonblank}),
        "required": section({"phrases": phrases, "within_s": st.one_of(st.integers(1, 10**6),
                                                                       st.floats(0.01, 1e6))})}),
    "process": section({"phrases": phrases, "by_s": st.floats(0.001, 1e9)}),
})


@settings(max_examples=400)
@given(valid_doc, st.booleans())
def test_a_valid_kb_loads_and_dumps_back_the_same(doc: dict[str, Any], unicode: bool) -> None:
    kb = load_kb_text(yaml.safe_dump(doc, allow_unicode=unicode, sort_keys=False), "kb.yaml")
    _check_loaded(kb, "kb.yaml")
