"""What the detectors may read about the call so far. The engine owns and
updates it; detectors only read it, so each stays a pure function of
(call so far, new event, now)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from intervene.nlp.text import ends_sentence
from intervene.vocab import Speaker, Utterance


@dataclass
class CallState:
    utterances: list[Utterance] = field(default_factory=list)
    speaking: dict[Speaker, float] = field(default_factory=dict)   # who is talking now, since when
    product: Optional[str] = None          # product under discussion
    ended: bool = False
    last_voice: float = 0.0                # end of the last sound that produced no words (audio only)

    @property
    def last(self) -> Optional[Utterance]:
        return self.utterances[-1] if self.utterances else None

    def last_end(self) -> float:
        return max((u.end for u in self.utterances), default=0.0)

    def by(self, speaker: Speaker) -> list[Utterance]:
        return [u for u in self.utterances if u.speaker == speaker]

    def turns(self) -> list[list[Utterance]]:
        """The call as turns: one speaker's consecutive utterances are one
        turn (audio splits a turn at every pause)."""
        out: list[list[Utterance]] = []
        for u in self.utterances:
            if out and out[-1][0].speaker == u.speaker:
                out[-1].append(u)
            else:
                out.append([u])
        return out

    def turn_before(self, u: Utterance) -> list[Utterance]:
        """The other party's turn that u's turn answers (empty at the start)."""
        turns = self.turns()
        i = next((k for k, t in enumerate(turns) if any(x.index == u.index for x in t)), len(turns))
        return turns[i - 1] if i > 0 else []

    def continued(self, u: Utterance, gap_s: float) -> Optional[Utterance]:
        """The speaker's previous utterance when u goes on with its sentence: it
        stopped mid-sentence, and u starts in lower case within `gap_s` of it
        (speech recognition cuts a turn at a breath, not at a full stop)."""
        before = [x for x in self.utterances if x.index < u.index]
        if not before or not u.text[:1].islower():
            return None
        prev = before[-1]
        if prev.speaker != u.speaker or ends_sentence(prev.text) or u.start - prev.end > gap_s:
            return None
        return prev

    def turn_start(self, u: Utterance) -> int:
        """Index of the first utterance of u's turn."""
        return next((t[0].index for t in self.turns() if any(x.index == u.index for x in t)), u.index)

    def last_ended_before(self, t: float) -> int:
        """Index of the last utterance that ended at or before t (0 if none)."""
        idx = [u.index for u in self.utterances if u.end <= t]
        return idx[-1] if idx else 0

    def silent_since(self) -> Optional[float]:
        """When the current all-party silence began, or None while someone talks."""
        if self.speaking:
            return None
        return max(self.last_end(), self.last_voice)
