"""The lead's emotional trajectory: escalation, frustration, confusion,
disengagement.

Three kinds of evidence, because each alone misfires on sales calls:
- meaning: the lead's words close to prototypes of talk directed at the rep
  ("I already told you", "stop pushing me") - VADER alone reads "our network
  is a mess" as anger at the rep, and "that's too expensive" as mild;
- sentiment (VADER) of what the lead says, counted only when aimed at the rep
  or the conversation ("you", "this call") or as a trend across replies;
- shape: replies getting shorter and colder after an engaged start, and the
  rep asking again what was already answered (the usual cause of "I told you").
- voice (audio only): the lead louder or higher-pitched than their own
  baseline, or talking over the rep. Arousal alone is not upset (people get
  loud when excited), so it only lowers the bar for words that already lean
  towards frustration or escalation, and is named in what the rep sees.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from intervene.core.detect.phrases import prototypes, units_of
from intervene.core.detect.state import CallState
from intervene.core.policy import PROFILES, Profile
from intervene.kb.index import KBIndex
from intervene.nlp.lexicon import content_words
from intervene.vocab import Category, Severity, Speaker, Trigger, Utterance

EXAMPLES = {
    "escalation": [
        "Stop pushing me or I'm hanging up.",
        "I'm going to hang up now.",
        "Don't call me again.",
        "This is a waste of my time.",
        "Stop, I already said no.",
        "I'm done with this call.",
        "You're being really pushy.",
        "Take me off your list.",
    ],
    "frustration": [
        "I already told you that.",
        "I told you already.",          # (no content of its own: "it's just me" is an answer, not a
        "Like I said before.",          # complaint, and matched "Just me, I'm on my own now")
        "Can you just answer the question?",
        "I keep getting the runaround.",
        "Just give me a straight answer.",
        "I just said that.",
        "You already asked me that.",
        "Stop dodging and just give me the price.",
        "Just get to the point.",
        "Why do you keep asking me the same thing?",
        "How many times do I have to say it?",
        "You're not answering my question.",
        "You're not listening to me.",
        "This is taking too long.",
        "You're rushing me.",
    ],
    "confusion": [
        "I don't understand what that means.",
        "I'm confused.",
        "Sorry, I'm lost.",
        "That doesn't make sense to me.",
        "Can you explain that again?",
        "I'm not following you.",
    ],
}
SEVERITY = {"escalation": Severity.HIGH, "frustration": Severity.MEDIUM, "confusion": Severity.LOW}

SAY = {
    "escalation": "Step back and hand them control: \"Understood - no pressure at all. "
                  "I'll send the details and you can decide when you're ready.\"",
    "frustration": "Acknowledge it and answer directly: \"Sorry - you did tell me that. "
                   "Let me get straight to what you asked.\"",
    "confusion": "Slow down and check understanding: \"Let me put that more simply - "
                 "which part should I go over again?\"",
    "disengagement": "Re-engage with an open question about them: \"What would make this "
                     "a clear win for you?\"",
}

_DIRECTED = re.compile(r"\b(you|your|you're|this call|this conversation)\b", re.I)

# What leads say about the conversation itself when it goes wrong. A long reply
# dilutes its meaning against the prototypes ("Hold on. I've asked you twice what
# the total comes to and you still haven't told me..."); these words do not.
CUES = {
    "escalation": re.compile(
        r"\b(?:i'?m hanging up|i'?ll hang up|i'?m going to hang up|hang up on you|(?:stop|quit) (?:calling|pressuring)|"
        r"take me off (?:your|the) list|don'?t call me again|(?:waste of|wasting) my time|disput\w+ the charge|"
        r"(?:i'?m|i am) done (?:with (?:this|you|it|the call|talking)|here|being)|report(?:ing)? you|"
        r"(?:won'?t|will not|don'?t|doesn'?t) take no for an answer|"
        # insulted: "you people are a joke"
        r"(?:you'?re|you are|stop) lying|"
        r"(?:you|you people|you guys|your company|this company|your outfit)(?:'re| are| is) (?:\w+ )?"
        r"(?:a joke|a scam|a rip-?off|ridiculous|unbelievable|useless|incompetent|clowns|liars|scammers|crooks)|"
        r"sick (?:and tired )?of (?:you|your)|fed up with (?:you|your)|post(?:ing)? about (?:you|your company)|"
        r"(?:leave|leaving|write|writing|post|posting) (?:you )?(?:a |an )?(?:bad|terrible|awful|horrible|negative|"
        r"one-star|one star|1-star|1 star) review|"
        r"(?:if|when) (?:you|anyone|anybody|somebody|someone) (?:from \w+ )?calls? (?:me |here )?again|"
        # asking over the rep's head, complaining, threatening to end the call or all business
        r"(?:speak|talk) (?:to|with) (?:a|your|the) (?:manager|supervisor)|"
        r"(?:i want|get me|put me through to|put) (?:a|your|the) (?:manager|supervisor)(?: on)?|"
        r"fil(?:e|ing) (?:a )?(?:formal )?complaint|report(?:ing)? (?:this call|the call|this conversation) to|"
        r"(?:seconds?|minutes?|close|this close) (?:away )?from hanging up|"
        r"(?:(?:about|ready|tempted|close|this close|so close)\s+)+to hang(?:ing)? up|i should (?:just )?hang up|"
        r"take my business elsewhere|"
        r"(?:i'?m|i am|i'?ll|i will|i'?m going to|gonna) end(?:ing)? (?:this|the) call|"
        r"cancel(?:l?ing)? (?:every|all|each)(?: of)? (?:\w+ ){0,2}(?:orders?|accounts?|contracts?|jobs?)|"
        r"bait[- ](?:and[- ])?switch)\b", re.I),
    "frustration": re.compile(
        r"\b(?:(?:you'?re|you are) not (?:listening|answering)|you'?re not even listening|not listening to me|"
        r"(?:i'?ve|i have|i) (?:already |just )?(?:asked|told|said)(?: you)?(?: (?:that|this|it|about \w+|"
        r"for (?:the|a|an|your|my) \w+))? "
        r"(?:twice|two times|three times|already|before|like twice|"
        r"(?:like |only |about )?(?:a|one|two|three|five|ten|\d+) (?:minutes?|seconds?) ago)|(?:asked|told you) twice|"
        # pointing back at what they said, as people do when they are not heard
        r"(?:look|listen)\W+i (?:just |already )?(?:said|told you)|i just (?:said|told you)|"
        r"i (?:said|told you) (?:that )?i'?m not|(?:told|said|tell) (?:me )?one thing and (?:now|then)|"
        r"(?:earlier|before|first) you said [^.?!]{0,40}\bnow\b|"
        # being pushed
        r"(?:you'?re|you are) (?:(?:really|being|so|kind of|kinda|a bit|pretty|just|very) )*"
        r"(?:pushing (?:me|us|here|hard|too)|pushy|pressuring (?:me|us))|(?:too|so|really|very|pretty) pushy|"
        r"hate (?:these|sales) (?:calls|pitches)|hate being (?:sold to|pitched|pushed|rushed)|"
        r"(?:second|third|fourth) time (?:you|you'?ve|you have|you guys|y'?all|your (?:company|team|people|office)|"
        # (the lead's own repeats are about the call only when they are asking or telling:
        # "the third time I've cracked a phone" is why they called)
        r"(?:i'?ve|i have) (?:\w+ )?(?:asked|told|said|called|explained|mentioned|gotten|got|heard|been|had to (?:ask|call|explain|repeat)))\b|(?:cut|cutting|interrupt\w*) me off|are you (?:kidding|joking) me|"
        r"you (?:still|really) (?:can'?t|cannot|haven'?t|won'?t|didn'?t) (?:give|tell|answer|get)|"
        r"(?:you )?keep (?:skipping|pushing|ignoring|dodging|avoiding|reading me|interrupting|cutting|changing the subject)|"
        r"(?:you )?keep changing (?:the |your )?(?:numbers?|prices?|story|answers?|figures?)|"
        r"(?:you )?(?:just )?(?:skipped|dodged|ignored) (?:it|my question|that|over)|going in circles|"
        r"getting (?:really |so |a bit |a little |kind of |kinda |honestly |pretty )?(?:frustrat\w+|annoy\w+|irritat\w+|"
        r"tired of)|"
        # fed up as the call goes on ("getting kind of fed up here"), not with the old provider
        r"getting (?:really |so |a bit |a little |kind of |kinda |honestly |pretty )?fed up"
        r"(?! with (?:my|our|the|them|their|his|her|it)\b)|fed up (?:here|now)|"
        r"(?:this|that)(?:'s| is) (?:getting |just |honestly |really |so )?(?:ridiculous|unbelievable|absurd|unacceptable)|"
        r"read(?:ing)? (?:me )?(?:a|the|your|from a|off a) script|every time you open your mouth|"
        r"why didn'?t you (?:say|mention|tell me) (?:that|this|so)\b|"
        r"(?:honestly|really|so|pretty|getting) (?:frustrating|irritating|annoying)|stop pushing|"
        r"did you even (?:read|look|listen|check)|didn'?t you (?:even )?read|"
        r"(?:losing|lost|running out of) (?:my |all )?patience|"
        r"are you (?:even )?(?:writing|taking|noting) (?:this|that|any of this|it) down|"
        r"(?:second|third|fourth|fifth) (?:thing|question) (?:you'?ve|you have) asked|"
        r"(?:that|which|stuff|things?) i (?:already|just) (?:filled (?:in|out)|put (?:on|in) the form|answered)|"
        r"(?:don'?t|do not) (?:need|want) (?:a|the|your|any|this|another) (?:sales )?(?:pitch|spiel)|"
        r"(?:skip|spare me) the (?:sales )?(?:pitch|spiel)|"
        r"(?:can you|could you) (?:please )?(?:just )?(?:actually )?(?:listen|answer (?:the|my) question)|"
        r"let me finish|still (?:haven'?t|didn'?t) (?:told|answered)|"
        r"(?:i|i'?ve|i have) already (?:told you|said (?:that|this|it|so)|asked (?:you|that|this)|explained)|"
        r"are you (?:even )?(?:listening|hearing me|paying attention)|are you even (?:looking|reading)|"
        r"(?:that'?s|that is|this is) not (?:an answer|what i asked)|"
        r"i (?:just |only )?asked (?:you )?(?:for )?(?:a|one) (?:simple|straight|direct|basic) "
        r"(?:question|number|answer|price|thing)|i keep getting (?:more|the runaround|different|passed)|"
        # being hurried or talked at, said to the rep
        r"(?:you'?re|you are|stop|quit) (?:rushing|hurrying) me|"
        r"(?:not trying to|don'?t want to|do not want to|can'?t) sit through (?:the |a |this |your |all )|"
        r"(?:that was|that'?s) (?:like )?my (?:whole|entire) question)\b", re.I),
    "confusion": re.compile(
        r"\b(?:i'?m (?:getting )?(?:so |a (?:little |bit )?|kind of |kinda |sort of |totally |completely |really )?"
        r"(?:confused|lost)|not sure i follow|i don'?t follow|i'?m not following|"
        r"i don'?t understand|that doesn'?t make sense|wait,? (?:i'?m )?confused|"
        r"(?:this|that|it)(?:'s| is) getting (?:really |so |a (?:little |bit )?|kind of |kinda |pretty )?confusing)\b", re.I),
    "disengagement": re.compile(r"\bwhatever you (?:say|think)\b|^\W*(?:mm+,?\s*)?(?:ok|okay|sure)?,?\s*whatever\W*$",
                                re.I),
}
CUE_SEVERITY = {"escalation": Severity.HIGH, "frustration": Severity.MEDIUM, "confusion": Severity.LOW,
                "disengagement": Severity.LOW}
# Words that are about the rep only where their sentence speaks to the rep: "your company
# has jerked me around" is, "my last company kept messing us around" and "the ringing is
# kind of annoying" are why they called.
AIMED_CUES = {
    "escalation": re.compile(
        r"\b(?:(?:being|been|getting|get) lied to|"
        r"(?:jerk|jerked|jerking|mess|messed|messing|string|strung|stringing) (?:me|us) (?:around|about|along)|"
        r"sick (?:and tired )?of being|(?:was|were|is|it'?s|all) (?:a )?(?:lie|lies|pack of lies)|(?:(?:sick (?:and tired )?of|fed up with|post(?:ing)? about) this"
        r"(?=\s*(?:[.,;!?]|$| call| conversation| runaround| nonsense)))|post(?:ing)? about this everywhere)\b", re.I),
    "frustration": re.compile(r"\b(?:annoy(?:s|ing) (?:me|us)|(?:kind of|kinda|a bit|a little|getting) annoying)\b",
                              re.I),
}
_CLAUSE = re.compile(r"[,;:]\s+|\s+(?:but|and|so)\s+", re.I)
_NOT_ADDRESSED = re.compile(r"\b(?:you know|you see|thank you|if you|you guys know)\b", re.I)


def _aimed_cue(text: str) -> Optional[tuple[str, re.Match[str]]]:
    """An AIMED_CUES label and its words, where their sentence speaks to the rep
    ("you know" and "thank you" do not)."""
    for name, rx in AIMED_CUES.items():
        for m in rx.finditer(text):
            start = max(text.rfind(c, 0, m.start()) for c in ".!?") + 1
            ends = [i for i in (text.find(c, m.end()) for c in ".!?") if i >= 0]
            sentence = _NOT_ADDRESSED.sub(" ", text[start:min(ends, default=len(text))])
            if _DIRECTED.search(sentence):
                return name, m
    return None


_FILLER_LIKE = re.compile(r"(\b[\w']+\W+)?\blike\b", re.I)
_LIKER = {"i", "we", "you", "they", "he", "she", "would", "i'd", "we'd", "you'd", "they'd", "really", "do",
          "don't", "didn't", "does", "doesn't", "did", "to", "not", "also", "just", "might", "may", "i'll",
          "we'll", "who", "people", "kids", "wife", "husband", "would've", "definitely", "actually", "still"}


def _drop_filler(m: re.Match[str]) -> str:
    """A "like" after someone who likes ("I'd like", "we really like") stays; any other goes."""
    before = m.group(1) or ""
    word = re.sub(r"\W+$", "", before).lower()
    return m.group(0) if word in _LIKER and not re.search(r"[,.;!?]", before) else before


_RANK = {"escalation": 3, "frustration": 2, "confusion": 1, "disengagement": 0}
_BACKCHANNEL = {"ok", "okay", "yeah", "yes", "yep", "sure", "fine", "right", "mm", "hmm", "uh", "huh",
                "alright", "no", "not", "really", "nope", "mhm"}


def _replies(call: CallState, overheard: float) -> list[str]:
    """The lead's turns, as text. Consecutive lead utterances are one reply
    (audio splits a reply at every pause), and "mm-hm" said over the rep (at
    least `overheard` of it) is listening, not a reply - it must not read as a
    cold, short answer."""
    out: list[str] = []
    for turn in call.turns():
        if turn[0].speaker != Speaker.LEAD:
            continue
        said = [u.text for u in turn if not (u.cues and u.cues.overlap_s >= overheard * (u.end - u.start))]
        if said:
            out.append(" ".join(said))
    return out


def arousal(u: Utterance, profile: Profile) -> str:
    """What in the lead's voice says they are agitated ("" if nothing), against
    the lead's own median loudness and pitch."""
    c = u.cues
    if c is None:
        return ""
    signs = []
    if c.loudness_rise_db >= profile.arousal_louder_db:
        signs.append(f"{c.loudness_rise_db:+.0f} dB louder than earlier")
    if c.pitch_rise >= profile.arousal_pitch_rise:
        signs.append(f"pitch {c.pitch_rise:+.0%}")
    if c.interrupted:
        signs.append("talked over the rep")
    return "voice: " + ", ".join(signs) if signs else ""


@dataclass
class EmotionDetector:
    """Each label's bar is the profile's similarity for it plus its
    emotion_shift (negative = more sensitive)."""
    index: KBIndex
    profile: Profile = field(default_factory=lambda: PROFILES["standard"])

    def __post_init__(self) -> None:
        self.protos = prototypes(self.index, "emotion", EXAMPLES)
        self.vader = SentimentIntensityAnalyzer()
        self.lead_sentiment: list[float] = []
        p = self.profile
        self.bars = {"escalation": p.emotion_escalation_sim, "frustration": p.emotion_frustration_sim,
                     "confusion": p.emotion_confusion_sim}

    def on_utterance(self, u: Utterance, call: CallState, now: float) -> list[Trigger]:
        if u.speaker != Speaker.LEAD:
            return []
        p = self.profile
        sentiment = self._sentiment(u.text)
        self.lead_sentiment.append(sentiment)
        units = units_of(u.text)
        scores = self.protos.scores(units)
        voice = arousal(u, p)
        label: Optional[str] = None
        bar = 0.0
        for name in ("escalation", "frustration", "confusion"):
            bonus = p.arousal_bonus if voice and name != "confusion" else 0.0
            bar = self.bars[name] + p.emotion_shift - bonus
            if scores.get(name, (0.0, ""))[0] >= bar:
                label = name
                break
        if label and not voice and (sentiment >= p.emotion_kind_sentiment or self._said_kindly(units, label, bar)):
            label = None          # "Yeah, that's me. Thanks for calling back." is not "Don't call me again"
        why = [f"sounds like \"{scores[label][1]}\" ({scores[label][0]:.2f})"] if label else []
        # the words themselves, where the meaning was diluted or found something milder: a
        # frustrated reply that ends "... or I'm hanging up" is an escalation
        cue = next(((name, m) for name, rx in CUES.items() if (m := rx.search(u.text))), None)
        aimed = _aimed_cue(u.text)
        if aimed and (cue is None or _RANK[aimed[0]] > _RANK[cue[0]]):
            cue = aimed
        if cue and (label is None or _RANK[cue[0]] > _RANK[label]):
            label, why = cue[0], [f"said \"{cue[1].group(0)}\""]
        if label and voice and label != "confusion":
            why.append(voice)
        if label is None and sentiment <= p.emotion_aimed_sentiment and self._aimed(units):
            label, why = "frustration", [f"negative remark aimed at the rep (sentiment {sentiment:.2f})"]
        if label is None and self._disengaging(call):
            label, why = "disengagement", ["replies getting shorter and colder"]
        if label is None:
            return []
        severity = SEVERITY.get(label, CUE_SEVERITY.get(label, Severity.MEDIUM))
        repeated = self._rep_repeated_question(call, u)
        if repeated:
            why.append(f"the rep asked again: \"{repeated}\"")
            if severity == Severity.LOW:
                severity = Severity.MEDIUM
        say = SAY[label]
        return [Trigger(Category.EMOTION, f"lead-{label}", severity, u.index, now,
                        f"Lead {label}: \"{u.text}\" - " + "; ".join(why), say,
                        key=f"emotion:{label}:{u.index}")]

    def _sentiment(self, text: str) -> float:
        """VADER's compound score, without the filler "like": VADER counts every
        "like" as liking, so "I just told you that, like a minute ago" read as
        friendly (a liking is kept: "I'd like", "we really like it")."""
        return float(self.vader.polarity_scores(_FILLER_LIKE.sub(_drop_filler, text))["compound"])

    def _aimed(self, units: list[str]) -> bool:
        """A negative part of the reply that is itself about the rep or the call:
        "it's not great. Is that something you do?" is unhappy with the roof and
        asks the rep a question; "you're wasting my time" is aimed. A part is a
        clause: "I'm sick of this cold, can you come out this week?" is a
        complaint about the weather and a request."""
        bar = self.profile.emotion_aimed_part_sentiment
        clauses = [c for t in units for c in _CLAUSE.split(t) if c.strip()]
        return any(_DIRECTED.search(c) and self._sentiment(c) <= bar for c in clauses)

    def _said_kindly(self, units: list[str], label: str, bar: float) -> bool:
        """Every part of the reply that sounds like the label is itself friendly:
        "Sure, no problem. Thanks for calling back." scores mixed as a whole
        ("no problem" reads half negative), but the part that resembles "don't
        call me again" is a thank-you."""
        close = [t for t in units if self.protos.scores([t]).get(label, (0.0, ""))[0] >= bar]
        kind = self.profile.emotion_kind_sentiment
        return bool(close) and all(self._sentiment(t) >= kind for t in close)

    def _disengaging(self, call: CallState) -> bool:
        """A few short replies in a row (three by default) after the lead was
        talking freely, with sentiment not warming up."""
        p = self.profile
        n = p.disengaged_replies
        lead = _replies(call, p.overheard_overlap)
        if len(lead) < n + p.engaged_replies:
            return False
        lengths = [len(text.split()) for text in lead]
        recent = lead[-n:]
        short = all(len(text.split()) <= p.disengaged_words and set(content_words(text)) <= _BACKCHANNEL
                    for text in recent)
        earlier = lengths[:-n]
        engaged = sum(earlier) / len(earlier) >= p.engaged_words
        before = self.lead_sentiment[:-n]
        cooling = (sum(self.lead_sentiment[-n:]) / n
                   <= sum(before) / max(1, len(self.lead_sentiment) - n) + p.cooling_margin)
        return short and engaged and cooling

    def _rep_repeated_question(self, call: CallState, u: Utterance) -> str:
        """The rep question just before this reply, if it repeats an earlier one."""
        reps = [r for r in call.utterances if r.speaker == Speaker.REP and r.end <= u.start]
        qs = [r for r in reps if "?" in r.text]
        if len(qs) < 2 or qs[-1] is not reps[-1]:
            return ""
        last = [s for s in units_of(qs[-1].text) if s.endswith("?")][-1:] or [qs[-1].text]
        prev = [s for r in qs[:-1] for s in units_of(r.text) if s.endswith("?")]
        if not prev:
            return ""
        v = self.index.embed(last + prev)
        sims = v[1:] @ v[0]
        return last[0] if float(np.max(sims)) >= self.profile.repeated_question_sim else ""
