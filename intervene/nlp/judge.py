"""A second opinion on a correction: does this claim really contradict this fact?

The rule-based verifier finds a mismatch (a number, a word of polarity, a
tier); it cannot tell "the Silver plan is 29" said about another tier than
the fact's, or a condition said right in other words, from a real error as
well as a model that reads both sentences together can. So every correction
the rules want to make is read once more by a cross-encoder: the packaged
all-MiniLM-L6-v2 with its six transformer layers fine-tuned here on
claim/fact pairs from 40 industries the evaluation sets never use
(`scripts/train_judge.py`, data in `scripts/judge/`). Only the fine-tuned
tensors ship (`judge.safetensors`, float16); the word embeddings are the
packaged ones, so nothing is downloaded. It runs only on the few sentences
the rules flag (about 7-17 ms for one to three of them on two cores, on ONNX
Runtime like the embedder; twice that on PyTorch), so its cost is not paid
per utterance.

A judge that cannot load (weights damaged, an incompatible transformers)
says so once in the log and then agrees with every verdict: the rules decide
alone, as with `INTERVENE_JUDGE=off`, and no call loses its checks.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol, Sequence

import numpy as np

from intervene.nlp import onnxrt
from intervene.nlp.embed import default_model_path

if TYPE_CHECKING:                  # torch and transformers load on first use, not on import
    from transformers import BertForSequenceClassification, PreTrainedTokenizerBase

WEIGHTS = Path(__file__).with_name("judge.safetensors")
log = logging.getLogger(__name__)


class Judge(Protocol):
    def contradiction(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """For each (claim, fact): how likely the fact proves the claim wrong (0-1)."""
        ...

    def warm(self) -> None:
        ...


class CrossEncoderJudge:
    """The fine-tuned MiniLM cross-encoder, loaded on first use (torch is
    already loaded for the embedder); thread-safe, batched per call."""

    def __init__(self, weights: Optional[Path] = None, base: Optional[str] = None,
                 backend: Optional[str] = None, cache_directory: Optional[str] = None) -> None:
        self.weights = Path(weights or WEIGHTS)
        self.base = base or default_model_path()
        self.backend = (backend or "auto").lower()       # as the embedder's: auto, onnx or torch
        self.cache_directory = cache_directory
        self._lock = threading.Lock()
        self._model: Optional[BertForSequenceClassification] = None
        self._tok: Optional[PreTrainedTokenizerBase] = None
        self._onnx: Any = None       # the same model on ONNX Runtime, once exported and checked
        self._broken = ""            # why the model could not be loaded, once it failed

    def available(self) -> bool:
        return self.weights.exists()

    def _load(self) -> None:
        import torch
        from safetensors.torch import load_file
        from transformers import AutoTokenizer, BertForSequenceClassification
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()         # "some weights newly initialised": ours come next
        model = BertForSequenceClassification.from_pretrained(self.base, num_labels=1)
        tuned = {k: v.float() for k, v in load_file(str(self.weights)).items()}
        missing = set(tuned) - set(model.state_dict())
        if missing:
            raise ValueError(f"{self.weights}: weights the model does not have: {sorted(missing)[:3]}")
        model.load_state_dict(tuned, strict=False)
        model.eval()
        self._tok = AutoTokenizer.from_pretrained(self.base)
        self._model = model
        self._torch = torch
        if self.backend != "torch":
            self._onnx = self._onnx_session()

    def _onnx_session(self) -> Any:
        """The judge on ONNX Runtime (about twice as fast on two cores), exported
        once per weights file; None (PyTorch) where that fails or disagrees."""
        assert self._model is not None and self._tok is not None
        st = self.weights.stat()
        key = f"{onnxrt.digest(str(self.weights.resolve()), 12)}-" \
              f"{onnxrt.digest(f'{st.st_mtime_ns}|{st.st_size}|{self.base}', 8)}"
        path = onnxrt.cache_dir(self.cache_directory, "judge") / f"{key}.onnx"
        try:
            pairs = list(_PROBES)
            if not path.exists():
                onnxrt.export(_logit(onnxrt.eager_copy(self._model)),
                              [self._encode(pairs, "pt")[n] for n in onnxrt.INPUTS], "logit", path)
                onnxrt.prune_exports(path)
            sess = onnxrt.session(path)
            with self._torch.inference_mode():
                ref = self._model(**self._encode(pairs, "pt")).logits[:, 0].numpy()
            got = sess.run(None, onnxrt.feed(self._encode(pairs, "np")))[0]
            if float(np.abs(_sigmoid(ref) - _sigmoid(got)).max()) > 1e-3:
                log.warning("claim judge stays on PyTorch: the ONNX export disagrees")
                return None
            return sess
        except Exception as e:      # noqa: BLE001 - any failure here only costs speed
            log.warning("claim judge stays on PyTorch: ONNX export failed (%s: %s)", type(e).__name__, e)
            return None

    def _encode(self, pairs: Sequence[tuple[str, str]], tensors: str) -> Any:
        assert self._tok is not None
        return self._tok([c for c, _ in pairs], [f for _, f in pairs], padding=True, truncation=True,
                         max_length=128, return_tensors=tensors)

    def warm(self) -> None:
        """Load the model and run it on a few batch shapes, so the first
        corrections of the day do not wait for torch to load it or to set up
        kernels for a new shape."""
        claim = "so the plan is twenty-nine a month and it covers up to ten devices with no setup fee at all"
        fact = "The Silver plan costs $29 per month, covers up to 25 devices and the setup fee is waived on annual plans."
        for n in (1, 2, 3):
            for k in (4, 10, 20):
                self.contradiction([(" ".join(claim.split()[:k]), " ".join(fact.split()[:k + 2]))] * n)

    def contradiction(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        with self._lock:
            if self._model is None and not self._broken:
                try:
                    self._load()
                except Exception as e:      # any failure to load: the rules go on alone
                    self._broken = f"{type(e).__name__}: {e}"
                    log.warning("claim judge %s could not be loaded, the rules decide alone: %s",
                                self.weights, self._broken)
            if self._broken:
                return [1.0] * len(pairs)
            assert self._model is not None and self._tok is not None     # loaded: not broken
            if self._onnx is not None:
                return [float(p) for p in _sigmoid(self._onnx.run(None, onnxrt.feed(self._encode(pairs, "np")))[0])]
            torch = self._torch
            with torch.inference_mode():
                return torch.sigmoid(self._model(**self._encode(pairs, "pt")).logits[:, 0]).tolist()


# pairs the exported judge must score as PyTorch does before it is used: padding in one batch
_PROBES = (("the plan is twenty-nine a month", "The Silver plan costs $29 per month."),
           ("you can cancel any time with no notice at all and get the unused months back",
            "Cancel within 30 days of purchase for a full refund; after that, the plan runs to the end of its term."))


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _logit(model: Any) -> Any:
    """The classifier's one logit as a module to trace (torch loads on first use)."""
    import torch

    class Logit(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits[:, 0]
    return Logit(model)
