"""Yes, no, "not interested", and call control ("stop calling", "call me later", "are you a robot?",
"delete my data").

These are read from the lead's words as said (`spoken.words`), not with
numbers put in digits: "no one" must stay "no one". Call control is checked on
every utterance whatever question is pending, because a lead may say "call me
back tomorrow" in answer to anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from intervene.leads.understand.clock import parse_when
from intervene.leads.understand.spoken import words

__all__ = ["Intent", "parse_yes_no", "declines", "parse_intent", "asks_erasure"]


@dataclass(frozen=True)
class Intent:
    """Call control the lead asked for, whatever question was pending.
    kind: stop | later | repeat | human | who ("who is this?", "is this a robot?") |
    erase ("delete my data": the lead's data is to be erased after the call).
    `at` is the callback time (epoch seconds) for "later". `explicit` is False
    for a bare "not now" / "later", which may instead answer a timing question."""
    kind: str
    at: Optional[float] = None
    explicit: bool = True


_NEG_STRONG = re.compile(
    r"\b(?:not (?:really |at all |very |that |too |)interested|no longer (?:interested|need\w*|looking)|"
    r"not anymore|no thanks?|no thank you|nah thanks|not for me|not for us|don't need (?:it|this|that|one|"
    r"anything)|(?:we|i) (?:already|just) (?:bought|found|got|signed|went|have (?:one|someone|a provider))|"
    r"changed (?:my|our) minds?|didn't (?:sign up|fill|ask|request)|never (?:signed up|filled|asked|requested)|"
    r"(?:i'm|we're|i am|we are) not (?:looking|interested|in the market)|(?:i'm|we're) all set|"
    r"(?:i'm|we're) good,? thanks?|wrong number|yeah,? no\b)")
_UNCLEAR = re.compile(r"\b(?:not sure|unsure|don't know|do not know|dunno|no idea|maybe|possibly|perhaps|"
                      r"it depends|depends|hard to say|kind of|sort of|not certain|i guess not really)\b")
_YES_PHRASES = re.compile(
    r"\b(?:no problem|no worries|not a problem|no problem at all|why not|of course(?! not)|i think so|"
    r"i guess so|i believe so|for sure|you bet|go ahead|go for it|sounds good|sounds great|fire away|"
    r"that's (?:right|correct|true|fine|ok|okay)|that is (?:right|correct)|you got it|please do|"
    r"i am|i do|we are|we do|i have|we have|i would|we would|i will|it is|i'm interested|we're interested|"
    r"still interested|still looking|very much|definitely|absolutely|certainly|exactly|indeed|totally|"
    r"affirmative|correct|yes|yeah|yea|yep|yup|ya|yah|yes please|sure|right|ok|okay|alright|all right|"
    r"uh-huh|uh huh|mm-hmm|mhm|mm hmm|please|i'd love to|love to|i can|we can|good|great|perfect|fine|"
    r"sounds about right|it does|i did|we did|that works|works for me)\b")
_NO_PHRASES = re.compile(
    r"\b(?:absolutely not|definitely not|certainly not|of course not|not really|not at all|i don't think so|"
    r"i do not|i don't|we don't|we do not|i'm not|we're not|i am not|we are not|it's not|it isn't|it is not|"
    r"i wasn't|we weren't|i haven't|we haven't|i can't|we can't|i won't|i wouldn't|not right now|not now|"
    r"not today|not at the moment|not at this time|nope|nah|no|never|negative|not)\b")


def parse_yes_no(text: str) -> Optional[bool]:
    """Yes, no, or None when the answer does not say. The first clause decides
    ("yes, but not now" is a yes - the "not now" is a separate call-control
    intent); strong refusals anywhere ("not interested", "no thanks") win;
    hedges ("maybe", "not sure") with no clear marker give None."""
    t = words(text)
    if not t:
        return None
    if _NEG_STRONG.search(t):
        return False
    clauses = [c.strip() for c in re.split(r"[,.;!?]|\s-\s|\bbut\b|\bthough\b|\balthough\b", t) if c.strip()]
    for c in clauses:
        marks: list[tuple[int, bool]] = []
        for m in _YES_PHRASES.finditer(c):
            marks.append((m.start(), True))
        no_spans = []
        for m in _NO_PHRASES.finditer(c):
            no_spans.append((m.start(), m.end()))
        # a yes phrase inside a no phrase ("i don't" contains "i do") does not count
        marks = [(p, v) for p, v in marks if not any(a <= p < b for a, b in no_spans)]
        yes_spans = [m.span() for m in _YES_PHRASES.finditer(c)]
        for a, _b in no_spans:
            if not any(ya <= a < yb for ya, yb in yes_spans if c[ya:yb] in ("no problem", "no worries",
                                                                            "not a problem", "no problem at all")):
                marks.append((a, False))
        if marks:
            if _UNCLEAR.search(c) and not re.match(r"(?:yes|yeah|yep|no|nope|sure|definitely|absolutely)\b", c):
                return None
            marks.sort()
            return marks[-1][1] if len(marks) > 1 and marks[0][1] and not marks[-1][1] and \
                c.startswith(("yeah no", "yes no")) else marks[0][1]
        if _UNCLEAR.search(c):
            return None
    return None


def declines(text: str) -> bool:
    """An outright "not interested" / "we already bought one", whatever was asked."""
    return bool(_NEG_STRONG.search(words(text)))


# ------------------------------------------------------------------ intents
_STOP = re.compile(
    r"\b(?:stop (?:calling|call|contacting|texting|bothering)|don't (?:ever )?(?:call|contact|ring) (?:me|us|this number)"
    r"(?: (?:again|anymore|any more|back))?|do not (?:call|contact)|never call|take (?:me|us|my number|this number) "
    r"off|remove (?:me|us|my number|my name|this number|my details)|delete (?:my|our) (?:number|details|data|info)|"
    r"unsubscribe|opt(?:ing)? out|do-not-call|lose (?:my|this) number|leave me alone|quit calling|"
    r"put me on (?:the|your) (?:do not call|dnc)|wrong number|how did you get (?:my|this) number)")
# Erasure: a verb of removal with the lead's own data as its object, in any order a person says it
# ("delete my data", "I want my details removed", "erase any information you have on me"), or not
# keeping it ("don't keep my information"). Negated removal ("don't delete my data") is not a request.
# Not "my number" alone: "remove my number" on a sales call means "stop calling" (the do-not-call list).
_DATA = (r"(?:(?:personal|contact|private|phone|mobile|cell|email|e-mail) )?(?:data|details|info|information|"
         r"records?|file|profile|account|submission|entry|answers)")
_MINE = r"(?:(?:all|any) (?:of )?)?(?:my|our)(?: \w+)?"
_ABOUT = r"(?:(?:all|any) (?:of )?)?(?:the |your )?(?:\w+ )?" + _DATA + \
         r" (?:(?:that |which )?(?:you|you've|you have|you guys)(?: \w+)? )?(?:on|about|of|for) (?:me|us)"
_REMOVE = r"(?:delete|erase|wipe|remove|purge|destroy|scrub|clear|get rid of|forget)"
_REMOVED = r"(?:deleted|erased|wiped|removed|purged|destroyed|scrubbed|cleared|gone|forgotten)"
_NUMBER = r"(?:(?:phone|mobile|cell) )?number|e-?mail(?: address)?"
_ERASE = re.compile(
    rf"\b(?:(?:erase|wipe|purge|destroy|scrub) (?:{_MINE} (?:{_NUMBER}))|{_REMOVE} (?:out )?(?:{_MINE} {_DATA}|{_ABOUT}|everything (?:you (?:have|hold|know|keep) )?(?:on|about) "
    rf"(?:me|us))|(?:{_MINE} {_DATA}|{_ABOUT}|everything about (?:me|us)) (?:to be |be |is |are |get |got |gets )?{_REMOVED}|"
    rf"right to (?:be forgotten|erasure)|forget (?:me|us|who i am)\b(?! (?:to|when|if))|"
    rf"(?:data|information) (?:deletion|erasure|removal) request)")
_ERASE_KEEP = re.compile(
    rf"\b(?:don't|do not|dont|stop|never|please don't|i don't want you to|i do not want you to) "
    rf"(?:keep|keeping|store|storing|hold|holding|retain|retaining|save|saving|process|processing|use|using) "
    rf"(?:{_MINE} {_DATA}|{_MINE} (?:{_NUMBER})|{_ABOUT}|(?:any|all) (?:of )?(?:my|our) (?:\w+ )?{_DATA}|any (?:\w+ )?{_DATA}|"
    rf"(?:anything|everything) (?:about|on) (?:me|us))")
_NEGATED = re.compile(r"(?:\b(?:don't|do not|dont|never|no need to|not|won't|shouldn't|please don't)(?: \w+)?|"
                      r"\bno,?) $")


def asks_erasure(text: str) -> bool:
    """The lead asks for their data to be deleted: "delete my data",
    "remove my details", "I want my information erased", "don't keep my
    number", "right to be forgotten" (not "don't delete my data")."""
    t = words(text)
    if _ERASE_KEEP.search(t):
        return True
    return any(not _NEGATED.search(t[:m.start()]) for m in _ERASE.finditer(t))


_LATER_STRONG = re.compile(
    r"\b(?:call (?:me|us)\b|call (?:me |us )?(?:back|later|again|another time|tomorrow|tonight|this (?:afternoon|"
    r"evening)|in |on |at |next)|ring (?:me )?(?:back|later|tomorrow)|give me a call|try (?:me |us )?(?:again |back )?"
    r"(?:later|tomorrow|another time|next)|(?:i'm|i am|we're|im) (?:busy|driving|in a meeting|at work|"
    r"with a (?:client|customer|patient)|in the car|on (?:the|another) (?:road|call|phone)|out|about to|"
    r"just about to|working|at the gym|with my kids|eating|heading)|can't (?:talk|speak)|cannot (?:talk|speak)|"
    r"(?:not|isn't|is not) a (?:good|great) (?:time|moment)|bad (?:time|moment)|another time|some other time|"
    r"(?:can|could) (?:we|you) (?:do this|talk|speak|chat) (?:later|tomorrow|another)|talk (?:later|tomorrow)|"
    r"(?:in|during) a meeting|driving right now|i'll be free|better time would be|(?:not|no) good time)")
_LATER_WEAK = re.compile(r"\b(?:not (?:right )?now|not at the moment|not today|later|maybe later|busy|"
                         r"in (?:an|a|half an|\d+|a few|a couple of) (?:hour|hr|minute|min)s?)\b")
_REPEAT = re.compile(
    r"\b(?:(?:can|could|would) you (?:please )?(?:repeat|say (?:that|it) again|say that|come again)|repeat (?:that|"
    r"the question|it|yourself)|say (?:that|it) again|come again|pardon(?: me)?|didn't (?:catch|hear|get|understand)|"
    r"did not (?:catch|hear)|what was (?:that|the question)|what did you (?:say|ask)|you're breaking up|"
    r"(?:i )?(?:can't|couldn't) hear you|one more time|(?:you )?(?:cut|cutting|broke|breaking) (?:out|up)|bad (?:line|"
    r"connection)|repeat (?:please|again)|what's the question|what was that again)")
_REPEAT_BARE = re.compile(r"^(?:(?:okay|ok|oh|um|uh|sorry|hello|yeah)[,.]? )?(?:sorry|what|repeat|repeat please|huh|hmm|eh|excuse me|pardon|say again|again|hello|you what|"
                          r"sorry what|i'm sorry|what's that)[\s?.!,]*$")
_HUMAN = re.compile(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an |the |some |your )?(?:real |actual |live |human |sales )?"
    r"(?:person|human|someone|somebody|agent|rep|representative|people|salesperson|manager|operator|"
    r"specialist|guy|man|woman|being|team member)|real person|actual person|live person|human being|"
    r"live agent|(?:person|human|someone|somebody|rep|representative|agent) (?:i|we) (?:can|could) (?:talk|speak)|"
    r"(?:transfer|connect|put) me (?:through|to|with)|get me (?:a|an|someone|somebody)|"
    r"i want (?:a|an) (?:person|human|agent)|operator|(?:can|could) (?:i|we) (?:get|have) (?:a|an) (?:person|"
    r"human|agent|representative))")
_HUMAN_BARE = re.compile(r"^(?:(?:an? )?(?:agent|operator|representative|human|person|real person)"
                         r"(?: please)?[\s?.!,]*)+$")
_WHO = re.compile(
    r"\b(?:(?:are|is) (?:you|this|that) (?:a |an )?(?:robot|bot|machine|computer|ai|a\.i|recording|real|automated|"
    r"human|person)|who(?: is|'s| are) (?:this|calling|you|speaking)|what(?: is|'s) this (?:about|regarding|call)|"
    r"why are you calling|where are you calling from|who do you work for|what company)")


def parse_intent(text: str, now: float, tz: str = "UTC") -> Optional[Intent]:
    """Call control in an utterance, or None. Order matters: "don't call me
    again" is a stop even though it says "call"; "can you call me back
    tomorrow at 3" is a later with its time; "sorry?" alone is a repeat but
    "sorry, no" is an answer."""
    t = words(text)
    if not t:
        return None
    if asks_erasure(text):                 # before stop: "delete my number" is erasure, and ends the calls too
        return Intent("erase")
    if _STOP.search(t) and not re.search(r"\bdon't stop\b", t):
        return Intent("stop")
    if (_HUMAN.search(t) or _HUMAN_BARE.match(t)) and not re.search(r"\b(?:don't|do not) (?:need|want) to (?:talk|speak)", t):
        return Intent("human")
    if _LATER_STRONG.search(t):
        return Intent("later", parse_when(text, now, tz) or now + 7200)
    if re.search(r"\b(?:can|could|shall|should) (?:we|you|i) (?:talk|speak|chat|do this|do it|connect|catch up)\b", t):
        when = parse_when(text, now, tz)
        if when is not None:
            return Intent("later", when)
    if _REPEAT.search(t) or _REPEAT_BARE.match(t):
        return Intent("repeat")
    if _WHO.search(t):
        return Intent("who")
    if _LATER_WEAK.search(t):
        return Intent("later", parse_when(text, now, tz) or now + 7200, explicit=False)
    return None
