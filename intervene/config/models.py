"""Where the models run: `[models]` in the config file.

    [models]
    backend = "local"          # local: Whisper and the sentence encoder in this process (the default);
                               # ray: served by Ray Serve (intervene/serving), shared by every worker
    address = "auto"           # the Ray cluster: "auto" (this machine is a Ray node), "HOST:6379"
                               # (its GCS), or "ray://HOST:10001" (Ray Client, from a machine outside it)
    app = "intervene-models"   # the Serve application's name (two installations may share a cluster)
    num_cpus = 1.0             # per replica (Whisper's CTranslate2 threads follow it)
    num_gpus = 0.0             # per replica; > 0 runs Whisper on CUDA (float16)
    min_replicas = 1           # autoscaling range of each model; equal = a fixed number
    max_replicas = 1
    max_replicas_per_node = 0  # 0 = no cap; 1 spreads the replicas one per node
    max_batch_size = 8         # utterances (or sentence lists) one model call takes at most
    batch_wait_ms = 10.0       # how long a replica waits to fill a batch
    timeout_s = 30.0           # one request, after which it is retried once, then fails
"""
from __future__ import annotations

from dataclasses import dataclass

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class ModelsOptions:
    backend: str = "local"
    address: str = "auto"
    app: str = "intervene-models"
    namespace: str = "intervene"
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    min_replicas: int = 1
    max_replicas: int = 1
    max_replicas_per_node: int = 0
    max_batch_size: int = 8
    batch_wait_ms: float = 10.0
    timeout_s: float = 30.0

    @property
    def remote(self) -> bool:
        return self.backend == "ray"


def check_models(o: ModelsOptions) -> ModelsOptions:
    """The values the types alone do not rule out; ValueError names the key."""
    if o.backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {', '.join(BACKENDS)}, got {o.backend!r}")
    if not o.address.strip():
        raise ValueError('`address` must name the Ray cluster ("auto", "HOST:PORT" or "ray://HOST:PORT")')
    if not o.app.strip():
        raise ValueError("`app` must not be empty")
    if not o.num_cpus >= 0 or not o.num_gpus >= 0 or o.num_cpus + o.num_gpus <= 0:
        raise ValueError("`num_cpus` and `num_gpus` must be 0 or more, and not both 0")
    if o.min_replicas < 1 or o.max_replicas < o.min_replicas:
        raise ValueError(f"replicas: need 1 <= min_replicas <= max_replicas, got {o.min_replicas}..{o.max_replicas}")
    if o.max_replicas_per_node < 0:
        raise ValueError("`max_replicas_per_node` must be 0 (no cap) or more")
    if not 1 <= o.max_batch_size <= 256:
        raise ValueError(f"`max_batch_size` must be 1 to 256, got {o.max_batch_size}")
    if not 0 <= o.batch_wait_ms <= 1000:
        raise ValueError(f"`batch_wait_ms` must be 0 to 1000, got {o.batch_wait_ms}")
    if not o.timeout_s > 0:
        raise ValueError(f"`timeout_s` must be above 0, got {o.timeout_s}")
    return o
