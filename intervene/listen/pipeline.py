"""The whole flow of one call, in one place:

    audio frames ─> VAD (per party) ─> Whisper ─> utterances ─> engine (detectors ─> policy) ─> interventions

Frames go in with `feed` (cheap: VAD only; transcription is submitted to the
shared ASR worker pool), interventions come out of `poll(now)`. Replay and a
live call use the same object; only the clock differs:

- replay (`poll(now, block=True)`): `now` is call time from the audio itself;
  each ASR result is waited for and applied at the call time its utterance
  ended (the decision time), so the output does not depend on machine speed.
  The feeder may run ahead while Whisper works on earlier utterances - the
  two parties' transcriptions overlap on the two worker threads.
- live (`poll(now, block=False)`): `now` is the real clock; results are applied
  when they arrive, so every latency is real.

Events are applied strictly in the order they were decided, so the engine sees
one consistent timeline either way.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from intervene.core.engine import CallEngine
from intervene.listen.asr import AsrResult, Transcriber
from intervene.listen.cues import CueTracker
from intervene.listen.dsp import to_16k
from intervene.listen.vad import InterimAudio, Segmenter, SpeechEnd, SpeechStart, VadEvent, VadOptions
from intervene.listen.wav import CallAudio
from intervene.metrics import ASR_QUEUE, ASR_SKIPPED, EOS_TO_DECISION
from intervene.nlp.redact import redact
from intervene.nlp.text import ends_sentence
from intervene.vocab import REDACT_ALL, AudioChunk, Intervention, KnowledgeBase, Redact, Speaker, Utterance, Word

# A fragment whose transcript does not end a sentence ("so the Standard plan
# is, uh") is held this long after its last word, in case the speaker goes
# on: then the two become one utterance and the claim checker sees the
# whole sentence. A fragment that ends a sentence is final at once.
JOIN_GAP_S = 0.8


@dataclass(frozen=True)
class ListenOptions:
    vad: VadOptions = VadOptions()
    join_gap_s: float = JOIN_GAP_S
    interims: bool = True
    # Personal data taken out of Whisper's text before anything sees it (the
    # engine, the screens, the store): the config's [redaction].
    redact: frozenset[Redact] = REDACT_ALL


def asr_prompt(kb: KnowledgeBase) -> str:
    """The names Whisper should expect on this company's calls: a model as
    small as tiny.en gets product and competitor names right far more often
    when they are in its prompt."""
    names = [kb.company] + [p.name for p in kb.products] + [c.name for c in kb.competitors]
    return ", ".join(dict.fromkeys(n for n in names if n)) + "."


class AsrPool:
    """One Whisper model shared by every stream of every call, behind a small
    pool of worker threads (CTranslate2 releases the GIL, so two threads use
    both cores). Final transcripts go before interim ones, and an interim
    that waited longer than `stale_s` is skipped: under load, the words that
    end an utterance are what the latency budget is about."""

    def __init__(self, transcriber: Transcriber, workers: int = 2, stale_s: float = 1.5) -> None:
        self.transcriber = transcriber
        self.stale_s = stale_s
        self._jobs: "queue.PriorityQueue" = queue.PriorityQueue()
        self._seq = itertools.count()
        self._threads = [threading.Thread(target=self._work, name=f"asr-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def submit(self, pcm: np.ndarray, rate: int, words: bool = True, interim: bool = False) -> "Future[AsrResult]":
        fut: Future[AsrResult] = Future()
        ASR_QUEUE.inc()                     # before it can be taken (and counted down)
        self._jobs.put((1 if interim else 0, next(self._seq), time.perf_counter(), pcm, rate, words, fut))
        return fut

    def _work(self) -> None:
        while True:
            prio, _, queued, pcm, rate, words, fut = self._jobs.get()
            if pcm is None:
                return
            ASR_QUEUE.dec()
            if not fut.set_running_or_notify_cancel():
                continue
            if prio and time.perf_counter() - queued > self.stale_s:
                ASR_SKIPPED.inc()
                fut.set_result(AsrResult("", (), 0.0, 0.0, len(pcm) / rate, 0.0, "stale interim"))
                continue
            try:
                fut.set_result(self.transcriber.transcribe(to_16k(pcm, rate), word_timings=words))
            except Exception as e:          # a failed utterance must not stop the call
                fut.set_exception(e)

    def close(self) -> None:
        """Stop the workers and wait for them: a thread still inside
        CTranslate2 when the interpreter exits aborts the process."""
        for _ in self._threads:
            self._jobs.put((9, next(self._seq), 0.0, None, 1, False, Future()))
        for t in self._threads:
            t.join()
        self._threads = []


@dataclass
class _Pending:
    event: VadEvent
    result: Optional["Future[AsrResult]"] = None
    fed_at: float = 0.0            # wall clock when the event was decided (for the benchmark)


@dataclass
class _Held:
    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    pcm: list[np.ndarray]
    voiced_s: float
    eos_wall: float
    continued: bool = False        # its speaker started again within the gap


@dataclass
class Party:
    speaker: Speaker
    segmenter: Segmenter
    held: Optional[_Held] = None


@dataclass
class Latency:
    """Per final utterance: wall-clock ms from its end of speech."""
    eos_to_transcript_ms: list[float] = field(default_factory=list)
    eos_to_decision_ms: list[float] = field(default_factory=list)     # engine done with it
    asr_compute_ms: list[float] = field(default_factory=list)
    audio_s: float = 0.0


class CallPipeline:
    def __init__(self, engine: CallEngine, asr: AsrPool, rate: int,
                 options: ListenOptions = ListenOptions(),
                 on_utterance: Optional[Callable[[Utterance], None]] = None,
                 on_interim: Optional[Callable[[Utterance], None]] = None) -> None:
        self.engine = engine
        self.asr = asr
        self.rate = rate
        self.options = options
        self.parties = {s: Party(s, Segmenter(s, rate, options.vad)) for s in (Speaker.LEAD, Speaker.REP)}
        self.cues = CueTracker(rate)
        self.queue: deque[_Pending] = deque()
        self.transcript: list[Utterance] = []
        self.on_utterance = on_utterance
        self.on_interim = on_interim          # words so far of an utterance still going (the rep's screen)
        self.latency = Latency()
        self.dropped: list[tuple[Speaker, float, str]] = []     # (who, when, why) Whisper output discarded
        # utterance index -> (wall clock at its end of speech, wall clock when the engine had decided on it)
        self.timing: dict[int, tuple[float, float]] = {}
        self._said: dict[Speaker, str] = {}      # each party's last final text: context for redaction

    def _clean(self, speaker: Speaker, text: str) -> str:
        """What Whisper heard, with card numbers, SSNs and the like replaced by
        tags; the party's previous utterance carries a number said in two breaths."""
        return redact(text, self.options.redact, self._said.get(speaker, "")) if self.options.redact else text

    # ------------------------------------------------------------ frames in
    def feed(self, chunk: AudioChunk) -> None:
        """One party's audio (16-bit mono PCM at the call's rate), stamped with
        the call time of its first sample."""
        party = self.parties[chunk.speaker]
        for ev in party.segmenter.feed(chunk.pcm, chunk.t):
            self._enqueue(ev)

    def _enqueue(self, ev: VadEvent) -> None:
        wall = time.perf_counter()
        if isinstance(ev, SpeechEnd):
            self.cues.speech(ev)
            fut = self.asr.submit(ev.pcm, self.rate) if ev.is_speech else None
            self.queue.append(_Pending(ev, fut, wall))
        elif isinstance(ev, InterimAudio):
            if self.options.interims:
                self.queue.append(_Pending(ev, self.asr.submit(ev.pcm, self.rate, words=False, interim=True), wall))
        else:
            self.cues.started(ev)
            self.queue.append(_Pending(ev, None, wall))

    def ai_said(self, start: float, end: float, text: str) -> Utterance:
        """What the assistant said (a qualification question, a spoken
        correction): into the call's transcript, numbered with the parties'
        lines; the engine only hears that someone talked (speech_started/ended)."""
        u = Utterance(len(self.transcript), Speaker.AI, round(start, 2), round(end, 2), text)
        self.transcript.append(u)
        if self.on_utterance:
            self.on_utterance(u)
        return u

    # ---------------------------------------------------- interventions out
    def poll(self, now: float, block: bool = False) -> list[Intervention]:
        """Apply every event decided up to `now`, in order; fire what is due.
        block=True (replay) waits for transcriptions and stamps each event
        with its own decision time; block=False (live) applies only finished
        ones, stamped with `now`."""
        out: list[Intervention] = []
        while self.queue:
            p = self.queue[0]
            if p.event.decided > now:
                break
            if p.result is not None and not p.result.done() and not block:
                break
            self.queue.popleft()
            t = p.event.decided if block else now
            out += self._release_held(t, at_due=block)
            out += self._apply(p, t)
        out += self._release_held(now, at_due=block)
        return out + self.engine.advance(now)

    def finish(self, now: float) -> list[Intervention]:
        """End of the call: close open utterances, wait for their text, end the engine."""
        for party in self.parties.values():
            for ev in party.segmenter.flush():
                self._enqueue(ev)
        out: list[Intervention] = []
        while self.queue:
            p = self.queue.popleft()
            t = max(p.event.decided, 0.0)
            out += self._release_held(t, at_due=True)
            out += self._apply(p, t)
        for party in self.parties.values():
            if party.held:
                out += self._emit(party, max(now, party.held.end))
        return out + self.engine.end(now)

    # ------------------------------------------------------------ internals
    def _apply(self, p: _Pending, t: float) -> list[Intervention]:
        ev = p.event
        party = self.parties[ev.speaker]
        if isinstance(ev, SpeechStart):
            out: list[Intervention] = []
            if party.held:
                if ev.start - party.held.end <= self.options.join_gap_s:
                    party.held.continued = True
                else:
                    out += self._emit(party, t)
            return out + self.engine.speech_started(ev.speaker, t)
        try:
            result = p.result.result() if p.result is not None else None
        except Exception as e:      # Whisper failed on this piece: say so, keep the call going
            self.dropped.append((ev.speaker, ev.decided, f"transcription failed: {e}"))
            result = None
        if isinstance(ev, InterimAudio):
            if result is None or not result.text:
                return []
            prefix = party.held.text + " " if party.held else ""
            u = Utterance(len(self.transcript), ev.speaker, party.held.start if party.held else ev.start,
                          ev.decided, self._clean(ev.speaker, prefix + result.text), final=False)
            if self.on_interim:
                self.on_interim(u)
            return self.engine.interim(u, t)
        # a final segment
        if result is not None:
            self.latency.asr_compute_ms.append(result.compute_ms)
            self.latency.audio_s += result.audio_s
        if result is None or not result.text:
            if result is not None and result.dropped:
                self.dropped.append((ev.speaker, ev.end, result.dropped))
            out = self.engine.speech_ended(ev.speaker, ev.end, t)
            if party.held:
                out += self._emit(party, t)
            return out
        eos_wall = p.fed_at - (ev.decided - ev.end)
        if party.held:
            h = party.held
            offset = ev.start - h.start
            h.text = f"{h.text} {result.text}"
            h.words += tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in result.words)
            h.end, h.pcm, h.voiced_s, h.eos_wall = ev.end, h.pcm + [ev.pcm], h.voiced_s + ev.voiced_s, eos_wall
            h.continued = False
        else:
            party.held = _Held(ev.start, ev.end, result.text, result.words, [ev.pcm], ev.voiced_s, eos_wall)
        self.latency.eos_to_transcript_ms.append((time.perf_counter() - eos_wall) * 1000)
        if ends_sentence(party.held.text) or not self.options.join_gap_s:
            return self._emit(party, t)
        if self.on_interim:                   # held for the join gap: show it, not yet final
            h = party.held
            self.on_interim(Utterance(len(self.transcript), ev.speaker, h.start, h.end,
                                      self._clean(ev.speaker, h.text), final=False))
        return []

    def _release_held(self, t: float, at_due: bool) -> list[Intervention]:
        """Finalise fragments their speaker did not continue within the join
        gap - stamped when that became clear (replay) or `t` (live)."""
        out: list[Intervention] = []
        lag = self.options.vad.start_window * self.options.vad.frame_ms / 1000   # to notice a restart
        for party in self.parties.values():
            h = party.held
            if h is None or h.continued:
                continue
            due = h.end + self.options.join_gap_s + lag
            if t >= due:
                out += self._emit(party, due if at_due else t)
        return out

    def _emit(self, party: Party, t: float) -> list[Intervention]:
        h = party.held
        assert h is not None                  # only a party holding a fragment is emitted
        party.held = None
        pcm = np.concatenate(h.pcm)
        text = self._clean(party.speaker, h.text.strip())
        self._said[party.speaker] = text
        u = Utterance(len(self.transcript), party.speaker, round(h.start, 2), round(h.end, 2), text,
                      words=h.words, cues=self.cues.measure(party.speaker, h.start, h.end, pcm, h.voiced_s,
                                                            len(h.text.split()), party.segmenter.noise_db))
        self.transcript.append(u)
        if self.on_utterance:
            self.on_utterance(u)
        out = self.engine.utterance(u, t)
        done = time.perf_counter()
        self.timing[u.index] = (h.eos_wall, done)
        self.latency.eos_to_decision_ms.append((done - h.eos_wall) * 1000)
        EOS_TO_DECISION.observe(done - h.eos_wall)
        return out


# ------------------------------------------------------------ recorded calls
# How far the audio feed may run ahead of the engine during replay: lets the
# two parties' transcriptions overlap on the ASR threads, changes no result.
LOOKAHEAD_S = 6.0
CHUNK_S = 0.1


def replay_audio(pipeline: CallPipeline, audio: CallAudio) -> list[Intervention]:
    """Feed a recorded call through the live pipeline on a simulated clock."""
    step = int(audio.rate * CHUNK_S)
    out: list[Intervention] = []
    n = len(audio.lead)
    for i in range(0, n, step):
        t = i / audio.rate
        pipeline.feed(AudioChunk(Speaker.LEAD, t, audio.lead[i:i + step].tobytes()))
        pipeline.feed(AudioChunk(Speaker.REP, t, audio.rep[i:i + step].tobytes()))
        out += pipeline.poll(t - LOOKAHEAD_S, block=True)
    out += pipeline.finish(n / audio.rate)
    return sorted(out, key=lambda i: i.at)
