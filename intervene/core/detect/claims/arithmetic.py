"""Amounts the KB's own arithmetic gives. A rep who applies the KB's discount
("the second entity would be $466.65": 15% off $549), multiplies its unit
price by the count the lead gave ("three guests on a Saturday would be
$330") or adds two of its prices ("the Cove and its foundation come to
$898") says something the KB supports in other numbers. Proving such a
claim wrong would take the rep's arithmetic, which the checker does not
have: an amount one KB operation away from the KB's own is no
contradiction.

Only exact results count (to the cent), and only with a discount the rep
alluded to: a rep's rounded result is said with "about", which is never
checked, and anything looser lets a real slip (a price $20 off) pass as
some derived amount. Spans worked out from two of a fact's numbers ("a
90-night return window" from a 120-night trial with returns after night 30)
were tried and left out: small numbers meet by chance too often ("5 days
past due" is 15 - 10 in a fact about a $10 fee due after 15 days).
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import HALF
from intervene.nlp.lexicon import content_words, same_amount
from intervene.vocab import Fact

# words that allude to some offer without naming it ("bundled with a mattress", "with the savings")
_ANY_OFFER = frozenset(content_words("discount discounted discounts deal deals offer offers promo promotion special "
                                     "saving savings save bundle bundled bundling coupon rebate sale"))


# words of adding an amount on, or of what is left once one is paid
_SUM = re.compile(r"\b(?:plus|together|total|all in|add(?:ed|ing|s)?|on top)\b", re.I)
_REST = re.compile(r"\b(?:after|balance|remaining|remainder|rest|less|minus|leaves?)\b", re.I)


def alluded(book: FactBook, said_words: set[str], named: set[str]) -> list[Fact]:
    """The facts the rep's words point at: by one of the fact's own words, or
    (an offer) by any word for a deal ("with the savings") or by naming a
    product the offer is about ("add the Glide before September"). A number
    is no allusion: "20 a user" is not "20% off"."""
    any_offer = bool(_ANY_OFFER & said_words)
    keys = {k for w in said_words for k in book.by_own_word.get(w, ())}
    keys |= {f.key for f in book.offers if any_offer or book.fact_named.get(f.key, set()) & named}
    return [book.by_key[k] for k in keys]


def kb_discounts(book: FactBook, facts: Iterable[Fact], said_pcts: Iterable[float],
                 half: bool) -> tuple[set[float], set[float]]:
    """(price factors, amounts off) of the facts alluded to: "15% off" gives
    0.85, "we credit 25% of the fee" 0.75 and 0.25, "pay half" 0.5. A share
    the rep says ("half the normal rate", "that's the 20% off") is one more
    allusion, if the KB gives that share anywhere. A fact nobody alluded to
    excuses nothing, or every price a round amount off would pass as some
    discount applied."""
    factors: set[float] = set()
    minus: set[float] = set()
    for f in facts:
        for fq, off in zip(book.fact_q[f.key], book.fq_off[f.key]):
            if fq.kind == "percent" and 0 < fq.value < 100:
                factors |= {1 - fq.value / 100, fq.value / 100}
            elif off and fq.kind == "money" and fq.value > 0:
                minus.add(fq.value)
        if f.key in book.halves:
            factors.add(0.5)
    for p in said_pcts:
        if p in book.shares:
            factors |= {1 - p / 100, p / 100}
    if half and (50 in book.shares or book.halves):
        factors.add(0.5)
    return factors, minus


def money_worked_out(book: FactBook, said: Iterable[float], best: Fact, named: Iterable[str],
                     counts: Sequence[float], said_words: set[str], text: str,
                     said_pcts: Sequence[float]) -> bool:
    """Whether an amount said is worked out from the KB's amounts, exact to the
    cent. From those of the fact it is checked against and the prices of the
    products named or under discussion (`base`):
    - one of them times a count said ("$20 a user, so 80 for four");
    - two of the fact's own added or apart ("you save $250 on the kit");
    - a named product's price plus one of the fact's; two named prices apart
      ("Essentials and Growth are $250 apart");
    - any of these with the discount of a fact the rep alluded to, or less
      an amount it takes off;
    - with words of adding up ("plus the AI add-on") an alluded fact's amount
      added; with words of what is left ("after your deposit") taken off."""
    named = set(named)

    def money(f: Fact) -> set[float]:
        return {fq.value for fq in book.fact_q[f.key] if fq.kind == "money" and fq.value > 0}
    prices = {v for pid in named if pid in book.price for v in money(book.price[pid])}
    base = prices | money(best)       # (not every nearby fact's: "$20 a user, so 80 for four" is
                                      # another tier's price times four, for Growth at $25)
    if not base:
        return False
    facts = alluded(book, said_words, named)
    factors, minus = kb_discounts(book, facts, said_pcts, bool(HALF.search(text)))
    amounts = {fq.value for f in facts for fq, off in zip(book.fact_q[f.key], book.fq_off[f.key])
               if fq.kind == "money" and fq.value > 0 and not off}
    own = [fq.value for fq in book.fact_q[best.key] if fq.kind == "money" and fq.value > 0]
    whole = base | {a + b for a in prices for b in money(best) if a != b} | {b * c for b in base for c in counts} \
        | {abs(a - b) for a in prices for b in prices if a > b} \
        | {v for i, a in enumerate(own) for b in own[i + 1:] for v in (a + b, abs(a - b)) if v}
    if _SUM.search(text):
        whole |= {b + m for b in base for m in amounts if m != b}
    found = whole | {w * f for w in whole for f in factors} | {b - m for b in base for m in minus if b > m}
    if _REST.search(text):
        found |= {b - m for b in base for m in amounts if b > m}
    return any(same_amount(s, v) for s in said for v in found - base)
