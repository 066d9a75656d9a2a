"""The claim checker: is what the rep just said consistent with the KB?

Facts are free text, so checking is retrieve-then-compare:
1. split the utterance into claim units (sentences, and clauses of long ones);
2. retrieve the nearest KB facts by embedding, keeping only facts about the
   product under discussion (or company-wide facts);
3. compare what the unit says with what the fact says, on three axes that
   cover most real sales errors:
   - quantities: prices, durations, counts, percentages, dates, with units
     ("fourteen days" vs "within 30 days"; "up to 50 devices" vs "up to 100");
   - polarity: the fact excludes what the rep includes, or the other way round
     ("Standard includes on-site installation" vs "Does not include ...");
   - which product: the fact names one tier, the rep another
     ("each site gets the Premium features" vs "... the Standard package features").
A conflict is only reported when no equally relevant fact supports the claim
(a promotion can make "free installation on Standard" true), and the
correction is always a KB sentence, never generated facts.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Optional, Sequence


from intervene.kb.index import KBIndex, product_names
from intervene.nlp.quantities import (Quantity, comparable, content_words, extract_quantities,
                                      normalize_numbers, same_quantity)
from intervene.nlp.text import negation_scopes, sentence_parts, sentences, split_by_scope
from intervene.vocab import Evidence, Fact, Verdict

SIM_QUANTITY = 0.45      # a fact this similar is about the same thing as the unit
SIM_POLARITY = 0.45      # (0.40 for a fact of the very product the rep is talking about)
     # polarity needs a closer match: the feature must be the same
SIM_PRODUCT = 0.55       # "which product" needs the same sentence shape
CLAUSE_PENALTY = 0.05   # a fact found through the whole sentence counts slightly less for a clause
SUPPORT_MARGIN = 0.03    # an alternative fact this close to the best one may vindicate the claim
TOPIC_MARGIN = 0.10     # facts this much less similar than the closest one are another topic
QUANTITY_MARGIN = 0.08   # ... for a number the rep got exactly right somewhere relevant
SIM_OWNERSHIP = 0.50     # a fact of another product this close says whose feature it is

# verbs that carry no feature: "includes X" and "doesn't include X" are about X
_LIGHT = frozenset("""include includ come cover offer provide get have has had is are was be been
 give gets carry carrie feature contain add allow let make take plan package tier""".split())
_EXTRA = re.compile(r"\b(?:add|adds|adding|add-on|addon|extra|upgrade|separate|separately|on top|additional|buy|"
                    r"purchase|you'?d need|you need|requires?)\b", re.I)
_APPROX = re.compile(r"\b(?:around|roughly|about|approximately|maybe|like|or so|ish|say|almost|nearly|"
                     r"under|over|close to|just under|just over|a little under|a little over)\s*$", re.I)


@dataclass(frozen=True)
class Unit:
    text: str
    sentence: int            # index of the parent sentence
    is_sentence: bool
    product: Optional[str]   # product bound to the unit: named in it, else before it, else context
    named: tuple[str, ...]   # products named inside the unit
    context: Optional[str] = None   # product under discussion before the sentence
    sent_named: tuple[str, ...] = ()   # products named anywhere in the sentence
    question: bool = False


@dataclass
class UtteranceCheck:
    verdicts: list[Verdict] = field(default_factory=list)
    product_after: Optional[str] = None


_UNITS = frozenset("minute hour day week month year percent dollar buck".split())


def _words(text: str, exclude: set[str]) -> set[str]:
    """Feature words: what a sentence includes or excludes, without verbs like
    "includes", product names, numbers or units (those are the quantity check's)."""
    return {w for w in content_words(text)
            if w not in _LIGHT and w not in exclude and w not in _UNITS and not w[:1].isdigit()}


class ClaimChecker:
    """Stateless apart from caches of per-fact analysis; safe to share across calls."""

    def __init__(self, index: KBIndex) -> None:
        self.index = index
        kb = index.kb
        # words that only name products ("standard", "premium") are not features;
        # a name word that facts use as a feature ("battery") stays a feature
        fact_words = {w for f in index.facts for w in content_words(index.products.mask(f.text, strong_only=True))}
        self._product_words: set[str] = set()
        for p in kb.products:
            for n in product_names(p):
                self._product_words |= set(content_words(n)) - fact_words
        # nor is the company's own name ("It's Noah from PeakForm" - misheard as "It's no a
        # from PeakForm" - does not exclude "every PeakForm club")
        self._product_words |= set(content_words(kb.company))
        # words the KB writes as one that speech recognition often splits ("setup" heard as "set up")
        vocab = {w.lower() for f in index.facts for w in re.findall(r"[A-Za-z]+", f.text) if len(w) >= 5}
        self._compounds = {(w[:i], w[i:]): w for w in vocab for i in range(2, len(w) - 1)}
        self._fact_q: dict[str, list[Quantity]] = {}
        self._fact_scope: dict[str, tuple[set[str], set[str]]] = {}
        self._fact_named: dict[str, set[str]] = {}
        self._by_key = {f.key: f for f in index.facts}
        for f in index.facts:
            norm = normalize_numbers(f.text)
            self._fact_q[f.key] = extract_quantities(index.products.mask(norm))
            neg, pos = split_by_scope(norm)
            self._fact_scope[f.key] = (_words(neg, self._product_words), _words(pos, self._product_words))
            self._fact_named[f.key] = {pid for _, pid in index.mentioned_products(f.text)} - {f.product}
        self._row = {f.key: i for i, f in enumerate(index.facts)}
        self._price = {f.product: f for f in index.facts if f.kind == "price" and f.product}
        self._rows_of: dict[Optional[str], list[int]] = {}
        for i, f in enumerate(index.facts):
            if f.kind != "price":
                self._rows_of.setdefault(f.product, []).append(i)
        # words each product's own facts (and company-wide facts) use: not distinctive of another product
        company = set().union(*(set().union(*self._fact_scope[index.facts[i].key]) for i in self._rows_of.get(None, [])))
        self._shared: dict[str, set[str]] = {
            pid: company.union(*(set().union(*self._fact_scope[index.facts[i].key]) for i in rows))
            for pid, rows in self._rows_of.items() if pid is not None}

    def quantities_of(self, fact: Fact) -> list[Quantity]:
        """The fact's quantities, as extracted once at start-up."""
        return self._fact_q.get(fact.key, [])

    def join_compounds(self, text: str) -> str:
        """"a set up fee" -> "a setup fee" when the KB writes "setup": a split
        compound would otherwise match neither the fact nor its feature words."""
        def join(m: re.Match) -> str:
            return m.group(1) if (m.group(1).lower(), m.group(2).lower()) in self._compounds else m.group(0)
        return re.sub(r"\b([A-Za-z]+) (?=([A-Za-z]+)\b)", join, text) if self._compounds else text

    # ------------------------------------------------------------------ units
    def units(self, text: str, context: Optional[str]) -> tuple[list[Unit], Optional[str]]:
        """Claim units of an utterance and the product under discussion after it."""
        out: list[Unit] = []
        current = context
        for si, sent in enumerate(sentences(normalize_numbers(self.join_compounds(text)))):
            mentions = self.index.mentioned_products(sent)
            start_product = current
            leaves = [p for p in sentence_parts(sent) if p != sent]
            named_all = tuple(dict.fromkeys(pid for _, pid in mentions))
            question = sent.rstrip().endswith("?")
            out.append(Unit(sent, si, True, mentions[-1][1] if mentions else start_product, named_all,
                            context=start_product, sent_named=named_all, question=question))
            pos = 0
            for part in leaves:
                at = sent.find(part.split(",")[0], pos)
                at = pos if at < 0 else at
                inside = [pid for p, pid in mentions if at <= p < at + len(part)]
                before = [pid for p, pid in mentions if p < at]
                bound = inside[0] if inside else (before[-1] if before else start_product)
                out.append(Unit(part, si, False, bound, tuple(dict.fromkeys(inside)),
                                context=start_product, sent_named=named_all, question=question))
                pos = max(pos, at + 1)
            if mentions:
                current = mentions[-1][1]
        return out, current

    # ------------------------------------------------------------------ check
    def check(self, text: str, context: Optional[str] = None,
              echoed: Sequence[float] = ()) -> UtteranceCheck:
        """Verdicts for one rep utterance. `context` is the product under
        discussion before it; `echoed` are numbers the lead just said (a rep
        repeating the lead's own count is not making a KB claim)."""
        units, after = self.units(text, context)
        if not units or not self.index.facts:
            return UtteranceCheck([], after)
        vecs = self.index.embed([u.text for u in units])
        split = {u.sentence for u in units if not u.is_sentence}
        verdicts: list[tuple[int, Verdict]] = []
        found = self.index.search_many(vecs, k=10, floor=0.3)
        sent_found = {u.sentence: f for u, f in zip(units, found) if u.is_sentence}
        for u, v, cands in zip(units, vecs, found):
            if u.is_sentence and u.sentence in split:
                if not u.question and not self.index.mentioned_competitors(u.text):
                    # a feature can span clauses ("water backup's included, | so a sump pump failure is covered")
                    for pv in self._polarity(u, cands, _best_sims(cands)):
                        verdicts.append((u.sentence, pv))
                continue          # otherwise its clauses are checked one by one
            if u.question:
                continue          # "so maybe ten devices tops?" asks, it doesn't claim
            if self.index.mentioned_competitors(u.text):
                continue          # "NetCo charges a setup fee" is about them, not a claim about our KB
            if not u.is_sentence:
                # a clause keeps some of its sentence's meaning ("once you sign, | it's 4 to 6 weeks")
                parent = sent_found[u.sentence]
                support = _best_sims(cands, parent)
                cands = sorted(_best_sims(cands, [(f, s - CLAUSE_PENALTY) for f, s in parent]).items(),
                               key=lambda kv: -kv[1])
                cands = [(self._by_key[k], s) for k, s in cands]
            else:
                support = _best_sims(cands)
            for v in (self._quantities(u, cands, echoed) + self._polarity(u, cands, support)
                      + self._product(u, cands) + self._ownership(u, cands, support)):
                verdicts.append((u.sentence, v))
        return UtteranceCheck(_collapse(verdicts), after)

    def _allowed(self, fact: Fact, product: Optional[str], named: Sequence[str]) -> bool:
        if fact.product is None:
            return True
        if product is None and not named:
            return True            # nobody knows which product: any may apply (lenient)
        return fact.product == product or fact.product in named

    # quantities ---------------------------------------------------------------
    def _quantities(self, u: Unit, cands: list[tuple[Fact, float]], echoed: Sequence[float]) -> list[Verdict]:
        out: list[Verdict] = []
        mentions = self.index.mentioned_products(u.text)
        qs = extract_quantities(self.index.products.mask(u.text))
        numbers = [q for q in qs if q.kind != "date"]
        for q in qs:
            before = [pid for p, pid in mentions if p <= q.start]
            prod = before[-1] if before else u.product
            allowed = [(f, s) for f, s in cands if self._allowed(f, prod, () if before else u.named)]
            price = self._price.get(prod or "")
            if price and q.kind == "money" and _period(q) and _period(q) == _period_of(self._fact_q[price.key]):
                # "it's 49 a month" is about the price of the plan under discussion, however short
                allowed = [(price, max(SIM_QUANTITY, dict((f.key, s) for f, s in allowed).get(price.key, 0.0)))] + \
                          [(f, s) for f, s in allowed if f.key != price.key]
            # a clearly closer fact with no such number is what the sentence is about
            # ("a two-year contract" is about the contract policy, not the support years)
            top = max((s for f, s in allowed if not any(_comparable(q, fq, f) for fq in self._fact_q[f.key])),
                      default=0.0)
            head = _head_word(u.text, q)
            pairs = []
            for fact, sim in allowed:
                if sim < max(SIM_QUANTITY, top - TOPIC_MARGIN):
                    continue
                for fq in self._fact_q[fact.key]:
                    if _comparable(q, fq, fact) and _same_rate_basis(q, fq, qs):
                        ctx = set(q.context) & set(fq.context)
                        # "a 500 dollar deductible": the noun the number belongs to decides the slot
                        slot = 0.2 if head and head in fq.context else 0.0
                        pairs.append((sim + slot + 0.15 * len(ctx) / max(1, len(fq.context)), fact, sim, fq))
            if not pairs:
                continue
            pairs.sort(key=lambda p: -p[0])
            best = pairs[0]
            ok = any(_consistent(q, fq, qs) for s, _, _, fq in pairs if s >= best[0] - QUANTITY_MARGIN)
            said = u.text[q.start:q.end]
            if ok:
                out.append(Verdict(True, u.text, best[1], f"{said} matches", score=best[2], product=prod))
                continue
            fact, fq = best[1], best[3]
            if q.value == 0 or _APPROX.search(u.text[:q.start]) or (q.value in echoed and not q.bound):
                continue          # "zero" is polarity's job; "around 50" and echoes aren't KB claims
            if q.kind == "bare" and not (fq.kind == "money" and (
                    (fact.kind == "price" and len(numbers) == 1)
                    or (fact.kind != "price" and set(q.context) & set(fq.context)))):
                continue          # a bare number contradicts only a price said on its own, or an
                                  # amount about the same thing ("covers the dwelling up to 500,000")
            say = self.correction(fact)
            count = next((c for c in qs if _per_things(fq) and not _per_things(q) and c is not q
                          and c.kind in ("count", "bare") and c.value > 1), None)
            if fq.kind != "money":
                count = None
            if count:
                say = say.rstrip(".") + f" - for {_num(count.value)} that's {_q_text(replace(fq, value=fq.value * count.value, per=_period(fq)))}."
            out.append(Verdict(False, u.text, fact, f"said {said!r}, KB says {_q_text(fq)}",
                               correction=say, score=best[2], product=prod,
                               evidence=(Evidence(fact.kb_id, fact.text),)))
        return out

    # polarity -----------------------------------------------------------------
    def _polarity(self, u: Unit, cands: list[tuple[Fact, float]], support: dict[str, float]) -> list[Verdict]:
        out: list[Verdict] = []
        c_neg, c_pos = (_words(t, self._product_words) for t in split_by_scope(u.text))
        for fact, sim in cands:
            need = SIM_POLARITY - (0.05 if fact.product and fact.product == u.product else 0.0)
            if sim < need or not self._allowed(fact, u.product, u.named):
                continue
            f_neg, f_pos = self._fact_scope[fact.key]
            feature: set[str] = set()
            if f_neg and len(f_neg & c_pos) >= _need(f_neg) and not (f_neg & c_neg):
                feature = f_neg & c_pos          # KB excludes it, rep includes it
                kind = "includes"
            elif c_neg and fact.kind != "promotion" and len(c_neg & f_pos) >= _need(c_neg) and not (c_neg & f_neg):
                feature = c_neg & f_pos          # KB includes it, rep excludes it
                kind = "excludes"
            if not feature:
                continue
            if self._supported(fact, feature, kind, sim, u, support):
                continue
            say = self.correction(fact)
            if kind == "includes":
                elsewhere = self._who_includes(f_neg, fact.product)
                if elsewhere:
                    say = say.rstrip(".") + f" - that comes with the {elsewhere}."
            out.append(Verdict(False, u.text, fact, f"rep {kind} {' '.join(sorted(feature))}; KB: {fact.text}",
                               correction=say, score=sim, product=u.product,
                               evidence=(Evidence(fact.kb_id, fact.text),)))
            break
        return out

    def _supported(self, conflict: Fact, feature: set[str], kind: str, sim: float, u: Unit,
                   support: dict[str, float]) -> bool:
        """Another fact at least as relevant says what the rep said (e.g. a promotion)."""
        for key, s in support.items():
            other = self._by_key[key]
            if key == conflict.key or s < sim:
                continue          # to vindicate the claim, a fact must match it at least as well
            if not self._allowed(other, u.product, u.named):
                continue
            o_neg, o_pos = self._fact_scope[other.key]
            side = o_pos if kind == "includes" else o_neg
            if len(feature & side) < _need(feature):
                continue
            if other.kind == "promotion":
                # a promotion is conditional: it backs the claim only if the rep invoked it
                # ("... free on Standard too, if you order before December 31")
                special = (o_pos | o_neg) - feature - set().union(*self._fact_scope[conflict.key])
                if not special & _words(u.text, self._product_words):
                    continue
            return True
        return False

    def _who_includes(self, feature: set[str], not_product: Optional[str]) -> str:
        for f in self.index.facts:
            if f.product and f.product != not_product:
                neg, pos = self._fact_scope[f.key]
                # two shared words at least when the feature has two: "setup fee" is not
                # "remote setup", and naming the wrong product would be an invented fact
                need = 1 if len(feature) == 1 else max(2, math.ceil(0.4 * len(feature)))
                if len(feature & pos) >= need and not (feature & neg):
                    p = self.index.kb.product(f.product)
                    return p.name if p else f.product
        return ""

    # whose feature --------------------------------------------------------------
    def _ownership(self, u: Unit, cands: list[tuple[Fact, float]], support: dict[str, float]) -> list[Verdict]:
        """The rep gives product P a feature that only another product's facts
        have ("the Essential ... every panel gets its own microinverter", when
        microinverters are a Plus/Premium fact and the Essential has a string inverter)."""
        p = u.product
        if p is None or _EXTRA.search(u.text):
            return []                         # "you can add a 5-pack" offers an extra, it doesn't include it
        c_neg, c_pos = (_words(t, self._product_words) for t in split_by_scope(u.text))
        own = [(f, s) for f, s in cands if f.product == p]
        for fact, sim in cands:
            if sim < SIM_OWNERSHIP or fact.product in (None, p) or fact.kind == "price":
                continue
            if fact.product == u.context or fact.product in u.sent_named:
                continue                      # the sentence is about that product after all
            if own and own[0][1] >= sim:
                return []                     # P's own facts explain the sentence better
            f_neg, f_pos = self._fact_scope[fact.key]
            feature = (f_pos & c_pos) - c_neg - self._shared_words(p)
            if not feature:
                continue
            if self._supported(fact, feature, "includes", sim, u, support):
                return []
            other = self._name(fact.product)
            alt = self._counterpart(fact, p)
            say = (self.correction(alt).rstrip(".") if alt else f"Quick clarification - that's not part of the {self._name(p)}")
            say += f"; {self.spoken(fact)}"
            return [Verdict(False, u.text, alt or fact, f"rep gave the {self._name(p)} {', '.join(sorted(feature))}, "
                            f"which the KB has on the {other}: {fact.text}", correction=say, score=sim,
                            product=p, evidence=tuple(Evidence(f.kb_id, f.text) for f in (alt, fact) if f))]
        return []

    def _counterpart(self, fact: Fact, product: str) -> Optional[Fact]:
        """P's fact about the same thing as another product's fact (its string
        inverter for their microinverters), if it has one."""
        rows = self._rows_of.get(product, [])
        if not rows:
            return None
        sims = self.index.fact_vecs[rows] @ self.index.fact_vecs[self._row[fact.key]]
        best = int(sims.argmax())
        return self.index.facts[rows[best]] if sims[best] >= 0.5 else None

    def _shared_words(self, product: str) -> set[str]:
        return self._shared.get(product, set())

    # which product ------------------------------------------------------------
    def _product(self, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
        if not u.named:
            return []
        negated = negation_scopes(u.text)
        for fact, sim in cands:
            if sim < SIM_PRODUCT or fact.kind == "promotion" or \
                    not self._allowed(fact, u.product, (*u.sent_named, u.context)):
                continue
            named_in_fact = self._fact_named[fact.key]
            instead = set(u.named) - {fact.product}
            if not named_in_fact or not instead or named_in_fact & set(u.named):
                continue
            spots = [p for p, pid in self.index.mentioned_products(u.text) if pid in instead]
            if all(any(a <= p < b for a, b in negated) for p in spots):
                continue                      # "not the Premium features" agrees with the fact
            said = ", ".join(self._name(p) for p in sorted(instead))
            right = ", ".join(self._name(p) for p in sorted(named_in_fact))
            return [Verdict(False, u.text, fact, f"rep said {said}, KB says {right}",
                            correction=self.correction(fact), score=sim, product=fact.product,
                            evidence=(Evidence(fact.kb_id, fact.text),))]
        return []

    # words --------------------------------------------------------------------
    def _name(self, pid: Optional[str]) -> str:
        p = self.index.kb.product(pid)
        return p.name if p else (pid or "")

    def correction(self, fact: Fact) -> str:
        """A KB sentence, turned to be spoken: 'Quick clarification - the
        Standard package includes three years of support.'"""
        return f"Quick clarification - {self.spoken(fact)}"

    def spoken(self, fact: Fact) -> str:
        """The fact as a sentence that names its product ("the Premium package
        includes ..."), so it stands on its own when read out."""
        text = fact.text.strip()
        if not text.endswith((".", "!", "?")):
            text += "."
        if fact.product and fact.kind != "price":
            name = self._name(fact.product)
            name = name if name.lower().startswith("the ") else f"the {name}"
            first = text.split()[0].lower()
            if first in _VERB_START or (first.endswith("s") and first not in _NOT_VERB):
                return f"{name} {_lower_first(text)}"
            return f"on {name}, {_lower_first(text)}"
        return _lower_first(text)


_VERB_START = frozenset("""includes include does doesn't is isn't are aren't has have comes covers
 offers provides supports gets requires allows lets adds excludes needs ships runs works uses gives
 features contains carries can cannot can't will won't starts lasts costs""".split())
_NOT_VERB = frozenset("""its this his hers ours yours theirs sites plans customers orders users
 members clients devices products services options plus""".split())


def _lower_first(text: str) -> str:
    first = text.split()[0]
    if len(first) > 1 and first[1:].islower() and first[0].isupper():
        return first[0].lower() + text[1:]
    return text


def _need(words: set[str]) -> int:
    return max(1, math.ceil(0.6 * len(words)))


_TIME = {"", "minute", "hour", "day", "week", "month", "year"}


def _head_word(text: str, q: Quantity) -> str:
    """The noun a number is about: the first content word right after it
    ("$500 deductible", "25 devices"), else the one right before ("a deductible of $500")."""
    after = [w for w in content_words(text[q.end:])[:2] if w not in _UNITS and not w[:1].isdigit()]
    if after:
        return after[0]
    before = [w for w in content_words(text[:q.start]) if w not in _UNITS and not w[:1].isdigit()]
    return before[-1] if before else ""


def _period(q: Quantity) -> str:
    return next((p for p in q.per.split("/") if p in _TIME and p), "")


def _period_of(qs: Sequence[Quantity]) -> str:
    return next((_period(q) for q in qs if q.kind == "money"), "")


def _num(v: float) -> str:
    return str(int(v)) if v == int(v) else f"{v:g}"


def _comparable(q: Quantity, fq: Quantity, fact: Fact) -> bool:
    """Same kind of quantity (quantities.comparable decides units and rates);
    across kinds only a bare number the rep said against a count ("twenty's
    fine" vs "up to 25 devices") or a product's price ("the Essential comes in
    at 12,900" vs "$14,900"). "$25 a month" is never compared with "aged 16"."""
    if q.kind == fq.kind == "money" and bool(_period(q)) != bool(_period(fq)):
        return False          # a monthly premium is not a one-off amount ("$1,000 deductible")
    if q.kind == fq.kind:
        return comparable(q, fq)
    return q.kind == "bare" and fq.kind in ("count", "money")


def _per_things(q: Quantity) -> set[str]:
    return set(q.per.split("/")) - _TIME


def _same_rate_basis(q: Quantity, fq: Quantity, qs: Sequence[Quantity]) -> bool:
    """$200 a month is not comparable with $25 per user per month - unless
    the claim also names a count it multiplies out from (8 users)."""
    if q.kind != "money" or fq.kind != "money" or _per_things(q) == _per_things(fq):
        return True
    # "1,000 dollars" for "$1,000 per claim" compares; "24 a month" for "$12 per user
    # per month" is a total, which only compares when the claim says how many
    return not _per_things(q) and (not _period(q) or any(
        c.kind in ("count", "bare") and c is not q and c.value > 1 for c in qs))


def _multiplies(q: Quantity, fq: Quantity, c: Quantity) -> bool:
    return c.kind in ("count", "bare") and c is not q and abs(c.value * fq.value - q.value) < 0.01 * max(1.0, q.value)


def _consistent(q: Quantity, fq: Quantity, qs: Sequence[Quantity] = ()) -> bool:
    if same_quantity(q, fq):
        return True
    if q.kind == fq.kind == "money" and _per_things(q) != _per_things(fq):
        counts = [c for c in qs if c.kind in ("count", "bare") and c is not q and c.value > 1]
        if counts:
            return any(_multiplies(q, fq, c) for c in counts)
        return abs(q.value - fq.value) < 0.01 * max(1.0, fq.value)
    if q.bound:
        return False               # "tops out at 50" states the limit itself
    if fq.bound == "max" and q.kind in ("count", "bare") and q.value <= fq.value:
        return True                # 15 devices is fine on a plan for up to 25
    if fq.bound == "min" and q.kind in ("count", "bare") and q.value >= fq.value:
        return True
    return False


def _q_text(q: Quantity) -> str:
    v = int(q.value) if q.value == int(q.value) else q.value
    unit = {"USD": "$"}.get(q.unit, q.unit)
    if q.kind == "money":
        return f"{unit}{v}" + (f" per {q.per}" if q.per else "")
    if q.kind == "percent":
        return f"{v}%"
    if q.kind == "duration" and v != 1:
        unit += "s"
    return f"{v} {unit}".strip()


def _best_sims(*lists: list[tuple[Fact, float]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for lst in lists:
        for f, s in lst:
            best[f.key] = max(s, best.get(f.key, -1.0))
    return best


def _collapse(verdicts: list[tuple[int, Verdict]]) -> list[Verdict]:
    """One verdict per fact: a conflict wins over support found in the same
    sentence; support in a *later* sentence is a self-correction ("... two
    years. Sorry, I mean three years.") and wins."""
    by_fact: dict[str, tuple[int, Verdict]] = {}
    order: list[str] = []
    for sent, v in verdicts:
        if v.fact is None:
            continue
        k = v.fact.key
        if k not in by_fact:
            order.append(k)
            by_fact[k] = (sent, v)
            continue
        prev_sent, prev = by_fact[k]
        if not v.ok or (not prev.ok and sent > prev_sent):
            by_fact[k] = (sent, v)
    return [by_fact[k][1] for k in order]
