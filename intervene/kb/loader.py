"""Load a company knowledge base (formats.md section 1) into vocab.KnowledgeBase.

KB files are written by hand by sales-ops people, so the loader is strict and
talkative: every problem becomes one KBError naming the file, the line and the
key path, and nothing is loaded partially. We walk the composed YAML node tree
(not the plain constructed data) because only nodes carry line numbers, and
because duplicate keys, which plain loading silently collapses, are visible there.
"""
from __future__ import annotations

import difflib
import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from intervene.errors import InterveneError
from intervene.vocab import (
    Assistant,
    Competitor,
    Fact,
    Forbidden,
    KnowledgeBase,
    Opportunity,
    Product,
    Promotion,
    Required,
)

__all__ = ["KBError", "load_kb", "load_kb_text", "dump_kb"]

_ID = re.compile(r"[a-z0-9-]+")
_STR, _INT, _FLOAT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
_KIND = {"tag:yaml.org,2002:null": "an empty value", "tag:yaml.org,2002:bool": "true/false",
         _INT: "a number", _FLOAT: "a number", "tag:yaml.org,2002:timestamp": "a date"}
_TOP = ("company", "assistant", "products", "facts", "competitors", "opportunities",
        "promotions", "compliance", "process")

# section -> (required fields, optional fields); order is also the dump order.
_ITEMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "products": (("id", "name"), ("aliases", "price", "facts")),
    "facts": (("id", "text"), ("tags",)),
    "competitors": (("id", "name"), ("aliases", "positioning")),
    "opportunities": (("id", "signals", "say"), ("offer",)),
    "promotions": (("id", "text"), ("signals",)),
    "compliance.forbidden": (("id", "phrases"), ("say",)),
    "compliance.required": (("id", "phrases", "within_s"), ()),
    "process": (("id", "phrases", "by_s"), ()),
}
_LISTS = {"aliases", "signals", "phrases", "tags", "facts"}   # str or list of str
_NONEMPTY_LISTS = {"signals", "phrases"}
_NUMBERS = {"within_s", "by_s"}


class KBError(InterveneError):
    """A malformed knowledge base. Carries where (file, 1-based line, key path)
    so a person editing YAML by hand can go straight to the problem."""

    def __init__(self, file: str, line: Optional[int], key: Optional[str], message: str):
        self.file, self.line, self.key, self.message = str(file), line, key, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        return ": ".join([where] + ([self.key] if self.key else []) + [self.message])


@dataclass(frozen=True)
class _Loc:
    """Where an item came from: file, key path, and the line of each of its fields."""
    file: str
    key: str
    lines: dict[str, int]


@dataclass
class _Parsed:
    """One file's content before merging; items keep their location so that
    cross-file checks (duplicate ids, `offer`) can still point at a line."""
    file: str
    company: Optional[str] = None
    assistant: Optional[dict[str, str]] = None
    items: dict[str, list[tuple[dict[str, Any], _Loc]]] = field(
        default_factory=lambda: {s: [] for s in _ITEMS})


def _norm(text: str) -> str:
    """Collapse whitespace: folded scalars (`>`) leave trailing newlines, and the
    checker and the voice output want one clean line."""
    return " ".join(text.split())


class _Reader:
    """Walks one file's node tree, validating as it builds plain dicts."""

    def __init__(self, file: str, loader: yaml.SafeLoader):
        self.file, self.loader = file, loader

    def fail(self, node: Optional[Node], key: Optional[str], message: str) -> KBError:
        return KBError(self.file, node.start_mark.line + 1 if node is not None else None, key, message)

    def mapping(self, node: Node, key: str, what: str = "a mapping") -> dict[str, tuple[Node, Node]]:
        """key -> (key node, value node); rejects duplicate and non-text keys."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, key or None, f"expected {what}, got {self._kind(node)}")
        seen: dict[str, Node] = {}
        for k, _ in node.value:
            if k.tag == _MERGE:
                continue
            if not isinstance(k, ScalarNode) or k.tag != _STR:
                raise self.fail(k, key or None, f"keys must be text, got {self._kind(k)}")
            if k.value in seen:
                raise self.fail(k, self._join(key, k.value),
                                f"duplicate key (first at line {seen[k.value].start_mark.line + 1})")
            seen[k.value] = k
        self.loader.flatten_mapping(node)   # resolve `<<: *anchor` merges
        return {k.value: (k, v) for k, v in node.value}

    def check_keys(self, m: dict[str, tuple[Node, Node]], node: Node, key: str,
                   required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        """Unknown keys are errors (a typo like `alias:` must not vanish); `x-` is for extensions."""
        allowed = required + optional
        for name, (knode, _) in m.items():
            if name not in allowed and not name.startswith("x-"):
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f"did you mean `{close[0]}`?" if close else f"allowed: {', '.join(allowed)}"
                raise self.fail(knode, self._join(key, name),
                                f"unknown key `{name}` ({hint}; prefix extensions with `x-`)")
        for name in required:
            if name not in m:
                raise self.fail(node, key or None, f"missing required `{name}`")
            if self._is_null(m[name][1]):
                raise self.fail(m[name][1], self._join(key, name), "missing value (required)")

    def text(self, node: Node, key: str, allow_empty: bool = False) -> str:
        if not isinstance(node, ScalarNode) or node.tag != _STR:
            hint = " (put it in quotes if it is meant as text)" if isinstance(node, ScalarNode) else ""
            raise self.fail(node, key, f"expected text, got {self._kind(node)}{hint}")
        value = _norm(node.value)
        if not value and not allow_empty:
            raise self.fail(node, key, "must not be empty")
        return value

    def ident(self, node: Node, key: str) -> str:
        """An id; a plain `404` is accepted as the id "404" rather than a number."""
        raw = node.value if isinstance(node, ScalarNode) and node.style is None else None
        value = raw if isinstance(raw, str) and _ID.fullmatch(raw) else self.text(node, key)
        if not _ID.fullmatch(value):
            raise self.fail(node, key, f"id `{value}` must match [a-z0-9-]+ (lowercase, digits, dashes)")
        return value

    def texts(self, node: Node, key: str, nonempty: bool) -> tuple[str, ...]:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return (self.text(node, key),)
        if not isinstance(node, SequenceNode):
            raise self.fail(node, key, f"expected a list of text, got {self._kind(node)}")
        if nonempty and not node.value:
            raise self.fail(node, key, "list must not be empty")
        return tuple(self.text(n, f"{key}[{i}]") for i, n in enumerate(node.value))

    def number(self, node: Node, key: str) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.fail(node, key, f"expected a positive number of seconds, got {self._kind(node)}")
        value = float(self.loader.construct_object(node))
        if not (math.isfinite(value) and value > 0):
            raise self.fail(node, key, f"must be a positive number, got {node.value}")
        return value

    def item(self, node: Node, key: str, section: str) -> tuple[dict[str, Any], _Loc]:
        required, optional = _ITEMS[section]
        m = self.mapping(node, key)
        loc = _Loc(self.file, key, {k: kn.start_mark.line + 1 for k, (kn, _) in m.items()})
        self.check_keys(m, node, key, required, optional)
        out: dict[str, Any] = {}
        for name, (_, v) in m.items():
            if name.startswith("x-") or (name in optional and self._is_null(v)):
                continue
            sub = f"{key}.{name}"
            if name in ("id", "offer"):
                out[name] = self.ident(v, sub)
            elif name in _NUMBERS:
                out[name] = self.number(v, sub)
            elif name in _LISTS:
                out[name] = self.texts(v, sub, nonempty=name in _NONEMPTY_LISTS)
            else:
                out[name] = self.text(v, sub)
        return out, loc

    def section(self, node: Node, name: str, parsed: _Parsed) -> None:
        if self._is_null(node):
            return
        if not isinstance(node, SequenceNode):
            raise self.fail(node, name, f"expected a list of entries, got {self._kind(node)}")
        parsed.items[name] += [self.item(child, f"{name}[{i}]", name) for i, child in enumerate(node.value)]

    def document(self, root: Optional[Node], require_company: bool) -> _Parsed:
        if root is None:
            raise KBError(self.file, None, None, "empty file, expected a mapping with `company`")
        top = self.mapping(root, "", "a mapping with `company` at the top level")
        self.check_keys(top, root, "", ("company",) if require_company else (), _TOP)
        parsed = _Parsed(self.file)
        if "company" in top:
            parsed.company = self.text(top["company"][1], "company")
        if "assistant" in top and not self._is_null(top["assistant"][1]):
            node = top["assistant"][1]
            m = self.mapping(node, "assistant")
            self.check_keys(m, node, "assistant", (), ("name", "intro"))
            parsed.assistant = {k: self.text(v, f"assistant.{k}", allow_empty=k == "intro")
                                for k, (_, v) in m.items() if not k.startswith("x-")}
        for name in ("products", "facts", "competitors", "opportunities", "promotions", "process"):
            if name in top:
                self.section(top[name][1], name, parsed)
        if "compliance" in top and not self._is_null(top["compliance"][1]):
            node = top["compliance"][1]
            m = self.mapping(node, "compliance")
            self.check_keys(m, node, "compliance", (), ("forbidden", "required"))
            for sub in ("forbidden", "required"):
                if sub in m:
                    self.section(m[sub][1], f"compliance.{sub}", parsed)
        return parsed

    @staticmethod
    def _join(prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    @staticmethod
    def _is_null(node: Node) -> bool:
        return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"

    @staticmethod
    def _kind(node: Node) -> str:
        if isinstance(node, MappingNode):
            return "a mapping"
        if isinstance(node, SequenceNode):
            return "a list"
        return _KIND.get(node.tag, "text" if node.tag == _STR else f"a value tagged {node.tag}")


def _parse(text: str, source: str, require_company: bool) -> _Parsed:
    try:
        loader = yaml.SafeLoader(text)   # the reader checks characters right away
    except yaml.reader.ReaderError as e:
        line = text[:e.position].count("\n") + 1 if isinstance(e.position, int) else None
        raise KBError(source, line, None, f"invalid YAML: {_norm(str(e).split(chr(10))[0])}") from None
    try:
        return _Reader(source, loader).document(loader.get_single_node(), require_company)
    except yaml.MarkedYAMLError as e:   # syntax errors, and bad `<<` merges found while walking
        mark = e.problem_mark or e.context_mark
        detail = " ".join(p for p in (e.problem, e.context and f"({e.context})") if p)
        raise KBError(source, mark.line + 1 if mark else None, None, f"invalid YAML: {detail}") from None
    except yaml.YAMLError as e:
        raise KBError(source, None, None, f"invalid YAML: {_norm(str(e))}") from None
    except RecursionError:
        raise KBError(source, None, None, "invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()


def _build(parts: list[_Parsed], source: str) -> KnowledgeBase:
    """Merge parsed files and turn them into the vocab dataclasses."""
    company = next((p.company for p in parts if p.company), None)
    if company is None:
        raise KBError(source, None, "company", "no file sets `company`")
    assistant = next((p.assistant for p in parts if p.assistant is not None), None) or {}
    items: dict[str, list[dict[str, Any]]] = {}
    for section in _ITEMS:
        seen: dict[str, _Loc] = {}
        items[section] = []
        for part in parts:
            for data, loc in part.items[section]:
                first = seen.setdefault(data["id"], loc)
                if first is not loc:
                    line = first.lines["id"]
                    where = f"line {line}" if first.file == loc.file else f"{first.file}:{line}"
                    raise KBError(loc.file, loc.lines["id"], f"{loc.key}.id",
                                  f"duplicate id `{data['id']}` in {section}; first defined at {where}")
                items[section].append(data)
    product_ids = [p["id"] for p in items["products"]]
    for part in parts:
        for data, loc in part.items["opportunities"]:
            if "offer" in data and data["offer"] not in product_ids:
                known = ", ".join(product_ids) or "none"
                raise KBError(loc.file, loc.lines["offer"], f"{loc.key}.offer",
                              f"`{data['offer']}` is not a product id (products: {known})")

    products = tuple(Product(d["id"], d["name"], d.get("aliases", ()), d.get("price"), d.get("facts", ()))
                     for d in items["products"])
    facts: list[Fact] = []
    for p in products:
        facts += [Fact(f"{p.id}#{i}", p.id, s, p.id, "product-fact") for i, s in enumerate(p.facts)]
        if p.price is not None:
            name = p.name if p.name[:4].lower() == "the " else f"The {p.name}"
            sentence = f"{name} costs {p.price.rstrip('.')}."
            facts.append(Fact(f"{p.id}#price", p.id, sentence, p.id, "price"))
    facts += [Fact(d["id"], d["id"], d["text"], None, "fact", d.get("tags", ())) for d in items["facts"]]
    facts += [Fact(f"promo:{d['id']}", d["id"], d["text"], None, "promotion") for d in items["promotions"]]
    return KnowledgeBase(
        company=company,
        assistant=Assistant(assistant.get("name", f"{company} assistant"), assistant.get("intro", "")),
        products=products,
        facts=tuple(facts),
        competitors=tuple(Competitor(d["id"], d["name"], d.get("aliases", ()), d.get("positioning", ""))
                          for d in items["competitors"]),
        opportunities=tuple(Opportunity(d["id"], d["signals"], d["say"], d.get("offer"))
                            for d in items["opportunities"]),
        promotions=tuple(Promotion(d["id"], d["text"], d.get("signals", ())) for d in items["promotions"]),
        forbidden=tuple(Forbidden(d["id"], d["phrases"], d.get("say", ""))
                        for d in items["compliance.forbidden"]),
        required=tuple([Required(d["id"], d["phrases"], d["within_s"], "compliance.required")
                        for d in items["compliance.required"]]
                       + [Required(d["id"], d["phrases"], d["by_s"], "process") for d in items["process"]]),
        source=source,
    )


def _read(path: pathlib.Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise KBError(str(path), None, None, f"not UTF-8 text (bad byte at offset {e.start})") from None
    except OSError as e:
        raise KBError(str(path), None, None, f"cannot read: {e.strerror or e}") from None


def load_kb_text(text: str, source: str = "<string>") -> KnowledgeBase:
    """Parse one KB document given as text; `source` names it in errors."""
    return _build([_parse(text, source, require_company=True)], source)


def load_kb(path: str | pathlib.Path) -> KnowledgeBase:
    """Load a KB file, or merge every *.yaml/*.yml in a directory (sorted by name).

    In a directory only one file needs `company`; `company` and `assistant` come
    from the first file that has them, lists are concatenated, and an id used twice
    in one section (even across files) is an error naming both files."""
    p = pathlib.Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file())
        if not files:
            raise KBError(str(p), None, None, "directory contains no .yaml/.yml files")
        parts = [_parse(_read(f), str(f), require_company=False) for f in files]
        return _build(parts, ", ".join(str(f) for f in files))
    if not p.exists():
        raise KBError(str(p), None, None, "no such file or directory")
    return load_kb_text(_read(p), str(p))


class _Flow(list):
    """A list dumped in flow style (`[a, b]`), as the hand-written examples do."""


class _Dumper(yaml.SafeDumper):
    """Indents list items under their key, like the hand-written examples."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def dump_kb(kb: KnowledgeBase) -> str:
    """YAML in the formats.md layout; load_kb_text(dump_kb(kb), kb.source) == kb.
    Derived facts (product facts, prices, promotions) are written in their sections."""
    def entry(**kv: Any) -> dict[str, Any]:
        return {k: (_Flow(v) if isinstance(v, tuple) and k != "facts" else list(v) if isinstance(v, tuple) else v)
                for k, v in kv.items() if v not in (None, "", ())}

    doc: dict[str, Any] = {"company": kb.company,
                           "assistant": entry(name=kb.assistant.name, intro=kb.assistant.intro)}
    sections: dict[str, list[dict[str, Any]]] = {
        "products": [entry(id=p.id, name=p.name, aliases=p.aliases, price=p.price, facts=p.facts)
                     for p in kb.products],
        "facts": [entry(id=f.key, text=f.text, tags=f.tags) for f in kb.facts if f.kind == "fact"],
        "competitors": [entry(id=c.id, name=c.name, aliases=c.aliases, positioning=c.positioning)
                        for c in kb.competitors],
        "opportunities": [entry(id=o.id, signals=o.signals, offer=o.offer, say=o.say) for o in kb.opportunities],
        "promotions": [entry(id=p.id, text=p.text, signals=p.signals) for p in kb.promotions],
    }
    doc.update({k: v for k, v in sections.items() if v})
    compliance = {
        "forbidden": [entry(id=f.id, phrases=f.phrases, say=f.say) for f in kb.forbidden],
        "required": [entry(id=r.id, phrases=r.phrases, within_s=_num(r.deadline_s))
                     for r in kb.required if r.section == "compliance.required"],
    }
    if any(compliance.values()):
        doc["compliance"] = {k: v for k, v in compliance.items() if v}
    process = [entry(id=r.id, phrases=r.phrases, by_s=_num(r.deadline_s))
               for r in kb.required if r.section != "compliance.required"]
    if process:
        doc["process"] = process
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096,
                     default_flow_style=False)
