"""Which of the KB's values a number the rep said is bound to: the value the
counts said select ("$349 up to two bedrooms, $499 for three"), whether the
words around the number name the fact's slot, and whether the value is
another product's or another fact's. The answers are doubts and rebindings
for the quantity check; the comparisons themselves are numbers.py's."""
from __future__ import annotations

import re
from typing import Optional, Sequence

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import GENERIC, SMALL
from intervene.core.detect.numbers import UNIT_WORDS, comparable_pair, consistent, heads, per_things, stem
from intervene.nlp.lexicon import Quantity, comparable, content_words, same_amount, same_quantity
from intervene.vocab import Fact


def same_value(said: Quantity, fq: Quantity) -> bool:
    """A number said is the fact's: the same quantity, or a bare number of the same value."""
    return same_quantity(said, fq) if said.kind == fq.kind else said.kind == "bare" and same_amount(said.value, fq.value)


def configured(book: FactBook, fact: Fact, fq: Quantity, said: Sequence[Quantity]) -> Optional[Quantity]:
    """The fact's other price for the counts the rep said, when the rep's price is
    the fact's price for other counts ("$349 up to two bedrooms, $499 for three or
    more": "$499 for a 2-bedroom" is wrong); `fq` itself when the counts fit it,
    None when they do not decide."""
    counts = [c for c in said if c.kind == "count"]
    fqs = book.fact_q[fact.key]
    money = [m for m in fqs if m.kind == "money" and m.value > 0]
    if not counts or len(money) < 2:
        return None
    groups: dict[int, list[Quantity]] = {id(m): [] for m in money}
    # "$X at N and $Y at M": a count goes with the price before it; "for N it's $X, for M $Y":
    # with the price after it
    after = next(q for q in fqs if q.kind in ("money", "count")).kind == "money"
    for c in (c for c in fqs if c.kind == "count"):
        side = [m for m in money if (m.end <= c.start if after else m.start >= c.end)]
        near = (side[-1] if after else side[0]) if side else (money[0] if after else money[-1])
        groups[id(near)].append(c)
    units = {c.unit for g in groups.values() for c in g}
    told = [c for c in counts if c.unit in units]
    if not told or not groups.get(id(fq)):     # (a count, or a free line, binds nothing here)
        return None

    def fits(group: list[Quantity]) -> bool:
        return any(_count_fits(c, g) for c in told for g in group)
    if fits(groups[id(fq)]):
        return fq
    return next((m for m in money if m is not fq and groups[id(m)] and fits(groups[id(m)])
                 and comparable(m, fq)), None)


def _count_fits(said: Quantity, kb: Quantity) -> bool:
    """A count the rep said falls in the KB's ("2 bedrooms" in "up to two bedrooms")."""
    if said.unit != kb.unit:
        return False
    if kb.bound == "max":
        return said.value <= kb.value
    if kb.bound == "min":
        return said.value >= kb.value
    return said.value == kb.value


def same_slot(book: FactBook, text: str, q: Quantity, fq: Quantity) -> bool:
    """Whether the words around the rep's number name what the fact's number
    is about: its noun (either of the two words after it, or the one before,
    as word stems: "use" is "used"), or the same "per" thing ("per restroom").
    Product names say whose number it is, not what it counts."""
    if per_things(q) & per_things(fq):
        return True
    shared = set(q.context) & set(fq.context)
    if len(shared) >= 2 and shared - UNIT_WORDS - book.name_words:
        return True           # the same noun phrase before both ("each extra instructor hour is")
    near = {stem(w) for w in fq.context} | {stem(fq.unit)}
    return any(stem(w) in near for w in heads(text, q) if w not in book.name_words)


def says(fact: Fact, value: float, head: str) -> bool:
    """The fact says the small number with its noun ("two 50-minute lessons"),
    where the quantity parser could not pair them."""
    if value != int(value) or not 0 < value <= 20:
        return False
    v = int(value)
    forms = f"{v}|{SMALL[v]}"
    return bool(re.search(rf"\b(?:{forms})\b(?:[\s-]+[\w'-]+){{0,3}}?[\s-]+{re.escape(head)}",
                          fact.text.lower()))


def other_product(book: FactBook, q: Quantity, said_as: Sequence[Quantity], qs: Sequence[Quantity],
                  head: str, product: Optional[str]) -> bool:
    """The value is another product's ("three lessons a week" is Intensive's while
    Essentials was the last one named): the rep may have moved on to it."""
    if not head:
        return False
    for f in book.with_word.get(head, ()):
        if f.product in (None, product):
            continue
        if any(says(f, r.value, head) for r in said_as):
            return True
        for fq in book.fact_q[f.key]:
            if (head in fq.context or head == fq.unit) and any(
                    comparable_pair(r, fq, f) and consistent(r, fq, qs) for r in said_as):
                return True
    return False


def names_apart(book: FactBook, said: set[str], fact: Fact, other: Fact) -> bool:
    """The rep says something of the fact's own that the other fact does not
    say ("members get 15% off": the member discount, not the early-booking one)."""
    own = book.fact_words[fact.key] - book.fact_words[other.key] - GENERIC - book.topic
    return bool({w for w in own & said if not w[:1].isdigit()})


def hinted(book: FactBook, product: Optional[str], before: str, named: Optional[str]) -> bool:
    """A word of the product's name, said before the number, that the plan being
    discussed does not share ("on basic" for the Care Basic plan while Care Plus
    is named): the rep may be talking about that plan by a short name."""
    if not product or product == named:
        return False
    words = set(content_words(before))
    return bool((book.words_of.get(product, set()) - book.words_of.get(named or "", set())) & words)
