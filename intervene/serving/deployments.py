"""The two Ray Serve deployments: Whisper and the sentence encoder, each
replica holding the same in-process model a single box uses.

Requests from every worker's calls meet in a replica's queue and go to the
model as one batch (`serve.batch`, up to `max_batch_size`, waiting at most
`batch_wait_ms` for company): Whisper's greedy decode takes the stack in one
pass (serving/batch.py), the encoder embeds all the sentences in one forward.
The model work runs in a thread, so the replica's event loop keeps taking
requests (the next batch fills) while CTranslate2 or ONNX Runtime computes.

These are plain classes: `serve.deployment(...)` is applied at deploy time
(serving/deploy.py) and `serve.batch` in `__init__`, so importing this module
does not import Ray (the in-process default never needs it).
"""
from __future__ import annotations

import asyncio
import os
import time
from typing import Any, Awaitable, Callable, Optional, Sequence

import numpy as np

from intervene.listen.asr import AsrOptions, AsrResult, Transcriber
from intervene.nlp.embed import SentenceEmbedder
from intervene.serving.batch import AsrRequest, Prompted, transcribe_batch


class _Counted:
    """What a replica has done: the tests prove batching from `batches` <
    `items`, the bench reads the model time, and the kill test finds the
    replica's process."""

    def __init__(self) -> None:
        self.batches = 0
        self.items = 0
        self.largest = 0
        self.model_ms = 0.0
        self.started = time.time()

    def counted(self, n: int, ms: float) -> None:
        self.batches += 1
        self.items += n
        self.largest = max(self.largest, n)
        self.model_ms += ms

    def stats(self) -> dict[str, Any]:
        node = ""
        try:
            import ray
            node = ray.get_runtime_context().get_node_id()
        except Exception:       # noqa: BLE001 - outside Ray (tests of the class itself)
            pass
        return {"pid": os.getpid(), "node": node, "batches": self.batches, "items": self.items,
                "largest_batch": self.largest, "model_ms": round(self.model_ms, 1),
                "up_s": round(time.time() - self.started, 1)}


def _batched(fn: Callable[[list[Any]], Awaitable[list[Any]]], size: int, wait_s: float) -> Callable[..., Any]:
    from ray import serve
    wrap: Any = serve.batch(max_batch_size=size, batch_wait_timeout_s=wait_s)
    batched: Callable[..., Any] = wrap(fn)
    return batched


class WhisperServer(_Counted):
    """Whisper with the deploying config's [asr] options; the KB prompt comes
    with each request (one replica serves workers with different KBs)."""

    def __init__(self, asr: dict[str, Any], max_batch_size: int = 8, batch_wait_s: float = 0.01) -> None:
        super().__init__()
        self.transcriber = Transcriber(AsrOptions(**asr))
        self.prompted = Prompted(self.transcriber)
        self.model = asr.get("model") or "tiny.en (default)"
        self._submit = _batched(self._run, max_batch_size, batch_wait_s)

    async def transcribe(self, pcm16k: np.ndarray, prompt: str = "",
                         word_timings: Optional[bool] = None) -> AsrResult:
        result: AsrResult = await self._submit(AsrRequest(pcm16k, prompt, word_timings))
        return result

    async def _run(self, requests: list[AsrRequest]) -> list[AsrResult]:
        t0 = time.perf_counter()
        out = await asyncio.to_thread(transcribe_batch, self.prompted, requests)
        self.counted(len(requests), (time.perf_counter() - t0) * 1000)
        return out

    def info(self) -> dict[str, Any]:
        return {**self.stats(), "model": self.model, "load_s": round(self.transcriber.load_s, 2)}


class EmbedServer(_Counted):
    """The sentence encoder (its LRU cache too: repeated phrases from any
    worker are embedded once per replica)."""

    def __init__(self, model: str = "", backend: str = "", cache_directory: str = "",
                 max_batch_size: int = 8, batch_wait_s: float = 0.01) -> None:
        super().__init__()
        self.embedder = SentenceEmbedder(model or None, backend=backend or None,
                                         cache_directory=cache_directory or None)
        self.embedder.warm()
        self._submit = _batched(self._run, max_batch_size, batch_wait_s)

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        vecs: np.ndarray = await self._submit(list(texts))
        return vecs

    async def _run(self, requests: list[list[str]]) -> list[np.ndarray]:
        t0 = time.perf_counter()
        flat = [t for texts in requests for t in texts]
        vecs = await asyncio.to_thread(self.embedder.encode, flat)
        self.counted(len(requests), (time.perf_counter() - t0) * 1000)
        out, at = [], 0
        for texts in requests:
            out.append(vecs[at:at + len(texts)])
            at += len(texts)
        return out

    def info(self) -> dict[str, Any]:
        return {**self.stats(), "model": self.embedder.name, "backend": self.embedder.backend,
                "onnx": self.embedder._onnx is not None}
