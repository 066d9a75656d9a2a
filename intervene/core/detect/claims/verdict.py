"""What a conflict becomes once a check has found it: how sure it is (each
kind of check's own reliability, less a fixed cost per doubt), the judge's
second opinion, which can only lower that, one verdict per fact, and the
correction as it is spoken (always a KB sentence, never generated)."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Optional, Sequence

from intervene.core.detect.claims.facts import FactBook
from intervene.core.detect.claims.patterns import JUDGE_AGREES, JUDGE_REJECTS, JUDGE_SURE
from intervene.core.detect.subjects import Unit
from intervene.nlp.lexicon import content_words, extract_quantities, normalize_numbers
from intervene.vocab import Check, Fact, Verdict

# How far each kind of check can prove a contradiction by itself. Only a number that
# contradicts the number the KB gives for the same thing is proof enough to speak
# (0.95, voice at >= 0.9); word overlap - polarity, "only on condition", a policy
# frame, which tier - can point at one but not prove it (a "check this" card at
# most); whose feature it is, from word overlap across tiers, is held back.
BASE = {"quantity": 0.95, "polarity": 0.75, "policy": 0.75, "widened": 0.75, "product": 0.7, "ownership": 0.55}
# what each reason to doubt a conflict costs (see confidence)
DOUBT = {"condition-number": 0.15, "slot": 0.45, "other-product": 0.45, "shape": 0.3, "widened": 0.0, "value-elsewhere": 0.3, "enumeration": 0.15, "bare": 0.3, "date": 0.1, "they": 0.2, "scope": 0.1, "add-on": 0.1, "magnitude": 0.2, "configuration": 0.45, "condition": 0.3, "if": 0.2,
         "fragment": 0.2, "weak-match": 0.2, "product-unknown": 0.3, "product-context": 0.15, "clause": 0.05,
         "mixed": 0.3, "ownership": 0.0, "several-named": 0.3, "asr": 0.35, "asr-number": 0.45,
         "noisy-line": 0.3, "sounds-alike": 0.3, "other-offer": 0.45, "judge-unsure": 0.1, "judge-rejects": 0.5,
         "worked-out": 0.3, "judge-disagrees": 0.2, "no-period": 0.15,
         "judge-agrees": 0.0}   # (not a doubt: the judge's note that it is sure of a doubted number)


def confidence(book: FactBook, base: float, u: Unit, fact: Fact, sim: float, doubts: Sequence[str] = (),
               deadline: bool = False, ignore: Sequence[str] = ()) -> tuple[float, tuple[str, ...]]:
    """How sure a conflict is: the kind of check's own reliability, less a
    fixed amount for each reason to doubt it. Only a conflict with no real
    doubt at all reaches the voice threshold (0.9 by default). `ignore`:
    doubts the calling check has already answered (a policy frame on both
    sides makes the rep's "if" no reason to doubt it)."""
    why = list(doubts)
    cond = book.fact_cond.get(fact.key, set())
    if cond and not _cond_classes(cond) & _cond_classes(content_words(u.lead_in + u.text + u.rest)):
        # the fact holds under a condition the rep did not state (a number is still a number)
        why.append("condition" if base < BASE["quantity"] else "condition-number")
    if u.conditional and not deadline:       # ("if you sign by May 31" states the offer's own condition)
        why.append("if")
    if len(u.text.split()) < 4:
        why.append("fragment")
    if sim < 0.55:
        why.append("weak-match")
    if fact.product and u.product is None:
        why.append("product-unknown")      # nobody named a product: the fact is only one tier's
    why = [d for d in dict.fromkeys(why) if d not in ignore]     # (one reason counts once)
    conf = base - sum(DOUBT[d] for d in why)
    return max(0.0, round(conf, 3)), tuple(why)


# the same condition in other words ("annual plans paid upfront" = "if you prepay the year")
_COND_SAME = {"annually": "annual", "yearly": "annual", "year": "annual", "prepay": "upfront", "prepaid": "upfront",
              "front": "upfront", "advance": "upfront", "exist": "return", "current": "return", "weekend": "weekend",
              "saturday": "weekend", "sunday": "weekend", "additional": "extra", "another": "extra"}


def _cond_classes(words: Iterable[str]) -> set[str]:
    return {_COND_SAME.get(w, w) for w in words}


def doubted(v: Verdict, *doubts: str) -> Verdict:
    """A verdict with more reasons to doubt it, found after the check (by the
    judge, or from how the words were heard): each costs what it costs in
    the check itself."""
    return replace(v, confidence=max(0.0, round(v.confidence - sum(DOUBT[d] for d in doubts), 3)),
                   doubts=(*v.doubts, *doubts))


def second_opinion(book: FactBook, verdicts: list[Verdict]) -> list[Verdict]:
    """Every contradiction the rules found is read once more by the judge
    (a cross-encoder that reads claim and fact together): one it does not
    see as a contradiction is at most a card, one it clearly rejects is
    held back. Confidence is only ever lowered here, never raised.

    A conflict the rules found without any doubt (the claim's number on
    the fact's own slot, said outright) is not held back on the judge's
    word alone: the judge reads numbers worst of all ("up to 30 students"
    against "24 students" looks like agreement to a model that reads
    meaning), so where the two disagree the rep gets a card to check.
    Holding back takes the judge and a doubt of the rules' own.

    The other way round, a number the rules found in conflict but doubted
    ("a full day is forty-five dollars": no product named, and $45 is
    also the price of something else) that the judge is sure of is marked
    "judge-agrees" (its confidence unchanged): a profile may show it as a
    card - never more, since the judge can point at a contradiction, not
    prove it (policy's accuracy_judged_min; none does by default). On the
    claim bed's 20 industries the judge never saw, such verdicts with a
    confidence of 0.3 or more were about 16 wrong claims and no correct
    one; on the blind call sets, 9 right and 5 wrong.

    Included against excluded is another matter: there the rules read a
    negation's scope, which they read worst ("can't solo until sixteen"
    against "must be 16 to solo", "a 3-night stay doesn't come with the
    bath"), and the judge reads meaning, which it reads best - so such a
    conflict the judge does not see is held back. (On the claim bed's 20
    industries the judge never saw, those cards were wrong 4 times in 6;
    policy terms the judge does not see were right 4 times in 5 on the
    tune calls, and stay cards.)"""
    judge = book.index.judge
    wrong = [i for i, v in enumerate(verdicts) if not v.ok and v.fact is not None]
    if judge is None or not wrong:
        return verdicts
    probs = judge.contradiction([(verdicts[i].claim, judged_text(book, verdicts[i].fact)) for i in wrong])
    out = list(verdicts)
    for i, p in zip(wrong, probs):
        if verdicts[i].check == Check.POLARITY:
            doubt = "judge-rejects" if p < JUDGE_REJECTS else "judge-disagrees" if p < JUDGE_SURE else ""
        else:
            doubt = "judge-rejects" if p < JUDGE_REJECTS and verdicts[i].doubts \
                else "judge-unsure" if p < JUDGE_SURE else ""
        if doubt:
            out[i] = doubted(out[i], doubt)
        elif verdicts[i].check == Check.QUANTITY and p >= JUDGE_AGREES and verdicts[i].doubts:
            out[i] = replace(out[i], doubts=(*out[i].doubts, "judge-agrees"))
    return out


def judged_text(book: FactBook, fact: Optional[Fact]) -> str:
    """A fact as the judge was trained to read it: a product's own sentence
    ("Includes two cleanings a year.") with the product's name in front."""
    if fact is None:
        return ""
    if fact.product and fact.kind == "product-fact":
        return f"{book.name(fact.product)}: {fact.text}"
    return fact.text


def correction(book: FactBook, fact: Fact) -> str:
    """A KB sentence, turned to be spoken: 'Quick clarification - the
    Standard package includes three years of support.'"""
    return f"Quick clarification - {spoken(book, fact)}"


def spoken(book: FactBook, fact: Fact) -> str:
    """The fact as a sentence that names its product ("the Premium package
    includes ..."), so it stands on its own when read out."""
    text = fact.text.strip()
    if not text.endswith((".", "!", "?")):
        text += "."
    if fact.product and fact.kind != "price":
        name = book.name(fact.product)
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


def _kinds(claim: str) -> set[str]:
    return {q.kind for q in extract_quantities(normalize_numbers(claim)) if q.kind != "bare"}


def _takes_back(conflict: Verdict, support: Verdict) -> bool:
    """A later sentence that agrees with the fact corrects an earlier conflict when it
    says the same kind of thing again ("... two years. Sorry, I mean three years."),
    not when it agrees on another of the fact's figures: "Total Care is $49 a month.
    Both with a 12-month minimum" leaves the $49 standing."""
    said, again = _kinds(conflict.claim), _kinds(support.claim)
    return not (said and again and not said & again)


def collapse(verdicts: list[tuple[int, Verdict]]) -> list[Verdict]:
    """One verdict per fact: a conflict wins over support found in the same
    sentence; support in a *later* sentence is a self-correction ("... two
    years. Sorry, I mean three years.") and wins, if it says the same kind of
    figure again."""
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
        if not v.ok or (not prev.ok and sent > prev_sent and _takes_back(prev, v)):
            by_fact[k] = (sent, v)
    return [by_fact[k][1] for k in order]
