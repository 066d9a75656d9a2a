"""What the claim checker reads in each KB fact, compiled once when the checker
is built: its numbers and whose they are, what it includes and excludes, the
conditions it holds under, which products it names, and the lookups by word
and slot that keep a check fast at 10,000 facts. Every check reads the facts
through one `FactBook`, never the raw text again (`kb show` prints the same
reading, so an admin sees it before a call depends on it)."""
from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from intervene.core.detect.claims.patterns import (
    CONDITION_WORDS,
    FREE_CLAIM,
    FREE_FACT,
    GENERIC,
    GIVES_OFF,
    HALF,
    NO_STACK,
    NOT_FREE,
    OFF_NEAR,
    PLAN_NOUNS,
    SAVE,
    SURCHARGE,
    feature_words,
)
from intervene.core.detect.numbers import EVERY, OFF, item_words, q_text
from intervene.core.detect.subjects import REFERENCE, ClaimReader
from intervene.kb.index import KBIndex, product_names
from intervene.nlp.lexicon import Quantity, content_words, extract_quantities, listed_periods, normalize_numbers
from intervene.nlp.text import negation_scopes, split_by_scope
from intervene.vocab import Fact

# where an exemption's clause ends: punctuation (not inside "$1,000" or "4.5"), or "and" opening
# a new clause
_PART_CUT = re.compile(r"[;.](?!\d)|,(?!\d{3})|\s(?:and|but)\s+(?=(?:the|a|an|it|its|you|your|we|our|they|their)\b)",
                       re.I)


_ITEMS = re.compile(r"[,;()]|\band\b|\bor\b", re.I)      # where one item of a list ends
_PER_THING = re.compile(r"\b(?:per|each|a|an)\s+[\w-]+(?=\s*(?:[,;.)]|$))", re.I)   # "$180 per sign."


_PCT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b)", re.I)


def offer_words(text: str) -> set[str]:
    """The words an offer is named by, with its rates ("0% APR financing": "0%", "apr",
    "financing"), so "zero percent" names it as well as "the financing" does."""
    norm = normalize_numbers(text)
    return set(content_words(norm)) | {f"{float(m.group(1)):g}%" for m in _PCT.finditer(norm)} | {
        f"{q.value:g}" for q in extract_quantities(norm) if q.kind == "money" and q.value >= 10}


class FactBook:
    """Per-fact analysis of one KB index; read-only after construction, so one
    book is shared by every call that checks against the KB."""

    def __init__(self, index: KBIndex) -> None:
        self.index = index
        kb = index.kb
        # words that only name products ("standard", "premium") are not features;
        # a name word that facts use as a feature ("battery") stays a feature
        fact_words = {w for f in index.facts for w in content_words(index.products.mask(f.text, strong_only=True))}
        self.product_words: set[str] = set()
        self.words_of: dict[str, set[str]] = {}       # product id -> the words of its names
        for p in kb.products:
            for n in product_names(p):
                self.product_words |= set(content_words(n)) - fact_words
                self.words_of.setdefault(p.id, set()).update(set(content_words(n)) - PLAN_NOUNS)
        # nor is the company's own name ("It's Noah from PeakForm" - misheard as "It's no a
        # from PeakForm" - does not exclude "every PeakForm club")
        self.name_words = set(self.product_words)      # names only: never what a number counts
        self.product_words |= set(content_words(kb.company))
        # words the KB writes as one that speech recognition often splits ("setup" heard as "set up")
        vocab = {w.lower() for f in index.facts for w in re.findall(r"[A-Za-z]+", f.text) if len(w) >= 5}
        self.compounds = {(w[:i], w[i:]): w for w in vocab for i in range(2, len(w) - 1)}
        self.reader = ClaimReader(index, self.compounds)
        self.fact_q: dict[str, list[Quantity]] = {}
        self.fact_scope: dict[str, tuple[set[str], set[str]]] = {}
        # the items of what a fact excludes ("lead climbing lessons and private coaching are
        # charged separately"): a rep who includes one of them names only its words
        self.neg_items: dict[str, list[set[str]]] = {}
        self.fact_pos_said: dict[str, set[str]] = {}
        self.fact_named: dict[str, set[str]] = {}
        self.fact_cond: dict[str, set[str]] = {}
        self.fact_words: dict[str, set[str]] = {}
        self.by_key = {f.key: f for f in index.facts}
        self.owned: dict[Optional[str], list[Fact]] = {}   # product id (None: company-wide) -> its facts
        for f in index.facts:
            self.owned.setdefault(f.product, []).append(f)
        self.fq_owner: dict[str, list[set[str]]] = {}
        self.fq_parts: dict[str, list[set[str]]] = {}  # the words each of a fact's numbers is said with
        self.fq_every: dict[str, list[bool]] = {}      # "every 6 weeks": an interval, not a length
        self.fq_off: dict[str, list[bool]] = {}        # "$750 off": a discount, not a price
        self.fq_exempt: dict[str, list[bool]] = {}     # "free with any 36-month agreement": the exemption's terms
        self.extras: list[tuple[Fact, Quantity]] = []   # "$5 more per lesson": surcharges, whoever they are for
        self.money_at: dict[tuple[float, bool], set[str]] = {}   # every amount of money the KB states, as a
                                                                   # discount or not -> its facts
        self.pct_off_at: dict[float, set[str]] = {}    # every percentage off the KB gives -> its facts
        self.count_at: dict[tuple[str, float], set[str]] = {}   # every count and duration -> its facts
        # "The Camp Kit (two chairs, a table and a grill) is sold separately": the thing a fact
        # defines, and the words of what it holds
        self.defines: dict[str, tuple[set[str], set[str]]] = {}
        for f in index.facts:
            m = re.match(r"\s*((?:[\w'-]+\s+){0,3}[\w'-]+)\s*\(([^)]+)\)", f.text)
            if m and content_words(m.group(1)):
                self.defines[f.key] = (set(content_words(m.group(1))), set(content_words(m.group(2))))
        self.offers: list[Fact] = []          # facts that give a discount ("15% off", "$100 off")
        self.free_words: set[str] = set()     # facts that say free, waived, included ... (keys)
        self.free_terms: set[str] = set()     # ... or "no extra charge", "at no cost"
        self.free_clauses: dict[str, list[tuple[set[str], list[bool]]]] = {}
        self.kept_apart: dict[str, set[str]] = {}
        for f in index.facts:
            norm = normalize_numbers(f.text)
            masked = index.products.mask(norm)
            self.fact_q[f.key] = listed_periods(masked, extract_quantities(masked))
            # "Essentials members get 10% off; Plus and Senior members get 15%": each number
            # belongs to the products named in its own clause
            # - but not a product the fact only refers to ("everything in Essential, plus a pruning
            # visit for up to 4 trees": the 4 trees are the fact's own product's)
            clauses = [(m.start(), m.end()) for m in re.finditer(r"[^;.]+", norm)]
            named = [(p, pid) for p, pid in index.mentioned_products(norm)
                     if not REFERENCE.search(norm[max(0, p - 40):p])]
            self.fq_owner[f.key] = [
                next(({pid for p, pid in named if a <= p < b} for a, b in clauses if a <= fq.start < b), set())
                for fq in self.fact_q[f.key]]
            self.fq_parts[f.key] = item_words(norm, self.fact_q[f.key])
            neg, pos = split_by_scope(norm)
            self.fact_scope[f.key] = (feature_words(neg, self.product_words), feature_words(pos, self.product_words))
            holds = self.defines[f.key][1] if f.key in self.defines else set()
            self.neg_items[f.key] = [w for w in (feature_words(x, self.product_words) for x in _ITEMS.split(neg))
                                     if len(w) >= 2 and not w <= holds]     # (what a kit holds is the kit's)
            # what the positive part says as a feature, not only as what a price is per: "ADA signs
            # are sold separately at $180 per sign" does not also include the signs
            self.fact_pos_said[f.key] = feature_words(_PER_THING.sub(" ", pos), self.product_words)
            self.fact_named[f.key] = {pid for a, pid in index.mentioned_products(f.text)
                                      if not REFERENCE.search(f.text[max(0, a - 40):a])} - {f.product}
            self.fact_cond[f.key] = (set(content_words(norm)) & CONDITION_WORDS) - self.product_words
            self.fact_words[f.key] = set(content_words(norm))
            self.fq_every[f.key] = [bool(EVERY.search(norm[:fq.start])) for fq in self.fact_q[f.key]]
            # (a percentage is a discount in more ways: "save 10%", "a 10% member discount")
            self.fq_off[f.key] = [bool(OFF.match(norm, fq.end) or fq.kind == "percent" and (
                SAVE.search(norm[:fq.start]) or GIVES_OFF.search(norm[:fq.start]) or OFF_NEAR.match(norm, fq.end)))
                for fq in self.fact_q[f.key]]
            # "$199, and it is free with any 36-month agreement": the 36 months are the terms of
            # the exemption, not a term of the fee
            # (a new clause after "and" is its own part: "signed by November 30 get $1,000 off and
            # the first year of the plan free" - the deadline is the offer's, not the free year's)
            cuts = [(m.start(), m.end()) for m in _PART_CUT.finditer(norm)]
            parts = [(a, b) for a, b in zip([0] + [e for _, e in cuts], [c for c, _ in cuts] + [len(norm)]) if b > a]
            self.fq_exempt[f.key] = [any(a <= fq.start < b and bool(FREE_FACT.search(norm[a:b])) for a, b in parts)
                                     for fq in self.fact_q[f.key]]
            if any(self.fq_off[f.key]):
                self.offers.append(f)
            for fq, off in zip(self.fact_q[f.key], self.fq_off[f.key]):
                if fq.kind == "money" and fq.value:
                    self.money_at.setdefault((round(fq.value, 2), off), set()).add(f.key)
                elif fq.kind == "percent" and off:
                    self.pct_off_at.setdefault(round(fq.value, 2), set()).add(f.key)
                elif fq.kind in ("count", "duration") and fq.value:
                    self.count_at.setdefault((fq.kind, round(fq.value, 2)), set()).add(f.key)
            self.extras += [(f, fq) for fq in self.fact_q[f.key] if fq.kind == "money" and SURCHARGE.match(masked, fq.end)]
            # each clause's words, and for each free-word in it whether the clause denies it
            # ("Notarization is not included ...; the signed PDF is free")
            self.free_clauses[f.key] = [
                (set(content_words(c)), [bool(NOT_FREE.search(c[:m.start()])) for m in FREE_FACT.finditer(c)])
                for c in re.split(r";|\.\s", norm) if c.strip()]
            apart = NO_STACK.search(f.text)
            if apart:      # "cannot be combined with a trade-in credit": the words of what it is kept apart from
                self.kept_apart[f.key] = offer_words(next(g for g in apart.groups() if g is not None))
            if FREE_FACT.search(norm):
                self.free_words.add(f.key)
            if f.key in self.free_words or FREE_CLAIM.search(norm):
                self.free_terms.add(f.key)
        # words most facts use ("lesson" at a tutoring school) say what the KB is about, not a feature
        n_facts = len(index.facts)
        in_facts = Counter(w for f in index.facts for w in set().union(*self.fact_scope[f.key]))
        self.topic = {w for w, c in in_facts.items() if n_facts >= 8 and c >= max(3, 0.2 * n_facts)}
        # "whitening is cosmetic and is not": a negation whose object is left out
        self.elliptic = {f.key for f in index.facts
                         if any(not content_words(f.text[a:b].split(" ", 1)[-1]) or
                                 len(f.text[a:b].split()) <= 1 for a, b in negation_scopes(f.text))}
        # which facts state a number about a noun ("declared value", "minimum"): a claim with a
        # number finds the fact by what the number is about even when the sentences differ
        self.by_slot: dict[str, list[Fact]] = {}
        for f in index.facts:
            for fq in self.fact_q[f.key]:
                for w in {*fq.context, fq.unit} - {""} - self.product_words:
                    self.by_slot.setdefault(w, []).append(f)
        # facts by the words they use (stems, counted nouns): lookups by a claim's noun stay
        # fast at 10,000 facts
        self.with_word: dict[str, list[Fact]] = {}
        for f in index.facts:
            words = self.fact_words[f.key] | {fq.unit for fq in self.fact_q[f.key]} \
                | {w for fq in self.fact_q[f.key] for w in fq.context}
            for w in words:
                self.with_word.setdefault(w, []).append(f)
        self.row = {f.key: i for i, f in enumerate(index.facts)}
        self.price = {f.product: f for f in index.facts if f.kind == "price" and f.product}
        # what the KB prices things per, besides time ("$139 per night", "$65 per lesson")
        self.money_per = {fq.per for qs in self.fact_q.values() for fq in qs if fq.kind == "money" and fq.per}
        # words too many facts use to name an item of one ("clean" in a cleaning company's KB)
        in_facts = Counter(w for words in self.fact_words.values() for w in words)
        self.common = frozenset(w for w, c in in_facts.items() if c > max(2, n_facts // 10))
        # what a rep's words can allude to a fact by (its own words, not names, numbers or common
        # ones), by word; the shares the KB gives anywhere ("15% off", "half the fee"): the
        # arithmetic check asks on every amount, so at 10,000 facts they are looked up, not scanned
        self.by_own_word: dict[str, set[str]] = {}
        for f in index.facts:
            for w in self.fact_words[f.key] - self.common - self.name_words:
                if not w[:1].isdigit():
                    self.by_own_word.setdefault(w, set()).add(f.key)
        self.shares = frozenset(fq.value for qs in self.fact_q.values() for fq in qs
                                if fq.kind == "percent" and 0 < fq.value < 100)
        self.halves = frozenset(f.key for f in index.facts if HALF.search(f.text))
        self.rows_of: dict[Optional[str], list[int]] = {}
        self.about: dict[str, set[str]] = {}      # product id -> keys of the facts it owns or is named in
        for i, f in enumerate(index.facts):
            if f.kind != "price":
                self.rows_of.setdefault(f.product, []).append(i)
            for pid in self.fact_named[f.key] | ({f.product} if f.product else set()):
                self.about.setdefault(pid, set()).add(f.key)
        # words each product's own facts (and company-wide facts) use: not distinctive of another product
        company = set().union(*(set().union(*self.fact_scope[index.facts[i].key]) for i in self.rows_of.get(None, [])))
        self.shared: dict[str, set[str]] = {
            pid: company.union(*(set().union(*self.fact_scope[index.facts[i].key]) for i in rows))
            for pid, rows in self.rows_of.items() if pid is not None}

    def understood(self, fact: Fact) -> dict:
        """How the checker reads a fact, compiled once at start-up: what `kb show`
        and `kb check` print, so an admin can see it before a call depends on it."""
        neg, pos = self.fact_scope[fact.key]
        numbers = []
        for fq, owner in zip(self.fact_q[fact.key], self.fq_owner[fact.key]):
            n = {"value": fq.value, "kind": fq.kind, "unit": fq.unit or None, "per": fq.per or None,
                 "bound": fq.bound or None, "about": sorted(w for w in fq.context if not w.startswith("xxx"))}
            if owner:
                n["products"] = sorted(owner)
            numbers.append({k: v for k, v in n.items() if v is not None})
        out = {"product": fact.product, "numbers": numbers, "excludes": sorted(neg - self.topic),
               "includes": sorted(pos - self.topic - GENERIC), "conditions": sorted(self.fact_cond[fact.key]),
               "names": sorted(self.fact_named[fact.key])}
        return {k: v for k, v in out.items() if v}

    def lint(self, fact: Fact) -> list[str]:
        """What the checker cannot read unambiguously in a fact, and why it matters."""
        out = []
        neg, pos = self.fact_scope[fact.key]
        qs = self.fact_q[fact.key]
        kinds: dict[tuple[str, str], list[Quantity]] = {}
        for fq, owner in zip(qs, self.fq_owner[fact.key]):
            if not owner:
                kinds.setdefault((fq.kind, fq.unit), []).append(fq)
        for (kind, _unit), same in kinds.items():
            if len(same) > 1 and len({frozenset(q.context) for q in same}) < len(same):
                out.append(f"{len(same)} {kind} values ({', '.join(q_text(q) for q in same)}) with nothing "
                           f"different next to each: a claim cannot be matched to one of them (name what each is for)")
        if fact.key in self.elliptic:
            out.append("a negation whose object is left out (\"... and is not\"): write what is not, in full")
        if (neg - self.topic) & (pos - self.topic):
            out.append(f"says both that {', '.join(sorted((neg & pos) - self.topic))} is and is not included: "
                       f"a correction against it is never spoken (split it into two facts, one per case)")
        if self.fact_cond[fact.key]:
            out.append(f"holds under a condition ({', '.join(sorted(self.fact_cond[fact.key]))}): a rep who leaves "
                       f"the condition out gets a silent check card, not a spoken correction")
        if len(self.fact_named[fact.key]) > 1:
            out.append(f"names several products ({', '.join(sorted(self.fact_named[fact.key]))}): tier-swap "
                       f"checks against it stay silent (one fact per product reads best)")
        if not qs and not neg and len(pos - self.topic - GENERIC) < 2:
            out.append("nothing checkable: no number, nothing included or excluded")
        return out

    def quantities_of(self, fact: Fact) -> list[Quantity]:
        """The fact's quantities, as extracted once at start-up."""
        return self.fact_q.get(fact.key, [])

    def name(self, pid: Optional[str]) -> str:
        """A product's name as customers hear it (its id when the KB has no such product)."""
        p = self.index.kb.product(pid)
        return p.name if p else (pid or "")
