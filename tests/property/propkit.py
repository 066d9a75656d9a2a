"""Strategies the property tests share: values that look like what users
write, mixed with what breaks naive readers - wrong types, NaN and infinity,
integers too big for a float (or for Python's int parser), lone surrogates,
control characters, line separators, deep nesting - and a JSON writer that
can spell all of them (json.dumps refuses some, e.g. a 5000-digit integer)."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st


class Raw(str):
    """A JSON token written as is (`NaN`, `1e999`, a 5000-digit integer)."""


RAW_NUMBERS = [Raw(t) for t in ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400", "-0", "0.1e-400",
                                "1" + "0" * 400, "9" * 5000, "-" + "7" * 4301)]
SPECIAL_TEXT = ["", " ", "\t", "\x00", "\x1b[31m", "\u2028", "\u2029", "\x85", "\x0b\x0c\x1c", "\ufeff",
                "\ud800", "a\udfffb", "NaN", "null", "true", "~", "-", ":", "# not a comment", "é" * 3,
                "🙂", "\u202e", "0", "1e999", "x" * 5000]

# every code point, surrogates included (they reach us as JSON "\ud800" escapes)
any_char = st.characters(blacklist_categories=())
text = st.one_of(st.text(any_char, max_size=30), st.sampled_from(SPECIAL_TEXT))
plain_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
numbers = st.one_of(
    st.integers(), st.integers(min_value=-10**400, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(RAW_NUMBERS), st.booleans())
scalars = st.one_of(st.none(), numbers, text)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=12)


def nested(depth: int, leaf: str = "1") -> str:
    """A JSON text nested `depth` lists deep (a RecursionError for a naive reader)."""
    return "[" * depth + leaf + "]" * depth


def dumps(value: Any, ascii: bool = False) -> str:
    """JSON text for any value the strategies make, Raw tokens spelled as they
    are; `ascii` escapes every non-ASCII character (a lone surrogate as "\\ud800")."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dumps(str(k), ascii)}: {dumps(v, ascii)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v, ascii) for v in value) + "]"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**4000:
        return str(value) if abs(value) < 10**4299 else ("-" if value < 0 else "") + "9" * 4400
    return json.dumps(value, ensure_ascii=ascii, allow_nan=True)


def mixed(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the valid value, sometimes anything at all."""
    return st.one_of(valid, valid, valid, json_values)


@st.composite
def damaged(draw: st.DrawFn, whole: str) -> str:
    """`whole` as written, cut short, or with a random piece spliced in."""
    how = draw(st.sampled_from(["as is", "as is", "cut", "splice"]))
    if how == "cut" and whole:
        return whole[:draw(st.integers(0, len(whole) - 1))]
    if how == "splice":
        at = draw(st.integers(0, len(whole)))
        return whole[:at] + draw(st.one_of(text, st.sampled_from(['"', "{", "]", ",", "\n", ":", "\\"]))) + whole[at:]
    return whole
