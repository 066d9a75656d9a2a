"""Included vs excluded: the fact excludes what the rep includes, or the other
way round ("Standard includes on-site installation" vs "does not include
..."), unless another fact at least as relevant says what the rep said (a
promotion can make "free installation on Standard" true)."""
from __future__ import annotations

import math
import re
from typing import Optional

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import (
    EARLY_EXIT,
    FEE_WORD,
    GENERIC,
    INCLUDES,
    LIMITED,
    SIM_POLARITY,
    TERM_OVER,
    WAIVES,
    feature_words,
)
from intervene.core.detect.claims.retrieve import may_apply
from intervene.core.detect.claims.verdict import BASE, confidence, correction
from intervene.core.detect.numbers import readings
from intervene.core.detect.subjects import Unit
from intervene.nlp.lexicon import content_words, extract_quantities, same_amount
from intervene.nlp.text import split_by_scope
from intervene.vocab import Check, Evidence, Fact, Verdict


def polarity(book: FactBook, u: Unit, cands: list[tuple[Fact, float]], support: dict[str, float]) -> list[Verdict]:
    out: list[Verdict] = []
    c_neg, c_pos = (feature_words(t, book.product_words) for t in split_by_scope(u.text))
    for fact, sim in cands:
        need = SIM_POLARITY - (0.05 if fact.product and fact.product == u.product else 0.0)
        if sim < need or not may_apply(fact, u.product, u.named):
            continue
        f_neg, f_pos = book.fact_scope[fact.key]
        feature: set[str] = set()
        # (the thing the fact defines, named whole, is what it excludes: "the Camp Kit is
        # included" against "The Camp Kit (two chairs, a table, ...) is sold separately")
        thing = book.defines[fact.key][0] if fact.key in book.defines else set()
        # (nor need the rep name every item of a list the fact excludes: "lead climbing lessons
        # are included" against "lead climbing lessons and private coaching are charged separately")
        # - in a sentence of its own: a clause after one naming the whole feature is its echo)
        whole = thing and thing <= f_neg & c_pos or u.is_sentence and any(
            item <= c_pos and item - book.topic - GENERIC for item in book.neg_items[fact.key])
        if f_neg and (len(f_neg & c_pos) >= _need(f_neg) or whole) and not (f_neg & c_neg):
            feature = f_neg & c_pos          # KB excludes it, rep includes it
            kind = "includes"
        elif c_neg and fact.kind != "promotion" and len(c_neg & f_pos) >= _need(c_neg) and not (c_neg & f_neg):
            feature = c_neg & f_pos          # KB includes it, rep excludes it
            kind = "excludes"
        feature -= book.topic
        if not feature or feature <= GENERIC:
            continue          # "wellness" in a wellness-plan KB, a bare "fee": no feature to contradict
        if kind == "excludes" and TERM_OVER.search(u.text) and EARLY_EXIT.search(fact.text):
            continue          # "once the 12 months are up, no cancellation fee": the fee is for leaving early
        if kind == "excludes" and fact.key in book.free_terms and (
                WAIVES.search(u.text) or FEE_WORD.search(u.text)):
            continue          # "the installation is waived", "so no one-way fee" where the KB makes the
                              # fee free on some terms: not charging it is the waiver, not leaving a
                              # feature out (whether the rep's case meets the terms is the widened check's)
        if kind == "includes" and fact.key in book.defines and _describes(book, u, fact, feature):
            continue          # "the camp kit's got a grill, a table and a lantern" against "The Camp Kit (two
                              # chairs, a table, a grill and a lantern) is sold separately": what the kit
                              # holds, not the kit given away
        if kind == "includes" and f_neg and _prices_it(book, u, fact):
            continue          # "the camp kit's got a grill and a lantern, 49 for the whole rental" against
                              # "sold separately for $49": the rep charges the KB's own price for it
        if kind == "includes" and not INCLUDES.search(u.text):
            continue          # "the form about wellness plans" names it, it doesn't include it
        if supported(book, fact, feature, kind, sim, u, support):
            continue
        if kind == "includes" and fact.key in book.kept_apart:
            continue          # "cannot be combined with the member discount": whether the rep put
                              # them together is the stacking check's question
        if len(feature & f_neg & book.fact_pos_said[fact.key]) >= _need(feature) or fact.key in book.elliptic:
            continue          # the fact says both ("$50 for new customers, waived for returning";
                              # "aligners are HSA eligible; whitening is not"): which side the
                              # rep meant is a condition, not a contradiction (one word of it on
                              # each side is not both: "X-rays are charged separately" beside
                              # "the included dental cleaning")
        say = correction(book, fact)
        if kind == "includes":
            elsewhere = _who_includes(book, f_neg, fact.product)
            if elsewhere:
                say = say.rstrip(".") + f" - that comes with the {elsewhere}."
        doubts = [] if u.is_sentence else ["clause"]
        if kind == "excludes" and f_neg:
            doubts.append("mixed")         # the fact has its own exception ("$149; waived on contracts")
        if LIMITED.search(fact.text) and "condition" not in doubts:
            doubts.append("condition")     # "local rates apply up to 50 miles": the rep's "not" may be the rest
        if fact.product and not u.sent_named:
            doubts.append("product-context")
        conf, why = confidence(book, BASE["polarity"], u, fact, sim, doubts)
        out.append(Verdict(False, u.text, fact, f"rep {kind} {' '.join(sorted(feature))}; KB: {fact.text}",
                           correction=say, score=sim, product=u.product,
                           evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.POLARITY))
        break
    return out


# what a fact says when it gives something (a promotion's "free", a plan's "includes", "members get")
_GIVES = re.compile(r"\b(?:includ\w*|comes? with|cover(?:s|ed|ing)?|free|waived?|complimentary|no (?:extra )?charge|"
                    r"at no (?:extra )?cost|plus|with (?:every|each|any)|offers?|gets?|receives?|has|have)\b", re.I)


def _need(words: set[str]) -> int:
    return max(1, math.ceil(0.6 * len(words)))


def supported(book: FactBook, conflict: Fact, feature: set[str], kind: str, sim: float, u: Unit,
              support: dict[str, float]) -> bool:
    """Another fact at least as relevant says what the rep said (e.g. a promotion)."""
    for key, s in support.items():
        other = book.by_key[key]
        if key == conflict.key or s < sim:
            continue          # to vindicate the claim, a fact must match it at least as well
        if not may_apply(other, u.product, u.named):
            continue
        o_neg, o_pos = book.fact_scope[other.key]
        side = o_pos if kind == "includes" else o_neg
        if len(feature & side) < _need(feature):
            continue
        if kind == "includes" and not _GIVES.search(other.text):
            continue          # a fact that only names the feature gives nothing: "wood must dry 48 hours
                              # before it can be stained" does not put staining in the restoration
        if other.kind == "promotion":
            # a promotion is conditional: it backs the claim only if the rep invoked it
            # ("... free on Standard too, if you order before December 31")
            special = (o_pos | o_neg) - feature - set().union(*book.fact_scope[conflict.key])
            if not special & feature_words(u.text, book.product_words):
                continue
        return True
    return False


def _describes(book: FactBook, u: Unit, fact: Fact, feature: set[str]) -> bool:
    """The rep names the thing the fact defines and lists only what it holds."""
    thing, holds = book.defines[fact.key]
    # (a product named beside it may be what the rep gives it away with: "the Voyager comes with the kit")
    return thing <= set(content_words(u.text)) and feature - thing <= holds \
        and not book.reader.subject_mentions(u.text)


def _prices_it(book: FactBook, u: Unit, fact: Fact) -> bool:
    """The rep states, for the thing, an amount of money the fact states."""
    text = book.index.products.mask(u.text + u.rest)
    said = [q for q in extract_quantities(text) if q.kind in ("money", "bare")]
    return any(same_amount(r.value, fq.value) for q in said for r in readings(q, text)
               for fq in book.fact_q[fact.key] if fq.kind == "money" and fq.value)


def _who_includes(book: FactBook, feature: set[str], not_product: Optional[str]) -> str:
    for f in book.index.facts:
        if f.product and f.product != not_product:
            neg, pos = book.fact_scope[f.key]
            # two shared words at least when the feature has two: "setup fee" is not
            # "remote setup", and naming the wrong product would be an invented fact
            need = 1 if len(feature) == 1 else max(2, math.ceil(0.4 * len(feature)))
            if len(feature & pos) >= need and not (feature & neg):
                p = book.index.kb.product(f.product)
                return p.name if p else f.product
    return ""
