"""The KB made searchable: every fact, signal and phrase as a row of a matrix.

Vectors come from a persistent cache first (the SQLite store keeps them by
model and text hash), so importing or replaying against an unchanged KB never
re-embeds it; only new or edited text reaches the model.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Protocol, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

# numpy's BLAS threads spin after each product and steal both cores from the
# embedding model running next; KB searches are matrix-vector products that
# one thread does in about a millisecond even at 10,000 facts.
threadpool_limits(limits=1, user_api="blas")

from intervene.nlp.embed import Embedder  # noqa: E402 (deliberately after the BLAS limit above)
from intervene.nlp.judge import Judge  # noqa: E402
from intervene.nlp.lexicon import content_words, normalize_numbers  # noqa: E402
from intervene.vocab import Fact, KnowledgeBase, Product  # noqa: E402


class VectorCache(Protocol):
    def get_vectors(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]: ...
    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


# With a progress callback, new texts go to the model this many at a time (a
# multiple of the embedder's batch of 64), shortest first as it batches them.
PROGRESS_CHUNK = 256


def embed_with_cache(embedder: Embedder, texts: Sequence[str], cache: Optional[VectorCache] = None,
                     progress: Optional[Callable[[int, int], None]] = None) -> np.ndarray:
    """Embed texts, asking the persistent cache first and storing what was new.
    `progress(done, total)` hears about the new texts as they are embedded
    (the slow part of importing a large KB); the cached ones cost nothing."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    known = cache.get_vectors(embedder.name, texts) if cache else {}
    missing = sorted({t for t in texts if t not in known})
    if missing:
        fresh = dict(zip(missing, embedder.encode(missing))) if progress is None else \
            _encode_reporting(embedder, missing, progress)
        if cache:
            cache.put_vectors(embedder.name, fresh)
        known = {**known, **fresh}
    return np.vstack([known[t] for t in texts]).astype(np.float32)


def _encode_reporting(embedder: Embedder, texts: list[str],
                      progress: Callable[[int, int], None]) -> dict[str, np.ndarray]:
    by_length = sorted(texts, key=len)
    out: dict[str, np.ndarray] = {}
    progress(0, len(by_length))
    for i in range(0, len(by_length), PROGRESS_CHUNK):
        chunk = by_length[i:i + PROGRESS_CHUNK]
        out.update(zip(chunk, embedder.encode(chunk)))
        progress(len(out), len(by_length))
    return out


@dataclass(frozen=True)
class Phrase:
    """One signal or phrase row: which KB entry it belongs to, and its text."""
    owner: str     # e.g. "opportunity:multi-site", "promotion:year-end-install", "forbidden:guarantee"
    text: str


def norm_alias(text: str) -> str:
    return re.sub(r"[\s-]+", " ", text.lower()).strip()


def _proper(text: str, at: int, end: int) -> bool:
    """Said as a name: capitalised ("the Essential" names the package,
    "essential circuits" does not) - or, since speech recognition does not
    capitalise product names, used as one: "the essential includes a
    battery", "what about the essential?", "our essential package"."""
    if text[at:at + 1].isupper():
        return True
    if _PLAN_END.search(text[:end]) or _PLAN_AFTER.match(text, end):
        return True
    # "the essential ...", or the name opening its clause as the subject ("aeration and
    # overseeding is 169 a visit")
    before = re.search(r"(?:\b(?:the|our|your|that|this)\s+|(?:^|[,;:.!?]\s*|\b(?:so|okay|well|then)\s+))$",
                       text[:at], re.I)
    after = text[end:].lstrip()
    return bool(before and (not after or after[0] in ".,?!;:" or _NAME_VERB.match(after)))


_PLAN_WORDS = "package|plan|tier|edition|subscription|bundle|membership"
_PLAN_END = re.compile(rf"({_PLAN_WORDS})s?$", re.I)            # the name ends in one: "plus package"
_PLAN_AFTER = re.compile(rf"\s*({_PLAN_WORDS})s?\b", re.I)     # or one follows it: "plus" + " package"
_NAME_VERB = re.compile(r"(includes?|is|has|comes|costs?|covers?|does|gives|gets|offers?|would|will|can)\b", re.I)


_GAP = r"[\s-]*"


def _trie_regex(names: Iterable[str]) -> str:
    r"""One pattern for many names, shaped as their prefix tree: "plan 1",
    "plan 12" and "plan 2" become `plan[\s-]*(?:1(?:2)?|2)`. A flat alternation
    of thousands of names makes the regex engine try each at every position
    (0.5 ms per utterance at 1,000 products); the tree follows one branch.
    Longer names still win: an ending is an optional, greedy group."""
    trie: dict = {}
    for name in names:
        node = trie
        for ch in name:
            node = node.setdefault(_GAP if ch == " " else re.escape(ch), {})
        node[""] = {}

    def build(node: dict) -> str:
        kids = [k + build(node[k]) for k in sorted(node) if k]
        if not kids:
            return ""
        body = kids[0] if len(kids) == 1 else "(?:" + "|".join(kids) + ")"
        return f"(?:{body})?" if "" in node else body
    return build(trie)


class AliasMatcher:
    """Finds any of many names in one regex pass (1,000+ products stay fast)
    and says whose name it was. Spaces and hyphens are interchangeable:
    "multi-site", "multi site" and "multisite" all match."""

    def __init__(self, names: dict[str, Sequence[str]], weak: Sequence[str] = ()) -> None:
        self.weak = {norm_alias(w) for w in weak} | {norm_alias(w).replace(" ", "") for w in weak}
        self._memo: dict[tuple[str, bool], list[tuple[int, int, str]]] = {}
        self.owner: dict[str, str] = {}
        for owner, ns in names.items():
            for n in ns:
                if n and len(n.strip()) >= 2:
                    self.owner.setdefault(norm_alias(n), owner)
                    self.owner.setdefault(norm_alias(n).replace(" ", ""), owner)
        body = _trie_regex(self.owner)
        # "Premium's", "Premiums" (how speech recognition often writes the possessive) name it too
        self.pattern = re.compile(r"(?<![a-z0-9])(" + body + r")(?:['’]?s)?(?![a-z0-9])", re.I) if self.owner else None

    def spans(self, text: str, strong_only: bool = True) -> list[tuple[int, int, str]]:
        """(start, end, owner) of every name found, in order. Weak aliases
        (generic nouns like "battery" that other products' facts use as a
        feature) are left out unless asked for."""
        key = (text, strong_only)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._spans(text, strong_only)
            if len(self._memo) > 2048:
                self._memo.pop(next(iter(self._memo)))
        return hit

    def _spans(self, text: str, strong_only: bool) -> list[tuple[int, int, str]]:
        if not self.pattern:
            return []
        out = []
        for m in self.pattern.finditer(text):
            key = norm_alias(m.group(1))
            owner = self.owner.get(key) or self.owner.get(key.replace(" ", ""))
            weak = key in self.weak or key.replace(" ", "") in self.weak
            if owner and not (strong_only and weak and not _proper(text, m.start(), m.end())):
                out.append((m.start(), m.end(), owner))
        return out

    def find(self, text: str) -> list[tuple[int, str]]:
        return [(a, owner) for a, _, owner in self.spans(text)]

    def mask(self, text: str, strong_only: bool = False) -> str:
        """The text with names blanked out, same length, so the numbers
        inside product names ("Plus 8 kW package") are not read as claims."""
        for a, b, _ in self.spans(text, strong_only):
            text = text[:a] + "X" * (b - a) + text[b:]
        return text


_GENERIC_SUFFIX = re.compile(r"\s+(package|plan|tier|edition|subscription|bundle|option|level|membership)$", re.I)
def product_names(p: Product) -> list[str]:
    """Every way a person may name the product: name, aliases, id, and the
    name without a generic suffix ("Standard package" -> "standard")."""
    names = [p.name, *p.aliases, p.id, p.id.replace("-", " ")]
    short = _GENERIC_SUFFIX.sub("", p.name)
    if short != p.name:
        names.append(short)
    # "Essential 6 kW" is also said "the 6 kW Essential"
    m = re.match(r"^(\D+?)\s+(\d.*)$", short)
    if m:
        names.append(f"{m.group(2)} {m.group(1)}")
    if short.lower().startswith("the "):
        names.append(short[4:])
    return names


def _names_blanked(text: str) -> str:
    return re.sub(r"(?<=[\w,;)] )[A-Z][\w-]*", " ", text)


def _weak_aliases(kb: KnowledgeBase, strong: AliasMatcher) -> list[str]:
    """Aliases made only of words that other products' facts use as features:
    "battery" names the battery add-on, but "includes a home battery" in the
    Premium facts shows it is also just a thing a plan can include."""
    words_by_product: dict[str | None, set[str]] = {}
    for f in kb.facts:
        if f.product:      # company-wide facts name products in passing ("on Starter and Growth")
            # a capitalised word inside a sentence is a name ("everything in Essential, plus ...",
            # "an add-on for Essential and Smart Home"), not a feature
            words_by_product.setdefault(f.product, set()).update(content_words(_names_blanked(strong.mask(f.text))))
    weak = []
    for p in kb.products:
        others = set().union(*(w for pid, w in words_by_product.items() if pid != p.id)) \
            if len(words_by_product) > 1 else set()
        for a in product_names(p)[1:]:
            ws = set(content_words(a))
            if ws and ws <= others:
                weak.append(a)
    return weak


class KBIndex:
    def __init__(self, kb: KnowledgeBase, embedder: Embedder,
                 cache: Optional[VectorCache] = None, judge: Optional[Judge] = None,
                 progress: Optional[Callable[[int, int], None]] = None) -> None:
        self.kb = kb
        self.embedder = embedder
        self.cache = cache
        self.judge = judge          # second opinion on each correction (None: rules alone)
        self.facts: list[Fact] = list(kb.facts)
        self.phrases: list[Phrase] = []
        for o in kb.opportunities:
            self.phrases += [Phrase(f"opportunity:{o.id}", s) for s in o.signals]
        for pr in kb.promotions:
            self.phrases += [Phrase(f"promotion:{pr.id}", s) for s in pr.signals]
        for f in kb.forbidden:
            self.phrases += [Phrase(f"forbidden:{f.id}", s) for s in f.phrases]
        for r in kb.required:
            self.phrases += [Phrase(f"required:{r.section}/{r.id}", s) for s in r.phrases]
        # phrases are embedded as utterances will be: numbers as digits ("zero" -> "0")
        self.phrase_norm = [normalize_numbers(p.text) for p in self.phrases]
        # what is sold, by the names a lead calls it
        names = list(dict.fromkeys(n for p in kb.products for n in product_names(p)))
        texts = [f.text for f in self.facts] + self.phrase_norm + names
        vecs = embed_with_cache(embedder, texts, cache, progress)     # progress: (texts embedded, to embed)
        dim = vecs.shape[1] if len(texts) else 384
        n_f, n_p = len(self.facts), len(self.phrases)
        self.fact_vecs = vecs[:n_f] if self.facts else np.zeros((0, dim), np.float32)
        self.phrase_vecs = vecs[n_f:n_f + n_p] if self.phrases else np.zeros((0, dim), np.float32)
        self.name_vecs = vecs[n_f + n_p:] if names else np.zeros((0, dim), np.float32)
        strong = AliasMatcher({p.id: [p.name] for p in kb.products})
        self.products = AliasMatcher({p.id: product_names(p) for p in kb.products},
                                     weak=_weak_aliases(kb, strong))
        self.competitors = AliasMatcher({c.id: [c.name, *c.aliases, c.id] for c in kb.competitors})
        self._shared: dict[str, object] = {}
        self._shared_lock = threading.RLock()
        self._phrase_rows: dict[str, list[int]] = {}
        for i, p in enumerate(self.phrases):
            self._phrase_rows.setdefault(p.owner, []).append(i)

    # -- lookups ---------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode(list(texts))

    def search_many(self, vecs: np.ndarray, k: int = 8, floor: float = 0.0) -> list[list[tuple[Fact, float]]]:
        """search_facts for several vectors with one matrix product."""
        if not self.facts or len(vecs) == 0:
            return [[] for _ in range(len(vecs))]
        sims = (self.fact_vecs @ vecs.T).T      # this order streams the fact matrix once: 2x faster
        return [self._top(row, k, floor) for row in sims]

    def search_facts(self, vec: np.ndarray, k: int = 8, floor: float = 0.0) -> list[tuple[Fact, float]]:
        if not self.facts:
            return []
        return self._top(self.fact_vecs @ vec, k, floor)

    def _top(self, sims: np.ndarray, k: int, floor: float) -> list[tuple[Fact, float]]:
        k = min(k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [(self.facts[i], float(sims[i])) for i in top if sims[i] >= floor]

    def phrase_sims(self, vecs: np.ndarray, owner_prefix: str) -> dict[str, float]:
        """Best similarity of any of `vecs` to each owner's phrases, e.g. every opportunity."""
        out: dict[str, float] = {}
        if len(vecs) == 0:
            return out
        for owner, rows in self._phrase_rows.items():
            if owner.startswith(owner_prefix):
                out[owner.split(":", 1)[1]] = float((self.phrase_vecs[rows] @ vecs.T).max())
        return out

    def topic_sims(self, vecs: np.ndarray) -> np.ndarray:
        """How close each vector is to what the company sells: its best
        similarity to any fact or product name (0 with neither)."""
        out = np.zeros(len(vecs), np.float32)
        for known in (self.fact_vecs, self.name_vecs):
            if len(known) and len(vecs):
                out = np.maximum(out, (known @ vecs.T).max(axis=0))
        return out

    def mentioned_products(self, text: str) -> list[tuple[int, str]]:
        """(position, product id) for every product named in text, in order."""
        return self.products.find(text)

    def mentioned_competitors(self, text: str) -> list[str]:
        return list(dict.fromkeys(cid for _, cid in self.competitors.find(text)))

    def shared(self, name: str, build):
        """Per-KB objects that every call can share (claim checker, prototypes):
        built once, not per call."""
        with self._shared_lock:           # calls build engines on their own threads, at the same time
            if name not in self._shared:
                self._shared[name] = build()
            return self._shared[name]
