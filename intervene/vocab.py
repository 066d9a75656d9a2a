"""The words every part of intervene speaks: small frozen dataclasses.

Everything that crosses a module boundary is one of these, so a newcomer can
read this file and know what flows through a call: utterances in, claims and
triggers decided from them, interventions out.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Speaker(str, Enum):
    LEAD = "lead"
    REP = "rep"
    AI = "ai"


class Category(str, Enum):
    ACCURACY = "accuracy"
    EMOTION = "emotion"
    MOMENTUM = "momentum"
    OPPORTUNITY = "opportunity"
    COMPETITIVE = "competitive"
    COMPLIANCE = "compliance"
    PROCESS = "process"


class Severity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 0, "medium": 1, "high": 2}[self.value]


class Mode(str, Enum):
    VOICE = "voice"        # spoken into the call: lead and rep hear it
    SILENT = "silent"      # a card on the rep's screen
    WHISPER = "whisper"    # spoken to the rep only (whisper coaching)


class Outcome(str, Enum):
    """How a call ended for the sale. UNKNOWN is what a call carries until someone
    (the rep, the CRM, `calls outcome`) records one; nobody sets it on purpose."""
    WON = "won"
    FOLLOW_UP = "follow-up"
    LOST = "lost"
    NO_DECISION = "no-decision"
    UNKNOWN = "unknown"


class Feedback(str, Enum):
    """What the rep did with a card on their screen."""
    USED = "used"
    EDITED = "edited"
    DISMISSED = "dismissed"

    @property
    def acted_on(self) -> bool:
        """The rep took the card's advice, as written or in their own words."""
        return self is not Feedback.DISMISSED


# The same, as the strings stored and sent: every outcome, the ones a person or a
# webhook may record, every feedback value, and those that count as acting on a card.
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
RECORDABLE_OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome if o is not Outcome.UNKNOWN)
FEEDBACK: tuple[str, ...] = tuple(f.value for f in Feedback)
ACTED: tuple[str, ...] = tuple(f.value for f in Feedback if f.acted_on)


class Redact(str, Enum):
    """The kinds of personal data taken out of what people say before it is
    stored, shown or sent (nlp/redact.py); the values are the [redaction] keys."""
    CARD = "card"
    SECURITY_CODE = "security_code"
    EXPIRY = "expiry"
    SSN = "ssn"
    BANK_ACCOUNT = "bank_account"

    @property
    def tag(self) -> str:
        """What stands in the text where the data was."""
        return {"card": "[card number]", "security_code": "[security code]", "expiry": "[expiry date]",
                "ssn": "[ssn]", "bank_account": "[bank account]"}[self.value]


REDACT_ALL: frozenset[Redact] = frozenset(Redact)


# --------------------------------------------------------------------------- KB

@dataclass(frozen=True)
class Product:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    price: Optional[str] = None
    facts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fact:
    """One checkable sentence. Product facts, company facts, prices and
    promotions all become Facts so the claim checker has one thing to search."""
    key: str                 # unique within a KB, e.g. "standard#2", "refund", "standard#price"
    kb_id: str               # what evidence cites: the product id or the fact id
    text: str
    product: Optional[str] = None   # owning product id, None for company-wide
    kind: str = "fact"       # fact | price | promotion | product-fact
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Competitor:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    positioning: str = ""


@dataclass(frozen=True)
class Opportunity:
    id: str
    signals: tuple[str, ...]
    say: str
    offer: Optional[str] = None


@dataclass(frozen=True)
class Promotion:
    id: str
    text: str
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Forbidden:
    id: str
    phrases: tuple[str, ...]
    say: str = ""


@dataclass(frozen=True)
class Required:
    """A phrase the rep must say before `deadline_s` (compliance.required and process)."""
    id: str
    phrases: tuple[str, ...]
    deadline_s: float
    section: str = "process"   # "compliance.required" or "process"


@dataclass(frozen=True)
class Assistant:
    name: str = "assistant"
    intro: str = ""


@dataclass(frozen=True)
class KnowledgeBase:
    company: str
    assistant: Assistant = Assistant()
    products: tuple[Product, ...] = ()
    facts: tuple[Fact, ...] = ()          # every checkable sentence, products' included
    competitors: tuple[Competitor, ...] = ()
    opportunities: tuple[Opportunity, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    forbidden: tuple[Forbidden, ...] = ()
    required: tuple[Required, ...] = ()   # compliance.required + process, both category `process`
    source: str = ""                      # file(s) it came from

    def product(self, pid: Optional[str]) -> Optional[Product]:
        return next((p for p in self.products if p.id == pid), None)


# ------------------------------------------------------------------------ calls

@dataclass(frozen=True)
class AudioChunk:
    """Frames in: one party's 16-bit little-endian mono PCM (slin/slin16),
    stamped with the call time of its first sample."""
    speaker: "Speaker"
    t: float
    pcm: bytes

@dataclass(frozen=True)
class Word:
    text: str
    start: float             # seconds from the utterance's start
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class Cues:
    """How something was said, measured from the party's own audio.
    Each is relative to that speaker's own running baseline where it says so,
    because a loud talker is not an angry one."""
    loudness_db: float = 0.0        # mean speech level, dBFS
    loudness_rise_db: float = 0.0   # vs the speaker's median so far (+ = louder than usual)
    pitch_hz: float = 0.0           # median F0 of voiced frames, 0 if unknown
    pitch_rise: float = 0.0         # ratio vs the speaker's median so far, minus 1
    rate_wps: float = 0.0           # words per second of speech
    overlap_s: float = 0.0          # time this speaker talked over the other party
    interrupted: bool = False       # started while the other party was mid-utterance
    snr_db: Optional[float] = None  # speech level over this party's line noise floor (None: not known yet)


@dataclass(frozen=True)
class Utterance:
    index: int
    speaker: Speaker
    start: float
    end: float
    text: str
    final: bool = True
    words: tuple[Word, ...] = ()
    cues: Optional[Cues] = None


@dataclass(frozen=True)
class Evidence:
    kb_id: str
    text: str

    def to_json(self) -> dict:
        return {"kb_id": self.kb_id, "text": self.text}


class Check(str, Enum):
    """Which of the claim checker's checks found a conflict: each proves a
    different amount by itself (a number against the fact's number most)."""
    QUANTITY = "quantity"     # the claim's value against the value the fact gives
    POLARITY = "polarity"     # included vs excluded
    POLICY = "policy"         # a refund, cancellation or notice policy's terms, or a fee made free
    WIDENED = "widened"       # a condition or an offer given to everyone
    PRODUCT = "product"       # which tier a value or an add-on belongs to
    OWNERSHIP = "ownership"   # whose feature it is, from word overlap across tiers


@dataclass(frozen=True)
class Verdict:
    """What the claim checker says about one thing the rep said."""
    ok: bool                 # False = contradicts the KB
    claim: str               # the sentence that was checked
    fact: Optional[Fact]     # the KB fact it was checked against
    reason: str              # human-readable why ("2 years vs 3 years")
    correction: str = ""     # the words to say, built from the fact
    score: float = 0.0       # retrieval similarity of the fact
    product: Optional[str] = None
    evidence: tuple[Evidence, ...] = ()
    # How sure the verifier is that this is really a contradiction (0-1), and
    # the doubts that lowered it: only a proven one may be spoken to the lead.
    confidence: float = 1.0
    doubts: tuple[str, ...] = ()
    check: Optional[Check] = None   # which check found the conflict


@dataclass(frozen=True)
class Trigger:
    """A detector's finding, before policy decides whether and how to deliver it."""
    category: Category
    trigger: str             # machine name, e.g. "kb-mismatch", "dead-air"
    severity: Severity
    utterance: int           # index of the utterance it is about
    at: float                # call time the detector decided
    detected: str            # what was noticed, for a person
    say: str                 # suggested or spoken words
    evidence: tuple[Evidence, ...] = ()
    key: str = ""            # dedupe key: the same key never fires twice in a call
    confidence: Optional[float] = None   # accuracy: the verifier's confidence (None elsewhere)
    doubts: tuple[str, ...] = ()         # accuracy: why the confidence is below 1


@dataclass(frozen=True)
class Intervention:
    at: float
    utterance: int
    category: Category
    severity: Severity
    mode: Mode
    trigger: str
    detected: str
    say: str
    evidence: tuple[Evidence, ...] = ()
    confidence: Optional[float] = None   # accuracy only: how sure the verifier was

    def to_json(self) -> dict:
        out = {
            "at": round(self.at, 2), "utterance": self.utterance,
            "category": self.category.value, "severity": self.severity.value,
            "mode": self.mode.value, "trigger": self.trigger,
            "detected": self.detected, "say": self.say,
            "evidence": [e.to_json() for e in self.evidence],
        }
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 2)
        return out


def new_call_id() -> str:
    """The id every record of a call carries: sortable by start time, unique across workers."""
    return time.strftime("%Y%m%d%H%M%S") + uuid.uuid4().hex[:6]


# How much each part of a call's score counts in the total (a weighted mean; the weights
# need not sum to 1). The config's [score] section overrides any of them; `process` only
# counts in calls run with the training profile, the only one that tracks process steps.
SCORE_WEIGHTS: dict[str, float] = {
    "accuracy": 0.25,      # a wrong fact can lose or poison a sale
    "compliance": 0.20,    # a forbidden promise is a legal risk
    "listening": 0.15,
    "handling": 0.15,
    "opportunity": 0.15,
    "momentum": 0.10,
    "process": 0.10,       # training calls only: the sales process steps the rep covered
}
