"""A worker's side of the served models: `RayTranscriber` and `RayEmbedder`
have the in-process classes' methods (they subclass them, so the listening
pool, the KB index and the CLI take them unchanged), and send each utterance's
audio and each list of sentences to the deployments.

A request that fails for the cluster's reasons - its replica was killed, the
node went away, no answer within `timeout_s` - is sent once more (Serve routes
it to a live replica); a second failure raises ModelServerError, which costs
that one utterance, not the call (the listening pool reports it and goes on).
An error raised by the model code itself is not retried: it would fail again.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional, Sequence

import numpy as np

from intervene.config.models import ModelsOptions
from intervene.listen.asr import AsrOptions, AsrResult, Transcriber
from intervene.nlp.embed import SentenceEmbedder
from intervene.serving.deploy import ASR, EMBED, ModelServerError, app_names, connect


class _Remote:
    """One deployment's handle, with the retry-once rule."""

    def __init__(self, models: ModelsOptions, deployment: str, app: str) -> None:
        self.models = models
        self.deployment = deployment
        self.app = app
        self.retries = 0            # requests sent twice (the kill test reads it)
        self._handle: Any = None
        self._lock = threading.Lock()

    def handle(self) -> Any:
        with self._lock:
            if self._handle is None:
                connect(self.models)
                from ray import serve
                try:
                    self._handle = serve.get_deployment_handle(self.deployment, app_name=self.app)
                except Exception as e:      # noqa: BLE001 - Ray raises several kinds here
                    raise ModelServerError(f"no deployment {self.deployment} in application {self.app} on "
                                           f"{self.models.address} (run `intervene models deploy`): {e}") from e
            return self._handle

    def call(self, method: str, *args: Any) -> Any:
        from ray.exceptions import RayTaskError
        handle = self.handle()
        last: Optional[BaseException] = None
        for attempt in range(2):
            try:
                return getattr(handle, method).remote(*args).result(timeout_s=self.models.timeout_s)
            except RayTaskError as e:
                if not _died(e):
                    raise ModelServerError(f"{self.deployment}.{method} failed in the model: {e.cause!r}") from e
                last = e
            except Exception as e:      # noqa: BLE001 - actor died, unavailable, timed out, cancelled
                last = e
            if attempt == 0:
                self.retries += 1
        raise ModelServerError(f"{self.deployment}.{method} failed twice on {self.models.address}: "
                               f"{type(last).__name__}: {last}") from last


def _died(e: BaseException) -> bool:
    """A task error whose cause is the replica dying (not the model's own error)."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError
    cause = getattr(e, "cause", None)
    return isinstance(cause, (ActorDiedError, ActorUnavailableError, RayActorError))


class RayTranscriber(Transcriber):
    """Whisper on the cluster. The prompt (the KB's names) goes with every
    utterance; the replica's [asr] options are the deploying config's."""

    def __init__(self, models: ModelsOptions, options: AsrOptions = AsrOptions(), prompt: str = "") -> None:
        self.options = options
        self.remote = _Remote(models, ASR, app_names(models)[0])
        t0 = time.perf_counter()
        self.remote.handle()        # fail at start-up, not on the first utterance
        self.load_s = time.perf_counter() - t0
        self.set_prompt(prompt)

    def set_prompt(self, prompt: str) -> None:
        self.prompt = prompt

    def transcribe(self, pcm16k: np.ndarray, word_timings: Optional[bool] = None) -> AsrResult:
        result: AsrResult = self.remote.call("transcribe", np.ascontiguousarray(pcm16k, dtype=np.float32),
                                             self.prompt, word_timings)
        return result

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.remote.call("info")
        return info


class RayEmbedder(SentenceEmbedder):
    """The sentence encoder on the cluster, behind the same LRU cache as the
    in-process one (prototypes and repeated phrases never leave the worker).
    Unlike it, the model call happens outside the lock, so concurrent calls
    of one worker reach the replica together and are batched there."""

    def __init__(self, models: ModelsOptions, model: Optional[str] = None, cache_size: int = 4096) -> None:
        super().__init__(model, cache_size)
        self.remote = _Remote(models, EMBED, app_names(models)[1])
        self._checked = False

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not self._checked:
            served = self.info().get("model")
            if served != self.name:         # cached KB vectors are keyed by the model's name
                raise ModelServerError(f"the cluster serves the sentence model {served!r}, this worker "
                                       f"expects {self.name!r} (INTERVENE_EMBED_MODEL): deploy the same model")
            self._checked = True
        vecs: np.ndarray = self.remote.call("encode", texts)
        return np.asarray(vecs, dtype=np.float32)

    def warm(self) -> None:
        self._encode(["okay"])

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.remote.call("info")
        return info

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = sorted({t for t in texts if t not in known}, key=len)
        if missing:
            t0 = time.perf_counter()
            vecs = np.vstack([self._encode(missing[i:i + 64]) for i in range(0, len(missing), 64)])
            fresh = dict(zip(missing, vecs.astype(np.float32)))
            with self._lock:
                self.model_ms += (time.perf_counter() - t0) * 1000
                self.calls += len(missing)
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            known.update(fresh)
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([known[t] for t in texts]).astype(np.float32)


__all__ = ["ModelServerError", "RayEmbedder", "RayTranscriber"]
