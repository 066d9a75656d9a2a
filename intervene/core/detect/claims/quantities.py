"""The quantity check: every number the rep says (prices, durations, counts,
percentages, dates) against the KB value it is bound to. The one check that
can prove a contradiction on its own, so most of its work is ruling out what
is not a claim (the customer's own numbers, the rep's arithmetic, repairs)
and finding the doubts that keep a conflict from being spoken."""
from __future__ import annotations

import math
import re
from dataclasses import replace
from itertools import groupby
from typing import Optional, Sequence

from intervene.core.detect.claims.arithmetic import money_worked_out
from intervene.core.detect.claims.binding import (
    configured,
    hinted,
    names_apart,
    other_product,
    same_slot,
    same_value,
    says,
)
from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import (
    APART,
    APPROX,
    BALANCE,
    DENIED_VALUE,
    DERIVED,
    EXEMPTS,
    GENERIC,
    MAGNITUDE,
    NAMED_AFTER,
    OF_PEOPLE,
    PEOPLE,
    PERSON_AGE,
    PERSON_BEFORE,
    QUANTITY_MARGIN,
    RELATIVE,
    SAVE,
    SIM_BARE,
    SIM_QUANTITY,
    SURCHARGE,
    THEY_SELL,
    TIMES_NUMBER,
    TOPIC_MARGIN,
    WORKED_OUT,
    YOURS,
    YOURS_AFTER,
)
from intervene.core.detect.claims.policy import made_universal
from intervene.core.detect.claims.retrieve import may_apply
from intervene.core.detect.claims.verdict import BASE, confidence, correction
from intervene.core.detect.numbers import (
    BOUND_WORDS,
    EVERY,
    OFF,
    UNIT_WORDS,
    bound_value,
    cents_pairs,
    comparable_pair,
    computed,
    consistent,
    days,
    echoes,
    head_word,
    heads,
    measured,
    num_text,
    per_things,
    period,
    q_text,
    readings,
    retracted,
    same_rate_basis,
    spread,
    value_parts,
)
from intervene.core.detect.subjects import CONDITIONAL, WE, Unit
from intervene.nlp.lexicon import (
    Quantity,
    comparable,
    content_words,
    extract_quantities,
    normalize_numbers,
    rate_after,
    same_amount,
)
from intervene.vocab import Check, Evidence, Fact, Verdict


def _naming(book: FactBook, allowed: Sequence[tuple[Fact, float]], nouns: set[str]) -> set[str]:
    """The facts that name one of `nouns` which no closer fact (higher similarity) names:
    one pass from the closest down, with a running union of the closer facts' words."""
    out: set[str] = set()
    closer: set[str] = set()
    if not nouns:
        return out
    for _, tied in groupby(sorted(allowed, key=lambda p: -p[1]), key=lambda p: p[1]):
        group = [f for f, _ in tied]
        out |= {f.key for f in group if nouns & book.fact_words[f.key] - closer}
        for f in group:
            closer |= book.fact_words[f.key]
    return out


def quantities(book: FactBook, u: Unit, cands: list[tuple[Fact, float]], echoed: Sequence[Quantity],
               own: dict[str, float], measures: Sequence[Quantity] = ()) -> list[Verdict]:
    out: list[Verdict] = []
    mentions = book.reader.subject_mentions(u.text)
    qs = extract_quantities(book.index.products.mask(u.text))
    # "one sixty-nine for the visit", left as "1 69": the 1 is the first digit of the
    # 69's readings (169, 1.69), not a number of its own
    leads = {id(a) for a, b in zip(qs, qs[1:]) if a.kind in ("bare", "money") and a.value == int(a.value)
             and 1 <= a.value <= 9 and u.text[a.end:b.start] == " " and 10 <= b.value < 100
             and b.value == int(b.value)}
    qs = [q for q in qs if id(q) not in leads]
    qs, paired = cents_pairs(u.text, qs)
    # "a hundred and fifty-nine a night" where the KB prices by the night: a price said without
    # its currency (a number "a night" is a count where nothing is priced so)
    qs = [replace(q, kind="money", per=r) if q.kind == "bare" and (r := rate_after(u.text, q.end)) in book.money_per
          else q for q in qs]
    numbers = [q for q in qs if q.kind != "date"]
    # the clause with the rest of its sentence (where a repair may go on), and the whole
    # sentence's numbers (where the fact's own number may be said): read once per unit
    with_rest = book.index.products.mask(f"{u.text}{u.rest}") if u.rest else ""
    rest_qs = [o for o in extract_quantities(with_rest) if o.start >= len(u.text)] if with_rest else []
    sentence = u.lead_in + u.text + u.rest
    read: list[list[Quantity]] = []
    parts: list[list[set[str]]] = []

    def beside(q: Quantity) -> list[Quantity]:
        """The sentence's other numbers (the sentence is read on first need, once per unit)."""
        if not read:
            read.append(extract_quantities(book.index.products.mask(sentence)))
        at = len(u.lead_in) + q.start
        return [o for o in read[0] if not at <= o.start < at + q.end - q.start]

    def said_with(q: Quantity) -> set[str]:
        """The words the rep says this number with (see value_parts; read once per unit)."""
        beside(q)
        if not parts:
            parts.append(value_parts(sentence, read[0]))
        at = len(u.lead_in) + q.start
        return next((p for o, p in zip(read[0], parts[0]) if at <= o.start < at + q.end - q.start), set())

    def said_of_other(o: Quantity, fact: Fact, fq: Quantity) -> bool:
        """A number said beside, with the fact's value `fq`, that its own words bind to
        another of the fact's values (read after said_with, which reads the parts)."""
        if not parts:
            return False
        fqs = book.fact_q[fact.key]
        rivals = [i for i, x in enumerate(fqs) if comparable_pair(o, x, fact)]
        words = next((w for x, w in zip(read[0], parts[0]) if x is o), set())
        b = bound_value(words, book.fq_parts[fact.key], rivals, book.common)
        return b is not None and fqs[b] is not fq

    prev_end = 0
    for qi, q in enumerate(qs):
        # "workmanship is 25 years on Essential and 10 on Premier": a product named right after
        # a number, where none is named since the last one, is that number's (and not the next's)
        named_after = False
        if not any(prev_end <= p <= q.start for p, _ in mentions):
            moved = [(-1, pid) if q.end <= p <= q.end + 30 and NAMED_AFTER.fullmatch(u.text[q.end:p]) else (p, pid)
                     for p, pid in mentions]
            named_after, mentions = moved != mentions, moved
        before = [pid for p, pid in mentions if p <= q.start]
        # "Bronze, Silver and Gold are 19, 29 and 49": several products named since the
        # last number and none right before this one - any of them may own it
        since = list(dict.fromkeys(pid for p, pid in mentions if prev_end <= p <= q.start))
        prev_end = q.end
        if book.reader.whose(u.lead_in + u.text, len(u.lead_in) + q.start, u.rival) == "them":
            continue          # "Pawfect is 54.99 ... but there's a 99 dollar sign-up fee": theirs
        if retracted(u.text, q, qs[qi + 1:]) or (with_rest and retracted(with_rest, q, rest_qs)):
            continue          # "2 exams a year, sorry, 3 exams a year" (the repair may be the next clause)
        if computed(q, qs):
            continue          # "4 meals at 4 servings is 16 servings": the rep's arithmetic
        if q.kind != "money" and RELATIVE.match(u.text, q.end):
            continue          # "the Summit goes 5 years beyond that": a difference, not the amount
        if q.kind == "money" and (apart := APART.match(u.text, q.end)) and any(
                apart.group(1).lower() in words for words in book.words_of.values()):
            continue          # "weekday comes in 80 dollars a month under Full": a difference between two tiers
        if YOURS.search(u.text[:q.start]) or YOURS_AFTER.match(u.text, q.end) or BALANCE.match(u.text, q.end):
            continue          # "that's Essential for your 23 squares": the customer's own number
        if q.unit == "year" and not q.bound and PERSON_AGE.match(u.text, q.end) and PERSON_BEFORE.search(u.text[:q.start]):
            continue          # "a 10 year old puzzle fan": the customer's child, not the KB's age limits
        prod = before[-1] if before else u.product
        owners = since if len(since) > 1 else [prod]
        allowed = [(f, s) for f, s in cands
                   if any(may_apply(f, o, () if before else u.named) for o in owners)]
        head = head_word(u.text, q)
        words = set(content_words(u.text))
        have = {f.key for f, _ in allowed}
        for f in book.by_slot.get(head, []) if head and len(book.by_slot.get(head, [])) <= 12 else []:
            if any(may_apply(f, o, () if before else u.named) for o in owners) \
                    and len(words & book.fact_words[f.key]) >= 2:
                # found by the number's noun, at the minimum similarity (also when retrieval
                # found it just below it)
                allowed = [(g, max(s, SIM_QUANTITY) if g.key == f.key else s) for g, s in allowed] \
                    if f.key in have else allowed + [(f, SIM_QUANTITY)]
                have.add(f.key)
        price = book.price.get(prod or "")
        surcharge = q.kind == "money" and bool(SURCHARGE.match(u.text, q.end))
        if surcharge:
            # "on Total Protect that's 6.99 a month extra": what something costs on top of
            # the plan, never the plan's own price
            allowed = [(f, s) for f, s in allowed if f.kind != "price" or f.product != prod]
        elif price and q.kind == "money" and any(fq.kind == "money" and (
                period(q) and period(q) == period(fq) or q.per and q.per == fq.per) for fq in book.fact_q[price.key]):
            # "it's 49 a month" is about the price of the plan under discussion, however short
            # (and "it's 139 a quarter" about its quarterly price, "that's 159 a night" about
            # its nightly one)
            allowed = [(price, max(SIM_QUANTITY, dict((f.key, s) for f, s in allowed).get(price.key, 0.0)))] + \
                      [(f, s) for f, s in allowed if f.key != price.key]
        if len(owners) > 1:
            allowed += [(book.price[o], SIM_QUANTITY) for o in owners if o in book.price
                        and all(f.key != book.price[o].key for f, _ in allowed)]
        # a clearly closer fact with no such number is what the sentence is about
        # ("a two-year contract" is about the contract policy, not the support years)
        # (for a fact the clause finds by its own words, judged by the clause's own words: "two
        # movers are 139 an hour, | and there's only a 2-hour minimum" - the clause with the
        # minimum is not about the movers' rate)
        unrelated = [(f, s) for f, s in allowed if not any(comparable_pair(q, fq, f) for fq in book.fact_q[f.key])]
        top = max((s for f, s in unrelated), default=0.0)
        top_own = max((min(s, own.get(f.key, 0.0)) for f, s in unrelated), default=0.0)
        # (but a fact that names the number's own noun, which no closer fact names, is about the
        # number: "the Summit has a 5-night minimum in peak season" is the minimum-stay fact's, not
        # the peak-season price's)
        nouns = {w for w in set(heads(u.text, q)) | set(content_words(u.text[q.start:q.end]))
                 if not w[:1].isdigit()} - {q.unit} - UNIT_WORDS
        named_noun = _naming(book, allowed, nouns)
        interval = bool(EVERY.search(u.text[:q.start]))
        discount = bool(OFF.match(u.text, q.end) or SAVE.search(u.text[:q.start]))
        pct_off = q.kind == "percent" and bool(OFF.match(u.text, q.end))     # "15 percent off", said as such
        pairs = []
        for fact, sim in allowed:
            if sim < max(SIM_QUANTITY, 0.0 if fact.key in named_noun else
                         (top_own if fact.key in own else top) - TOPIC_MARGIN):
                continue
            for fq, owner, every, off in zip(book.fact_q[fact.key], book.fq_owner[fact.key],
                                             book.fq_every[fact.key], book.fq_off[fact.key]):
                if owner and prod and before and prod not in owner:
                    continue      # that number is another product's, named beside it in the fact
                if every != interval:
                    continue      # "check-ins every 6 to 8 weeks" is not a treatment time
                if fq.kind == "money" and off != discount:
                    continue      # "$750 off" is not the price "$11,900"
                if fq.kind == "percent" and pct_off and not off:
                    continue      # "15 percent off" is not the 15% weekend surcharge
                if comparable_pair(q, fq, fact) and same_rate_basis(q, fq, qs):
                    ctx = set(q.context) & set(fq.context)
                    # "a 500 dollar deductible": the noun the number belongs to decides the slot
                    # (a limit's word binds to a limit: "jobs under $200" is about "jobs under $250",
                    # not the "$40 trip charge" the fact says after it)
                    slot = (0.2 if head and (q.bound == fq.bound if head in BOUND_WORDS else head in fq.context)
                            else 0.0) + 0.15 * len(ctx) / max(1, len(fq.context)) \
                        + (0.05 if period(q) and period(q) == period(fq) else 0.0)   # "a quarter": the quarterly price
                    pairs.append((sim + slot, fact, sim, fq, slot, owner))
        # "20 percent off aligner treatment" against "15% off aligner treatment and 20% off
        # whitening": the item named binds the value, the whitening's 20% excuses nothing
        unbound: set[int] = set()
        item_said: Optional[set[str]] = None
        for key in {p[1].key for p in pairs}:
            fqs = book.fact_q[key]
            rivals = [i for i, fq in enumerate(fqs) if any(p[3] is fq for p in pairs)]
            if len(rivals) < 2 or (not q.bound and all(fqs[i].bound for i in rivals)):
                continue      # ("for a 4-bedroom home" against "up to two bedrooms ... three or more":
                              # thresholds, each a line the customer's count may fall in)
            item_said = said_with(q) if item_said is None else item_said
            if (b := bound_value(item_said, book.fq_parts[key], rivals, book.common)) is not None:
                unbound |= {id(fqs[i]) for i in rivals if i != b}
        pairs = [p for p in pairs if id(p[3]) not in unbound]
        # (read with the clause's lead-in: "36, | 99 a month" is one price split at its comma)
        bare_price = q.kind == "money" and not period(q) and not discount
        if not pairs and not bare_price:
            continue
        n = len(u.lead_in)
        said_as = [replace(r, start=r.start - n, end=r.end - n) for r in
                   readings(replace(q, start=q.start + n, end=q.end + n), u.lead_in + u.text + u.rest)]
        unsaid_period = False
        if bare_price and all(_apart(said_as, p[3]) >= MAGNITUDE for p in pairs) \
                and len(extract_quantities(sentence)) == 1:
            # "Monthly Unlimited is $49.99" against "$44.99 per month, or $449 per year": a price
            # said without its period is compared with no periodic price, only with the one-off
            # $449 ten times its size, if any; the periodic price near it, of a fact about as
            # close, is what it is about (a card at most: which price was meant is read, not heard;
            # and only a price said alone: "with fifty percent off, it's $48" is worked out)
            near_top = max((s2 for _, s2 in allowed), default=0.0)
            periodic = [(s2, f2, s2, fq2, 0.0, owner) for f2, s2 in allowed if s2 >= max(SIM_QUANTITY, near_top - TOPIC_MARGIN)
                        for fq2, owner, off2 in zip(book.fact_q[f2.key], book.fq_owner[f2.key], book.fq_off[f2.key])
                        if fq2.kind == "money" and period(fq2) and not off2 and not per_things(fq2)
                        and not fq2.bound and _apart(said_as, fq2) < MAGNITUDE
                        and not (owner and prod and before and prod not in owner)]
            if any(same_amount(r.value, p[3].value) for r in said_as for p in periodic):
                continue      # the monthly price said without "a month"
            if periodic:
                pairs, unsaid_period = [min(periodic, key=lambda p: (_apart(said_as, p[3]), -p[2]))], True
        if not pairs:
            continue
        # the slot words pick among facts about the same thing, never a fact clearly further
        # from the sentence ("the minimum rental is 2 months": the rental's 3-month minimum
        # at 0.73, not the ramp prepay's "6 months or more of ramp rental" at 0.50)
        # (a value any of them states is still no error: "$4 per guest" for the dessert add-on)
        closest = max(p[2] for p in pairs)
        # (and of one fact's values, one the rep said beside this number is not what this one is:
        # "49.99 a month for the first term, then it renews at 69.99" is about the renewal price)
        said_beside = beside(q)       # (also what the fact's own number is checked against below)
        # (unless its number is said in that fact's own words and the closer facts' numbers in
        # none of them: "cancel at least 48 hours before the start time" is about the deposit's
        # "cancelled at least 72 hours before the start time", not the 24 hours' notice of a
        # booking that retrieval put first)
        shared = {id(p[3]): len(set(q.context) & set(p[3].context)) for p in pairs}
        near_words = max((shared[id(p[3])] for p in pairs if p[2] >= closest - TOPIC_MARGIN), default=0)
        pairs.sort(key=lambda p: (p[2] < closest - TOPIC_MARGIN and not (shared[id(p[3])] >= 3 and near_words == 0),
                                  -p[0], any(same_value(o, p[3]) for o in said_beside)))
        # (an amount said is never the fact's "no fee" for others: "the diagnostic fee is $75"
        # against "$95 for non-members; members pay no diagnostic fee" is about the $95)
        best = next((p for p in pairs if p[3].value or not q.value), pairs[0])
        # every plausible reading of what was said must conflict ("three forty-nine" may be
        # $349 or $3.49) with the best fact, with any other value the same fact states
        # ("$349 up to two bedrooms, $499 for three"), and with equally plausible facts
        # (once the rep's words bind the value to one item of a fact, another fact's "from $68"
        # floor says nothing of that item's price)
        item_bound = any(id(fq) in unbound for fq in book.fact_q[best[1].key])

        def floor_only(f2: Fact, fq2: Quantity) -> bool:
            return item_bound and f2.key != best[1].key and fq2.bound == "min"  # noqa: B023 (called within this iteration)
        ok = any(consistent(r, p[3], qs) for r in said_as for p in pairs
                 if (p[0] >= best[0] - QUANTITY_MARGIN or p[4] >= best[4] or p[1].key == best[1].key)
                 and not floor_only(p[1], p[3]))
        if not ok and q.kind in ("count", "duration", "percent"):
            # "15 GB of hotspot a month" against "includes 15 GB of mobile hotspot a month", whose
            # month was not read with its number (it is not comparable, so another fact's "50 GB
            # each month" was the best): the same amount of the same unit, stated by a fact
            # about as close, with a period on only one side, is that fact
            ok = any(fq.kind == r.kind and fq.unit == r.unit and bool(period(fq)) != bool(period(r))
                     and same_amount(r.value, fq.value)
                     for r in said_as for f, sim in allowed if sim >= closest - TOPIC_MARGIN
                     for fq in book.fact_q[f.key])
        if not ok and q.kind == "money":
            # "$15 a user on annual" against "$15 per user per month billed annually, or $19 per
            # user billed monthly": the fact's own amount said without all of its basis is that
            # amount, not proof against the fact's other one
            ok = any(fq.kind == "money" and r.kind == "money" and not period(r) and period(fq)
                     and per_things(r) <= per_things(fq) and same_amount(r.value, fq.value)
                     for r in said_as for fq in book.fact_q[best[1].key])
        if not ok and q.kind == "money":
            # "the second entity would be $466.65": the KB's price with the KB's discount (or
            # times the count said, or two of its amounts added or apart) - see arithmetic
            ok = money_worked_out(book, [r.value for r in said_as], best[1],
                                  {*u.sent_named, *(p for p in (u.product, u.context) if p)},
                                  [c.value for c in qs if c is not q and c.kind in ("count", "bare") and c.value > 1],
                                  set(content_words(u.lead_in + " " + u.text)), f"{u.lead_in} {u.text} {u.rest}",
                                  [c.value for c in qs if c.kind == "percent"])
        if not ok and q.kind == "money":
            # "manual is $5 more per lesson, so $67 for a single lesson": the KB's $62 plus
            # the $5 said beside it - the rep's arithmetic on the fact, not a claim of its own
            at = len(u.lead_in) + q.start
            others = [o.value for o in beside(q) if o.end <= at and o.value
                      and o.kind in ("money", "percent", "bare", "count") and DERIVED.search(sentence, o.end, at)]
            base = [fq.value for p in pairs for fq in (p[3],) if fq.kind == "money"]
            ok = any(same_amount(r.value, v) for r in said_as for b in base for o in others
                     for v in (b + o, b - o, b * o, b * (1 - o / 100) if o < 100 else -1))
        if not ok:
            # "3 nights, that's 450 miles": the fact's amount per night times the nights said
            counts = [o for o in beside(q) if o.kind in ("count", "bare", "duration") and o.value > 1
                      and not same_value(o, q)]
            ok = any(per_things(p[3]) | {period(p[3])} - {""} and same_amount(r.value, p[3].value * o.value)
                     for r in said_as for p in pairs for o in counts if p[3].kind == q.kind)
        if not ok and prod and best[1].product is None and q.kind in ("duration", "count", "percent"):
            # "you can get a refund within 14 days" on a call about the Keyholder Pass, against the
            # company's cancellation policy (7 days): the pass's own fact ("refundable only within
            # 14 days of purchase") states it - a product's own rule, not proof against a general one
            ok = any(same_value(r, fq2) for f2, sim in allowed if f2.product == prod
                     and sim >= SIM_QUANTITY - TOPIC_MARGIN for fq2 in book.fact_q[f2.key] for r in said_as)
        if not ok and q.kind == "duration" and not q.bound and u.text[q.end:q.end + 4] == " of ":
            # "the 10 months of backlog" against "up to 12 months of backlog": an amount of
            # something within the limit, not the limit
            ok = any(p[3].bound == "max" and comparable(q, p[3]) and days(q) <= days(p[3]) for p in pairs)
        if not ok and head:
            # "one 50-minute one-on-one lesson per week": the fact says the number with its
            # noun even where the quantity parser could not pair them
            ok = any(says(best[1], r.value, head) for r in said_as)
        said = u.text[q.start:q.end]
        rebound = None
        if ok and q.kind in ("money", "bare"):
            # "10.99 a serving at 2 or 3 meals a week" where the KB gives $10.99 at 4 meals and
            # $11.99 at 2 or 3: the counts said bind the price to another line of the fact
            bound = [(p, configured(book, p[1], p[3], qs)) for p in pairs
                     if any(consistent(r, p[3], qs) for r in said_as)]
            if not any(b is p[3] for p, b in bound):
                match, rebound = next(((p, b) for p, b in bound if b is not None), (None, None))
                if match and rebound:
                    ok, best = False, (match[0], match[1], match[2], rebound, match[4], match[5])
        if ok and not item_bound and (w := made_universal(book, u, q, said_as, pairs, qs)) is not None:
            out.append(w)
            continue
        if ok:
            out.append(Verdict(True, u.text, best[1], f"{said} matches", score=best[2], product=prod))
            continue
        fact, fq = best[1], best[3]
        if fq.value == 0:
            continue          # "$0 upfront" is what polarity checks ("no upfront cost")
        own_price = book.price.get(prod) if prod in u.sent_named else None
        if q.kind == "money" and not discount and own_price and own_price.key != fact.key and any(
                fq2.kind == "money" and not off2 and not fq2.bound and consistent(r, fq2, qs) for r in said_as
                for fq2, off2 in zip(book.fact_q[own_price.key], book.fq_off[own_price.key])):
            continue          # "our Brew Office is $139 with 250 pods": the named plan's own price,
                              # whatever other fact of the plan retrieval found closer (not a
                              # "from" price: a floor says nothing of which line was priced)
        if q.kind == "money" and prod in u.named and _alias_shared(book, u, prod, said_as):
            continue          # "a single private is $120, and the 5-pack is $540": the privates named before
                              # it sell "a pack of 5" at $540 - the alias names that line too
        others_said = said_beside
        of_two = bool(before) and fact.product == prod and len({pid for _, pid in mentions}) > 1
        same = [o for o in others_said if same_value(o, fq)]
        if same and not of_two and not (item_bound and any(said_of_other(o, fact, fq) for o in same)):
            continue          # "30 days' notice once the 6 months are up": the fact's number is
                              # said beside this one, which is about something else (not where the
                              # rep's words give each number the other's item or product: "a Senior
                              # Stylist is $110, and a Master Stylist is $85" swaps the two)
        fqs, exempt = book.fact_q[fact.key], book.fq_exempt[fact.key]
        if exempt[next(i for i, x in enumerate(fqs) if x is fq)] and not EXEMPTS.search(sentence) and any(
                same_value(o, fq2) for o in others_said for fq2, ex in zip(fqs, exempt) if not ex):
            continue          # "on the 12-month agreement installation is $199" against "$199, free with
                              # any 36-month agreement": the fee on other terms, said right
        if q.value == 0 or APPROX.search(u.text[:q.start]) or DENIED_VALUE.search(u.text[:q.start]) \
                or TIMES_NUMBER.match(u.text, q.end) or (
                (echoes(q, echoed) or measured(q, measures)) and not q.bound) or spread(q, echoed, beside(q)):
            continue          # "zero" is polarity's job; "around 50", a figure taken back ("$120, not
                              # $100"), echoes and the customer's own measures aren't KB claims; nor
                              # is a factor ("25 times 1.95 is ...")
                              # or the lead's own amount spread over the months the rep says
        if q.kind == "bare" and not (fq.kind == "money" and (
                (fact.kind == "price" and len(numbers) == 1)
                or (fact.kind != "price" and fq.value >= 1000 and set(q.context) & set(fq.context))
                # ("each extra state return is a hundred and twenty-five": the only number, on the
                # noun the fact prices, in a sentence close to the fact's)
                or (fact.kind != "price" and len(numbers) == 1 and head and head in fq.context
                    and best[2] >= SIM_BARE))) \
                and not (fq.kind == "count" and not fq.per and set(q.context) & set(fq.context)):
            continue          # a bare number contradicts only a price said on its own, a large
                              # amount about the same thing ("covers the dwelling up to 500,000")
                              # or a count of the same thing
        say = correction(book, fact)
        # (a total only for a count of the very things the fact prices: "for 9 that's $175" from
        # "free from nine at night", or per user from "2,500 contacts", is arithmetic nobody asked for)
        count = next((c for c in qs if per_things(fq) and not per_things(q) and c is not q and c.value > 1
                      and (c.kind == "count" and (c.unit in per_things(fq) or {c.unit} | per_things(fq) <= PEOPLE)
                           or c.kind == "bare" and bool(OF_PEOPLE.match(u.text, c.end)))), None)
        if fq.kind != "money":
            count = None
        if count:
            say = say.rstrip(".") + f" - for {num_text(count.value)} that's {q_text(replace(fq, value=fq.value * count.value, per=period(fq)))}."
        doubts = []
        # a price said of a plan, or a limit said as a limit ("a 2-hour minimum" vs "a three-hour
        # minimum") are about the fact's number, whatever noun is near it
        # (and a discount said as one, "15% off", is about the fact's discount: which discount is
        # the retrieval's and value-elsewhere's question, not the noun's)
        price_claim = (fact.kind == "price" and (q.kind == "money" or len(numbers) == 1)) or (
            bool(q.bound) and q.bound == fq.bound) or pct_off
        fq_owner = best[5]
        if head and not same_slot(book, u.text, q, fq) and not (prod in fq_owner and before and not named_after) \
                and not price_claim and not item_bound:
            doubts.append("slot")          # the number is about something the fact's number is not
        elif not (head or set(q.context) & set(fq.context) or price_claim or item_bound
                  or (per_things(q) and per_things(q) == per_things(fq))):
            doubts.append("slot")          # (a rate on the fact's own basis, "$0.60 a square foot", is its slot)
        if len(owners) > 1 or rebound:
            doubts.append("enumeration")
        fact_counts = {(c.unit, c.value) for c in book.fact_q[fact.key] if c.kind == "count"}
        # (the counts as said, names included: an alias like "5-lesson pack" carries one)
        if not rebound and q.kind == "money" and fact_counts and any(c.kind == "count" and any(
                unit == c.unit and value != c.value for unit, value in fact_counts)
                for c in extract_quantities(u.text)):
            doubts.append("configuration")     # "a 5-lesson pack for $229" vs "$429 for 10 lessons"
        if q.kind == "bare" or id(q) in paired:
            doubts.append("bare")          # (or read as a price only from the sentence's other price)
        if q.kind == "money" and WORKED_OUT.search(u.lead_in + u.text):
            doubts.append("worked-out")    # "the two together come to $898", "with the discount it's
                                           # 63.20": the rep's sum or discount on the KB's amounts
        if q.kind == "date":
            doubts.append("date")          # which offer a deadline is for is read from words only
        if THEY_SELL.search(u.lead_in + u.text[:q.start]) and not WE.search(u.lead_in + u.text[:q.start]):
            doubts.append("they")          # "they're at 54.99": someone sells it - a competitor the
                                           # recogniser misheard ("SecureWay" as "Q-Way") is likelier than us
        if unsaid_period:
            doubts.append("no-period")     # the rep left the period out: which price it was is read
        if _apart(said_as, fq) >= MAGNITUDE:
            doubts.append("magnitude")     # "$9 an hour" for $219: a rep's slip is rarely so far
                                           # off - a misheard or misread number is
        if prod not in u.sent_named and fact.product and other_product(book, q, said_as, qs, head, fact.product):
            doubts.append("other-product")
        # (another product's fact counts when it is close: "on care plus it's 48 hours and on
        # basic 5 business days" names the second plan by a word the KB doesn't list)
        elsewhere = [(f2, s2) for f2, s2 in allowed if s2 >= 0.35] + \
                    [(f2, s2) for f2, s2 in cands if s2 >= 0.45 and f2.key not in have
                     and hinted(book, f2.product, u.lead_in + " " + u.text[:q.start], prod)]
        near = [] if rebound else [
            (f2, fq2) for f2, s2 in allowed if s2 >= best[2] - TOPIC_MARGIN and f2.key != fact.key
            for fq2, off2 in zip(book.fact_q[f2.key], book.fq_off[f2.key])
            if not (fq2.kind in ("money", "percent") and off2 != discount) and not floor_only(f2, fq2)
            and any(consistent(r, fq2, qs) and comparable_pair(r, fq2, f2) for r in said_as)]
        if any(not head or head in fq2.context or head == fq2.unit or head in book.fact_words[f2.key]
               for f2, fq2 in near):
            continue          # "members get 10% off" between "members get 10% off repairs" and "members get
                              # 15% off parts", equally close: a fact about as close says it - not proven
        said_words = set(content_words(sentence))
        # (a limit the value merely satisfies, on another noun - "a 3-year warranty" beside "a 12-month
        # minimum term" - is no slip between two of our terms: the KB does not state this value)
        near = [(f2, fq2) for f2, fq2 in near if not fq2.bound or any(same_value(r, fq2) for r in said_as)]
        if near:
            doubts.append("value-elsewhere")   # ... on another noun ("a 25-year workmanship warranty" beside
                                               # the 25-year performance warranty): a slip between two of
                                               # our terms is possible, proof of one is not
        elif discount and any(off2 and consistent(r, fq2, qs) and comparable_pair(r, fq2, f2)
                            and not names_apart(book, said_words, fact, f2)
                            for r in said_as for f2 in book.offers if f2.key != fact.key
                            for fq2, off2 in zip(book.fact_q[f2.key], book.fq_off[f2.key])):
            doubts.append("other-offer")       # "you get 15% off the nightly rate" checked against the 20%
                                               # snowbird offer while the early-bird offer is 15% off, and
                                               # nothing said is the snowbird's own: most likely that offer
        elif any(consistent(r, fq2, qs) for r in said_as for f2, s2 in elsewhere
               if not (rebound and f2.key == fact.key)
               for fq2, owner, off2 in zip(book.fact_q[f2.key], book.fq_owner[f2.key], book.fq_off[f2.key])
               if comparable_pair(r, fq2, f2) and id(fq2) not in unbound and not floor_only(f2, fq2)
               and not (owner and prod and before and prod not in owner)
               and not (rebound and fq2.bound == "min")       # ("from $10.99" says nothing of which line)
               and not (fq2.kind == "percent" and pct_off and not off2)
               and (not head or head in fq2.context or head == fq2.unit or head in book.fact_words[f2.key])):
            doubts.append("value-elsewhere")   # the KB states this very value for something near
        elif pct_off and any(k != fact.key and book.by_key[k].product in (None, fact.product)
                             and (said_with(q) | set(q.context)) & (book.fact_words[k] - GENERIC)
                             for r in said_as for k in book.pct_off_at.get(round(r.value, 2), ())):
            doubts.append("value-elsewhere")   # "15% off interpreting" checked against the Partner Plan's 20%
                                               # off extra words, where another of its facts (or a company
                                               # one) gives 15% off interpreting, and retrieval did not find
                                               # it ("10% off" said of Platinum's 15% is Full Clean's: a swap)
        elif q.kind == "money" and not rebound and not (fact.kind == "price" and fact.product in u.sent_named) and any(
                k != fact.key for r in said_as for k in book.money_at.get((round(r.value, 2), discount), ())):
            doubts.append("value-elsewhere")   # "a single day is $42" checked against the 10-day pack: the KB
                                               # has this very amount for something - a slip between two of
                                               # our prices is possible, proof of one is not (a discount
                                               # is only ever a slip for another discount: "$50 off" is
                                               # not the $50 late fee)
        elif q.kind in ("count", "duration") and fact.product and any(
                k != fact.key and book.by_key[k].product == fact.product
                and set(content_words(r.unit)) <= book.fact_words[k]
                for r in said_as for k in book.count_at.get((r.kind, round(r.value, 2)), ())):
            doubts.append("value-elsewhere")   # "the Family plan is $159 for 4 bags" checked against its
                                               # roll-over fact's 2 bags: another fact of the same plan
                                               # gives it 4 bags - a slip between them is possible
        elif surcharge and any(f2.key != fact.key and consistent(r, fq2, qs) and set(q.context) & set(fq2.context)
                               for f2, fq2 in book.extras for r in said_as):
            doubts.append("value-elsewhere")   # "the same $5 extra per lesson": a surcharge the KB has,
                                               # said of something else - which one is the rep's slip
        conf, why = confidence(book, BASE["quantity"], u, fact, best[2], doubts, q.kind == "date",
                               ignore=("if",) if consequence_after(u.lead_in, u.text + u.rest, q) else ())
        out.append(Verdict(False, u.text, fact, f"said {said!r}, KB says {q_text(fq)}",
                           correction=say, score=best[2], product=prod,
                           evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why,
                           check=Check.QUANTITY))
    return out


def _alias_shared(book: FactBook, u: Unit, prod: str, said_as: Sequence[Quantity]) -> bool:
    """The alias that named the unit's product ("5-pack") also describes a line of
    another product named in the sentence ("$540 for a pack of 5"), at the amount
    said: which product was meant is the sentence's, and it is not proven."""
    p = book.index.kb.product(prod)
    low = normalize_numbers(u.text).lower()
    said = [w for a in (p.aliases if p else ()) if normalize_numbers(a).lower() in low
            and len(w := set(content_words(normalize_numbers(a)))) >= 2]
    return any(w <= book.fact_words[f.key] and any(same_value(r, fq) for r in said_as for fq in book.fact_q[f.key])
               for f in book.index.facts if f.product in u.sent_named and f.product != prod for w in said)


_CONSEQUENCE = re.compile(r"[^.?!]*?(?:,\s*|\s)(?:so|and|then|which means)\s+(?:if|unless|as long as)\b", re.I)


def consequence_after(lead_in: str, text: str, q: Quantity) -> bool:
    """The sentence's "if" comes after the number, in a clause of its own that
    follows from it: "it's a three-year warranty, so if the streaks come back we
    re-treat it" states the three years outright (unlike "it's $40 if you prepay")."""
    return not CONDITIONAL.search(lead_in + text[:q.start]) and bool(_CONSEQUENCE.match(text, q.end))


def _apart(said_as: Sequence[Quantity], fq: Quantity) -> float:
    """How many times apart the closest reading of what was said is from a KB value."""
    if not fq.value:
        return 0.0
    return min((max(r.value / fq.value, fq.value / r.value) if r.value else math.inf for r in said_as),
               default=math.inf)
