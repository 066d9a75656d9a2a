"""PyTorch models exported once to ONNX Runtime, for speed on CPU.

The embedder and the judge are both MiniLM: on two cores ONNX Runtime runs
them about two to three times faster than PyTorch. Each export is made on
first use, kept in the cache directory, named `<model>-<version>.onnx`, and
used only after it has given the same numbers as PyTorch on probe inputs;
where anything fails the caller stays on PyTorch (only speed is lost).
"""
from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, Optional, Sequence

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_LEGACY_EXPORT = re.compile(r"[0-9a-f]{16}\.onnx")     # named before exports named their model


def digest(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def cache_dir(cache_directory: Optional[str], kind: str) -> Path:
    """systemd's CacheDirectory, else the user's cache directory (unwritable: PyTorch stays)."""
    if cache_directory:
        return Path(cache_directory.split(":")[0]) / kind
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("intervene")) / kind


def eager_copy(model: Any) -> Any:
    """A copy with eager attention: the fused kernel's mask handling does not
    survive tracing, and switching the live model's attention implementation
    and back leaves its padding masks wrong."""
    model = copy.deepcopy(model)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:
        model.config._attn_implementation = "eager"
    return model


def export(module: Any, example: Sequence[Any], output: str, path: Path) -> None:
    """Trace `module` (taking INPUTS, batch x tokens) to `path`, atomically."""
    import torch
    axes = {n: {0: "batch", 1: "tokens"} for n in INPUTS} | {output: {0: "batch"}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")         # tracer chatter about shape-dependent branches
            torch.onnx.export(module, tuple(example), str(tmp), input_names=list(INPUTS), output_names=[output],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def session(path: Path) -> Any:
    import onnxruntime as ort
    import torch
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, torch.get_num_threads())
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def feed(batch: Any) -> dict[str, Any]:
    """A tokenizer's numpy batch as the session's inputs."""
    import numpy as np
    return {k: np.asarray(batch[k]).astype(np.int64) for k in INPUTS}


def prune_exports(keep: Path) -> list[Path]:
    """Remove the exports `keep` replaces: the same model's other versions,
    and those named the old way. Each is 90 MB, and every upgrade of the
    package made one more. A process still running on a removed file keeps
    it (it is loaded), and a missing export is only made again."""
    model = keep.name.split("-", 1)[0]
    gone = []
    for p in keep.parent.glob("*.onnx"):
        if p != keep and (p.name.startswith(model + "-") or _LEGACY_EXPORT.fullmatch(p.name)):
            try:
                p.unlink()
                gone.append(p)
            except OSError as e:       # another user's file, a read-only cache: only disk is lost
                log.info("could not remove the old export %s: %s", p, e)
    return gone
