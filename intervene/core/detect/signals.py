"""KB-driven detectors: opportunities and promotions the lead signals,
competitors the lead names, forbidden statements and missed required phrases
of the rep.

Opportunities wait for the rep's answer: if the rep picks the signal up
themselves, nothing fires (a card for what the rep already did is noise).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, Optional

from intervene.core.detect.phrases import (
    OUTRIGHT,
    asks_same,
    match_owners,
    only_asks,
    prototypes,
    signal_units,
    told,
    units_of,
    verbatim,
    without_opener,
)
from intervene.core.detect.state import CallState
from intervene.core.policy import PROFILES, Profile
from intervene.kb.index import KBIndex, product_names
from intervene.nlp.lexicon import content_words, extract_quantities, normalize_numbers
from intervene.nlp.text import NEGATION_CUES, negation_scopes, sentences, split_by_scope
from intervene.vocab import Category, Evidence, Forbidden, Required, Severity, Speaker, Trigger, Utterance

ASSURANCE = re.compile(r"\b(?:i |we )?(?:promise|guarantee[ds]?|guaranteed|definitely|for sure|certainly|"
                       r"a hundred percent|100 ?%|100 percent|no doubt|trust me|without fail)\b", re.I)
GENERIC_COMPETITOR = {"other": [
    "Another company quoted me a lower price.",
    "I got a better quote from someone else.",
    "I'm talking to other providers too.",
    "Your competitor offered me a better deal.",
    "I'm comparing a few companies.",
]}


@dataclass
class _Pending:
    category: Category
    trigger: str
    key: str
    utterance: int
    at: float
    detected: str
    say: str
    evidence: tuple[Evidence, ...]
    pickup_texts: tuple[str, ...]
    pickup_products: tuple[str, ...]
    rep_turns: int = 0          # rep turns that ended since the signal
    rep_spoke: bool = False
    # a need or a competitor in the lead's opening statement: the rep's first reply may only ask
    # ("How many kids, and how old?") - that turn does not count, once
    opening: bool = False
    turn_asks: bool = True      # the rep's turn so far has only asked
    turns: Optional[int] = None  # rep turns it waits, where not the watch's own
    # the amounts and terms in pickup_texts, read once rather than on every rep utterance
    pickup_figures: frozenset[tuple[str, float]] = field(init=False)

    def __post_init__(self) -> None:
        self.pickup_figures = frozenset().union(*(_figures(t) for t in self.pickup_texts))


_DENIAL = re.compile(r"\b(?:can'?t|cannot|can not|won'?t|wouldn'?t|couldn'?t|don'?t|do not|not going to|never|"
                     r"no way i can|nobody can|no one can)\s+(?:\w+\s+){0,2}?(?:promise|guarantee|say|claim|"
                     r"commit to|tell you)\b([^.;!?]*)", re.I)


def _denied_from_outside(unit: str, phrases: tuple[str, ...] | list[str]) -> bool:
    """A forbidden phrase the rep explicitly declines to promise: "I can't
    promise zero damage" denies "zero damage" (the phrase's own "zero" or
    "never" is part of the claim, not a denial)."""
    m = _DENIAL.search(unit)
    if not m:
        return False
    said = set(content_words(normalize_numbers(m.group(1))))
    return any(set(content_words(normalize_numbers(p))) & said for p in phrases)


def _figures(text: str) -> set[tuple[str, float]]:
    """(kind, value) of the amounts, terms and percentages in a text; a bare
    number of 10 or more may be an amount said without its unit."""
    out = set()
    # "24/7" and "50/50" are ways of speaking, not figures
    for q in extract_quantities(re.sub(r"\b\d+\s*/\s*\d+\b", " ", normalize_numbers(text))):
        if q.value and q.kind in ("money", "duration", "percent", "bare") and not (q.kind == "bare" and q.value < 10):
            out.add(("money" if q.kind == "bare" else q.kind, round(q.value, 2)))
    return out


def _offered_by_id(oid: str, say: str) -> tuple[str, ...]:
    """An opportunity that offers no product ("sewer-scope", a service the KB
    states as a fact): its id, where its suggestion says it in so many words
    ("... a sewer scope is $225"), names what it offers - a rep who says "I'd
    really think about a sewer scope" has picked it up. (Two words at least: a
    rep who says "family" has not offered the "family" opportunity.)"""
    phrase = re.sub(r"[-_]+", " ", oid).strip()
    if len(content_words(phrase)) < 2 or not re.search(rf"(?<![a-z]){re.escape(phrase.lower())}(?![a-z])", say.lower()):
        return ()
    return (phrase,)


@lru_cache(maxsize=1024)
def _offers(say: str) -> tuple[str, ...]:
    """A suggestion and each of its clauses that says enough to be an offer: a
    rep who takes up one of several ("Unlimited includes a free guest pass ..., a
    duet private is $160, and ...") has picked the point up - "she'd count as a
    first-time visitor, so the guest pass works for her" is far from the whole."""
    clauses = units_of(say)[1:]
    return (say, *(c for c in clauses if len(content_words(c)) >= 4)) if len(clauses) > 1 else (say,)


def _asked(text: str) -> list[set[str]]:
    """The content words of each question the lead asks."""
    statements = set(told(text))
    return [set(content_words(normalize_numbers(q))) for q in sentences(text) if q.strip() not in statements
            and q.rstrip().endswith("?")]


def _names(p: _Pending, rep_text: str) -> bool:
    """The rep named the product (or the offer) the point is about ("Fall
    Early-Bird" said "fall early bird")."""
    low = _HYPHENS.sub(" ", rep_text.lower())
    return any(re.search(rf"(?<![a-z]){re.escape(_HYPHENS.sub(' ', n.lower()))}(?![a-z])", low)
               for n in p.pickup_products if len(n) > 2)


_HYPHENS = re.compile(r"[-\s]+")


def _offer_name(text: str) -> tuple[str, ...]:
    """A promotion's own name, where its text opens with one ("Spring Cleanout Deal
    - $50 off ..."): a rep who says it has raised the offer."""
    head, dash, _ = text.partition(" - ")
    words = head.split()
    return (head,) if dash and 2 <= len(words) <= 5 and not re.search(r"\d", head) else ()


@dataclass
class AnswerWatch:
    """Findings that wait for the rep's answer. If the rep picks the point up
    themselves (names the offered product, or says what the KB would say),
    nothing fires - a card for what the rep already did is noise. Otherwise it
    fires once the rep has had `turns` turns, or `wait_s` passed while the rep
    was not talking. A reply at least `pickup_sim` close to the suggested
    words picks the point up."""
    index: KBIndex
    turns: int
    wait_s: float
    pickup_sim: float
    pending: list[_Pending] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)     # points the rep picked up (keys)

    def add(self, p: _Pending, before: str = "") -> None:
        """A point the rep already picked up earlier in the call waits for nothing
        when the lead comes back to it ("we're putting in a pool" - "then you'll want
        Signature Aluminium" - "the pool company has been a nightmare"): the rep made it.
        Nor does one the lead only takes up from the rep's turn `before`, where the
        rep named the offer ("SIM Unlimited has 15 GB of hotspot" - "good, the crew
        hotspot their tablets"): the rep raised it. (Only by name: the rep's prices
        and questions just before a need are the call's business, not its pick-up.)"""
        if p.key in self.answered:
            return
        if before and _names(p, before):
            self.answered.add(p.key)
            return
        if all(x.key != p.key for x in self.pending):
            self.pending.append(p)

    def rep_said(self, u: Utterance) -> None:
        asks: Optional[bool] = None       # read once per utterance, only if a point needs it
        for p in list(self.pending):
            if u.start >= p.at:
                p.rep_spoke = True
                if self._picked_up(p, u.text):
                    self.pending.remove(p)
                    self.answered.add(p.key)
                elif p.turn_asks:
                    asks = only_asks(u.text) if asks is None else asks
                    p.turn_asks = asks

    def _picked_up(self, p: _Pending, rep_text: str) -> bool:
        if _names(p, rep_text):
            return True
        if p.pickup_figures and p.pickup_figures & _figures(rep_text):
            return True           # "they want ninety days' notice": the positioning's own figures
        units = units_of(rep_text)
        if not units or not p.pickup_texts:
            return False
        vecs = self.index.embed(units + list(p.pickup_texts))
        sims = vecs[len(units):] @ vecs[: len(units)].T
        return float(sims.max()) >= self.pickup_sim

    def rep_turn_ended(self, now: float, holding: bool = False) -> list[Trigger]:
        """`holding`: the rep's turn ended on "let me pull up the sizes, one sec" -
        the answer is still to come, so that turn does not count."""
        if holding:
            return []
        for p in self.pending:
            if p.rep_spoke and p.opening and p.turn_asks:
                p.opening = False        # the qualifying question before the answer
            elif p.rep_spoke:
                p.rep_turns += 1
            p.turn_asks = True
        return self._release(lambda p: p.rep_turns >= (p.turns or self.turns), now)

    def next_deadline(self, call: CallState) -> Optional[float]:
        """Never while the rep is mid-answer: their last words may be the pick-up.
        A point the rep has started answering waits for the end of that turn
        (rep_turn_ended), not for the clock: a breath between two sentences of
        the answer is not the end of it."""
        if Speaker.REP in call.speaking:
            return None
        return min((p.at + self.wait_s for p in self.pending if not p.rep_spoke), default=None)

    def on_tick(self, call: CallState, now: float) -> list[Trigger]:
        if Speaker.REP in call.speaking:
            return []
        return self._release(lambda p: not p.rep_spoke and now >= p.at + self.wait_s, now)

    def _release(self, due: Callable[[_Pending], bool], now: float) -> list[Trigger]:
        out = []
        for p in [p for p in self.pending if due(p)]:
            self.pending.remove(p)
            out.append(Trigger(p.category, p.trigger, Severity.MEDIUM, p.utterance, now,
                               p.detected, p.say, p.evidence, key=p.key))
        return out


class _WaitsForRep:
    """The engine-facing side of a detector whose findings sit in an AnswerWatch."""
    watch: AnswerWatch

    def _from_lead(self, u: Utterance) -> bool:
        """Rep words go to the watch (they may pick a point up); only the lead's raise new ones."""
        if u.speaker == Speaker.REP:
            self.watch.rep_said(u)
        return u.speaker == Speaker.LEAD

    def rep_turn_ended(self, now: float, holding: bool = False) -> list[Trigger]:
        return self.watch.rep_turn_ended(now, holding)

    def next_deadline(self, call: CallState) -> Optional[float]:
        return self.watch.next_deadline(call)

    def on_tick(self, call: CallState, now: float) -> list[Trigger]:
        return self.watch.on_tick(call, now)


@dataclass
class OpportunityDetector(_WaitsForRep):
    """Upsell signals and promotions in the lead's words. The rep gets their
    next turn to pick them up; waiting two turns was measured to put the card
    after the moment had passed (on audio, several seconds late)."""
    index: KBIndex
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])

    def __post_init__(self) -> None:
        p = self.profile
        self.watch = AnswerWatch(self.index, turns=p.opportunity_turns, wait_s=p.opportunity_wait_s,
                                 pickup_sim=p.pickup_sim)

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        if not self._from_lead(u):
            return []
        kb = self.index.kb
        p = self.profile
        # a question asks about an offer ("does it include the car on test day?"): the rep
        # answers it; a need the rep may miss is told, not asked
        text = " ".join(told(u.text))
        if not text:
            return []
        units = units_of(text)
        vecs = self.index.embed(units)
        hint = max([*self.index.phrase_sims(vecs, "opportunity:").values(),
                    *self.index.phrase_sims(vecs, "promotion:").values()], default=0.0)
        if hint >= p.signal_window_gate:     # a hint in the sentence: look closer, word window by window
            units = units + signal_units(text, (p.signal_window_short, p.signal_window_long),
                                         p.signal_window_stride)
        opp = match_owners(self.index, text, "opportunity:", p.signal_sim, units, partial_sim=p.signal_partial_sim,
                           topic_margin=p.signal_topic_margin)
        promo = match_owners(self.index, text, "promotion:", p.signal_sim, units, partial_sim=p.signal_partial_sim,
                             topic_margin=p.signal_topic_margin)
        opening = bool(opp or promo) and _opening(u, call)
        if opening:
            # the lead's first statement is why they called, and the whole call answers it:
            # a need there that only resembles a signal ("I need my license this year" ~
            # "need my license fast") is the call's subject, not an upsell the rep may miss;
            # said in the signal's own words it still is one
            opp = {k: v for k, v in opp.items() if v >= OUTRIGHT}
            promo = {k: v for k, v in promo.items() if v >= OUTRIGHT}
        # one need per sentence: the signal said outright beats one a word window only resembles
        best = max([*opp.values(), *promo.values()], default=0.0)
        opp = {k: v for k, v in opp.items() if v >= best}
        promo = {k: v for k, v in promo.items() if v >= best}
        before = " ".join(x.text for x in call.turn_before(u) if x.speaker == Speaker.REP) if opp or promo else ""
        asked = _asked(u.text) if opp else []
        for oid, _s in opp.items():
            o = next(x for x in kb.opportunities if x.id == oid)
            if any(len(q & set(content_words(c))) >= 2 for q in asked for c in _offers(o.say)[1:] or (o.say,)):
                continue          # "Do I get a guest pass? My partner would love to come": the lead
                                  # asks for the offer itself, and the rep's answer is the pick-up
            offer = kb.product(o.offer)
            names = tuple(product_names(offer)) if offer else _offered_by_id(o.id, o.say)
            ev = (Evidence(o.id, o.say),) + ((Evidence(offer.id, offer.name + (f", {offer.price}" if offer.price else "")),) if offer else ())
            self.watch.add(_Pending(Category.OPPORTUNITY, "opportunity", f"opportunity:{oid}", u.index, now,
                                    f"Upsell signal ({oid}): lead said \"{u.text}\"", o.say, ev, _offers(o.say), names,
                                    opening=opening), before)
        for pid, _s in promo.items():
            pr = next(x for x in kb.promotions if x.id == pid)
            if call.product and not promotion_for(self.index, pr.text, call.product):
                continue          # "our first order" while an interpreting booking is discussed: the
                                  # new-client offer is for translation orders, not this one
            # (one that fits why the lead called waits longer: offers come up with the price,
            # rarely in the first answer)
            self.watch.add(_Pending(Category.OPPORTUNITY, "promotion", f"promotion:{pid}", u.index, now,
                                    f"Promotion fits ({pid}): lead said \"{u.text}\"",
                                    f"Mention the current offer: {pr.text}", (Evidence(pr.id, pr.text),),
                                    (pr.text,), _offer_name(pr.text), opening=opening,
                                    turns=p.opening_promotion_turns if opening else None), before)
        return []


_BARRED = re.compile(r"\b(?:not|n['’]t|never)\s+(?:\w+\s+){0,2}(?:eligible|included|available|valid|apply|"
                     r"applies|qualify|qualifies|count)\b|\bexclud(?:es|ed|ing)\b|\bexcept\b", re.I)

_COMBINED = re.compile(r"\bcombin(?:e|ed|able)\b|\btogether with\b|\bstack", re.I)


def promotion_for(index: KBIndex, text: str, product: str) -> bool:
    """Whether a promotion may be for the product under discussion: not when
    its text bars that product ("Video and On-site Interpreting are not
    eligible", "everything except ...") and does not also name it as eligible
    ("a monthly Partner Plan ...; the annual plan is not eligible" is still for
    the Partner Plan). A promotion that only names other products is still
    raised: that skipped right cards on tune (the product under discussion is
    not always the one the lead is ready for)."""
    eligible: set[str] = set()
    barred: set[str] = set()
    for clause in re.split(r"[;.]\s+|\s+-\s+|\(|\)", text):
        named = {pid for _, pid in index.mentioned_products(clause)}
        if _BARRED.search(clause):
            barred |= named
        elif not _COMBINED.search(clause):     # ("cannot be combined with the Care Plan discount"
            eligible |= named                  # names another offer, not a product it is for)
    return product in eligible or product not in barred


_STATEMENT_WORDS = 4       # content words of a lead turn that says something ("yes, hi, speaking" does not)


def _opening(u: Utterance, call: CallState) -> bool:
    """Whether u is part of the lead's first statement: no earlier lead turn
    said anything (a greeting does not count)."""
    for turn in call.turns():
        if any(x.index == u.index for x in turn):
            return True
        said = told(" ".join(x.text for x in turn))
        if turn[0].speaker == Speaker.LEAD and len(content_words(" ".join(said))) >= _STATEMENT_WORDS:
            return False
    return True


@dataclass
class CompetitorDetector(_WaitsForRep):
    """A competitor named by the lead (or "another company quoted me"): the
    battlecard, unless the rep's answer already uses it."""
    index: KBIndex
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])

    def __post_init__(self) -> None:
        p = self.profile
        self.protos = prototypes(self.index, "competitor", GENERIC_COMPETITOR)
        self.watch = AnswerWatch(self.index, turns=p.competitor_turns, wait_s=p.competitor_wait_s,
                                 pickup_sim=p.pickup_sim)

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        if not self._from_lead(u):
            return []
        kb = self.index.kb
        named = self.index.mentioned_competitors(u.text)
        opening = bool(named) and _opening(u, call)   # ("I've got a quote from X" - "how many feet ...?")
        for cid in named:
            c = next(x for x in kb.competitors if x.id == cid)
            say = c.positioning or f"Ask what {c.name} offered, then compare like for like."
            self.watch.add(_Pending(Category.COMPETITIVE, "competitor-mention", f"competitor:{cid}", u.index, now,
                                    f"Lead mentioned {c.name}: \"{u.text}\"", say,
                                    (Evidence(c.id, c.positioning),) if c.positioning else (),
                                    (c.positioning,) if c.positioning else (), (), opening=opening))
        if not named:
            score, _ = self.protos.scores(units_of(u.text)).get("other", (0.0, ""))
            if score >= self.profile.competitor_generic_sim:
                self.watch.add(_Pending(Category.COMPETITIVE, "competitor-generic", "competitor:generic", u.index,
                                        now, f"Lead is comparing with another provider: \"{u.text}\"",
                                        "Ask who they're comparing with and what the quote includes, "
                                        "then compare like for like.", (), (), (), opening=_opening(u, call)))
        return []


_DENIES = re.compile(r"(?:\b(?:not|no|never|cannot|can'?t|won'?t|don'?t|couldn'?t|wouldn'?t|nobody)\b|n't)"
                     r"(?:\W+\w+){0,2}\W*$", re.I)


_REASSURES = re.compile(r"\b(?:(?:don'?t|do not|won'?t|will not|never|no need to|nothing to|not to)\s+"
                        r"(?:(?:need|have|ever|even)\s+(?:to\s+)?)?worry|nothing to worry about|"
                        r"nothing(?:'s| is)? (?:going to|gonna|ever going to|will) (?:happen|go wrong))\b", re.I)
# what must be done, and a forbidden phrase that lets the customer off it ("the waiver is optional")
_OBLIGES = re.compile(r"\b(?:has to|have to|must|needs? (?:[\w']+ ){0,2}?to|(?:is|are) (?:required|mandatory|compulsory))\b",
                      re.I)
_DISPENSES = re.compile(r"\b(?:optional|skip|no need|not (?:required|needed|necessary|mandatory)|"
                        r"(?:do|does)(?:n'?t| not) (?:need|have) to|nobody checks|don'?t worry about)\b", re.I)
_NOUN_BEFORE = re.compile(r"\b(?:the|a|an|their|our|its|your|his|her|this|that|any)\W*$", re.I)


def _pairs_around(text: str, m: re.Match[str]) -> list[str]:
    """The promise word with the word before it and with the word after it."""
    prev = re.search(r"(\w+)\W*$", text[:m.start()])
    nxt = re.match(r"\W*(\w+)", text[m.end():])
    word = m.group(0).lower()
    return ([f"{prev.group(1).lower()} {word}"] if prev else []) + ([f"{word} {nxt.group(1).lower()}"] if nxt else [])


def _promises(unit: str, kb_terms: frozenset[str] = frozenset()) -> bool:
    """The rep assures something: "I guarantee it", not "I can't guarantee
    that" or "there's no guarantee". Only a negation right before the promise
    word denies it; "you don't have to worry, I guarantee it" still promises.
    Naming a guarantee is not giving one: "their guarantee", "the Job
    Guarantee" or the KB's own "guaranteed delivery date"."""
    for m in ASSURANCE.finditer(unit):
        before = unit[:m.start()]
        if _DENIES.search(before) or _NOUN_BEFORE.search(before):
            continue
        if any(pair in kb_terms for pair in _pairs_around(unit, m)):
            continue
        return True
    return False


def kb_assurance_terms(texts: Iterable[str]) -> frozenset[str]:
    """Word pairs around the KB's own promise words ("job guarantee",
    "guaranteed delivery"): a rep saying them names a feature."""
    return frozenset(pair for text in texts for m in ASSURANCE.finditer(text) for pair in _pairs_around(text, m))


@dataclass
class ComplianceDetector:
    """Forbidden statements by the rep, on meaning; a negated use
    ("I can't guarantee savings") is the compliant version and passes."""
    index: KBIndex
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])
    kb_terms: frozenset[str] = field(init=False, default=frozenset())
    forbidden: dict[str, Forbidden] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        kb = self.index.kb
        self.kb_terms = kb_assurance_terms([f.text for f in kb.facts] + [p.name for p in kb.products])
        self.forbidden = {f.id: f for f in kb.forbidden}

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        if u.speaker != Speaker.REP:
            return []
        out = []
        units = units_of(u.text)
        # "With us you'll pass this time. I guarantee it.": a bare promise is the sentence before's
        units += [f"{a} {b}" for a, b in zip(units, units[1:])
                  if len(content_words(b)) <= 2 and _promises(b, self.kb_terms)]
        for k, unit in enumerate(units):
            negated, _ = split_by_scope(unit)
            # "you don't need to worry about damage at all" reassures: its negation denies
            # the worry, not the promise
            reassures = bool(_REASSURES.search(unit))
            neg_words = set() if reassures else set(content_words(negated))
            unit_negated = bool(negation_scopes(unit))
            hits = match_owners(self.index, unit, "forbidden:", self.profile.forbidden_sim, [unit])
            if any(v < 1.0 for v in hits.values()) and self._kb_says(unit) >= max(hits.values()):
                # closer to something the KB itself says than to the forbidden phrase:
                # "at least 3 days before the test" is the booking rule, not "an earlier test date"
                hits = {k: v for k, v in hits.items() if v >= 1.0}
            promises = _promises(unit, self.kb_terms)
            if hits and not (promises or reassures):
                # "the slip will still be there for you" is close to "guarantee you the slip", but
                # what is forbidden there is the guarantee, and none was given
                hits = {k: v for k, v in hits.items() if not (self._nearest_assures(unit, k) if v < 1.0
                                                              else self._assurance_left_out(unit, k))}
            if (promises or reassures) and not self._kb_promises(unit):
                # "I can promise you'll be a dress size down", "you don't need to worry about
                # damage at all": a promise on the topic of a forbidden statement is one,
                # however it is worded
                near = self.index.phrase_sims(self.index.embed([unit]), "forbidden:")
                bar = self.profile.forbidden_assured_sim if promises else self.profile.forbidden_reassured_sim
                hits.update({k: v for k, v in near.items() if v >= bar and k not in hits})
            for fid, s in hits.items():
                f = self.forbidden[fid]
                # "we can't guarantee savings" is the compliant form of "guaranteed savings";
                # a phrase that is itself negative ("never goes down") is matched as it is
                said_as_is = any(NEGATION_CUES.search(p) and verbatim(p).search(unit.lower()) for p in f.phrases)
                if neg_words and not said_as_is and any(
                        not NEGATION_CUES.search(p) and set(content_words(p)) & neg_words for p in f.phrases):
                    continue      # (a negative phrase said word for word is that phrase, not its denial)
                if _denied_from_outside(unit, f.phrases):
                    continue      # "I can't promise zero damage": the rep's own "can't" denies the phrase
                nearest = self._nearest_phrase(unit, fid) if s < 1.0 else ""
                if s < 1.0 and bool(NEGATION_CUES.search(nearest)) != unit_negated:
                    continue      # "check with your doctor" vs "you don't need to see a doctor"
                if s < 1.0 and not unit_negated and _DISPENSES.search(nearest) and _OBLIGES.search(
                        self._with_start(u, call) + unit if k == 0 else unit):
                    continue      # "everybody has to sign the waiver" is close in meaning to "the waiver is
                                  # optional" (0.81), and says the opposite
                say = f.say or "Walk that back: we can't promise that."
                out.append(Trigger(Category.COMPLIANCE, "forbidden-statement", Severity.HIGH, u.index, now,
                                   f"Rep said \"{unit}\" - not allowed ({fid}: {', '.join(f.phrases[:3])})",
                                   say, (Evidence(f.id, f.say or ", ".join(f.phrases)),),
                                   key=f"forbidden:{fid}:{call.turn_start(u)}"))
        return out[:1]


    def _kb_says(self, unit: str) -> float:
        hits = self.index.search_facts(self.index.embed([unit])[0], k=1)
        return hits[0][1] if hits else 0.0

    def _kb_promises(self, unit: str) -> bool:
        """The company itself guarantees this ("Ledgerly guarantees 99.9% uptime"):
        repeating a KB guarantee is not an over-promise."""
        hits = self.index.search_facts(self.index.embed([unit])[0], k=3, floor=self.profile.kb_promise_sim)
        return any(ASSURANCE.search(f.text) for f, _ in hits)

    def _nearest_phrase(self, unit: str, fid: str) -> str:
        rows = [i for i, p in enumerate(self.index.phrases) if p.owner == f"forbidden:{fid}"]
        sims = self.index.phrase_vecs[rows] @ self.index.embed([unit])[0]
        return self.index.phrase_norm[rows[int(sims.argmax())]]

    def _with_start(self, u: Utterance, call: CallState) -> str:
        """The start of u's sentence in the rep's utterance before, if u goes on
        with it ("they just need a parent to sign the" / "the waiver for each of them")."""
        prev = call.continued(u, self.profile.continues_s)
        return f"{prev.text} " if prev else ""

    def _assurance_left_out(self, unit: str, fid: str) -> bool:
        """Every phrase of the entry the unit matched on its words alone is an
        assurance the rep did not give: "90 percent of our students pass first
        time" has the words of "pass first time for sure", not its promise."""
        f = self.forbidden[fid]
        low, words = unit.lower(), set(content_words(unit))
        if any(verbatim(p).search(low) for p in f.phrases):
            return False
        said = set(re.findall(r"\d+", normalize_numbers(unit)))
        matched = [p for p in f.phrases if set(content_words(p)) <= words]
        # (a phrase's number is part of it: "90 percent pass" is not a "100% pass rate")
        return bool(matched) and not any(set(re.findall(r"\d+", normalize_numbers(p))) <= said
                                         and not ASSURANCE.search(p) for p in matched)

    def _nearest_assures(self, unit: str, fid: str) -> bool:
        return bool(ASSURANCE.search(self._nearest_phrase(unit, fid)))


@dataclass
class RequiredDetector:
    """Required phrases and process steps, decided when their deadline passes."""
    index: KBIndex
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])
    covered: set[str] = field(default_factory=set)
    decided: set[str] = field(default_factory=set)

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        # (the assistant may give the disclosure itself; once every step is covered, nothing is left to match)
        if u.speaker not in (Speaker.REP, Speaker.AI) or all(_rid(r) in self.covered for r in self.index.kb.required):
            return []
        sim = self.profile.required_sim
        units = units_of(u.text)
        self.covered |= set(match_owners(self.index, u.text, "required:", sim, units))
        # the question without the acknowledgement it opens with, read again only where a
        # step still open came close (a model pass per rep utterance otherwise)
        bare = without_opener(units)
        near = self.index.phrase_sims(self.index.embed(units), "required:") if bare and units else {}
        if any(s >= sim - _OPENER_BAND and o not in self.covered for o, s in near.items()):
            self.covered |= set(match_owners(self.index, u.text, "required:", sim, units + bare))
        self.covered |= {_rid(r) for r in self.index.kb.required if _rid(r) not in self.covered
                         and any(asks_same(ph, u.text) for ph in r.phrases)}
        return []

    def open_steps(self) -> list[str]:
        return [r.phrases[0] for r in self.index.kb.required
                if _rid(r) not in self.covered and r.section == "process"]

    def next_deadline(self, call: CallState) -> Optional[float]:
        due = [r.deadline_s for r in self.index.kb.required
               if _rid(r) not in self.covered and _rid(r) not in self.decided]
        return min(due, default=None) if not call.ended else None

    def on_tick(self, call: CallState, now: float) -> list[Trigger]:
        out = []
        for r in self.index.kb.required:
            if _rid(r) in self.covered or _rid(r) in self.decided or now < r.deadline_s:
                continue
            self.decided.add(_rid(r))
            what = "required phrase" if r.section.startswith("compliance") else "process step"
            say = f"Say it now: \"{r.phrases[0][0].upper() + r.phrases[0][1:]}\"" if what == "required phrase" \
                else f"Don't forget to ask: \"{r.phrases[0]}?\""
            out.append(Trigger(Category.PROCESS, "missed-" + ("phrase" if what == "required phrase" else "step"),
                               Severity.MEDIUM, call.last_ended_before(r.deadline_s), r.deadline_s,
                               f"No {what} '{r.id}' within {r.deadline_s:.0f} s", say,
                               (Evidence(r.id, "; ".join(r.phrases)),), key=f"required:{r.section}:{r.id}"))
        return out


_OPENER_BAND = 0.1      # how close a step must come before its question is read without the opener


def _rid(r: Required) -> str:
    return f"{r.section}/{r.id}"
