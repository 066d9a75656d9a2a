"""Terms contradicted without a number, read from whole sentences: a notice
period, refund window or carry-over the rep denies ("cancel any time"), a
benefit the KB gives on a condition said to be for everyone, something the KB
charges for said to be free, and an offer given to plans it is not for.
Word frames point at a contradiction but cannot prove one: these checks give
cards, never a spoken correction on their own."""
from __future__ import annotations

import re
from typing import Optional, Sequence

from intervene.core.detect.claims.binding import same_value
from intervene.core.detect.claims.facts import FactBook, offer_words
from intervene.core.detect.claims.patterns import (
    ANY_PLAN,
    BENEFIT,
    BOTH_SIDES,
    CONDITION_WORDS,
    DEAL,
    DENIED,
    FREE_CLAIM,
    GENERIC,
    GIVEN_AFTER,
    GIVEN_BEFORE,
    NOT_FREE,
    NOTICE_GIVEN,
    OFFER_SAID,
    ONLY_IF,
    PCT_OR_OFF,
    PLAN_NOUN,
    POLICY_FRAMES,
    PRONOUN_START,
    SAME_BENEFIT,
    SIM_FREE,
    SIM_QUANTITY,
    SIM_SCOPE,
    STACK_SAID,
    UNIVERSAL,
    WINDOW_GIVEN,
)
from intervene.core.detect.claims.retrieve import may_apply
from intervene.core.detect.claims.verdict import BASE, confidence, correction
from intervene.core.detect.numbers import consistent, period, q_text
from intervene.core.detect.subjects import Unit
from intervene.nlp.lexicon import (
    Quantity,
    comparable,
    content_words,
    extract_quantities,
    normalize_numbers,
    same_quantity,
)
from intervene.nlp.text import negation_scopes
from intervene.vocab import Check, Evidence, Fact, Verdict

FRAME_MARGIN = 0.2       # a fact this much less similar than the closest is not what the sentence is about
SAID_OF_ANOTHER = 0.75   # a fact this similar to the sentence is what the rep said, whoever it is for


def policy_terms(book: FactBook, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
    """Policies contradicted without a number: "cancel any time, no notice needed"
    against a notice period or minimum term; "we refund the unused months" against
    a refund that is full within a window and nothing after."""
    top = max((s for f, s in cands if may_apply(f, u.product, u.named)), default=0.0)
    said_words = set(content_words(normalize_numbers(u.text))) - GENERIC
    for frame, claim, kb in POLICY_FRAMES:
        if frame == "notice" and NOTICE_GIVEN.search(u.text):
            continue          # "cancel any time with 30 days' notice" states the notice
        if frame == "refund" and WINDOW_GIVEN.search(u.text):
            continue          # "unused lessons refunded within 30 days" states the window
        said = claim.search(u.text)
        if not said or any(a <= said.start() < b for a, b in negation_scopes(u.text) if frame == "refund"):
            continue
        if frame == "carry-over" and (DENIED.search(u.text[:said.start()]) or said.group(0).lower().startswith(
                ("don", "doesn", "won"))):
            continue          # "they don't roll over" states the KB's own policy
        if any(claim.search(normalize_numbers(f.text)) and (
                _phrases(claim, u.text) <= _phrases(claim, f.text) if frame == "notice"
                else not kb.search(normalize_numbers(f.text)))
               for f, s in cands if s >= 0.3 and (may_apply(f, u.product, u.named) or s >= SAID_OF_ANOTHER)):
            continue          # the KB itself says the rep's side ("Bloom credits roll over for 3 months"
                              # beside "credits are forfeited when a membership is cancelled"): which
                              # one applies is a condition, not a contradiction; and "can be cancelled
                              # any time with 7 days' notice" says "cancel any time" in its own words
                              # (also of another plan, in nearly the rep's words: "no notice period,
                              # access until the end of the month paid" is the self-paced plan's
                              # policy, said while another was discussed - whose it is, is
                              # ownership's question)
        pool = [(f, s) for f, s in cands if s >= max(0.3, top - FRAME_MARGIN) and may_apply(f, u.product, u.named)
                and kb.search(normalize_numbers(f.text))]
        # (a fact far below the closest is not what the sentence is about: "cancel any time before
        # the install and get the deposit back" is the install's cancellation, not the notice a
        # maintenance plan needs; among close ones, the one that shares most of the rep's words -
        # "30 days' notice" - is the one the rep was giving)
        close = [(f, s) for f, s in pool if s >= pool[0][1] - 0.05]
        for fact, sim in sorted(close, key=lambda fs: -len(said_words & book.fact_words[fs[0].key]))[:1]:
            # the frame on both sides is the evidence: how similar the wording is, the
            # rep's own "if you cancel", or whom the window is for ("new customers
            # who cancel within 14 days") adds no doubt: after it there is no refund
            conf, why = confidence(book, BASE["policy"], u, fact, max(sim, 0.55),
                                   ignore=("if", "condition", "condition-number"))
            return [Verdict(False, u.text, fact, f"rep's {frame} terms differ from the KB: {fact.text}",
                            correction=correction(book, fact), score=sim, product=u.product,
                            evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.POLICY)]
    return []


def _phrases(frame: re.Pattern[str], text: str) -> set[str]:
    """The frame's phrases in a text, in one spelling ("cancelled at any time" = "cancel anytime")."""
    spelt = (re.sub(r"cancel(?:l?ed)?", "cancel", m.group(0).lower()) for m in frame.finditer(text))
    return {re.sub(r"\bat\b|\s+", "", p) for p in spelt}


def widened(book: FactBook, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
    """"We waive it for everyone" where the KB waives it only on a condition ("for
    students who took a trial lesson", "if you pay 12 months upfront"): the rep
    made a conditional benefit universal."""
    text = u.text + u.rest            # ("the visit's free, | whether you're new or returning")
    if not _said_to_everyone(text):
        return []
    said = set(content_words(text))
    # "new or returning", "members or not" name every side of a condition: no condition at all
    both = {w for p in BOTH_SIDES.finditer(text) for w in content_words(p.group(0))
            if len(set(content_words(p.group(0))) & CONDITION_WORDS) >= 2 or "non" in p.group(0).lower()}
    stated = said - both
    said_benefit = {SAME_BENEFIT.get(w[:4], w[:4]) for w in said if w[:4] in BENEFIT}
    if PCT_OR_OFF.search(text):
        said_benefit.add("disc")      # ("the 20% is for everyone": a discount, named by its size)
    for fact, sim in cands:
        if sim < 0.45 or not may_apply(fact, u.product, u.named):
            continue
        limited = ONLY_IF.search(fact.text) or book.fact_cond[fact.key]
        feature = (said & book.fact_words[fact.key]) - book.topic - GENERIC - book.product_words
        benefit = said_benefit & ({SAME_BENEFIT.get(w[:4], w[:4]) for w in book.fact_words[fact.key]}
                                  | ({"disc"} if any(book.fq_off[fact.key]) else set()))
        if not limited or not feature or not benefit or (book.fact_cond[fact.key] & stated):
            continue
        # (the rep's own "if" is another condition than the fact's - had it been the fact's, the
        # rep would have stated it: "if you book today, we waive it for everybody" still widens it)
        conf, why = confidence(book, BASE["widened"], u, fact, max(sim, 0.55), ("widened",),
                               ignore=("condition", "condition-number", "if"))
        return [Verdict(False, u.text, fact, f"rep made it universal ({', '.join(sorted(feature))}); "
                        f"KB: {fact.text}", correction=correction(book, fact), score=sim, product=u.product,
                        evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.WIDENED)]
    return []


def _said_to_everyone(text: str) -> Optional[re.Match[str]]:
    """Where the rep says something applies to everyone ("for everybody", "no matter
    who"), unless denied ("it's not free for everyone"); "no matter" itself is no denial."""
    m = UNIVERSAL.search(text)
    return m if m and not any(a < m.start() < b for a, b in negation_scopes(text)) else None


def made_universal(book: FactBook, u: Unit, q: Quantity, said_as: Sequence[Quantity],
                   pairs: list[tuple[float, Fact, float, Quantity, float, set[str]]],
                   qs: Sequence[Quantity]) -> Optional[Verdict]:
    """"Openings are $195, no matter who you are" against "$295 per visit; $195 for
    customers on a weekly plan": a value the KB gives beside another value of the
    same thing, said as if it applied to everyone. (Only where the rep's words
    named no item of the fact: "the Classic suite is $68 for everyone" is right.)"""
    text = u.text + u.rest
    m = _said_to_everyone(text)
    if not m or BOTH_SIDES.search(text[m.start():]):
        return None
    for _, fact, sim, fq, _, _ in pairs:
        if sim < SIM_QUANTITY or not any(consistent(r, fq, qs) for r in said_as):
            continue
        others = [o for o in book.fact_q[fact.key] if o is not fq and o.kind == fq.kind and o.unit == fq.unit
                  and period(o) == period(fq) and o.bound == fq.bound and not same_value(o, fq)]
        if not others:
            continue
        conf, why = confidence(book, BASE["widened"], u, fact, max(sim, 0.55), ("widened",),
                               ignore=("condition", "condition-number", "if"))
        return Verdict(False, u.text, fact, f"rep said {q_text(q)} applies to everyone; KB: {fact.text}",
                       correction=correction(book, fact), score=sim, product=u.product,
                       evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.WIDENED)
    return None


def made_free(book: FactBook, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
    """"Halal's no extra charge", "the site survey's free" where the KB prices it
    ("$6 extra per guest", "costs $250") and never makes it free: the rep gave
    away what the company charges for. A fact that is free on some condition is
    the widened check's; this one is only ever a card."""
    m = FREE_CLAIM.search(u.text)
    if not m or NOT_FREE.search(u.text[:m.start()]) or re.search(r"\d", u.text):
        return []             # (a sentence with figures in it is the quantity check's)
    # what is free: the words of the clause that says so, not the whole sentence's
    lo = max([0] + [k.end() for k in re.finditer(r"[,;:]|\band\b|\bbut\b|\bplus\b", u.text[:m.start()])])
    hi = min([len(u.text)] + [m.end() + k.start() for k in re.finditer(r"[,;:.]|\band\b|\bbut\b|\bso\b",
                                                                      u.text[m.end():])])
    said = set(content_words(u.text[lo:hi])) - GENERIC - book.topic - book.product_words
    free_elsewhere = [f for f, s2 in cands if s2 >= SIM_FREE - 0.1 and f.key in book.free_words
                      and said & book.fact_words[f.key] and _free_where(book, f, said)]
    if free_elsewhere:
        return []             # the KB makes it free or included somewhere: which case is a condition
    for fact, sim in cands:
        if sim < SIM_FREE or not may_apply(fact, u.product, u.named):
            continue
        if (fact.key in book.free_terms and _free_where(book, fact, said)) or book.fact_cond[fact.key] & said:
            continue          # free somewhere, on some condition, or the rep named the condition
        if not any(fq.kind == "money" and fq.value > 0 for fq in book.fact_q[fact.key]):
            continue
        feature = said & book.fact_words[fact.key]
        if not feature:
            continue
        conf, why = confidence(book, BASE["policy"], u, fact, max(sim, 0.55), ())
        return [Verdict(False, u.text, fact, f"rep made {' '.join(sorted(feature))} free; KB: {fact.text}",
                        correction=correction(book, fact), score=sim, product=u.product,
                        evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.POLICY)]
    return []


def _free_where(book: FactBook, fact: Fact, said: set[str]) -> bool:
    """Whether the fact makes free what the rep named - unless its clauses that
    name it say it is not included and none says it is free: "Notarization is
    not included and costs $15 per document; ... the signed PDF is free" makes
    the PDF free, not the notarization. (Otherwise the fact is read whole: a
    clause may name it by a pronoun, "they are included in Intensive".)"""
    marks = [denied for words, denials in book.free_clauses[fact.key] if said & words for denied in denials]
    return not (marks and all(marks))


def offer_scope(book: FactBook, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
    """"The $100 off works on any of the three plans", "a free lesson on any pack,
    even the Starter" where the offer names the plans it is for ("Plus or Premier
    members", "not on the ISA"): the rep widened who gets it. A card at most."""
    text = u.text + u.rest
    wide = ANY_PLAN.search(text)
    subjects = {a for a, _ in book.reader.subject_mentions(text)}
    denied = negation_scopes(text)
    given = [pid for a, b, pid in book.index.products.spans(text) if a in subjects
             and not any(x <= a < y for x, y in denied) and (
        GIVEN_AFTER.match(text, b) or GIVEN_BEFORE.search(text[max(0, a - 60):a]))]
    if not (wide or given) or any(a <= (wide.start() if wide else 0) < b for a, b in denied):
        return []
    amounts = [q for q in extract_quantities(book.index.products.mask(text)) if q.kind in ("money", "percent")]
    for fact, sim in cands:
        if not (fact.kind == "promotion" or DEAL.search(fact.text)):
            continue
        if sim < SIM_SCOPE:
            break
        named = book.fact_named[fact.key] - {None}
        if not named or ANY_PLAN.search(fact.text) or (amounts and not any(
                comparable(q, fq) and same_quantity(q, fq) for q in amounts for fq in book.fact_q[fact.key])):
            break             # the closest offer is for everyone, or is another offer ("15% off", not its 20%)
        scopes = negation_scopes(fact.text)
        barred = {pid for a, _, pid in book.index.products.spans(fact.text) if any(x <= a < y for x, y in scopes)}
        eligible = named - barred
        outside = [pid for pid in given if pid in barred or (pid not in eligible and fact.product != pid)]
        if not (wide and PLAN_NOUN.search(wide.group(0)) or outside):
            break         # ("15% off either one" after two storage options names no plan: only a
                          # plan said outside the offer's own widens it)
        conf, why = confidence(book, BASE["widened"], u, fact, max(sim, 0.55), ("scope",),
                               ignore=("condition", "condition-number", "if"))
        who = ", ".join(book.name(p) for p in outside) or "every plan"
        return [Verdict(False, u.text, fact, f"rep gave the offer to {who}; KB: {fact.text}",
                        correction=correction(book, fact), score=sim, product=u.product,
                        evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.WIDENED)]
    return []


def stacked(book: FactBook, u: Unit, cands: list[tuple[Fact, float]], prior: str = "") -> list[Verdict]:
    """"The trade-in credit stacks right on top of the holiday deal" where the KB
    says the deal "cannot be combined with a trade-in": the rep put together
    what the company keeps apart. Only where the rep names both sides - what
    the fact is about and what it is not combined with - and never by voice."""
    whole = u.lead_in + u.text + u.rest
    text = book.index.products.mask(whole)
    said = STACK_SAID.search(text)
    if not said or DENIED.search(text[:said.start()]) or any(
            a <= said.start() < b for a, b in negation_scopes(text)):
        return []             # ("they don't stack", "it can't be combined" state the KB's own rule)
    offer = bool(OFFER_SAID.search(text))
    if u.sentence == 0 and PRONOUN_START.match(u.text):
        whole = f"{prior} {whole}"      # "Yep, those stack" answers "can I do the 0% and the $1,000 off together?"
    words = offer_words(whole) - GENERIC - _STACK_WORDS
    # (the words decide, not retrieval: "those stack, so the thousand off and then zero percent"
    # is nothing like the fact's sentence, but names both of its sides)
    near = dict(cands)
    for fact, sim in [*cands, *((book.by_key[k], 0.3) for k in book.kept_apart if book.by_key[k] not in near)]:
        if sim < 0.3 or fact.key not in book.kept_apart or not may_apply(fact, u.product, u.named):
            continue
        if not offer and fact.kind != "promotion":
            continue          # "stack" with no offer said is about other things ("we stack the boxes"),
                              # unless the fact is a promotion the rep names ("stack the referral and
                              # the first fold")
        other = book.kept_apart[fact.key] - GENERIC - _STACK_WORDS
        about = book.fact_words[fact.key] - other - GENERIC - _STACK_WORDS
        if not (words & other and words & about):
            continue          # the rep named other offers than the two the fact keeps apart
        conf, why = confidence(book, BASE["policy"], u, fact, max(sim, 0.55), ignore=("if", "condition"))
        return [Verdict(False, u.text, fact, f"rep combined offers the KB keeps apart: {fact.text}",
                        correction=correction(book, fact), score=sim, product=u.product,
                        evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why, check=Check.POLICY)]
    return []


_STACK_WORDS = set(content_words("stack stacks combine combined combination together top discount discounts offer "
                                 "offers deal deals credit bonus promotion promotions special savings percent off"))
