"""The AI's side of the first minute of a speed-to-lead call.

A lead filled in a form seconds ago; the assistant calls, says who it is and
why it calls, asks a few short qualifying questions and hands over to a human
rep with a briefing. This module decides what to say next and nothing else:
no audio, no clock, no I/O. The caller feeds it what the lead said (`heard`),
that the lead said nothing (`silence`) or talked over the prompt
(`barge_in`), each with the current time, and acts on the returned Action:
speak a `Say`, ring the rep on a `Handoff`, hang up on an `End`.

The rules are the ones a good human caller follows: re-ask an unclear answer
once, in other words, then move on rather than interrogate; honour "stop
calling" and "call me later" immediately; take answers given early; never
leave the lead in silence while the rep's phone rings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

from intervene.leads.understand.answers import Answer, parse_answer
from intervene.leads.understand.budget import Budget, describe_budget, parse_budget
from intervene.leads.understand.clock import describe_when
from intervene.leads.understand.dates import Timeline, describe_timeline, parse_timeline
from intervene.leads.understand.intent import declines, parse_intent

__all__ = ["Question", "Say", "Handoff", "End", "Action", "Qualifier", "DEFAULT_QUESTIONS"]


@dataclass(frozen=True)
class Question:
    """One qualifying question. `ask` and `rephrase` may use {topic}, {company}
    and {lead}. `on_no` ends the call when a yes/no question is answered no:
    "not-interested" for an interest check, "later" for "is now a good time?";
    None records the no and goes on. `label` names the answer in the rep's
    briefing (default: the id, capitalised)."""
    id: str
    ask: str
    kind: str                         # yesno | budget | timeline | text
    rephrase: str = ""
    on_no: Optional[str] = None
    label: str = ""


DEFAULT_QUESTIONS: tuple[Question, ...] = (
    Question("interest", "Are you still looking for {topic}?", "yesno",
             "Sorry, just to check: would you like to hear more about {topic}?",
             on_no="not-interested", label="Interested"),
    Question("budget", "Roughly what budget do you have in mind?", "budget",
             "Even a rough range helps. For example, under five thousand, or more than that?"),
    Question("timeline", "And when would you like to get started?", "timeline",
             "Are you thinking in the next few weeks, the next few months, or later than that?"),
    Question("needs", "Last one: what's the main thing you need it to do for you?", "text",
             "In a few words, what matters most to you?"),
)


# ------------------------------------------------------------------ actions
@dataclass(frozen=True)
class Say:
    """Speak `text` to the lead, then listen.
    purpose: greeting | question | rephrase | ack | handoff | goodbye."""
    text: str
    purpose: str


@dataclass(frozen=True)
class Handoff:
    """Qualification is over (or the lead asked for a person): say `say`, ring
    a rep and whisper `summary` to them. `fields` maps question id -> answer
    value (None = asked, not answered). reason: done | human | enough."""
    fields: dict
    summary: str
    say: str = ""
    reason: str = "done"


@dataclass(frozen=True)
class End:
    """Say `say` and hang up. reason: not-interested | stop | later | no-answer | erase.
    "stop" means the number goes on the do-not-call list; "erase" that the
    lead asked for their data to be deleted (done after the call); `callback_at`
    (epoch seconds) is when to call again, for later and no-answer."""
    reason: str
    callback_at: Optional[float]
    say: str


Action = Union[Say, Handoff, End]


class _Fmt(dict):
    def __missing__(self, key: str) -> str:
        return ""


# ---------------------------------------------------------------- the machine
@dataclass
class _QState:
    asks: int = 0            # times asked in any wording (repeats included)
    reasked: bool = False    # the one re-ask (rephrase) is spent
    silences: int = 0


@dataclass
class Qualifier:
    """One call's qualification dialogue. Construct, call `start`, then
    `heard` / `silence` / `barge_in` until an Action is a Handoff or End.
    `fields`, `answers` and `transcript` are the record of the call."""
    company: str
    assistant_name: str
    lead_name: str
    questions: Sequence[Question] = DEFAULT_QUESTIONS
    now: float = 0.0
    topic: str = ""                      # what the form was about: "business internet"
    currency: str = "USD"                # the company's currency, for "15 grand"
    tz: str = "UTC"                      # the lead's time zone, for "tomorrow at 3"
    callback_delay_s: float = 7200.0     # "call me later" with no time said
    enough_after_s: Optional[float] = None   # hand off once interested and this long in
    fields: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)
    transcript: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.now
        self._state = {q.id: _QState() for q in self.questions}
        self._current: Optional[Question] = None
        self._cut_off = False
        self._heard_any = False
        self._final: Optional[Union[Handoff, End]] = None

    # --------------------------------------------------------- public API
    @property
    def current(self) -> Optional[Question]:
        """The question waiting for an answer (None before start and after the end)."""
        return None if self._final else self._current

    @property
    def finished(self) -> Optional[Union[Handoff, End]]:
        return self._final

    def start(self, now: float) -> Say:
        """Greet, say it is an automated assistant, who for and why, and ask
        the first question - in one breath, so the lead can answer at once."""
        self.now = now
        name = f"Hi {self.lead_name}" if self.lead_name else "Hi there"
        about = f"You just asked about {self.topic} on our form" if self.topic else \
            "You just filled in our form"
        intro = (f"{name}, this is {self.assistant_name}, an automated assistant calling from {self.company}. "
                 f"{about}, so I have a couple of quick questions before I connect you with a specialist.")
        q = self._next_question()
        if q is None:
            return self._say(intro, "greeting")
        self._current = q
        self._state[q.id].asks += 1
        return self._say(f"{intro} {self._text(q.ask)}", "greeting")

    def barge_in(self) -> None:
        """The lead started talking over the prompt: they may not have heard
        the whole question, so a non-answer to it is not held against them."""
        self._cut_off = True

    def heard(self, text: str, now: float) -> Action:
        """The lead's next final utterance."""
        self.now = now
        if self._final:
            return self._final
        self.transcript.append(("lead", text))
        cut, self._cut_off = self._cut_off, False
        if not text.strip():
            return self.silence(now)
        self._heard_any = True
        q = self._current
        intent = parse_intent(text, now, self.tz)
        if intent and intent.kind == "erase":            # whatever else they said: no rep, nothing more asked
            return self._end("erase", None)
        if intent and intent.kind == "stop":
            return self._end("stop", None)
        if intent and intent.kind == "human":
            self._capture_all(text, now, None)
            return self._handoff("human")
        if q is None:                                     # no questions at all
            return self._handoff("done")
        ans = parse_answer(q.kind, text, now, self.currency, self.tz)
        if intent and intent.kind == "later":
            # a bare "not right now" to "when would you start?" is an answer, not a request
            if intent.explicit or q.kind == "yesno":
                if q.kind == "yesno" and ans.clear:
                    self._record(q, ans)
                self._capture_all(text, now, q)
                return self._end("later", intent.at)
        if intent and intent.kind == "repeat" and not ans.clear:
            self._state[q.id].asks += 1
            return self._say(self._text(q.ask), "question")
        if intent and intent.kind == "who" and not ans.clear:
            about = f" about {self.topic}" if self.topic else ""
            return self._say(f"I'm {self.assistant_name}, an automated assistant from {self.company}, calling "
                             f"about the form you just filled in{about}. A person from our team will join "
                             f"in a moment. {self._text(q.ask)}", "ack")
        if declines(text) and not (q.kind == "yesno" and q.on_no is None):
            self._record(q, Answer(q.kind, False, True) if q.kind == "yesno" else Answer(q.kind, None, False))
            return self._end("not-interested", None)
        others = self._capture_all(text, now, q)
        if not ans.clear and q.kind == "yesno" and q.on_no == "not-interested" and others:
            ans = Answer("yesno", True, True)             # giving a budget means still interested
        if ans.clear:
            self._record(q, ans)
            if ans.value is False and q.on_no:
                return self._end(q.on_no, self.now + self.callback_delay_s if q.on_no == "later" else None)
            return self._advance(self._ack(ans, others), echo=ans.kind in ("budget", "timeline") or bool(others))
        st = self._state[q.id]
        if others and st.asks < 3:
            st.asks += 1
            return self._say(f"{self._ack_many(others)} {self._text(q.ask)}", "question")
        if cut and st.asks < 3:
            st.asks += 1
            return self._say(self._text(q.ask), "question")
        if not st.reasked:
            st.reasked = True
            st.asks += 1
            return self._say(self._text(q.rephrase or q.ask), "rephrase")
        self._record(q, Answer(q.kind, None, False))
        return self._advance("No problem.")

    def silence(self, now: float) -> Action:
        """The lead said nothing for a while after a question. First time:
        ask again in other words; after that move on - or, when the lead has
        not answered anything yet, end politely and try again later."""
        self.now = now
        if self._final:
            return self._final
        q = self._current
        if q is None:
            return self._handoff("done")
        st = self._state[q.id]
        st.silences += 1
        if not st.reasked:
            st.reasked = True
            st.asks += 1
            hello = "" if self._heard_any else "Hello, are you there? "
            return self._say(hello + self._text(q.rephrase or q.ask), "rephrase")
        if not any(a.clear for a in self.answers.values()):
            return self._end("no-answer", now + self.callback_delay_s)
        self._record(q, Answer(q.kind, None, False))
        return self._advance("No problem, let's move on.")

    # ------------------------------------------------- lines around the handoff
    def filler(self, n: int) -> str:
        """The n-th line (0, 1, ...) said while the rep's phone rings, so the
        lead never sits in silence and never hears a promise we cannot keep."""
        lines = ("I'm connecting you with a specialist now, it'll just be a moment.",
                 "Still connecting you, thanks for bearing with me.",
                 "Thanks for your patience, it's ringing through to them now.",
                 "Sorry for the wait, I'm still trying to reach a specialist for you.",
                 "Thanks for holding, it shouldn't be much longer.")
        return lines[n] if n < len(lines) else lines[3 + n % 2]

    def no_rep(self, callback_at: float, now: Optional[float] = None) -> str:
        """No rep picked up: say when someone will call back, and goodbye."""
        when = describe_when(callback_at, self.now if now is None else now, self.tz)
        name = f", {self.lead_name}" if self.lead_name else ""
        return (f"I'm sorry, our specialists are all busy right now. I've passed on your details, and someone "
                f"will call you back {when}. Thanks{name}, and have a great day.")

    def introduce(self, rep_name: str, lead_name: Optional[str] = None,
                  summary_for_lead: Optional[str] = None) -> str:
        """The line that hands the lead to the rep, so neither starts cold."""
        lead = self.lead_name if lead_name is None else lead_name
        what = summary_for_lead if summary_for_lead is not None else self.lead_summary()
        opening = f"{lead}, I have" if lead else "I have"
        return f"{opening} {rep_name} here from {self.company}, who can help with {what}. {rep_name}, over to you."

    def lead_summary(self) -> str:
        """What the lead asked for, in words said back to them: "business
        internet, starting next month, with a budget of about 15,000 dollars"."""
        parts = [self.topic or "your enquiry"]
        for q in self.questions:
            a = self.answers.get(q.id)
            if not a or not a.clear:
                continue
            if q.kind == "timeline" and a.value.get("words"):
                parts.append(f"starting {a.value['words']}" if a.value.get("start") else a.value["words"])
            elif q.kind == "budget":
                parts.append(f"with a budget of {describe_budget(Budget(**a.value), self.currency)}")
        return ", ".join(parts)

    def summary(self) -> str:
        """The rep's whispered briefing: who, and each answer in plain words."""
        out = [f"Lead: {self.lead_name or 'unknown name'}" + (f", asked about {self.topic}" if self.topic else "") + "."]
        for q in self.questions:
            if q.id not in self.answers:
                continue
            out.append(f"{q.label or q.id.replace('_', ' ').capitalize()}: {self._plain(q, self.answers[q.id])}.")
        return " ".join(out)

    # ---------------------------------------------------------- internals
    def _text(self, s: str) -> str:
        return s.format_map(_Fmt(topic=self.topic or "what you asked about", company=self.company,
                                 lead=self.lead_name)).replace("  ", " ").strip()

    def _say(self, text: str, purpose: str) -> Say:
        text = re.sub(r"\s+", " ", text).strip()
        self.transcript.append(("ai", text))
        return Say(text, purpose)

    def _next_question(self) -> Optional[Question]:
        return next((q for q in self.questions if q.id not in self.answers), None)

    def _record(self, q: Question, ans: Answer) -> None:
        self.answers[q.id] = ans
        self.fields[q.id] = ans.value

    def _capture_all(self, text: str, now: float, current: Optional[Question]) -> list[tuple[Question, Answer]]:
        """Answers to later questions said early ("yes, and we've got about
        10k"): only budgets marked as money and dated timelines, which a
        stray number or word cannot fake."""
        got = []
        for q in self.questions:
            if q is current or q.id in self.answers:
                continue
            if q.kind == "budget":
                b = parse_budget(text, self.currency, strict=True)
                if b:
                    got.append((q, Answer("budget", b.to_json(), True)))
            elif q.kind == "timeline":
                tl = parse_timeline(text, now, self.tz, strict=True)
                if tl and tl.start:
                    got.append((q, Answer("timeline", tl.to_json(), True)))
        kinds_done: set[str] = set()
        kept = []
        for q, a in got:                      # one utterance answers one question of each kind
            if q.kind not in kinds_done:
                kinds_done.add(q.kind)
                self._record(q, a)
                kept.append((q, a))
        return kept

    def _advance(self, ack: str, echo: bool = False) -> Action:
        """Ask the next unanswered question, or hand off when none is left.
        `echo`: the ack repeats a value back (worth keeping before a handoff)."""
        interested = any(q.on_no == "not-interested" and self.answers.get(q.id, Answer("", None, False)).value
                         is True for q in self.questions)
        if self.enough_after_s is not None and interested and self.now - self.started >= self.enough_after_s:
            return self._handoff("enough", ack if echo else "")
        q = self._next_question()
        if q is None:
            return self._handoff("done", ack if echo else "")
        self._current = q
        self._state[q.id].asks += 1
        return self._say(f"{ack} {self._text(q.ask)}", "question")

    def _ack(self, ans: Answer, others: list[tuple[Question, Answer]]) -> str:
        if others:
            return self._ack_many([(None, ans)] + others) if ans.kind in ("budget", "timeline") else \
                self._ack_many(others)
        return self._ack_one(ans)

    def _ack_one(self, ans: Answer) -> str:
        if ans.kind == "budget" and ans.value:
            return f"Thanks, {describe_budget(Budget(**ans.value), self.currency)}."
        if ans.kind == "timeline" and ans.value:
            return f"Okay, {ans.value['words']}."
        if ans.kind == "text":
            return "Thanks, that helps."
        return "Great." if ans.value is not False else "Okay."

    def _ack_many(self, items: list) -> str:
        bits = []
        for _, a in items:
            if a.kind == "budget" and a.value:
                bits.append(describe_budget(Budget(**a.value), self.currency))
            elif a.kind == "timeline" and a.value:
                bits.append(a.value["words"])
        return f"Got it, {' and '.join(bits)}." if bits else "Got it."

    def _plain(self, q: Question, a: Answer) -> str:
        if not a.clear or a.value is None:
            return "not given"
        if q.kind == "budget":
            return describe_budget(Budget(**a.value), self.currency)
        if q.kind == "timeline":
            return describe_timeline(Timeline(**a.value))
        if q.kind == "yesno":
            return "yes" if a.value else "no"
        return str(a.value).rstrip(".")

    def _handoff(self, reason: str, ack: str = "") -> Handoff:
        name = f", {self.lead_name}" if self.lead_name else ""
        if reason == "human":
            say = "Of course, I'll connect you with someone from our team right now. It'll just be a moment."
        else:
            say = f"{ack} Thanks{name}, that's really helpful. I'm connecting you with a specialist now, " \
                  "it'll just be a moment."
        fields = {q.id: self.fields.get(q.id) for q in self.questions if q.id in self.answers}
        self._final = Handoff(fields, self.summary(), re.sub(r"\s+", " ", say).strip(), reason)
        self.transcript.append(("ai", self._final.say))
        return self._final

    def _end(self, reason: str, callback_at: Optional[float]) -> End:
        name = f", {self.lead_name}" if self.lead_name else ""
        if reason == "erase":
            say = (f"Of course{name}. We'll delete your details and everything from this call from our records, "
                   "and nobody will call you about this form again. Sorry to have bothered you. Goodbye.")
        elif reason == "stop":
            say = ("Understood. I've taken your number off our list and we won't call you again. "
                   "Sorry to have bothered you. Goodbye.")
        elif reason == "later":
            callback_at = callback_at or self.now + self.callback_delay_s
            say = (f"No problem{name}. Someone from {self.company} will call you back "
                   f"{describe_when(callback_at, self.now, self.tz)}. Talk to you then, goodbye.")
        elif reason == "no-answer":
            callback_at = callback_at or self.now + self.callback_delay_s
            say = (f"It sounds like now isn't a good moment, so we'll try you again "
                   f"{describe_when(callback_at, self.now, self.tz)}. Goodbye.")
        else:
            say = (f"No problem at all, thanks for your time{name}. If anything changes, you can always "
                   f"reach us at {self.company}. Have a great day.")
        self._final = End(reason, callback_at, say)
        self.transcript.append(("ai", say))
        return self._final
