"""Whose feature it is: the rep names one tier where the fact names another,
gives a product a feature only another product's facts have, or puts a
product the KB sells on its own inside another one. Word overlap across
tiers can point at these but rarely prove them, so they are cards at most."""
from __future__ import annotations

import re
from typing import Optional

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import (
    EXTRA,
    GENERIC,
    NEW_CLAUSE,
    PUT_IN,
    SEPARATE,
    SIM_OWNERSHIP,
    SIM_PRODUCT,
    feature_words,
)
from intervene.core.detect.claims.polarity import supported
from intervene.core.detect.claims.retrieve import may_apply
from intervene.core.detect.claims.verdict import BASE, confidence, correction, spoken
from intervene.core.detect.subjects import Unit
from intervene.kb.index import norm_alias
from intervene.nlp.lexicon import content_words
from intervene.nlp.text import negation_scopes, split_by_scope
from intervene.vocab import Check, Evidence, Fact, Verdict


def which_product(book: FactBook, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
    """The rep names one tier where a fact shaped like the sentence names another
    ("each site gets the Premium features" vs "... the Standard package features")."""
    if not u.named:
        return []
    negated = negation_scopes(u.text)
    for fact, sim in cands:
        if sim < SIM_PRODUCT or fact.kind == "promotion" or \
                not may_apply(fact, u.product, (*u.sent_named, u.context)):
            continue
        named_in_fact = book.fact_named[fact.key]
        instead = set(u.named) - {fact.product}
        if not named_in_fact or not instead or named_in_fact & set(u.named):
            continue
        if _alternatives(book, u.lead_in + u.text + u.rest, fact.product, instead):
            continue                      # the fact's own product offered beside another: options
                                          # ("Essentials at 14 kW or the Whole Home 22"), not a swap
        if any(f.product in instead and s >= sim for f, s in cands):
            return []                     # the product the rep named has its own fact for this
        if _named_elsewhere(book, fact, instead, u.text):
            continue                      # "15% off video and on-site interpreting" on the Partner Plan:
                                          # another Partner fact names those tiers, with these words
        spots = [p for p, pid in book.index.mentioned_products(u.text) if pid in instead]
        if all(any(a <= p < b for a, b in negated) for p in spots):
            continue                      # "not the Premium features" agrees with the fact
        said = ", ".join(book.name(p) for p in sorted(instead))
        right = ", ".join(book.name(p) for p in sorted(named_in_fact))
        doubts = ["several-named"] if len(named_in_fact) > 1 or fact.product is None else []
        if sim < 0.58:
            doubts.append("shape")          # only a sentence shaped like the fact can swap its tier
        conf, why = confidence(book, BASE["product"], u, fact, sim, doubts)
        return [Verdict(False, u.text, fact, f"rep said {said}, KB says {right}",
                        correction=correction(book, fact), score=sim, product=fact.product,
                        evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.PRODUCT)]
    return []


def _alternatives(book: FactBook, text: str, own: Optional[str], others: set[str]) -> bool:
    """The sentence offers the fact's own product and another as alternatives: an "or"
    between their names ("Splash, or the Lagoon Plan, which ...")."""
    spots = book.index.mentioned_products(text)
    mine = [p for p, pid in spots if pid == own]
    theirs = [p for p, pid in spots if pid in others]
    return any(re.search(r"\bor\b", text[min(a, b):max(a, b)], re.I) for a in mine for b in theirs)


def _named_elsewhere(book: FactBook, fact: Fact, named: set[str], text: str) -> bool:
    """Whether another fact of the same product names the tiers the rep named
    and shares a feature word with what was said: the rep may be saying that
    fact, which retrieval did not find, not swapping this one's tier."""
    said = set(content_words(text)) - book.product_words - book.topic - GENERIC
    return any(f.key != fact.key and named <= book.fact_named[f.key] and said & book.fact_words[f.key]
               for f in book.owned.get(fact.product, ()))


def ownership(book: FactBook, u: Unit, cands: list[tuple[Fact, float]], support: dict[str, float]) -> list[Verdict]:
    """The rep gives product P a feature that only another product's facts
    have ("the Essential ... every panel gets its own microinverter", when
    microinverters are a Plus/Premium fact and the Essential has a string inverter)."""
    p = u.product
    if p is None or EXTRA.search(u.text):
        return []                         # "you can add a 5-pack" offers an extra, it doesn't include it
    c_neg, c_pos = (feature_words(t, book.product_words) for t in split_by_scope(u.text))
    own = [(f, s) for f, s in cands if f.product == p]
    for fact, sim in cands:
        if sim < SIM_OWNERSHIP or fact.product in (None, p) or fact.kind == "price":
            continue
        if fact.product == u.context or fact.product in u.sent_named:
            continue                      # the sentence is about that product after all
        if own and own[0][1] >= sim:
            return []                     # P's own facts explain the sentence better
        f_neg, f_pos = book.fact_scope[fact.key]
        feature = (f_pos & c_pos) - c_neg - _shared_words(book, p)
        if not feature:
            continue
        if supported(book, fact, feature, "includes", sim, u, support):
            return []
        other = book.name(fact.product)
        alt = _counterpart(book, fact, p)
        say = (correction(book, alt).rstrip(".") if alt else f"Quick clarification - that's not part of the {book.name(p)}")
        say += f"; {spoken(book, fact)}"
        conf, why = confidence(book, BASE["ownership"], u, fact, sim, ("ownership",))
        return [Verdict(False, u.text, alt or fact, f"rep gave the {book.name(p)} {', '.join(sorted(feature))}, "
                        f"which the KB has on the {other}: {fact.text}", correction=say, score=sim,
                        product=p, evidence=tuple(Evidence(f.kb_id, f.text) for f in (alt, fact) if f),
                        confidence=conf, doubts=why, check=Check.OWNERSHIP)]
    return []


def _counterpart(book: FactBook, fact: Fact, product: str) -> Optional[Fact]:
    """P's fact about the same thing as another product's fact (its string
    inverter for their microinverters), if it has one."""
    rows = book.rows_of.get(product, [])
    if not rows:
        return None
    sims = book.index.fact_vecs[rows] @ book.index.fact_vecs[book.row[fact.key]]
    best = int(sims.argmax())
    return book.index.facts[rows[best]] if sims[best] >= 0.5 else None


def _shared_words(book: FactBook, product: str) -> set[str]:
    return book.shared.get(product, set())


def put_inside(book: FactBook, u: Unit) -> list[Verdict]:
    """"Carpet Care is included with Premier", "Premier includes our Full Pack":
    the rep puts a product the KB sells at its own price inside another one,
    and no fact puts the two together. Word overlap says which products were
    named, not that the KB rules it out: a card at most."""
    m = PUT_IN.search(u.text)
    if not m or any(a <= m.start() < b for a, b in negation_scopes(u.text)):
        return []
    subjects = {a for a, _ in book.reader.subject_mentions(u.text)}     # not "everything in Silver"
    spans = [(a, b, pid) for a, b, pid in book.index.products.spans(u.text)
             if a in subjects and not re.search(r"\beverything\s+(?:\w+\s+)?$", u.text[:a])]
    before = [pid for a, _, pid in spans if a < m.start()]
    after = [pid for a, _, pid in spans if a >= m.end() - 1]
    if m.group("has"):                    # "Premier includes Carpet Care"
        pairs = [(a, b) for b in before[-1:] for a in after[:1]]
    else:                                 # "Carpet Care is included with Premier" (not "on the
        # straight model it's an add-on, | it's only included on the curved one": a new clause
        # has its own subject)
        own = [pid for a, b, pid in spans if b <= m.start() and not NEW_CLAUSE.search(u.text[b:m.start()])]
        pairs = [(a, b) for a in own[-1:] for b in after[:1]]
    said_as = {pid: norm_alias(u.text[a:b]) for a, b, pid in spans}
    for addon, tier in pairs:
        price = book.price.get(addon)
        if addon == tier or price is None or not any(q.kind == "money" and q.value > 0
                                                     for q in book.fact_q[price.key]):
            continue
        together = [book.by_key[k] for k in sorted(book.about.get(addon, set()) & book.about.get(tier, set()),
                                                   key=book.row.__getitem__)]
        apart = [f for f in together if _kept_apart(book, f.text, said_as[addon])]
        if len(apart) < len(together):
            continue                      # some fact puts them together: how is its own business
        price = apart[0] if apart else price   # ("not included in Plus or Premier" says it best)
        # "comes with a year of Care Plus" where the tier includes Care Basic: that fact says it best
        price = next((f for f in (book.index.facts[r] for r in book.rows_of.get(tier, []))
                      if addon not in book.fact_named[f.key]
                      and any(book.words_of.get(addon, set()) & book.words_of.get(o, set())
                              for o in book.fact_named[f.key] - {tier})), price)
        conf, why = confidence(book, BASE["product"], u, price, 0.55, ("add-on",))
        return [Verdict(False, u.text, price, f"rep put the {book.name(addon)} inside the {book.name(tier)}; "
                        f"KB prices it on its own: {price.text}", correction=correction(book, price),
                        score=0.55, product=tier, evidence=(Evidence(price.kb_id, price.text),),
                        confidence=conf, doubts=why, check=Check.PRODUCT)]
    return []


def _kept_apart(book: FactBook, text: str, name: str) -> bool:
    """The fact says the product, by the name the rep used, is not part of the
    other ("Full Pack is not included", "sold separately on every plan")."""
    spots = [(a, b) for a, b, _ in book.index.products.spans(text) if norm_alias(text[a:b]) == name]
    if not spots:                          # the fact is the add-on's own ("Sold separately on every plan")
        return bool(SEPARATE.search(text))
    return any(SEPARATE.search(text[b:b + 40]) for a, b in spots)
