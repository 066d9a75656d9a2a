"""Putting the models on a Ray cluster, from the config (`intervene models
deploy`), and reading back what runs there (`intervene models status`).

Two Serve applications, `<app>-asr` and `<app>-embed`, one deployment each,
so either model scales on its own. No HTTP proxy is started: workers call
the deployments through Ray handles (serving/client.py), and a proxy would
take a port on every node for nothing. Replicas are placed by Ray's spread
strategy (Serve's default) and `max_replicas_per_node` can force one per node.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import asdict, replace
from typing import Any

from intervene.config.models import ModelsOptions
from intervene.errors import InterveneError
from intervene.listen.asr import AsrOptions
from intervene.serving.deployments import EmbedServer, WhisperServer

ASR, EMBED = "WhisperServer", "EmbedServer"
_connected: dict[str, str] = {}
_lock = threading.Lock()


class ModelServerError(InterveneError):
    """The model cluster is unreachable, has no such application, or failed a request twice."""


def app_names(o: ModelsOptions) -> tuple[str, str]:
    return f"{o.app}-asr", f"{o.app}-embed"


def connect(o: ModelsOptions) -> None:
    """Join the Ray cluster as a driver, once per process (a worker's calls
    share the connection). Ray's own log chatter stays out of the service's."""
    with _lock:
        if _connected.get("address") == o.address:
            return
        try:
            import ray
        except ImportError as e:
            raise ModelServerError('[models] backend = "ray" needs Ray: pip install "intervene[ray]"') from e
        if ray.is_initialized():
            _connected["address"] = o.address
            return
        try:
            ray.init(address=o.address, namespace=o.namespace, logging_level=logging.WARNING, log_to_driver=False,
                     ignore_reinit_error=True)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ModelServerError(f"cannot reach the Ray cluster at {o.address}: {e}") from e
        _connected["address"] = o.address


def disconnect() -> None:
    """Leave the cluster (tests and the bench, before they stop theirs)."""
    with _lock:
        if _connected:
            import ray
            ray.shutdown()
            _connected.clear()


def replica_asr(o: ModelsOptions, asr: AsrOptions) -> AsrOptions:
    """Whisper's options inside a replica: its threads follow the CPUs Ray
    gives the replica, and a GPU replica runs float16 on CUDA."""
    asr = replace(asr, cpu_threads=max(1, int(o.num_cpus or 1)))
    if o.num_gpus > 0 and asr.device == "cpu":
        asr = replace(asr, device="cuda", compute_type="float16")
    return asr


def _options(o: ModelsOptions) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": o.num_cpus, "num_gpus": o.num_gpus},
        # serve.batch needs a batch's worth of requests in the replica at once
        "max_ongoing_requests": max(2 * o.max_batch_size, 8),
        "health_check_period_s": 2.0,
        "health_check_timeout_s": 10.0,
        "graceful_shutdown_timeout_s": 5.0,
    }
    if o.max_replicas_per_node:
        out["max_replicas_per_node"] = o.max_replicas_per_node
    if o.max_replicas > o.min_replicas:
        out["autoscaling_config"] = {"min_replicas": o.min_replicas, "max_replicas": o.max_replicas,
                                     "initial_replicas": o.min_replicas,
                                     "target_ongoing_requests": max(2, o.max_batch_size // 2),
                                     "upscale_delay_s": 5.0, "downscale_delay_s": 60.0}
    else:
        out["num_replicas"] = o.min_replicas
    return out


def deploy(o: ModelsOptions, asr: AsrOptions, embed_model: str = "", embed_backend: str = "",
           cache_directory: str = "") -> dict[str, Any]:
    """Start (or update in place) both applications and wait until their
    replicas are up; what `status` then reports."""
    connect(o)
    from ray import serve
    wait_s = o.batch_wait_ms / 1000
    opts = _options(o)
    asr_app, embed_app = app_names(o)
    try:
        serve.start(proxy_location="Disabled")
        make: Any = serve.deployment
        whisper = make(WhisperServer, name=ASR, **opts).bind(asdict(replica_asr(o, asr)), o.max_batch_size, wait_s)
        embed = make(EmbedServer, name=EMBED, **opts).bind(embed_model, embed_backend, cache_directory,
                                                          o.max_batch_size, wait_s)
        serve.run(whisper, name=asr_app, route_prefix=None, blocking=False)
        serve.run(embed, name=embed_app, route_prefix=None, blocking=False)
    except Exception as e:      # noqa: BLE001 - Ray raises many kinds; the admin needs one message
        raise ModelServerError(f"deploying the models on {o.address} failed: {type(e).__name__}: {e}") from e
    return status(o)


def status(o: ModelsOptions) -> dict[str, Any]:
    """Each application's state and replicas, and the cluster's nodes."""
    connect(o)
    import ray
    from ray import serve
    try:
        st = serve.status()
    except Exception as e:      # noqa: BLE001
        raise ModelServerError(f"no Serve on {o.address}: {e}") from e
    apps: dict[str, Any] = {}
    for name in app_names(o):
        app = st.applications.get(name)
        if app is None:
            apps[name] = {"status": "NOT DEPLOYED"}
            continue
        apps[name] = {"status": str(app.status.value if hasattr(app.status, "value") else app.status),
                      "deployments": {d: {"status": str(getattr(ds.status, "value", ds.status)),
                                          "replicas": {str(getattr(k, "value", k)): v
                                                       for k, v in ds.replica_states.items()}}
                                      for d, ds in app.deployments.items()}}
    nodes = [{"node": n["NodeID"][:12], "address": n["NodeManagerAddress"], "alive": n["Alive"],
              "cpus": n["Resources"].get("CPU", 0), "gpus": n["Resources"].get("GPU", 0)} for n in ray.nodes()]
    return {"address": o.address, "applications": apps, "nodes": nodes}


def shutdown(o: ModelsOptions) -> None:
    """Delete both applications (the cluster stays)."""
    connect(o)
    from ray import serve
    for name in app_names(o):
        serve.delete(name)
