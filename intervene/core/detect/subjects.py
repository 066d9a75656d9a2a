"""Who and what a rep utterance is about, before any fact is compared: its
claim units (sentences and their clauses), the product each one is about,
and whether it speaks for us, for a competitor named just before, or for no
one (a question, a hypothetical). Products named as a yardstick ("everything
in Silver", "Premier is Advanced plus ...") or as a competitor's plan
("their basic plan") are not the subject."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from intervene.kb.index import KBIndex
from intervene.nlp.lexicon import normalize_numbers
from intervene.nlp.text import sentence_parts, sentences


@dataclass(frozen=True)
class Unit:
    text: str
    sentence: int            # index of the parent sentence
    is_sentence: bool
    product: Optional[str]   # product bound to the unit: named in it, else before it, else context
    named: tuple[str, ...]   # products named inside the unit
    context: Optional[str] = None   # product under discussion before the sentence
    sent_named: tuple[str, ...] = ()   # products named anywhere in the sentence
    question: bool = False
    theirs: bool = False     # about a competitor's offer named just before ("they're at 110 a quarter")
    rival: bool = False      # a competitor was named in this turn or just before it
    lead_in: str = ""        # a clause's sentence up to the clause: whose subject it continues
    rest: str = ""           # the sentence after the clause: where a repair ("sorry, I misspoke, ...") goes on
    hypothetical: bool = False   # "let's say it were ...", "what if": not an assertion
    conditional: bool = False    # "if you prepay, ...": an assertion under a condition the rep chose


_THEY = re.compile(r"\b(?:they|they'?re|they'?ve|they'?ll|they'?d|their|theirs|them|those guys|that company)\b", re.I)
_THEIR_NAME = re.compile(r"\b(?:their|theirs|they'?ve got an?|they have an?|they offer an?|they sell an?)\s+(?:own\s+)?$", re.I)
# a sentence that goes on from the one before ("..., | but the lessons are 45 minutes"):
# speech recognition splits a turn at a pause, and the subject carries over
_GOES_ON = re.compile(r"^(?:but|and|though|although|while|whereas|plus|which|so)\b", re.I)
WE = re.compile(r"\b(?:we|we'?re|we'?ve|we'?ll|we'?d|our|ours|us)\b", re.I)
# a product named as the yardstick, not the subject: "everything in Silver", "more than Gold"
REFERENCE = re.compile(r"(?:\b(?:everything|all|anything|whatever'?s?|what you get|what'?s)\s+"
                       r"(?:that'?s\s+|you get\s+|you(?:'ve| have| had)(?: got)?\s+(?:now\s+)?)?"
                        r"(?:in|on|from|of|with|that comes with)|\b(?:than|as|(?<!sounds )(?<!looks )(?<!seems )(?<!feels )like|over|above|beyond|versus|vs\.?|"
                        r"unlike|compared to|compared with|upgrade from|up from|everything))\s+(?:the\s+|our\s+)?$", re.I)
_PLUS_AFTER = re.compile(r"\s*,?\s*(?:plus|\+|and on top|with extras)\b", re.I)
_HYPOTHETICAL = re.compile(r"\b(?:let'?s say|say you|suppose|supposing|imagine|hypothetically|what if|even if|"
                           r"pretend)\b", re.I)
CONDITIONAL = re.compile(r"\b(?:if|unless|as long as|provided|assuming)\b", re.I)

class ClaimReader:
    """Splits utterances into claim units and resolves their subject. `compounds`
    maps a split compound to the KB's word ("set up" -> "setup")."""

    def __init__(self, index: KBIndex, compounds: dict[tuple[str, str], str]) -> None:
        self.index = index
        self._compounds = compounds

    def join_compounds(self, text: str) -> str:
        """"a set up fee" -> "a setup fee" when the KB writes "setup": a split
        compound would otherwise match neither the fact nor its feature words."""
        def join(m: re.Match) -> str:
            return m.group(1) if (m.group(1).lower(), m.group(2).lower()) in self._compounds else m.group(0)
        return re.sub(r"\b([A-Za-z]+) (?=([A-Za-z]+)\b)", join, text) if self._compounds else text

    # ------------------------------------------------------------------ units
    def units(self, text: str, context: Optional[str], prior: str = "") -> tuple[list[Unit], Optional[str]]:
        """Claim units of an utterance and the product under discussion after it.
        `prior` is what was said just before (either party): a competitor named
        there makes "they're at 110 a quarter" their price, not ours."""
        out: list[Unit] = []
        current = context
        rival = bool(self.index.mentioned_competitors(prior)) if prior else False
        before = (sentences(normalize_numbers(prior)) or [""])[-1] if prior and rival else ""
        for si, sent in enumerate(sentences(normalize_numbers(self.join_compounds(text)))):
            mentions = self.subject_mentions(sent)
            start_product = current
            leaves = [p for p in sentence_parts(sent) if p != sent]
            named_all = tuple(dict.fromkeys(pid for _, pid in mentions))
            question = sent.rstrip().endswith("?")
            hypo = bool(_HYPOTHETICAL.search(sent))
            cond = bool(CONDITIONAL.search(sent))
            rival_here = bool(self.index.mentioned_competitors(sent))
            sent_theirs = self.theirs(sent, rival, rival_here) or (
                si == 0 and bool(before) and bool(_GOES_ON.match(sent)) and not (WE.search(sent) or mentions)
                and self.whose(before, len(before), rival) == "them")
            out.append(Unit(sent, si, True, mentions[-1][1] if mentions else start_product, named_all,
                            context=start_product, sent_named=named_all, question=question,
                            theirs=sent_theirs, hypothetical=hypo, conditional=cond, rival=rival or rival_here))
            pos = 0
            for part in leaves:
                at = sent.find(part.split(",")[0], pos)
                at = pos if at < 0 else at
                inside = [pid for p, pid in mentions if at <= p < at + len(part)]
                earlier = [pid for p, pid in mentions if p < at]
                bound = inside[0] if inside else (earlier[-1] if earlier else start_product)
                out.append(Unit(part, si, False, bound, tuple(dict.fromkeys(inside)),
                                context=start_product, sent_named=named_all, question=question,
                                theirs=self.theirs(part, rival or rival_here, False) or (
                                    (sent_theirs or self.whose(sent, at, rival or rival_here) == "them")
                                    and not (WE.search(part) or inside)),
                                hypothetical=hypo, conditional=cond or bool(CONDITIONAL.search(part)),
                                rival=rival or rival_here, lead_in=sent[:at],
                                rest=after_part(sent, part, at)))
                pos = max(pos, at + 1)
            if mentions:
                current = mentions[-1][1]
            rival = rival or rival_here
        return out, current

    def subject_mentions(self, text: str) -> list[tuple[int, str]]:
        """Products named as what the sentence is about: not "their basic plan" (a
        competitor's plan that shares our alias), not "everything in Silver" or
        "more than Gold" (a reference the subject is measured against)."""
        out: list[tuple[int, str]] = []
        for a, b, pid in self.index.products.spans(text):
            before = text[max(0, a - 40):a]
            if _THEIR_NAME.search(before) or REFERENCE.search(before):
                continue
            if out and out[-1][1] != pid and _PLUS_AFTER.match(text, b):
                continue          # "Premier is Advanced plus the tinnitus program": Advanced is the yardstick
            out.append((a, pid))
        return out

    def theirs(self, text: str, rival_before: bool, rival_here: bool) -> bool:
        """A competitor's offer rather than ours: "their X" for one of our names, or
        they/their/them with a competitor named earlier in the turn or just before -
        unless the sentence speaks for us ("we", "our", one of our products)."""
        if any(_THEIR_NAME.search(text[max(0, a - 40):a]) for a, _, _ in self.index.products.spans(text)):
            return True
        if not (rival_before or rival_here) or not _THEY.search(text):
            return False
        return not (WE.search(text) or self.subject_mentions(text))

    def whose(self, text: str, at: int, rival: bool) -> str:
        """Who the words just before position `at` speak for: "them" when the
        nearest subject is a competitor (or they/their, once a competitor was
        named), "us" when it is we/our or one of our products, "" when nothing says."""
        head = text[:at]
        marks = [(m.start(), "them") for m in _THEY.finditer(head)] if rival else []
        marks += [(a, "them") for a, _, _ in self.index.competitors.spans(head)]
        marks += [(m.start(), "us") for m in WE.finditer(head)]
        marks += [(a, "us") for a, _ in self.subject_mentions(head)]
        return max(marks)[1] if marks else ""


def u_named(units: Sequence[Unit]) -> bool:
    """Whether the first sentence names a product (then it has its own subject)."""
    return bool(units and units[0].sent_named)


def after_part(sent: str, part: str, at: int) -> str:
    """The sentence after one of its clauses (the clause's punctuation may have
    been rewritten, so it is found by its last characters)."""
    words = re.findall(r"[\w']+", part)[-2:]
    m = re.compile(r"\W+".join(map(re.escape, words))).search(sent, at) if words else None
    return sent[m.end():] if m else ""
