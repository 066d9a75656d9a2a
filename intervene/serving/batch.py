"""Whisper on several utterances at once: what a model server's dynamic
batching buys.

`Transcriber.transcribe` runs one utterance: encoder, greedy decode, word
alignment. On a stack of utterances that share a window (every utterance
under ~9 s is padded to the same 10 s window, so nearly all of a call's) the
three model steps each take the whole stack in one CTranslate2 call; the
decode is most of the gain (it is memory-bound per token, so eight rows cost
little more than one). The result must be what the in-process model gives,
utterance for utterance, or a worker on Ray would intervene differently:

- a batch decodes to the longest item's length limit, so an item that reached
  its own limit (a loop the one-at-a-time decode would have cut) is decoded
  again alone;
- the second opinion on an unsure number, and any utterance whose window is
  unlike the others', go through the one-at-a-time path unchanged.

The tests compare the two paths text for text and word for word.
"""
from __future__ import annotations

import copy
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from intervene.listen.asr import (
    FRAMES_PER_S,
    MAX_WINDOW_S,
    MIN_WINDOW_S,
    SAMPLE_RATE,
    TAIL_PAD_S,
    AsrResult,
    Transcriber,
    trim_loop,
    unsure_numbers,
)


@dataclass(frozen=True)
class AsrRequest:
    """One utterance as a worker sends it: 16 kHz float32 mono, the KB's
    prompt (the names Whisper should expect) and whether to time words."""
    pcm16k: np.ndarray
    prompt: str = ""
    word_timings: Optional[bool] = None


class Prompted:
    """Views of one loaded model, one per prompt: a shallow copy shares the
    weights, feature extractor and tokenizer and only tokenises its own
    prompt, so workers for different knowledge bases share a replica."""

    def __init__(self, base: Transcriber, size: int = 16) -> None:
        self.base = base
        self._views: OrderedDict[str, Transcriber] = OrderedDict()
        self._size = size

    def __call__(self, prompt: str) -> Transcriber:
        view = self._views.get(prompt)
        if view is None:
            view = copy.copy(self.base)
            view.set_prompt(prompt)
            self._views[prompt] = view
            while len(self._views) > self._size:
                self._views.popitem(last=False)
        self._views.move_to_end(prompt)
        return view


def _features(t: Transcriber, pcm16k: np.ndarray) -> tuple[np.ndarray, float]:
    """The log-mel window `Transcriber.transcribe` would encode, and the audio's length."""
    audio_s = len(pcm16k) / SAMPLE_RATE
    if audio_s > MAX_WINDOW_S - TAIL_PAD_S:
        pcm16k = pcm16k[-int((MAX_WINDOW_S - TAIL_PAD_S) * SAMPLE_RATE):]
    pad = max(TAIL_PAD_S, MIN_WINDOW_S - audio_s)
    padded = np.concatenate([pcm16k.astype(np.float32), np.zeros(int(pad * SAMPLE_RATE), np.float32)])
    feats = t.features(padded)
    n = feats.shape[-1] - (feats.shape[-1] % 2)
    return np.asarray(feats[:, :n], dtype=np.float32), audio_s


def _limit(prompt: list[int], audio_s: float) -> int:
    """The decode length `Transcriber._decode` allows this utterance."""
    return min(448, len(prompt) + 16 + int(audio_s * 10))


def transcribe_batch(prompted: Prompted, requests: list[AsrRequest]) -> list[AsrResult]:
    """Every request's AsrResult, as `Transcriber.transcribe` would give it,
    computed a window-group at a time. compute_ms is the batch's time shared
    out by audio length (what one utterance cost the replica)."""
    t0 = time.perf_counter()
    out: list[Optional[AsrResult]] = [None] * len(requests)
    groups: dict[tuple[str, int], list[tuple[int, np.ndarray, float]]] = {}
    for i, r in enumerate(requests):
        view = prompted(r.prompt)
        feats, audio_s = _features(view, r.pcm16k)
        groups.setdefault((r.prompt, feats.shape[-1]), []).append((i, feats, audio_s))
    for (prompt, _), items in groups.items():
        view = prompted(prompt)
        if len(items) == 1:
            i = items[0][0]
            out[i] = view.transcribe(requests[i].pcm16k, requests[i].word_timings)
            continue
        for (i, _, _), res in zip(items, _group(view, items, [requests[i].word_timings for i, _, _ in items])):
            out[i] = res
    share = (time.perf_counter() - t0) * 1000 / max(1, sum(len(r.pcm16k) for r in requests))
    return [_with_ms(r, share * len(q.pcm16k)) for r, q in zip(_all(out), requests)]


def _with_ms(r: AsrResult, ms: float) -> AsrResult:
    return AsrResult(r.text, r.words, r.no_speech_prob, r.avg_logprob, r.audio_s, round(ms, 1), r.dropped,
                     r.second_opinion)


def _all(out: list[Optional[AsrResult]]) -> list[AsrResult]:
    done = [r for r in out if r is not None]
    if len(done) != len(out):       # a bug here must fail the batch, not shift results between callers
        raise RuntimeError(f"batch lost {len(out) - len(done)} of {len(out)} results")
    return done


def _group(t: Transcriber, items: list[tuple[int, np.ndarray, float]],
           word_timings: list[Optional[bool]]) -> list[AsrResult]:
    """One window size, one prompt: encode, decode and align the stack."""
    import ctranslate2
    o = t.options
    # The encoder runs per item: on 2 CPU cores a stack of 8 windows took
    # longer than 8 single passes (and gains nothing on its numbers).
    enc_np = np.ascontiguousarray(np.concatenate([
        np.asarray(t.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(f[None]))))
        for _, f, _ in items]))
    enc = ctranslate2.StorageView.from_array(enc_np)
    prompt = t._prompt
    limits = [_limit(prompt, a) for _, _, a in items]
    found = t.model.generate(enc, [prompt] * len(items), beam_size=o.beam_size, return_scores=True,
                             return_no_speech_prob=True, max_length=max(limits),
                             suppress_blank=True, suppress_tokens=[-1])
    results: list[Optional[AsrResult]] = [None] * len(items)
    align: list[tuple[int, list[int], str, float, float]] = []
    for k, ((_, _, audio_s), res, limit) in enumerate(zip(items, found, limits)):
        ids = res.sequences_ids[0]
        if len(prompt) + len(ids) >= limit - 1 or o.beam_size != 1:
            # it ran to its own limit (or a beam search, where batch-mates can
            # change the ranking): as the one-at-a-time decode would
            tokens, text, no_speech, avg_logprob = t._decode(_one(enc_np, k), o.beam_size, audio_s)
        else:
            tokens, text, no_speech, avg_logprob = _read(t, ids, res)
        dropped = t._why_drop(text, no_speech, avg_logprob)
        wants = o.word_timings if word_timings[k] is None else word_timings[k]
        if dropped or not wants or not tokens:
            results[k] = AsrResult("" if dropped else text, (), no_speech, avg_logprob, audio_s, 0.0, dropped)
        else:
            align.append((k, tokens, text, no_speech, avg_logprob))
    # Word alignment per item too: batched, it cost the same and padding moved
    # word probabilities in the third decimal.
    for k, tokens, text, no_speech, avg_logprob in align:
        audio_s = items[k][2]
        one = _one(enc_np, k)
        w = t._align(tokens, one, int(audio_s * FRAMES_PER_S))
        second = False
        if o.second_opinion_beam > o.beam_size and unsure_numbers(w, o.number_sure):
            tokens, text, no_speech, avg_logprob = t._decode(one, o.second_opinion_beam, audio_s)
            w, second = t._align(tokens, one, int(audio_s * FRAMES_PER_S)), True
        dropped = t._why_drop(text, no_speech, avg_logprob)
        results[k] = AsrResult("" if dropped else text, w, no_speech, avg_logprob, audio_s, 0.0, dropped, second)
    return _all(results)


def _one(enc_np: np.ndarray, k: int) -> Any:
    import ctranslate2
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(enc_np[k:k + 1]))


def _read(t: Transcriber, ids: list[int], res: Any) -> tuple[list[int], str, float, float]:
    """`Transcriber._decode`'s reading of one generate() row."""
    tokens = [x for x in ids if x < t.tokenizer.eot]
    text = t.tokenizer.decode(tokens).strip()
    trimmed = trim_loop(text)
    if trimmed != text:
        tokens = t.tokenizer.encode(" " + trimmed)
    n_tok = max(1, len(tokens))
    avg_logprob = float(res.scores[0]) / (n_tok + 1) if res.scores else 0.0
    return tokens, trimmed, float(res.no_speech_prob), avg_logprob
