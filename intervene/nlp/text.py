"""Small text helpers shared by the detectors: sentence and clause splitting,
negation scope, self-repair markers. Plain regexes: they run on every
utterance inside the latency budget."""
from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9$\"'])")
_CLAUSE = re.compile(r"\s*(?:[,;:]|\s+-\s+|\s+--\s+|\u2014)\s*|\s+(?=(?:but|although|though|whereas|so|because)\s)", re.I)

# "bring your own lock": what the customer supplies is not included
_BRING_OWN = r"(?:bring|brings|supply|provide) (?:your|their) own"
# "is available as a paid add-on", "are an optional add-on": excludes what it is said of
_ADD_ON = r"(?:is|are) (?:(?:available |sold |offered )?as an? (?:paid |optional )?|an? (?:paid|optional) )add-?on"
NEGATION_CUES = re.compile(
    r"\b(?:not|no|never|without|none|nothing|neither|nor|zero|excludes?|excluded|waived?|waives|waiving|"
    r"(?:sold|priced|billed|charged|purchased|bought|available) separately|at (?:an )?extra (?:cost|charge)|"
    + _ADD_ON + "|"
    r"isn't|aren't|doesn't|don't|didn't|won't|wouldn't|can't|cannot|couldn't|hasn't|haven't|"
    r"wasn't|weren't|shouldn't|nope|nah|non(?=[- ]?[a-z]+(?:able|ible|ed|ing|al|ive)\b)|" + _BRING_OWN + "|"
    # speech recognisers and hurried transcribers drop the apostrophe
    r"isnt|arent|doesnt|dont|didnt|wont|wouldnt|cant|couldnt|hasnt|havent|wasnt|werent|shouldnt)\b|n't\b"
    r"|(?<![\d.$])\b0\b(?![.,]\d)(?=\s+(?!percent|per cent|dollars?|apr|interest)[a-z])", re.I)
# "zero setup fee" (after numbers became digits) negates; "0 percent APR" states a rate

# A rep taking back what they just said: the claim before it must not be corrected.
SELF_REPAIR = re.compile(
    r"\b(?:scratch that|sorry,? i mean|i mean|let me correct|correction|i misspoke|my mistake|"
    r"my bad|actually,? it'?s|wait,? no|no,? sorry|sorry,? no|rather|i was mixing)\b", re.I)


_SENTENCE_END = re.compile(r"[.?!]['\"]?\s*$")


def ends_sentence(text: str) -> bool:
    """Does the text end a sentence? Whisper punctuates, so for a piece of
    speech cut at a pause this says whether the speaker finished the thought."""
    return bool(_SENTENCE_END.search(text))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.split(text.strip()) if s.strip()]


def clauses(sentence: str) -> list[str]:
    return [c.strip(" .!?") for c in _CLAUSE.split(sentence) if c and c.strip(" .!?")]


def merge_short(parts: list[str], min_words: int = 3) -> list[str]:
    """Clauses of fewer than `min_words` words ("No", "all of it") join the
    clause before them (the first one joins the next)."""
    merged: list[str] = []
    for p in parts:
        if merged and (len(p.split()) < min_words or len(merged[-1].split()) < min_words):
            merged[-1] = f"{merged[-1]}, {p}"
        else:
            merged.append(p)
    return merged


def sentence_parts(sentence: str) -> list[str]:
    """The clauses of a sentence worth checking one by one ([] if it is one clause)."""
    parts = merge_short(clauses(sentence))
    return parts if len(parts) > 1 else []


def claim_units(text: str) -> list[str]:
    """Sentences, and for long sentences also their clauses. Retrieval works
    best on one assertion at a time; a clause of two words ("No", "all of
    it") says nothing on its own and joins its neighbour. Every detector uses
    these same units, so each is embedded once per utterance."""
    units: list[str] = []
    for s in sentences(text):
        units.append(s)
        units += [p for p in sentence_parts(s) if p != s]
    return units


_PASSIVE = re.compile(r"\s*(?:be\s+)?(?:included|available|covered|offered|provided|supported|part of|"
                      r"eligible|possible|allowed|charged|required|needed|refundable|refunded)\b", re.I)
# "the setup fee is waived", "career coaching is a paid add-on": the cue itself closes the
# clause it negates, backwards
_BACKWARD = re.compile(r"waived?|waives|waiving|\w+ separately|at (?:an )?extra (?:cost|charge)|"
                       + _ADD_ON, re.I)
# "no, the member discount ...", "no we don't": an answer, not a determiner
_ANSWER_NO = re.compile(r"\s+(?:the|a|an|it|it's|its|that|that's|this|we|we're|you|you're|i|i'm|they|they're|"
                        r"our|your|so|well|actually|sorry|but|and|not|there|there's)\b", re.I)
_DETERMINERS = {"no", "zero", "0", "without", "none"}
_NEXT_WORD = re.compile(r"-?\s*[\w'-]+?(?=[\s,;:.!?]|$)")
_NEXT_NOUN = re.compile(r"(?:\s+(?!(?:and|or|but|so|to|for|if|when|because)\b)[\w'-]+){1,3}")
# cues that negate only the word after them ("non-" only before an adjective: "non-refundable",
# "non-insulated", "non-medical"; "non-members" are people, not a negation)
_OWN_WORD = re.compile(r"non|" + _BRING_OWN, re.I)


def _clause_start(text: str, at: int) -> int:
    """Index of the punctuation that opens the clause ending at `at` (-1: the
    text's start). The commas of a list are inside its clause: in "Brake pads,
    bulbs and batteries are not covered" the subject starts at "Brake". An aside in
    brackets is inside it too: "The Camp Kit (two chairs, a table and a grill) is
    sold separately" says the kit is."""
    plain = re.sub(r"\([^()]*\)", lambda m: " " * len(m.group(0)), text)

    def opening(end: int) -> int:
        return max(plain.rfind(c, 0, end) for c in ",;:.!?")
    back = opening(at)
    if back < 0 or text[back] != ",":
        return back
    seg = text[back + 1:at]
    before = opening(back)
    oxford = re.match(r"\s*(?:and|or)\s", seg, re.I) and before >= 0 and text[before] == ","
    if _LIST_END.match(seg) or oxford:
        while back >= 0 and text[back] == ",":
            prev = opening(back)
            item = text[prev + 1:back]
            if len(item.split()) > 4 or _NOT_ITEM.match(item):
                break
            back = prev
    return back


# "bulbs and batteries are": the last items of a list, not a clause of its own
_LIST_END = re.compile(r"\s*(?!(?:and|or|but|so|then)\b)\w[\w'-]*(?:\s+\w[\w'-]*){0,3}\s+(?:and|or)\s", re.I)
# "After the first month, fees ...": an opening phrase, not an item
_NOT_ITEM = re.compile(r"\s*(?:after|before|for|in|on|with|if|when|once|unless|until|during|within|by|at|from|so|but|"
                       r"and|or|then|yes|no|plus|also|however|otherwise|because|since|we|you|i|they|it)\b", re.I)


# a pronoun and a verb of having or being: the start of a clause of its own
# (not after a verb of saying or thinking: "I don't think it has" is still negated)
_NEW_CLAUSE = re.compile(r"(?<!think )(?<!believe )(?<!say )(?<!know )(?<!sure )(?<!mean )(?<!that )"
                         r"\b(?:it'?s|its|it|there'?s|theres|you'?ll|you|we'?ve|we|they'?ve|they|that'?s|thats)\s+"
                         r"(?:got|gets|get|has|have|comes?|includes?|is|are|also|still|actually)\b", re.I)


# ways of saying "sure" that are made of negation words
_AFFIRMING = re.compile(r"(?:no (?:problem|problemo|worries|doubt|question about it|biggie|big deal)|"
                        r"not a problem|no,? no,? (?:problem|worries))\b", re.I)


def negation_scopes(text: str) -> list[tuple[int, int]]:
    """Character spans governed by a negation cue: from the cue to the end of
    its clause. "No, that's not right, phone support is 24/7" negates only
    "that's not right", not the support claim."""
    spans: list[tuple[int, int]] = []
    for m in NEGATION_CUES.finditer(text):
        if _AFFIRMING.match(text, m.start()):
            continue          # "your insurance will cover it, no problem": "sure", not a denial
        if _OWN_WORD.fullmatch(m.group(0)):
            # "a non-insulated steel door", "bring your own water bottle": only the next word
            # or noun is negated (the door is still steel; what else you get is still included)
            nxt = (_NEXT_WORD if m.group(0).lower() == "non" else _NEXT_NOUN).match(text, m.end())
            spans.append((m.start(), nxt.end() if nxt else m.end()))
            continue
        stop = re.search(r"[,;:.!?]|\s-\s|\bbut\b", text[m.end():])
        end = m.end() + stop.start() if stop else len(text)
        # unpunctuated speech: a new subject and verb starts a clause the negation does not
        # reach ("it'll never break on you it's got a lifetime warranty")
        new = _NEW_CLAUSE.search(text, m.end(), end)
        if new and len(text[m.end():new.start()].split()) >= 2:
            end = new.start()
        if m.group(0).lower() in ("no", "nope", "nah") and _ANSWER_NO.match(text, m.end()) and (
                m.start() == 0 or text[:m.start()].rstrip().endswith((",", ".", "!", "?", "oh", "um", "uh"))):
            continue
        if _PASSIVE.match(text, m.end()) or _BACKWARD.fullmatch(m.group(0)):
            # "Towel service is not included", "X are not part of Core": the
            # negation is about the subject before it, back to the clause start
            # ("the fee is waived on annual plans": only the fee, not the plans)
            back = _clause_start(text, m.start())
            spans.append((back + 1, m.end() if _BACKWARD.fullmatch(m.group(0)) else end))
            continue
        if m.group(0).lower() in _DETERMINERS:
            # "no cost for 10 years", "without a battery": a determiner negates
            # its noun phrase, not everything after it
            words = list(re.finditer(r"\S+", text[m.end():end]))
            if len(words) > 3:
                end = m.end() + words[2].end()
        # a bare "No," / "Nope," answering the other party negates nothing after it
        if m.group(0).lower() in ("no", "nope", "nah") and stop and stop.start() == 0:
            continue
        spans.append((m.start(), end))
    return spans


def split_by_scope(text: str) -> tuple[str, str]:
    """(negated part, affirmed part) of a text."""
    spans = negation_scopes(text)
    neg, pos, last = [], [], 0
    for a, b in spans:
        if a < last:
            a = last
        pos.append(text[last:a])
        neg.append(text[a:b])
        last = max(last, b)
    pos.append(text[last:])
    return " ".join(neg), " ".join(pos)


_BACKCHANNEL = re.compile(
    r"^(?:(?:mm+-?hm+|uh-?huh|mhm|hmm+|mm+|okay|ok|yeah|yep|yes|right|sure|alright|all right|"
    r"got it|i see|uh|um|oh|ah|cool|great|nice|totally|exactly)[\s,.!]*){1,3}$", re.I)


def is_backchannel(text: str) -> bool:
    """"Mm-hm", "okay", "yeah, right": the listener saying "go on", not taking a turn."""
    return bool(_BACKCHANNEL.match(text.strip()))
