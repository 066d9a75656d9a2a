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
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional, Sequence

from intervene.core.detect.numbers import (
    EVERY,
    OFF,
    REPAIR,
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
    item_words,
    num_text,
    per_things,
    period,
    q_text,
    readings,
    retracted,
    same_rate_basis,
    stem,
    value_parts,
)
from intervene.core.detect.subjects import REFERENCE, WE, ClaimReader, Unit, u_named
from intervene.kb.index import KBIndex, norm_alias, product_names
from intervene.nlp.lexicon import (
    Quantity,
    comparable,
    content_words,
    extract_quantities,
    normalize_numbers,
    same_quantity,
)
from intervene.nlp.text import negation_scopes, sentences, split_by_scope
from intervene.vocab import Evidence, Fact, Verdict

SIM_QUANTITY = 0.45      # a fact this similar is about the same thing as the unit
SIM_POLARITY = 0.45      # (0.40 for a fact of the very product the rep is talking about)
     # polarity needs a closer match: the feature must be the same
SIM_BARE = 0.6          # a number said without "dollars" is checked against a fact's price only this close
SIM_PRODUCT = 0.55       # "which product" needs the same sentence shape
CLAUSE_PENALTY = 0.05   # a fact found through the whole sentence counts slightly less for a clause
SUPPORT_MARGIN = 0.03    # an alternative fact this close to the best one may vindicate the claim
TOPIC_MARGIN = 0.10     # facts this much less similar than the closest one are another topic
MAGNITUDE = 5.0          # said and KB values this many times apart: likely a mishearing
QUANTITY_MARGIN = 0.08   # ... for a number the rep got exactly right somewhere relevant
SIM_OWNERSHIP = 0.50     # a fact of another product this close says whose feature it is
JUDGE_SURE = 0.5         # the judge's contradiction probability below which nothing is spoken ...
JUDGE_REJECTS = 0.1      # ... and below which nothing is shown, if the rules had a doubt of their own

# verbs that carry no feature: "includes X" and "doesn't include X" are about X
_LIGHT = frozenset("""include includ come cover offer provide get have has had is are was be been
 give gets carry carrie feature contain add allow let make take plan package tier""".split())
_EXTRA = re.compile(r"\b(?:add|adds|adding|add-on|addon|extra|upgrade|separate|separately|on top|additional|buy|"
                    r"purchase|you'?d need|you need|requires?)\b", re.I)
_APPROX = re.compile(r"\b(?:around|roughly|about|approximately|maybe|like|or so|ish|say|almost|nearly|"
                     r"under|over|close to|just under|just over|a little under|a little over)\s*$", re.I)


@dataclass
class UtteranceCheck:
    verdicts: list[Verdict] = field(default_factory=list)
    product_after: Optional[str] = None



_UNIVERSAL = re.compile(r"\b(?:every ?one|every ?body|any ?one|any ?body|all (?:customers|clients|members|plans|"
                        r"tiers|students|patients|packages|units|sizes)|any (?:plan|tier|package|unit|size|customer)|every (?:plan|tier|package|unit|size|customer)|no matter|regardless|"
                        r"whoever|whether)\b", re.I)
# a fee for leaving before the term is out
_EARLY_EXIT = re.compile(r"\b(?:early (?:cancellation|termination)|cancel\w* early|(?:cancellation|termination|exit) fee|"
                         r"(?:of|for) the remaining (?:months?|payments?|balance|term|fees?))\b", re.I)
# (frame, what the rep says, what the KB must say for it to be a contradiction)
_POLICY_FRAMES = (
    ("notice", re.compile(r"\b(?:no notice|without (?:any )?notice|no need to (?:tell|give|warn)|not locked in|never locked in|"
                          r"no commitment|no minimum (?:term|commitment)|cancel (?:at )?any ?time|stop (?:at )?any ?time|"
                          r"walk away (?:at )?any ?time)\b", re.I),
     re.compile(r"\b\d+[- ](?:days?|weeks?|months?)'?s?'? (?:written |advance )?notice\b|\bnotice of \d+|"
                r"\bminimum (?:term|commitment) of\b|\b\d+-month (?:minimum|commitment|term)\b", re.I)),
    ("refund", re.compile(r"\b(?:refund|money back|pay you back|credit you)\w*\b[^.]{0,60}\b(?:unused|whatever'?s left|"
                          r"remaining|rest of|prorat\w*|pro-rat\w*|partial|the months? you|left over|didn'?t use|"
                          r"haven'?t used|hadn'?t used)|\b(?:unused|remaining|prorat\w*)\b[^.]{0,40}\brefund", re.I),
     re.compile(r"\b(?:non-?refundable|no refunds?|not (?:be )?refunded|are not refunded|is not refunded|"
                r"isn'?t refunded|cannot be refunded|can'?t be refunded|no money back)\b", re.I)),
    ("carry-over", re.compile(r"\b(?:rolls?|rolled|rolling|carr(?:y|ies|ied)|carrying) (?:\w+ )?over\b|"
                              r"\b(?:never|don'?t|doesn'?t|won'?t) expire\b", re.I),
     re.compile(r"\b(?:(?:do|does|will|can) ?not|don'?t|doesn'?t|won'?t|can'?t|cannot) (?:be )?(?:roll|carr)\w* over\b|"
                r"\bno (?:roll-? ?over|carry-? ?over)\b|\bforfeit\w*|\buse (?:it|them) or lose\b", re.I)),
)
_TERM_OVER = re.compile(r"\b(?:(?:end|after|once|when)\b[^.]{0,20}\b(?:term|contract|agreement|commitment|months|years?)\b"
                        r"[^.]{0,12}\b(?:up|over|ends?|ended|finished|done|is out)|end of (?:the|your) (?:term|contract|agreement)|"
                        r"out of contract|after the (?:minimum|initial|first) (?:term|contract|period))\b", re.I)
# the rep's own words deny it ("unused hours don't roll over")
_DENIED = re.compile(r"\b(?:don'?t|doesn'?t|do not|does not|won'?t|will not|can'?t|cannot|never|not|no)\s+"
                     r"(?:(?:just|really|ever|actually|automatically|simply|be)\s+)?$", re.I)
# the rep states the refund window themself ("refunded within 30 days of purchase")
_WINDOW_GIVEN = re.compile(r"\b(?:within|in the first|during the first|first)\s+\d+\s*(?:days?|weeks?|months?)\b|"
                           r"\b\d+-(?:day|week|month)\b|\b\d+\s*(?:days?|weeks?|months?)\s+(?:from|of|after)\b", re.I)
# the customer's own quantity, not a claim: "for your 23 squares", "you've got 3 kids"
# ("you've got 14 days to cancel" before a number is a grant, not the customer's own)
_YOURS = re.compile(r"\b(?:your|you said|you mentioned|you told me)\s+(?:\w+\s+)?$", re.I)
_YOURS_AFTER = re.compile(r"\s+(?:\w+\s+){0,2}?(?:you'?ve got|you have|you got|you said|you mentioned|you told me)\b",
                          re.I)
# "$6.99 a month extra": what something costs on top, not a plan's own price
_SURCHARGE = re.compile(r"\s*(?:(?:a|an|per|each|every)\s+\w+\s+)?(?:extra|on top|more|additional|add-on)\b", re.I)
# "..., so $67 for a single lesson": what follows is worked out from what came before
_DERIVED = re.compile(r"\b(?:so|that'?s|that makes|which (?:makes|is|comes to)|comes? to|in total|total(?:s|ling)?|"
                      r"altogether|works? out|making it|all in|bringing it)\b", re.I)
# the rep not charging for something ("the installation is waived"), and any word that puts a fee aside
_WAIVES = re.compile(r"\bwaiv(?:e|ed|es|ing)\b|\bfree\b|\bno (?:extra |additional )?(?:charge|cost)\b", re.I)
_EXEMPTS = re.compile(_WAIVES.pattern + r"|\b(?:unless|except|included|otherwise|instead)\b", re.I)
# "you've got what, four lessons left": the customer's own balance, not a term of the offer
_BALANCE = re.compile(r"\s+(?:[\w-]+\s+){0,2}?(?:left|remaining|to go|used(?: up)?|so far)\b", re.I)
_OFF_NEAR = re.compile(r"\s*(?:[\w-]+\s+){0,2}(?:off|discount|discounted|savings?|less|lower|reduction|cheaper)\b", re.I)
_PLAN_NOUNS = frozenset(content_words("plan plans package packages tier tiers program programs membership "
                                      "subscription bundle option service the"))
_GIVES_OFF = re.compile(r"\b(?:discount|discounted|off)\b[^.;]{0,20}$", re.I)   # "a discount of 10%", "off by 10%"
_SAVE = re.compile(r"\b(?:save|saves|saving|discount of|knock(?:s|ed)? off|take)\s+(?:you\s+)?(?:an? )?(?:extra\s+)?$", re.I)
_NOTICE_GIVEN = re.compile(r"\d[^.]{0,25}\bnotice|\bnotice of \d|\b(?:days?|weeks?|months?)'? ahead\b", re.I)
# the rep saying something costs nothing; and what says a KB fact is free on some terms
_FREE_CLAIM = re.compile(r"\b(?:(?:it'?s|is|are|'s|be|comes?|for) free\b|free of charge|no (?:extra |additional )?"
                         r"(?:charge|cost|fee)s?\b|at no (?:extra |additional )?(?:charge|cost)|"
                         r"(?:doesn'?t|does not|won'?t|will not|don'?t|do not) cost (?:anything|a thing|extra|more)|"
                         r"(?:you|we) (?:don'?t|won'?t) (?:pay|charge) (?:for|anything|extra))", re.I)
_NOT_FREE = re.compile(r"\b(?:not|isn'?t|aren'?t|never|wasn'?t)\s+(?:\w+\s+){0,1}$", re.I)
_FREE_FACT = re.compile(r"\b(?:free|waived?|complimentary|included|no charge|credited)\b", re.I)
SIM_FREE = 0.5
SIM_SCOPE = 0.5        # an offer this close is the one the rep is giving away
# one product put inside another: "X comes included with Y", "X is part of Y", "Y includes X"
_PUT_IN = re.compile(r"\b(?:(?:is|are|comes?|come|'s|'re)\s+(?:\w+\s+)?(?:included|bundled|built)\s+(?:with|in|into|on)|"
                     r"(?:is|are|'s)\s+(?:\w+\s+)?part of|(?P<has>includes|comes with|has|gets))\b", re.I)
# a seller other than us as the subject of a price ("they're at", "they charge", "their price")
_THEY_SELL = re.compile(r"\b(?:they'?re at|they are at|they charge|they offer|they quoted?|they ask|they want|"
                        r"they lock|they sell|their (?:price|rate|plan|fee|deal|offer)s?)\b", re.I)
# the rep making an offer everyone's: "any of the three plans", "either one", "every package"
_ANY_PLAN = re.compile(r"\b(?:(?:on|to|for|with) any (?:of (?:the|our|them)\b(?:\s+\w+)?(?:\s+(?:plans|packages|tiers|"
                       r"programs|packs|options|levels|memberships))?|(?:plan|package|tier|program|pack|option|level|"
                       r"membership|one)s?\b)|(?:on|to|for) (?:either|both|every|all) (?:one|of (?:them|the \w+)|"
                       r"plans?|packages?|tiers?|programs?|packs?|options?|three|two)\b|"
                       r"(?:any|all|every|either) (?:plans?|packages?|tiers?|programs?|packs?|of them|one)\b)"
                       r"(?!-)", re.I)     # ("10% off any one-off job" is about the job, not the plans)
# ... or a plan it isn't for: "Essential included", "even the Starter", "on Essential too"
_GIVEN_AFTER = re.compile(r"[\w'-]*\W+(?:\w+\W+)?(?:included|too|as well)\b", re.I)
_GIVEN_BEFORE = re.compile(r"\b(?:even\s+(?:on\s+|for\s+|with\s+)?(?:the\s+|your\s+)?|(?:works|applies|valid|good|goes)\s+"
                           r"(?:on|to|for|with)\b[^.;!?]*)$", re.I)
# what makes a fact an offer: a discount, something free, a deal
_DEAL = re.compile(r"\b(?:off|discount\w*|free|waived?|save|bonus|promo\w*|offer|deal)\b", re.I)
_PLAN_NOUN = re.compile(r"\b(?:plans?|packages?|tiers?|programs?|packs?|options?|levels?|memberships?|three|two)\b",
                        re.I)
_NEW_CLAUSE = re.compile(r"[,;:]|\b(?:but|and|so|while|whereas)\b", re.I)
_SEPARATE = re.compile(r"\b(?:separately|add-on|addon|not (?:included|part)|excluded|on its own|costs? extra)\b", re.I)
_BENEFIT = frozenset(w[:4] for w in "waive free discount included eligible refund complimentary credited".split())
# benefits that say the same ("free for everybody" widens "waived for returning customers")
_SAME_BENEFIT = {"waiv": "free", "comp": "free", "incl": "free"}
# a discount named by its size or as one ("the 20% is for everyone", "10 off")
_PCT_OR_OFF = re.compile(r"\d\s*(?:%|percent|per cent)|\boff\b", re.I)
# both sides of a condition said together: "new or returning", "members and non-members"
_BOTH_SIDES = re.compile(r"\b(\w+(?:-\w+)?),? (?:or|and|as well as) (?:non-?)?(\w+(?:-\w+)?)\b", re.I)
_ONLY_IF = re.compile(r"\b(?:only|if|unless|except|excluded|provided|as long as|waived (?:on|for|with|when)|"
                      r"free (?:on|for|with) (?!every|any|all\b)|for (?:new|returning|existing|"
                      r"members?|students?|customers? who|patients? who|anyone who))\b", re.I)


# (also after a short phrase naming where it applies: "On the Haven 6 it's a $199 add-on")
_PRONOUN_START = re.compile(r"(?:and |so |yeah,? |oh,? )?(?:(?:on|for|with) (?:the )?[\w-]+(?: [\w-]+){0,2},? )?"
                            r"(?:it'?s|it is|it|that'?s|that is|this is|they'?re|they are)\b", re.I)


def _words(text: str, exclude: set[str]) -> set[str]:
    """Feature words: what a sentence includes or excludes, without verbs like
    "includes", the words that negate ("sold separately", "waived"), product
    names, numbers or units (those are the quantity check's)."""
    return {w for w in content_words(text)
            if w not in _LIGHT and w not in exclude and w not in UNIT_WORDS and not w[:1].isdigit()
            and w not in _CUE_WORDS}


_CUE_WORDS = frozenset(content_words("sold separately priced billed purchased bought waive waived waiving excluded"))


class ClaimChecker:
    """Stateless apart from caches of per-fact analysis; safe to share across calls."""

    def __init__(self, index: KBIndex) -> None:
        self.index = index
        self.verify_ms: deque[float] = deque(maxlen=10000)   # per check, model time excluded (bench)
        kb = index.kb
        # words that only name products ("standard", "premium") are not features;
        # a name word that facts use as a feature ("battery") stays a feature
        fact_words = {w for f in index.facts for w in content_words(index.products.mask(f.text, strong_only=True))}
        self._product_words: set[str] = set()
        self._words_of: dict[str, set[str]] = {}       # product id -> the words of its names
        for p in kb.products:
            for n in product_names(p):
                self._product_words |= set(content_words(n)) - fact_words
                self._words_of.setdefault(p.id, set()).update(set(content_words(n)) - _PLAN_NOUNS)
        # nor is the company's own name ("It's Noah from PeakForm" - misheard as "It's no a
        # from PeakForm" - does not exclude "every PeakForm club")
        self._name_words = set(self._product_words)      # names only: never what a number counts
        self._product_words |= set(content_words(kb.company))
        # words the KB writes as one that speech recognition often splits ("setup" heard as "set up")
        vocab = {w.lower() for f in index.facts for w in re.findall(r"[A-Za-z]+", f.text) if len(w) >= 5}
        self._compounds = {(w[:i], w[i:]): w for w in vocab for i in range(2, len(w) - 1)}
        self.reader = ClaimReader(index, self._compounds)
        self._fact_q: dict[str, list[Quantity]] = {}
        self._fact_scope: dict[str, tuple[set[str], set[str]]] = {}
        self._fact_named: dict[str, set[str]] = {}
        self._fact_cond: dict[str, set[str]] = {}
        self._fact_words: dict[str, set[str]] = {}
        self._by_key = {f.key: f for f in index.facts}
        self._fq_owner: dict[str, list[set[str]]] = {}
        self._fq_parts: dict[str, list[set[str]]] = {}  # the words each of a fact's numbers is said with
        self._fq_every: dict[str, list[bool]] = {}      # "every 6 weeks": an interval, not a length
        self._fq_off: dict[str, list[bool]] = {}        # "$750 off": a discount, not a price
        self._fq_exempt: dict[str, list[bool]] = {}     # "free with any 36-month agreement": the exemption's terms
        self._extras: list[tuple[Fact, Quantity]] = []   # "$5 more per lesson": surcharges, whoever they are for
        self._money_at: dict[tuple[float, bool], set[str]] = {}   # every amount of money the KB states, as a
                                                                   # discount or not -> its facts
        # "The Camp Kit (two chairs, a table and a grill) is sold separately": the thing a fact
        # defines, and the words of what it holds
        self._defines: dict[str, tuple[set[str], set[str]]] = {}
        for f in index.facts:
            m = re.match(r"\s*((?:[\w'-]+\s+){0,3}[\w'-]+)\s*\(([^)]+)\)", f.text)
            if m and content_words(m.group(1)):
                self._defines[f.key] = (set(content_words(m.group(1))), set(content_words(m.group(2))))
        self._offers: list[Fact] = []          # facts that give a discount ("15% off", "$100 off")
        self._free_words: set[str] = set()     # facts that say free, waived, included ... (keys)
        self._free_terms: set[str] = set()     # ... or "no extra charge", "at no cost"
        for f in index.facts:
            norm = normalize_numbers(f.text)
            masked = index.products.mask(norm)
            self._fact_q[f.key] = extract_quantities(masked)
            # "Essentials members get 10% off; Plus and Senior members get 15%": each number
            # belongs to the products named in its own clause
            # - but not a product the fact only refers to ("everything in Essential, plus a pruning
            # visit for up to 4 trees": the 4 trees are the fact's own product's)
            clauses = [(m.start(), m.end()) for m in re.finditer(r"[^;.]+", norm)]
            named = [(p, pid) for p, pid in index.mentioned_products(norm)
                     if not REFERENCE.search(norm[max(0, p - 40):p])]
            self._fq_owner[f.key] = [
                next(({pid for p, pid in named if a <= p < b} for a, b in clauses if a <= fq.start < b), set())
                for fq in self._fact_q[f.key]]
            self._fq_parts[f.key] = item_words(norm, self._fact_q[f.key])
            neg, pos = split_by_scope(norm)
            self._fact_scope[f.key] = (_words(neg, self._product_words), _words(pos, self._product_words))
            self._fact_named[f.key] = {pid for a, pid in index.mentioned_products(f.text)
                                       if not REFERENCE.search(f.text[max(0, a - 40):a])} - {f.product}
            self._fact_cond[f.key] = (set(content_words(norm)) & _CONDITION_WORDS) - self._product_words
            self._fact_words[f.key] = set(content_words(norm))
            self._fq_every[f.key] = [bool(EVERY.search(norm[:fq.start])) for fq in self._fact_q[f.key]]
            # (a percentage is a discount in more ways: "save 10%", "a 10% member discount")
            self._fq_off[f.key] = [bool(OFF.match(norm, fq.end) or fq.kind == "percent" and (
                _SAVE.search(norm[:fq.start]) or _GIVES_OFF.search(norm[:fq.start]) or _OFF_NEAR.match(norm, fq.end)))
                for fq in self._fact_q[f.key]]
            # "$199, and it is free with any 36-month agreement": the 36 months are the terms of
            # the exemption, not a term of the fee
            parts = [(m.start(), m.end()) for m in re.finditer(r"[^,;.]+", norm)]
            self._fq_exempt[f.key] = [any(a <= fq.start < b and bool(_FREE_FACT.search(norm[a:b])) for a, b in parts)
                                      for fq in self._fact_q[f.key]]
            if any(self._fq_off[f.key]):
                self._offers.append(f)
            for fq, off in zip(self._fact_q[f.key], self._fq_off[f.key]):
                if fq.kind == "money" and fq.value:
                    self._money_at.setdefault((round(fq.value, 2), off), set()).add(f.key)
            self._extras += [(f, fq) for fq in self._fact_q[f.key] if fq.kind == "money" and _SURCHARGE.match(masked, fq.end)]
            if _FREE_FACT.search(norm):
                self._free_words.add(f.key)
            if f.key in self._free_words or _FREE_CLAIM.search(norm):
                self._free_terms.add(f.key)
        # words most facts use ("lesson" at a tutoring school) say what the KB is about, not a feature
        n_facts = len(index.facts)
        in_facts = Counter(w for f in index.facts for w in set().union(*self._fact_scope[f.key]))
        self._topic = {w for w, c in in_facts.items() if n_facts >= 8 and c >= max(3, 0.2 * n_facts)}
        # "whitening is cosmetic and is not": a negation whose object is left out
        self._elliptic = {f.key for f in index.facts
                          if any(not content_words(f.text[a:b].split(" ", 1)[-1]) or
                                 len(f.text[a:b].split()) <= 1 for a, b in negation_scopes(f.text))}
        # which facts state a number about a noun ("declared value", "minimum"): a claim with a
        # number finds the fact by what the number is about even when the sentences differ
        self._by_slot: dict[str, list[Fact]] = {}
        for f in index.facts:
            for fq in self._fact_q[f.key]:
                for w in {*fq.context, fq.unit} - {""} - self._product_words:
                    self._by_slot.setdefault(w, []).append(f)
        # facts by the words they use (stems, counted nouns): lookups by a claim's noun stay
        # fast at 10,000 facts
        self._with_word: dict[str, list[Fact]] = {}
        for f in index.facts:
            words = self._fact_words[f.key] | {fq.unit for fq in self._fact_q[f.key]} \
                | {w for fq in self._fact_q[f.key] for w in fq.context}
            for w in words:
                self._with_word.setdefault(w, []).append(f)
        self._row = {f.key: i for i, f in enumerate(index.facts)}
        self._price = {f.product: f for f in index.facts if f.kind == "price" and f.product}
        # words too many facts use to name an item of one ("clean" in a cleaning company's KB)
        in_facts = Counter(w for words in self._fact_words.values() for w in words)
        self._common = frozenset(w for w, c in in_facts.items() if c > max(2, n_facts // 10))
        self._rows_of: dict[Optional[str], list[int]] = {}
        self._about: dict[str, set[str]] = {}      # product id -> keys of the facts it owns or is named in
        for i, f in enumerate(index.facts):
            if f.kind != "price":
                self._rows_of.setdefault(f.product, []).append(i)
            for pid in self._fact_named[f.key] | ({f.product} if f.product else set()):
                self._about.setdefault(pid, set()).add(f.key)
        # words each product's own facts (and company-wide facts) use: not distinctive of another product
        company = set().union(*(set().union(*self._fact_scope[index.facts[i].key]) for i in self._rows_of.get(None, [])))
        self._shared: dict[str, set[str]] = {
            pid: company.union(*(set().union(*self._fact_scope[index.facts[i].key]) for i in rows))
            for pid, rows in self._rows_of.items() if pid is not None}

    def understood(self, fact: Fact) -> dict:
        """How the checker reads a fact, compiled once at start-up: what `kb show`
        and `kb check` print, so an admin can see it before a call depends on it."""
        neg, pos = self._fact_scope[fact.key]
        numbers = []
        for fq, owner in zip(self._fact_q[fact.key], self._fq_owner[fact.key]):
            n = {"value": fq.value, "kind": fq.kind, "unit": fq.unit or None, "per": fq.per or None,
                 "bound": fq.bound or None, "about": sorted(w for w in fq.context if not w.startswith("xxx"))}
            if owner:
                n["products"] = sorted(owner)
            numbers.append({k: v for k, v in n.items() if v is not None})
        out = {"product": fact.product, "numbers": numbers, "excludes": sorted(neg - self._topic),
               "includes": sorted(pos - self._topic - _GENERIC), "conditions": sorted(self._fact_cond[fact.key]),
               "names": sorted(self._fact_named[fact.key])}
        return {k: v for k, v in out.items() if v}

    def lint(self, fact: Fact) -> list[str]:
        """What the checker cannot read unambiguously in a fact, and why it matters."""
        out = []
        neg, pos = self._fact_scope[fact.key]
        qs = self._fact_q[fact.key]
        kinds: dict[tuple[str, str], list[Quantity]] = {}
        for fq, owner in zip(qs, self._fq_owner[fact.key]):
            if not owner:
                kinds.setdefault((fq.kind, fq.unit), []).append(fq)
        for (kind, _unit), same in kinds.items():
            if len(same) > 1 and len({frozenset(q.context) for q in same}) < len(same):
                out.append(f"{len(same)} {kind} values ({', '.join(q_text(q) for q in same)}) with nothing "
                           f"different next to each: a claim cannot be matched to one of them (name what each is for)")
        if fact.key in self._elliptic:
            out.append("a negation whose object is left out (\"... and is not\"): write what is not, in full")
        if (neg - self._topic) & (pos - self._topic):
            out.append(f"says both that {', '.join(sorted((neg & pos) - self._topic))} is and is not included: "
                       f"a correction against it is never spoken (split it into two facts, one per case)")
        if self._fact_cond[fact.key]:
            out.append(f"holds under a condition ({', '.join(sorted(self._fact_cond[fact.key]))}): a rep who leaves "
                       f"the condition out gets a silent check card, not a spoken correction")
        if len(self._fact_named[fact.key]) > 1:
            out.append(f"names several products ({', '.join(sorted(self._fact_named[fact.key]))}): tier-swap "
                       f"checks against it stay silent (one fact per product reads best)")
        if not qs and not neg and len(pos - self._topic - _GENERIC) < 2:
            out.append("nothing checkable: no number, nothing included or excluded")
        return out

    def quantities_of(self, fact: Fact) -> list[Quantity]:
        """The fact's quantities, as extracted once at start-up."""
        return self._fact_q.get(fact.key, [])

    # ------------------------------------------------------------------ check
    def check(self, text: str, context: Optional[str] = None,
              echoed: Sequence[Quantity] = (), prior: str = "") -> UtteranceCheck:
        """Verdicts for one rep utterance. `context` is the product under
        discussion before it; `echoed` are numbers the lead just said (a rep
        repeating the lead's own count is not making a KB claim); `prior` is
        the utterance before it (whose subject may carry over)."""
        t0 = time.perf_counter()
        units, after = self.reader.units(text, context, prior)
        if not units or not self.index.facts:
            return UtteranceCheck([], after)
        # "The first step is a trial lesson. It's 45 minutes one-on-one": a sentence that
        # opens with a pronoun is about the previous sentence's subject, so it is looked
        # up with that sentence in front of it
        sents = {u.sentence: u.text for u in units if u.is_sentence}
        if prior and not u_named(units):
            # "How much is Theory Plus?" - "so it's uh 24.99 a month": the first sentence of
            # a turn that names nothing takes its subject from what was said just before
            sents[-1] = (sentences(normalize_numbers(prior)) or [""])[-1]
        looked_up = [f"{sents[u.sentence - 1]} {u.text}" if u.is_sentence and u.sentence - 1 in sents
                     and (_PRONOUN_START.match(u.text) or (u.sentence == 0 and len(u.text.split()) < 6))
                     else u.text for u in units]
        t1 = time.perf_counter()
        vecs = self.index.embed(looked_up)
        split = {u.sentence for u in units if not u.is_sentence}
        verdicts: list[tuple[int, Verdict]] = []
        found = self.index.search_many(vecs, k=10, floor=0.3)
        t0 += time.perf_counter() - t1          # embedding and retrieval are not the verifier's time
        sent_found = {u.sentence: f for u, f in zip(units, found) if u.is_sentence}
        for u, v, cands in zip(units, vecs, found):
            if u.is_sentence and u.sentence in split:
                if not (u.question or u.hypothetical or u.theirs) and not self.index.mentioned_competitors(u.text):
                    # a feature can span clauses ("water backup's included, | so a sump pump failure is covered"),
                    # and so do policies and conditions ("cancel any time, | no notice needed")
                    # (but where the sentence is about two products, each clause's feature is its
                    # own: "the seat is a $450 add-on on the straight model, | it's only included
                    # on the curved one")
                    about = {pid for _, pid in self.reader.subject_mentions(u.text)}
                    spans = [v for v in self._polarity(u, cands, _best_sims(cands))
                             if v.fact is None or len(about - self._fact_named[v.fact.key]) < 2]
                    for pv in spans + self._policy(u, cands) \
                            + self._widened(u, cands) + self._free(u, cands) + self._addon(u) \
                            + self._offer_scope(u, cands):
                        verdicts.append((u.sentence, pv))
                continue          # otherwise its clauses are checked one by one
            if u.question or u.hypothetical or u.theirs:
                continue          # "so maybe ten devices tops?" asks, it doesn't claim; "let's say" supposes;
                                  # "they're at 110 a quarter" is the competitor's price
            if self.index.mentioned_competitors(u.text):
                continue          # "NetCo charges a setup fee" is about them, not a claim about our KB
            own = _best_sims(cands)       # what this unit itself is closest to
            if not u.is_sentence:
                # a clause keeps some of its sentence's meaning ("once you sign, | it's 4 to 6 weeks")
                parent = sent_found[u.sentence]
                support = _best_sims(cands, parent)
                cands = sorted(_best_sims(cands, [(f, s - CLAUSE_PENALTY) for f, s in parent]).items(),
                               key=lambda kv: -kv[1])
                cands = [(self._by_key[k], s) for k, s in cands]
            else:
                support = own
            whole = u.is_sentence         # policies and conditions are read from whole sentences
            for v in (self._quantities(u, cands, echoed, own) + self._polarity(u, cands, support)
                      + (self._policy(u, cands) + self._free(u, cands) + self._addon(u)
                         + self._offer_scope(u, cands) if whole else [])
                      # ("the visit is free for everybody, | new or returning": the clause says it)
                      + (self._widened(u, cands) if whole or _UNIVERSAL.search(u.text + u.rest) else [])
                      + self._product(u, cands) + self._ownership(u, cands, support)):
                verdicts.append((u.sentence, v))
        self.verify_ms.append((time.perf_counter() - t0) * 1000)
        # "At 24 squares it's a two-day job. Sorry, no, one day.": a sentence that opens
        # with a repair takes the one before it back
        repaired = {u.sentence - 1 for u in units if u.is_sentence and u.sentence > 0
                    and (m := REPAIR.search(u.text[:30])) is not None and m.start() <= 6}
        verdicts = [(si, v) for si, v in verdicts if v.ok or si not in repaired]
        t0 = time.perf_counter()
        judged = self._judged(_collapse(verdicts))
        self.verify_ms[-1] += (time.perf_counter() - t0) * 1000
        return UtteranceCheck(judged, after)

    def _judged(self, verdicts: list[Verdict]) -> list[Verdict]:
        """Every contradiction the rules found is read once more by the judge
        (a cross-encoder that reads claim and fact together): one it does not
        see as a contradiction is at most a card, one it clearly rejects is
        held back. The rules can only lose confidence here, never gain it.

        A conflict the rules found without any doubt (the claim's number on
        the fact's own slot, said outright) is not held back on the judge's
        word alone: the judge reads numbers worst of all ("up to 30 students"
        against "24 students" looks like agreement to a model that reads
        meaning), so where the two disagree the rep gets a card to check.
        Holding back takes the judge and a doubt of the rules' own."""
        judge = self.index.judge
        wrong = [i for i, v in enumerate(verdicts) if not v.ok and v.fact is not None]
        if judge is None or not wrong:
            return verdicts
        probs = judge.contradiction([(verdicts[i].claim, self.judged_text(verdicts[i].fact)) for i in wrong])
        out = list(verdicts)
        for i, p in zip(wrong, probs):
            doubt = "judge-rejects" if p < JUDGE_REJECTS and verdicts[i].doubts \
                else "judge-unsure" if p < JUDGE_SURE else ""
            if doubt:
                out[i] = doubted(out[i], doubt)
        return out

    def judged_text(self, fact: Optional[Fact]) -> str:
        """A fact as the judge was trained to read it: a product's own sentence
        ("Includes two cleanings a year.") with the product's name in front."""
        if fact is None:
            return ""
        if fact.product and fact.kind == "product-fact":
            return f"{self._name(fact.product)}: {fact.text}"
        return fact.text

    def _allowed(self, fact: Fact, product: Optional[str], named: Sequence[str]) -> bool:
        if fact.product is None:
            return True
        if product is None and not named:
            return True            # nobody knows which product: any may apply (lenient)
        return fact.product == product or fact.product in named

    # quantities ---------------------------------------------------------------
    def _quantities(self, u: Unit, cands: list[tuple[Fact, float]], echoed: Sequence[Quantity],
                    own: dict[str, float]) -> list[Verdict]:
        out: list[Verdict] = []
        mentions = self.reader.subject_mentions(u.text)
        qs = extract_quantities(self.index.products.mask(u.text))
        # "one sixty-nine for the visit", left as "1 69": the 1 is the first digit of the
        # 69's readings (169, 1.69), not a number of its own
        leads = {id(a) for a, b in zip(qs, qs[1:]) if a.kind in ("bare", "money") and a.value == int(a.value)
                 and 1 <= a.value <= 9 and u.text[a.end:b.start] == " " and 10 <= b.value < 100
                 and b.value == int(b.value)}
        qs = [q for q in qs if id(q) not in leads]
        qs, paired = cents_pairs(u.text, qs)
        numbers = [q for q in qs if q.kind != "date"]
        # the clause with the rest of its sentence (where a repair may go on), and the whole
        # sentence's numbers (where the fact's own number may be said): read once per unit
        with_rest = self.index.products.mask(f"{u.text}{u.rest}") if u.rest else ""
        rest_qs = [o for o in extract_quantities(with_rest) if o.start >= len(u.text)] if with_rest else []
        sentence = u.lead_in + u.text + u.rest
        read: list[list[Quantity]] = []
        parts: list[list[set[str]]] = []

        def beside(q: Quantity) -> list[Quantity]:
            """The sentence's other numbers (the sentence is read on first need, once per unit)."""
            if not read:
                read.append(extract_quantities(self.index.products.mask(sentence)))
            at = len(u.lead_in) + q.start
            return [o for o in read[0] if not at <= o.start < at + q.end - q.start]

        def said_with(q: Quantity) -> set[str]:
            """The words the rep says this number with (see value_parts; read once per unit)."""
            beside(q)
            if not parts:
                parts.append(value_parts(sentence, read[0]))
            at = len(u.lead_in) + q.start
            return next((p for o, p in zip(read[0], parts[0]) if at <= o.start < at + q.end - q.start), set())
        prev_end = 0
        for qi, q in enumerate(qs):
            before = [pid for p, pid in mentions if p <= q.start]
            # "Bronze, Silver and Gold are 19, 29 and 49": several products named since the
            # last number and none right before this one - any of them may own it
            since = list(dict.fromkeys(pid for p, pid in mentions if prev_end <= p <= q.start))
            prev_end = q.end
            if self.reader.whose(u.lead_in + u.text, len(u.lead_in) + q.start, u.rival) == "them":
                continue          # "Pawfect is 54.99 ... but there's a 99 dollar sign-up fee": theirs
            if retracted(u.text, q, qs[qi + 1:]) or (with_rest and retracted(with_rest, q, rest_qs)):
                continue          # "2 exams a year, sorry, 3 exams a year" (the repair may be the next clause)
            if computed(q, qs):
                continue          # "4 meals at 4 servings is 16 servings": the rep's arithmetic
            if _YOURS.search(u.text[:q.start]) or _YOURS_AFTER.match(u.text, q.end) or _BALANCE.match(u.text, q.end):
                continue          # "that's Essential for your 23 squares": the customer's own number
            prod = before[-1] if before else u.product
            owners = since if len(since) > 1 else [prod]
            allowed = [(f, s) for f, s in cands
                       if any(self._allowed(f, o, () if before else u.named) for o in owners)]
            head = head_word(u.text, q)
            words = set(content_words(u.text))
            have = {f.key for f, _ in allowed}
            for f in self._by_slot.get(head, []) if head and len(self._by_slot.get(head, [])) <= 12 else []:
                if any(self._allowed(f, o, () if before else u.named) for o in owners) \
                        and len(words & self._fact_words[f.key]) >= 2:
                    # found by the number's noun, at the minimum similarity (also when retrieval
                    # found it just below it)
                    allowed = [(g, max(s, SIM_QUANTITY) if g.key == f.key else s) for g, s in allowed] \
                        if f.key in have else allowed + [(f, SIM_QUANTITY)]
                    have.add(f.key)
            price = self._price.get(prod or "")
            surcharge = q.kind == "money" and bool(_SURCHARGE.match(u.text, q.end))
            if surcharge:
                # "on Total Protect that's 6.99 a month extra": what something costs on top of
                # the plan, never the plan's own price
                allowed = [(f, s) for f, s in allowed if f.kind != "price" or f.product != prod]
            elif price and q.kind == "money" and period(q) and period(q) in {
                    period(fq) for fq in self._fact_q[price.key] if fq.kind == "money"}:
                # "it's 49 a month" is about the price of the plan under discussion, however short
                # (and "it's 139 a quarter" about its quarterly price)
                allowed = [(price, max(SIM_QUANTITY, dict((f.key, s) for f, s in allowed).get(price.key, 0.0)))] + \
                          [(f, s) for f, s in allowed if f.key != price.key]
            if len(owners) > 1:
                allowed += [(self._price[o], SIM_QUANTITY) for o in owners if o in self._price
                            and all(f.key != self._price[o].key for f, _ in allowed)]
            # a clearly closer fact with no such number is what the sentence is about
            # ("a two-year contract" is about the contract policy, not the support years)
            # (for a fact the clause finds by its own words, judged by the clause's own words: "two
            # movers are 139 an hour, | and there's only a 2-hour minimum" - the clause with the
            # minimum is not about the movers' rate)
            unrelated = [(f, s) for f, s in allowed if not any(comparable_pair(q, fq, f) for fq in self._fact_q[f.key])]
            top = max((s for f, s in unrelated), default=0.0)
            top_own = max((min(s, own.get(f.key, 0.0)) for f, s in unrelated), default=0.0)
            interval = bool(EVERY.search(u.text[:q.start]))
            discount = bool(OFF.match(u.text, q.end) or _SAVE.search(u.text[:q.start]))
            pct_off = q.kind == "percent" and bool(OFF.match(u.text, q.end))     # "15 percent off", said as such
            pairs = []
            for fact, sim in allowed:
                if sim < max(SIM_QUANTITY, (top_own if fact.key in own else top) - TOPIC_MARGIN):
                    continue
                for fq, owner, every, off in zip(self._fact_q[fact.key], self._fq_owner[fact.key],
                                                 self._fq_every[fact.key], self._fq_off[fact.key]):
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
                        slot = (0.2 if head and head in fq.context else 0.0) + 0.15 * len(ctx) / max(1, len(fq.context)) \
                            + (0.05 if period(q) and period(q) == period(fq) else 0.0)   # "a quarter": the quarterly price
                        pairs.append((sim + slot, fact, sim, fq, slot, owner))
            # "20 percent off aligner treatment" against "15% off aligner treatment and 20% off
            # whitening": the item named binds the value, the whitening's 20% excuses nothing
            unbound: set[int] = set()
            item_said: Optional[set[str]] = None
            for key in {p[1].key for p in pairs}:
                fqs = self._fact_q[key]
                rivals = [i for i, fq in enumerate(fqs) if any(p[3] is fq for p in pairs)]
                if len(rivals) < 2:
                    continue
                item_said = said_with(q) if item_said is None else item_said
                if (b := bound_value(item_said, self._fq_parts[key], rivals, self._common)) is not None:
                    unbound |= {id(fqs[i]) for i in rivals if i != b}
            pairs = [p for p in pairs if id(p[3]) not in unbound]
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
            pairs.sort(key=lambda p: (p[2] < closest - TOPIC_MARGIN, -p[0],
                                      any(_same_value(o, p[3]) for o in said_beside)))
            best = pairs[0]
            # (read with the clause's lead-in: "36, | 99 a month" is one price split at its comma)
            n = len(u.lead_in)
            said_as = [replace(r, start=r.start - n, end=r.end - n) for r in
                       readings(replace(q, start=q.start + n, end=q.end + n), u.lead_in + u.text + u.rest)]
            # every plausible reading of what was said must conflict ("three forty-nine" may be
            # $349 or $3.49) with the best fact, with any other value the same fact states
            # ("$349 up to two bedrooms, $499 for three"), and with equally plausible facts
            # (once the rep's words bind the value to one item of a fact, another fact's "from $68"
            # floor says nothing of that item's price)
            item_bound = any(id(fq) in unbound for fq in self._fact_q[best[1].key])

            def floor_only(f2: Fact, fq2: Quantity) -> bool:
                return item_bound and f2.key != best[1].key and fq2.bound == "min"  # noqa: B023 (called within this iteration)
            ok = any(consistent(r, p[3], qs) for r in said_as for p in pairs
                     if (p[0] >= best[0] - QUANTITY_MARGIN or p[4] >= best[4] or p[1].key == best[1].key)
                     and not floor_only(p[1], p[3]))
            if not ok and q.kind == "money":
                # "you save $250 on the kit": the difference (or sum) of two prices the fact gives
                vals = [fq.value for fq in self._fact_q[best[1].key] if fq.kind == "money"]
                ok = any(abs(r.value - v) < 0.01 for r in said_as for i, a in enumerate(vals) for b in vals[i + 1:]
                         for v in (a + b, abs(a - b)))
            if not ok and q.kind == "money":
                # "manual is $5 more per lesson, so $67 for a single lesson": the KB's $62 plus
                # the $5 said beside it - the rep's arithmetic on the fact, not a claim of its own
                at = len(u.lead_in) + q.start
                others = [o.value for o in beside(q) if o.end <= at and o.value
                          and o.kind in ("money", "percent", "bare", "count") and _DERIVED.search(sentence, o.end, at)]
                base = [fq.value for p in pairs for fq in (p[3],) if fq.kind == "money"]
                ok = any(abs(r.value - v) < 0.01 for r in said_as for b in base for o in others
                         for v in (b + o, b - o, b * o, b * (1 - o / 100) if o < 100 else -1))
            if not ok:
                # "3 nights, that's 450 miles": the fact's amount per night times the nights said
                counts = [o for o in beside(q) if o.kind in ("count", "bare", "duration") and o.value > 1
                          and not _same_value(o, q)]
                ok = any(per_things(p[3]) | {period(p[3])} - {""} and abs(r.value - p[3].value * o.value) < 0.01
                         for r in said_as for p in pairs for o in counts if p[3].kind == q.kind)
            if not ok and q.kind == "duration" and not q.bound and u.text[q.end:q.end + 4] == " of ":
                # "the 10 months of backlog" against "up to 12 months of backlog": an amount of
                # something within the limit, not the limit
                ok = any(p[3].bound == "max" and comparable(q, p[3]) and days(q) <= days(p[3]) for p in pairs)
            if not ok and head:
                # "one 50-minute one-on-one lesson per week": the fact says the number with its
                # noun even where the quantity parser could not pair them
                ok = any(self._says(best[1], r.value, head) for r in said_as)
            said = u.text[q.start:q.end]
            rebound = None
            if ok and q.kind in ("money", "bare"):
                # "10.99 a serving at 2 or 3 meals a week" where the KB gives $10.99 at 4 meals and
                # $11.99 at 2 or 3: the counts said bind the price to another line of the fact
                bound = [(p, self._configured(p[1], p[3], qs)) for p in pairs
                         if any(consistent(r, p[3], qs) for r in said_as)]
                if not any(b is p[3] for p, b in bound):
                    match, rebound = next(((p, b) for p, b in bound if b is not None), (None, None))
                    if match and rebound:
                        ok, best = False, (match[0], match[1], match[2], rebound, match[4], match[5])
            if ok and not item_bound and (w := self._made_universal(u, q, said_as, pairs, qs)) is not None:
                out.append(w)
                continue
            if ok:
                out.append(Verdict(True, u.text, best[1], f"{said} matches", score=best[2], product=prod))
                continue
            fact, fq = best[1], best[3]
            if fq.value == 0:
                continue          # "$0 upfront" is what polarity checks ("no upfront cost")
            others_said = said_beside
            if any(_same_value(o, fq) for o in others_said):
                continue          # "30 days' notice once the 6 months are up": the fact's number is
                                  # said beside this one, which is about something else
            fqs, exempt = self._fact_q[fact.key], self._fq_exempt[fact.key]
            if exempt[next(i for i, x in enumerate(fqs) if x is fq)] and not _EXEMPTS.search(u.text) and any(
                    _same_value(o, fq2) for o in others_said for fq2, ex in zip(fqs, exempt) if not ex):
                continue          # "on the 12-month agreement installation is $199" against "$199, free with
                                  # any 36-month agreement": the fee on other terms, said right
            if q.value == 0 or _APPROX.search(u.text[:q.start]) or (echoes(q, echoed) and not q.bound):
                continue          # "zero" is polarity's job; "around 50" and echoes aren't KB claims
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
            say = self.correction(fact)
            count = next((c for c in qs if per_things(fq) and not per_things(q) and c is not q
                          and c.kind in ("count", "bare") and c.value > 1), None)
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
            if head and not self._same_slot(u.text, q, fq) and not (prod in fq_owner and before) \
                    and not price_claim and not item_bound:
                doubts.append("slot")          # the number is about something the fact's number is not
            elif not (head or set(q.context) & set(fq.context) or price_claim or item_bound):
                doubts.append("slot")
            if len(owners) > 1 or rebound:
                doubts.append("enumeration")
            fact_counts = {(c.unit, c.value) for c in self._fact_q[fact.key] if c.kind == "count"}
            # (the counts as said, names included: an alias like "5-lesson pack" carries one)
            if not rebound and q.kind == "money" and fact_counts and any(c.kind == "count" and any(
                    unit == c.unit and value != c.value for unit, value in fact_counts)
                    for c in extract_quantities(u.text)):
                doubts.append("configuration")     # "a 5-lesson pack for $229" vs "$429 for 10 lessons"
            if q.kind == "bare" or id(q) in paired:
                doubts.append("bare")          # (or read as a price only from the sentence's other price)
            if q.kind == "date":
                doubts.append("date")          # which offer a deadline is for is read from words only
            if _THEY_SELL.search(u.lead_in + u.text[:q.start]) and not WE.search(u.lead_in + u.text[:q.start]):
                doubts.append("they")          # "they're at 54.99": someone sells it - a competitor the
                                               # recogniser misheard ("SecureWay" as "Q-Way") is likelier than us
            if fq.value and min(max(r.value / fq.value, fq.value / r.value) if r.value else math.inf
                                for r in said_as) >= MAGNITUDE:
                doubts.append("magnitude")     # "$9 an hour" for $219: a rep's slip is rarely so far
                                               # off - a misheard or misread number is
            if prod not in u.sent_named and fact.product and self._other_product(q, said_as, qs, head, fact.product):
                doubts.append("other-product")
            # (another product's fact counts when it is close: "on care plus it's 48 hours and on
            # basic 5 business days" names the second plan by a word the KB doesn't list)
            elsewhere = [(f2, s2) for f2, s2 in allowed if s2 >= 0.35] + \
                        [(f2, s2) for f2, s2 in cands if s2 >= 0.45 and f2.key not in have
                         and self._hinted(f2.product, u.lead_in + " " + u.text[:q.start], prod)]
            near = [] if rebound else [
                (f2, fq2) for f2, s2 in allowed if s2 >= best[2] - TOPIC_MARGIN and f2.key != fact.key
                for fq2, off2 in zip(self._fact_q[f2.key], self._fq_off[f2.key])
                if not (fq2.kind in ("money", "percent") and off2 != discount) and not floor_only(f2, fq2)
                and any(consistent(r, fq2, qs) and comparable_pair(r, fq2, f2) for r in said_as)]
            if any(not head or head in fq2.context or head == fq2.unit or head in self._fact_words[f2.key]
                   for f2, fq2 in near):
                continue          # "members get 10% off" between "members get 10% off repairs" and "members get
                                  # 15% off parts", equally close: a fact about as close says it - not proven
            said_words = set(content_words(sentence))
            if near:
                doubts.append("value-elsewhere")   # ... on another noun ("a 25-year workmanship warranty" beside
                                                   # the 25-year performance warranty): a slip between two of
                                                   # our terms is possible, proof of one is not
            elif discount and any(off2 and consistent(r, fq2, qs) and comparable_pair(r, fq2, f2)
                                and not self._names_apart(said_words, fact, f2)
                                for r in said_as for f2 in self._offers if f2.key != fact.key
                                for fq2, off2 in zip(self._fact_q[f2.key], self._fq_off[f2.key])):
                doubts.append("other-offer")       # "you get 15% off the nightly rate" checked against the 20%
                                                   # snowbird offer while the early-bird offer is 15% off, and
                                                   # nothing said is the snowbird's own: most likely that offer
            elif any(consistent(r, fq2, qs) for r in said_as for f2, s2 in elsewhere
                   if not (rebound and f2.key == fact.key)
                   for fq2, owner, off2 in zip(self._fact_q[f2.key], self._fq_owner[f2.key], self._fq_off[f2.key])
                   if comparable_pair(r, fq2, f2) and id(fq2) not in unbound and not floor_only(f2, fq2)
                   and not (owner and prod and before and prod not in owner)
                   and not (rebound and fq2.bound == "min")       # ("from $10.99" says nothing of which line)
                   and not (fq2.kind == "percent" and pct_off and not off2)
                   and (not head or head in fq2.context or head == fq2.unit or head in self._fact_words[f2.key])):
                doubts.append("value-elsewhere")   # the KB states this very value for something near
            elif q.kind == "money" and not rebound and not (fact.kind == "price" and fact.product in u.sent_named) and any(
                    k != fact.key for r in said_as for k in self._money_at.get((round(r.value, 2), discount), ())):
                doubts.append("value-elsewhere")   # "a single day is $42" checked against the 10-day pack: the KB
                                                   # has this very amount for something - a slip between two of
                                                   # our prices is possible, proof of one is not (a discount
                                                   # is only ever a slip for another discount: "$50 off" is
                                                   # not the $50 late fee)
            elif surcharge and any(f2.key != fact.key and consistent(r, fq2, qs) and set(q.context) & set(fq2.context)
                                   for f2, fq2 in self._extras for r in said_as):
                doubts.append("value-elsewhere")   # "the same $5 extra per lesson": a surcharge the KB has,
                                                   # said of something else - which one is the rep's slip
            conf, why = self._confidence(_BASE["quantity"], u, fact, best[2], doubts, q.kind == "date")
            out.append(Verdict(False, u.text, fact, f"said {said!r}, KB says {q_text(fq)}",
                               correction=say, score=best[2], product=prod,
                               evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why))
        return out

    def _made_universal(self, u: Unit, q: Quantity, said_as: Sequence[Quantity],
                        pairs: list[tuple[float, Fact, float, Quantity, float, set[str]]],
                        qs: Sequence[Quantity]) -> Optional[Verdict]:
        """"Openings are $195, no matter who you are" against "$295 per visit; $195 for
        customers on a weekly plan": a value the KB gives beside another value of the
        same thing, said as if it applied to everyone. (Only where the rep's words
        named no item of the fact: "the Classic suite is $68 for everyone" is right.)"""
        text = u.text + u.rest
        m = _said_to_everyone(text)
        if not m or _BOTH_SIDES.search(text[m.start():]):
            return None
        for _, fact, sim, fq, _, _ in pairs:
            if sim < SIM_QUANTITY or not any(consistent(r, fq, qs) for r in said_as):
                continue
            others = [o for o in self._fact_q[fact.key] if o is not fq and o.kind == fq.kind and o.unit == fq.unit
                      and period(o) == period(fq) and o.bound == fq.bound and not _same_value(o, fq)]
            if not others:
                continue
            conf, why = self._confidence(_BASE["widened"], u, fact, max(sim, 0.55), ("widened",),
                                         ignore=("condition", "condition-number", "if"))
            return Verdict(False, u.text, fact, f"rep said {q_text(q)} applies to everyone; KB: {fact.text}",
                           correction=self.correction(fact), score=sim, product=u.product,
                           evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why)
        return None

    def _configured(self, fact: Fact, fq: Quantity, said: Sequence[Quantity]) -> Optional[Quantity]:
        """The fact's other price for the counts the rep said, when the rep's price is
        the fact's price for other counts ("$349 up to two bedrooms, $499 for three or
        more": "$499 for a 2-bedroom" is wrong); `fq` itself when the counts fit it,
        None when they do not decide."""
        counts = [c for c in said if c.kind == "count"]
        fqs = self._fact_q[fact.key]
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

    def _names_apart(self, said: set[str], fact: Fact, other: Fact) -> bool:
        """The rep says something of the fact's own that the other fact does not
        say ("members get 15% off": the member discount, not the early-booking one)."""
        own = self._fact_words[fact.key] - self._fact_words[other.key] - _GENERIC - self._topic
        return bool({w for w in own & said if not w[:1].isdigit()})

    def _same_slot(self, text: str, q: Quantity, fq: Quantity) -> bool:
        """Whether the words around the rep's number name what the fact's number
        is about: its noun (either of the two words after it, or the one before,
        as word stems: "use" is "used"), or the same "per" thing ("per restroom").
        Product names say whose number it is, not what it counts."""
        if per_things(q) & per_things(fq):
            return True
        shared = set(q.context) & set(fq.context)
        if len(shared) >= 2 and shared - UNIT_WORDS - self._name_words:
            return True           # the same noun phrase before both ("each extra instructor hour is")
        near = {stem(w) for w in fq.context} | {stem(fq.unit)}
        return any(stem(w) in near for w in heads(text, q) if w not in self._name_words)

    def _says(self, fact: Fact, value: float, head: str) -> bool:
        if value != int(value) or not 0 < value <= 20:
            return False
        v = int(value)
        forms = f"{v}|{_SMALL[v]}"
        return bool(re.search(rf"\b(?:{forms})\b(?:[\s-]+[\w'-]+){{0,3}}?[\s-]+{re.escape(head)}",
                              fact.text.lower()))

    def _other_product(self, q: Quantity, said_as: Sequence[Quantity], qs: Sequence[Quantity],
                       head: str, product: Optional[str]) -> bool:
        """The value is another product's ("three lessons a week" is Intensive's while
        Essentials was the last one named): the rep may have moved on to it."""
        if not head:
            return False
        for f in self._with_word.get(head, ()):
            if f.product in (None, product):
                continue
            if any(self._says(f, r.value, head) for r in said_as):
                return True
            for fq in self._fact_q[f.key]:
                if (head in fq.context or head == fq.unit) and any(
                        comparable_pair(r, fq, f) and consistent(r, fq, qs) for r in said_as):
                    return True
        return False

    # confidence ----------------------------------------------------------------
    def _confidence(self, base: float, u: Unit, fact: Fact, sim: float, doubts: Sequence[str] = (),
                    deadline: bool = False, ignore: Sequence[str] = ()) -> tuple[float, tuple[str, ...]]:
        """How sure a conflict is: the kind of check's own reliability, less a
        fixed amount for each reason to doubt it. Only a conflict with no real
        doubt at all reaches the voice threshold (0.9 by default). `ignore`:
        doubts the calling check has already answered (a policy frame on both
        sides makes the rep's "if" no reason to doubt it)."""
        why = list(doubts)
        cond = self._fact_cond.get(fact.key, set())
        if cond and not _cond_classes(cond) & _cond_classes(content_words(u.lead_in + u.text + u.rest)):
            # the fact holds under a condition the rep did not state (a number is still a number)
            why.append("condition" if base < _BASE["quantity"] else "condition-number")
        if u.conditional and not deadline:       # ("if you sign by May 31" states the offer's own condition)
            why.append("if")
        if len(u.text.split()) < 4:
            why.append("fragment")
        if sim < 0.55:
            why.append("weak-match")
        if fact.product and u.product is None:
            why.append("product-unknown")      # nobody named a product: the fact is only one tier's
        why = [d for d in why if d not in ignore]
        conf = base - sum(_DOUBT[d] for d in why)
        return max(0.0, round(conf, 3)), tuple(why)

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
            feature -= self._topic
            if not feature or feature <= _GENERIC:
                continue          # "wellness" in a wellness-plan KB, a bare "fee": no feature to contradict
            if kind == "excludes" and _TERM_OVER.search(u.text) and _EARLY_EXIT.search(fact.text):
                continue          # "once the 12 months are up, no cancellation fee": the fee is for leaving early
            if kind == "excludes" and fact.key in self._free_terms and (
                    _WAIVES.search(u.text) or _FEE_WORD.search(u.text)):
                continue          # "the installation is waived", "so no one-way fee" where the KB makes the
                                  # fee free on some terms: not charging it is the waiver, not leaving a
                                  # feature out (whether the rep's case meets the terms is the widened check's)
            if kind == "includes" and fact.key in self._defines and self._describes(u, fact, feature):
                continue          # "the camp kit's got a grill, a table and a lantern" against "The Camp Kit (two
                                  # chairs, a table, a grill and a lantern) is sold separately": what the kit
                                  # holds, not the kit given away
            if kind == "includes" and f_neg and self._prices_it(u, fact):
                continue          # "the camp kit's got a grill and a lantern, 49 for the whole rental" against
                                  # "sold separately for $49": the rep charges the KB's own price for it
            if kind == "includes" and not _INCLUDES.search(u.text):
                continue          # "the form about wellness plans" names it, it doesn't include it
            if self._supported(fact, feature, kind, sim, u, support):
                continue
            if feature & f_neg and feature & f_pos or fact.key in self._elliptic:
                continue          # the fact says both ("$50 for new customers, waived for returning";
                                  # "aligners are HSA eligible; whitening is not"): which side the
                                  # rep meant is a condition, not a contradiction
            say = self.correction(fact)
            if kind == "includes":
                elsewhere = self._who_includes(f_neg, fact.product)
                if elsewhere:
                    say = say.rstrip(".") + f" - that comes with the {elsewhere}."
            doubts = [] if u.is_sentence else ["clause"]
            if kind == "excludes" and f_neg:
                doubts.append("mixed")         # the fact has its own exception ("$149; waived on contracts")
            if _LIMITED.search(fact.text) and "condition" not in doubts:
                doubts.append("condition")     # "local rates apply up to 50 miles": the rep's "not" may be the rest
            if fact.product and not u.sent_named:
                doubts.append("product-context")
            conf, why = self._confidence(_BASE["polarity"], u, fact, sim, doubts)
            out.append(Verdict(False, u.text, fact, f"rep {kind} {' '.join(sorted(feature))}; KB: {fact.text}",
                               correction=say, score=sim, product=u.product,
                               evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why))
            break
        return out

    def _describes(self, u: Unit, fact: Fact, feature: set[str]) -> bool:
        """The rep names the thing the fact defines and lists only what it holds."""
        thing, holds = self._defines[fact.key]
        # (a product named beside it may be what the rep gives it away with: "the Voyager comes with the kit")
        return thing <= set(content_words(u.text)) and feature - thing <= holds \
            and not self.reader.subject_mentions(u.text)

    def _prices_it(self, u: Unit, fact: Fact) -> bool:
        """The rep states, for the thing, an amount of money the fact states."""
        text = self.index.products.mask(u.text + u.rest)
        said = [q for q in extract_quantities(text) if q.kind in ("money", "bare")]
        return any(abs(r.value - fq.value) < 0.01 for q in said for r in readings(q, text)
                   for fq in self._fact_q[fact.key] if fq.kind == "money" and fq.value)

    def _policy(self, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
        """Policies contradicted without a number: "cancel any time, no notice needed"
        against a notice period or minimum term; "we refund the unused months" against
        a refund that is full within a window and nothing after."""
        for frame, claim, kb in _POLICY_FRAMES:
            if frame == "notice" and _NOTICE_GIVEN.search(u.text):
                continue          # "cancel any time with 30 days' notice" states the notice
            if frame == "refund" and _WINDOW_GIVEN.search(u.text):
                continue          # "unused lessons refunded within 30 days" states the window
            said = claim.search(u.text)
            if not said or any(a <= said.start() < b for a, b in negation_scopes(u.text) if frame == "refund"):
                continue
            if frame == "carry-over" and (_DENIED.search(u.text[:said.start()]) or said.group(0).lower().startswith(
                    ("don", "doesn", "won"))):
                continue          # "they don't roll over" states the KB's own policy
            if any(claim.search(normalize_numbers(f.text)) and not kb.search(normalize_numbers(f.text))
                   for f, s in cands if s >= 0.3 and self._allowed(f, u.product, u.named)):
                continue          # the KB itself says the rep's side ("Bloom credits roll over for 3 months"
                                  # beside "credits are forfeited when a membership is cancelled"): which
                                  # one applies is a condition, not a contradiction
            for fact, sim in cands:
                if sim < 0.3 or not self._allowed(fact, u.product, u.named):
                    continue
                if kb.search(normalize_numbers(fact.text)):
                    # the frame on both sides is the evidence: how similar the wording is, the
                    # rep's own "if you cancel", or whom the window is for ("new customers
                    # who cancel within 14 days") adds no doubt: after it there is no refund
                    conf, why = self._confidence(_BASE["policy"], u, fact, max(sim, 0.55),
                                                 ignore=("if", "condition", "condition-number"))
                    return [Verdict(False, u.text, fact, f"rep's {frame} terms differ from the KB: {fact.text}",
                                    correction=self.correction(fact), score=sim, product=u.product,
                                    evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why)]
        return []

    def _widened(self, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
        """"We waive it for everyone" where the KB waives it only on a condition ("for
        students who took a trial lesson", "if you pay 12 months upfront"): the rep
        made a conditional benefit universal."""
        text = u.text + u.rest            # ("the visit's free, | whether you're new or returning")
        if not _said_to_everyone(text):
            return []
        said = set(content_words(text))
        # "new or returning", "members or not" name every side of a condition: no condition at all
        both = {w for p in _BOTH_SIDES.finditer(text) for w in content_words(p.group(0))
                if len(set(content_words(p.group(0))) & _CONDITION_WORDS) >= 2 or "non" in p.group(0).lower()}
        stated = said - both
        said_benefit = {_SAME_BENEFIT.get(w[:4], w[:4]) for w in said if w[:4] in _BENEFIT}
        if _PCT_OR_OFF.search(text):
            said_benefit.add("disc")      # ("the 20% is for everyone": a discount, named by its size)
        for fact, sim in cands:
            if sim < 0.45 or not self._allowed(fact, u.product, u.named):
                continue
            limited = _ONLY_IF.search(fact.text) or self._fact_cond[fact.key]
            feature = (said & self._fact_words[fact.key]) - self._topic - _GENERIC - self._product_words
            benefit = said_benefit & ({_SAME_BENEFIT.get(w[:4], w[:4]) for w in self._fact_words[fact.key]}
                                      | ({"disc"} if any(self._fq_off[fact.key]) else set()))
            if not limited or not feature or not benefit or (self._fact_cond[fact.key] & stated):
                continue
            # (the rep's own "if" is another condition than the fact's - had it been the fact's, the
            # rep would have stated it: "if you book today, we waive it for everybody" still widens it)
            conf, why = self._confidence(_BASE["widened"], u, fact, max(sim, 0.55), ("widened",),
                                         ignore=("condition", "condition-number", "if"))
            return [Verdict(False, u.text, fact, f"rep made it universal ({', '.join(sorted(feature))}); "
                            f"KB: {fact.text}", correction=self.correction(fact), score=sim, product=u.product,
                            evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why)]
        return []

    def _hinted(self, product: Optional[str], before: str, named: Optional[str]) -> bool:
        """A word of the product's name, said before the number, that the plan being
        discussed does not share ("on basic" for the Care Basic plan while Care Plus
        is named): the rep may be talking about that plan by a short name."""
        if not product or product == named:
            return False
        words = set(content_words(before))
        return bool((self._words_of.get(product, set()) - self._words_of.get(named or "", set())) & words)

    def _free(self, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
        """"Halal's no extra charge", "the site survey's free" where the KB prices it
        ("$6 extra per guest", "costs $250") and never makes it free: the rep gave
        away what the company charges for. A fact that is free on some condition is
        the widened check's; this one is only ever a card."""
        m = _FREE_CLAIM.search(u.text)
        if not m or _NOT_FREE.search(u.text[:m.start()]) or re.search(r"\d", u.text):
            return []             # (a sentence with figures in it is the quantity check's)
        # what is free: the words of the clause that says so, not the whole sentence's
        lo = max([0] + [k.end() for k in re.finditer(r"[,;:]|\band\b|\bbut\b|\bplus\b", u.text[:m.start()])])
        hi = min([len(u.text)] + [m.end() + k.start() for k in re.finditer(r"[,;:.]|\band\b|\bbut\b|\bso\b",
                                                                          u.text[m.end():])])
        said = set(content_words(u.text[lo:hi])) - _GENERIC - self._topic - self._product_words
        free_elsewhere = [f for f, s2 in cands if s2 >= SIM_FREE - 0.1 and f.key in self._free_words
                          and said & self._fact_words[f.key]]
        if free_elsewhere:
            return []             # the KB makes it free or included somewhere: which case is a condition
        for fact, sim in cands:
            if sim < SIM_FREE or not self._allowed(fact, u.product, u.named):
                continue
            if fact.key in self._free_terms or self._fact_cond[fact.key] & said:
                continue          # free somewhere, on some condition, or the rep named the condition
            if not any(fq.kind == "money" and fq.value > 0 for fq in self._fact_q[fact.key]):
                continue
            feature = said & self._fact_words[fact.key]
            if not feature:
                continue
            conf, why = self._confidence(_BASE["policy"], u, fact, max(sim, 0.55), ())
            return [Verdict(False, u.text, fact, f"rep made {' '.join(sorted(feature))} free; KB: {fact.text}",
                            correction=self.correction(fact), score=sim, product=u.product,
                            evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why)]
        return []

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
            conf, why = self._confidence(_BASE["ownership"], u, fact, sim, ("ownership",))
            return [Verdict(False, u.text, alt or fact, f"rep gave the {self._name(p)} {', '.join(sorted(feature))}, "
                            f"which the KB has on the {other}: {fact.text}", correction=say, score=sim,
                            product=p, evidence=tuple(Evidence(f.kb_id, f.text) for f in (alt, fact) if f),
                            confidence=conf, doubts=why)]
        return []

    def _addon(self, u: Unit) -> list[Verdict]:
        """"Carpet Care is included with Premier", "Premier includes our Full Pack":
        the rep puts a product the KB sells at its own price inside another one,
        and no fact puts the two together. Word overlap says which products were
        named, not that the KB rules it out: a card at most."""
        m = _PUT_IN.search(u.text)
        if not m or any(a <= m.start() < b for a, b in negation_scopes(u.text)):
            return []
        subjects = {a for a, _ in self.reader.subject_mentions(u.text)}     # not "everything in Silver"
        spans = [(a, b, pid) for a, b, pid in self.index.products.spans(u.text)
                 if a in subjects and not re.search(r"\beverything\s+(?:\w+\s+)?$", u.text[:a])]
        before = [pid for a, _, pid in spans if a < m.start()]
        after = [pid for a, _, pid in spans if a >= m.end() - 1]
        if m.group("has"):                    # "Premier includes Carpet Care"
            pairs = [(a, b) for b in before[-1:] for a in after[:1]]
        else:                                 # "Carpet Care is included with Premier" (not "on the
            # straight model it's an add-on, | it's only included on the curved one": a new clause
            # has its own subject)
            own = [pid for a, b, pid in spans if b <= m.start() and not _NEW_CLAUSE.search(u.text[b:m.start()])]
            pairs = [(a, b) for a in own[-1:] for b in after[:1]]
        said_as = {pid: norm_alias(u.text[a:b]) for a, b, pid in spans}
        for addon, tier in pairs:
            price = self._price.get(addon)
            if addon == tier or price is None or not any(q.kind == "money" and q.value > 0
                                                         for q in self._fact_q[price.key]):
                continue
            together = [self._by_key[k] for k in sorted(self._about.get(addon, set()) & self._about.get(tier, set()),
                                                        key=self._row.__getitem__)]
            apart = [f for f in together if self._kept_apart(f.text, said_as[addon])]
            if len(apart) < len(together):
                continue                      # some fact puts them together: how is its own business
            price = apart[0] if apart else price   # ("not included in Plus or Premier" says it best)
            # "comes with a year of Care Plus" where the tier includes Care Basic: that fact says it best
            price = next((f for f in (self.index.facts[r] for r in self._rows_of.get(tier, []))
                          if addon not in self._fact_named[f.key]
                          and any(self._words_of.get(addon, set()) & self._words_of.get(o, set())
                                  for o in self._fact_named[f.key] - {tier})), price)
            conf, why = self._confidence(_BASE["product"], u, price, 0.55, ("add-on",))
            return [Verdict(False, u.text, price, f"rep put the {self._name(addon)} inside the {self._name(tier)}; "
                            f"KB prices it on its own: {price.text}", correction=self.correction(price),
                            score=0.55, product=tier, evidence=(Evidence(price.kb_id, price.text),),
                            confidence=conf, doubts=why)]
        return []

    def _offer_scope(self, u: Unit, cands: list[tuple[Fact, float]]) -> list[Verdict]:
        """"The $100 off works on any of the three plans", "a free lesson on any pack,
        even the Starter" where the offer names the plans it is for ("Plus or Premier
        members", "not on the ISA"): the rep widened who gets it. A card at most."""
        text = u.text + u.rest
        wide = _ANY_PLAN.search(text)
        subjects = {a for a, _ in self.reader.subject_mentions(text)}
        denied = negation_scopes(text)
        given = [pid for a, b, pid in self.index.products.spans(text) if a in subjects
                 and not any(x <= a < y for x, y in denied) and (
            _GIVEN_AFTER.match(text, b) or _GIVEN_BEFORE.search(text[max(0, a - 60):a]))]
        if not (wide or given) or any(a <= (wide.start() if wide else 0) < b for a, b in denied):
            return []
        amounts = [q for q in extract_quantities(self.index.products.mask(text)) if q.kind in ("money", "percent")]
        for fact, sim in cands:
            if not (fact.kind == "promotion" or _DEAL.search(fact.text)):
                continue
            if sim < SIM_SCOPE:
                break
            named = self._fact_named[fact.key] - {None}
            if not named or _ANY_PLAN.search(fact.text) or (amounts and not any(
                    comparable(q, fq) and same_quantity(q, fq) for q in amounts for fq in self._fact_q[fact.key])):
                break             # the closest offer is for everyone, or is another offer ("15% off", not its 20%)
            scopes = negation_scopes(fact.text)
            barred = {pid for a, _, pid in self.index.products.spans(fact.text) if any(x <= a < y for x, y in scopes)}
            eligible = named - barred
            outside = [pid for pid in given if pid in barred or (pid not in eligible and fact.product != pid)]
            if not (wide and _PLAN_NOUN.search(wide.group(0)) or outside):
                break         # ("15% off either one" after two storage options names no plan: only a
                              # plan said outside the offer's own widens it)
            conf, why = self._confidence(_BASE["widened"], u, fact, max(sim, 0.55), ("scope",),
                                         ignore=("condition", "condition-number", "if"))
            who = ", ".join(self._name(p) for p in outside) or "every plan"
            return [Verdict(False, u.text, fact, f"rep gave the offer to {who}; KB: {fact.text}",
                            correction=self.correction(fact), score=sim, product=u.product,
                            evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why)]
        return []

    def _kept_apart(self, text: str, name: str) -> bool:
        """The fact says the product, by the name the rep used, is not part of the
        other ("Full Pack is not included", "sold separately on every plan")."""
        spots = [(a, b) for a, b, _ in self.index.products.spans(text) if norm_alias(text[a:b]) == name]
        if not spots:                          # the fact is the add-on's own ("Sold separately on every plan")
            return bool(_SEPARATE.search(text))
        return any(_SEPARATE.search(text[b:b + 40]) for a, b in spots)

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
            if any(f.product in instead and s >= sim for f, s in cands):
                return []                     # the product the rep named has its own fact for this
            spots = [p for p, pid in self.index.mentioned_products(u.text) if pid in instead]
            if all(any(a <= p < b for a, b in negated) for p in spots):
                continue                      # "not the Premium features" agrees with the fact
            said = ", ".join(self._name(p) for p in sorted(instead))
            right = ", ".join(self._name(p) for p in sorted(named_in_fact))
            doubts = ["several-named"] if len(named_in_fact) > 1 or fact.product is None else []
            if sim < 0.58:
                doubts.append("shape")          # only a sentence shaped like the fact can swap its tier
            conf, why = self._confidence(_BASE["product"], u, fact, sim, doubts)
            return [Verdict(False, u.text, fact, f"rep said {said}, KB says {right}",
                            correction=self.correction(fact), score=sim, product=fact.product,
                            evidence=(Evidence(fact.kb_id, fact.text),), confidence=conf, doubts=why)]
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


# what each reason to doubt a conflict costs (see ClaimChecker._confidence)
# How far each kind of check can prove a contradiction by itself. Only a number that
# contradicts the number the KB gives for the same thing is proof enough to speak
# (0.95, voice at >= 0.9); word overlap - polarity, "only on condition", a policy
# frame, which tier - can point at one but not prove it (a "check this" card at
# most); whose feature it is, from word overlap across tiers, is held back.
_BASE = {"quantity": 0.95, "polarity": 0.75, "policy": 0.75, "widened": 0.75, "product": 0.7, "ownership": 0.55}
_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen twenty").split()
_DOUBT = {"condition-number": 0.15, "slot": 0.45, "other-product": 0.45, "shape": 0.3, "widened": 0.0, "value-elsewhere": 0.3, "enumeration": 0.15, "bare": 0.3, "date": 0.1, "they": 0.2, "scope": 0.1, "add-on": 0.1, "magnitude": 0.2, "configuration": 0.45, "condition": 0.3, "if": 0.2,
          "fragment": 0.2, "weak-match": 0.2, "product-unknown": 0.3, "product-context": 0.15, "clause": 0.05,
          "mixed": 0.3, "ownership": 0.0, "several-named": 0.3, "asr": 0.35, "asr-number": 0.45,
          "noisy-line": 0.3, "sounds-alike": 0.3, "other-offer": 0.45, "judge-unsure": 0.1, "judge-rejects": 0.5}


def _said_to_everyone(text: str) -> Optional[re.Match[str]]:
    """Where the rep says something applies to everyone ("for everybody", "no matter
    who"), unless denied ("it's not free for everyone"); "no matter" itself is no denial."""
    m = _UNIVERSAL.search(text)
    return m if m and not any(a < m.start() < b for a, b in negation_scopes(text)) else None


def _same_value(said: Quantity, fq: Quantity) -> bool:
    """A number said is the fact's: the same quantity, or a bare number of the same value."""
    return same_quantity(said, fq) if said.kind == fq.kind else said.kind == "bare" and abs(said.value - fq.value) < 0.01


def doubted(v: Verdict, *doubts: str) -> Verdict:
    """A verdict with more reasons to doubt it, found after the check (by the
    judge, or from how the words were heard): each costs what it costs in
    the check itself."""
    return replace(v, confidence=max(0.0, round(v.confidence - sum(_DOUBT[d] for d in doubts), 3)),
                   doubts=(*v.doubts, *doubts))

# words that put a fact under a condition ("waived for returning customers", "on annual plans")
_CONDITION_WORDS = frozenset(content_words("""new returning existing current member members non-member
 nonmember annual annually yearly prepay prepaid upfront autopay referral senior veteran military
 weekend weekends weekday weekdays peak off-peak holiday holidays unless except only additional trial
 introductory""")) - {"non"}

# the same condition in other words ("annual plans paid upfront" = "if you prepay the year")
_COND_SAME = {"annually": "annual", "yearly": "annual", "year": "annual", "prepay": "upfront", "prepaid": "upfront",
              "front": "upfront", "advance": "upfront", "exist": "return", "current": "return", "weekend": "weekend",
              "saturday": "weekend", "sunday": "weekend", "additional": "extra", "another": "extra"}


def _cond_classes(words: Iterable[str]) -> set[str]:
    return {_COND_SAME.get(w, w) for w in words}


# words too general to be the feature a claim includes or excludes
_GENERIC = frozenset(content_words("""cost costs fee fees charge charges price pay paid free extra time day days
 month year service services plan option thing available apply work need want get use come part cover
 covered right now today one two anything everything"""))
# "no one-way fee", "no booking charge": a fee said not to apply
_FEE_WORD = re.compile(r"\bno\s+(?:[\w-]+\s+){0,2}?(?:fee|charge|surcharge|deposit|cost)s?\b", re.I)
# the rep asserting that something is part of the offer
_INCLUDES = re.compile(r"\b(?:includ\w*|comes? with|came with|cover\w*|you(?:'ll| will)? get|gets|got|has|have|"
                       r"had|offer\w*|part of|free|no extra|no charge|at no cost|thrown? in|bundled|available|"
                       r"there'?s|there is|it'?s got|also|too|as well|plus|on top|goes on|eligible|allowed|"
                       r"can|unlimited)\b", re.I)
# a fact whose statement holds within limits or under conditions
_LIMITED = re.compile(r"\b(?:up to|only|if|when|unless|except|over|under|more than|less than|longer|shorter|"
                      r"after|before|within|for (?:new|returning|existing|members?|non-?members?))\b", re.I)
def _count_fits(said: Quantity, kb: Quantity) -> bool:
    """A count the rep said falls in the KB's ("2 bedrooms" in "up to two bedrooms")."""
    if said.unit != kb.unit:
        return False
    if kb.bound == "max":
        return said.value <= kb.value
    if kb.bound == "min":
        return said.value >= kb.value
    return said.value == kb.value


def _need(words: set[str]) -> int:
    return max(1, math.ceil(0.6 * len(words)))


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
