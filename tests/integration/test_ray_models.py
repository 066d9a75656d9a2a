"""Whisper and the sentence encoder served on Ray Serve (issue 16): a
throwaway two-node Ray cluster on this machine, the models deployed as the
config says, and a worker's clients. Served results equal in-process ones
(the batched Whisper path included), concurrent requests share model calls,
and a replica killed mid-request costs a retry, not the call."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import AUDIO_DIR, REPO

from intervene.cli.main import main
from intervene.config.models import ModelsOptions
from intervene.listen.asr import AsrOptions, AsrResult
from intervene.listen.dsp import to_16k
from intervene.listen.wav import read_call
from intervene.nlp.embed import SentenceEmbedder
from intervene.serving import deploy
from intervene.serving.client import RayEmbedder, RayTranscriber

pytest.importorskip("ray.serve")

PROMPT = "Acme Business Networks, Standard, Premium, Multi-site, NetCo, FibreLink."
SENTENCES = ["okay", "the Standard plan is $49 a month", "we include two years of support",
             "can I cancel any time?", "FibreLink offered me a better price"]


@pytest.fixture(scope="session")
def ray_models():
    """A head and one more node (`ray start`), both models deployed, one
    replica each (1 CPU), batches of up to 8; stopped at the end."""
    from intervene_harness.raycluster import LocalRayCluster, RayUnavailable
    try:
        rc = LocalRayCluster(cpus=(1, 1)).start()
    except RayUnavailable as e:
        pytest.skip(str(e))
    o = ModelsOptions(backend="ray", address=rc.address, num_cpus=1, max_batch_size=8, batch_wait_ms=20,
                      timeout_s=60)
    try:
        deploy.deploy(o, AsrOptions())
        yield o
    finally:
        deploy.disconnect()
        rc.stop()
    assert not rc.pids()


def _utterances(n: int) -> list[np.ndarray]:
    a = read_call(AUDIO_DIR / "support-years.wav")
    rows = [json.loads(x) for x in (AUDIO_DIR / "support-years.jsonl").read_text().splitlines() if x.strip()]
    return [to_16k((a.lead if r["speaker"] == "lead" else a.rep)[int(r["start"] * 8000) - 800:
                                                                  int(r["end"] * 8000) + 800], 8000)
            for r in rows[:n]]


def _same(a: AsrResult, b: AsrResult) -> bool:
    return (a.text, a.words, a.no_speech_prob, a.avg_logprob, a.dropped, a.second_opinion) == \
        (b.text, b.words, b.no_speech_prob, b.avg_logprob, b.dropped, b.second_opinion)


def test_served_transcripts_and_vectors_equal_in_process(ray_models, transcriber) -> None:
    remote = RayTranscriber(ray_models, prompt=PROMPT)
    for pcm in _utterances(4):
        mine, theirs = transcriber.transcribe(pcm), remote.transcribe(pcm)
        assert _same(mine, theirs), (mine, theirs)
    local = SentenceEmbedder()
    served = RayEmbedder(ray_models)
    assert served.name == local.name
    assert np.allclose(served.encode(SENTENCES), local.encode(SENTENCES), atol=1e-5)
    assert served.encode([]).shape == (0, 384)


def test_concurrent_requests_share_model_calls(ray_models, transcriber) -> None:
    remote = RayTranscriber(ray_models, prompt=PROMPT)
    pcms = _utterances(8)
    before = remote.info()
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(remote.transcribe, pcms))
    after = remote.info()
    assert after["items"] - before["items"] == 8
    assert after["batches"] - before["batches"] < 8, (before, after)        # batched: fewer model calls
    assert after["largest_batch"] > 1
    for pcm, res in zip(pcms, got):                                         # and the batch path's results
        assert _same(transcriber.transcribe(pcm), res)                      # are the one-at-a-time ones

    served = RayEmbedder(ray_models)
    e0 = served.info()
    with ThreadPoolExecutor(8) as ex:
        vecs = list(ex.map(lambda s: served.encode([s + " (batched)"]), SENTENCES * 2))
    e1 = served.info()
    assert e1["batches"] - e0["batches"] < e1["items"] - e0["items"]
    assert all(v.shape == (1, 384) for v in vecs)


def test_killed_replica_costs_a_retry_not_the_call(ray_models, transcriber) -> None:
    remote = RayTranscriber(ray_models, prompt=PROMPT)
    pcms = _utterances(6)
    want = [transcriber.transcribe(p).text for p in pcms]
    victim = remote.info()["pid"]
    results: dict[int, str] = {}

    def one(i: int) -> None:
        results[i] = remote.transcribe(pcms[i]).text

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(pcms))]
    for t in threads:
        t.start()
    time.sleep(0.3)                         # in flight: queued in the replica or in its model call
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join(timeout=120)
    assert results == dict(enumerate(want))                 # every utterance came back, right
    assert 1 <= remote.remote.retries <= len(pcms)          # only those in flight were sent again
    retried = remote.remote.retries
    assert remote.transcribe(pcms[0]).text == want[0]       # later ones: a new replica, no retry
    assert remote.remote.retries == retried
    assert remote.info()["pid"] != victim


def test_replay_with_served_models_gives_the_same_interventions(ray_models, tmp_path) -> None:
    cfg = tmp_path / "ray.toml"
    cfg.write_text(f'[models]\nbackend = "ray"\naddress = "{ray_models.address}"\ntimeout_s = 60.0\n')
    call = str(AUDIO_DIR / "refund-days-minimal.wav")
    base = ["replay", call, "--kb", str(REPO / "kb" / "acme.yaml"), "--profile", "minimal", "--json", "--no-store"]
    runner = CliRunner()
    local = runner.invoke(main, ["--db", str(tmp_path / "a.db"), *base])
    served = runner.invoke(main, ["--db", str(tmp_path / "b.db"), "--config", str(cfg), *base])
    assert local.exit_code == 0 and served.exit_code == 0, local.output + served.output
    ivs = [json.loads(x) for x in local.output.splitlines() if x.startswith("{")]
    assert ivs and ivs == [json.loads(x) for x in served.output.splitlines() if x.startswith("{")]


def test_models_status_names_both_applications(ray_models) -> None:
    r = CliRunner().invoke(main, ["models", "status", "--address", ray_models.address, "--json"])
    assert r.exit_code == 0, r.output
    st = json.loads(r.output)
    assert {a["status"] for a in st["applications"].values()} == {"RUNNING"}
    assert len(st["nodes"]) == 2


def test_a_replica_killed_mid_call_costs_the_call_nothing(ray_models, tmp_path) -> None:
    """The Whisper replica dies while a call is being transcribed through it:
    the call's interventions are the same as with in-process models."""
    cfg = tmp_path / "ray.toml"
    cfg.write_text(f'[models]\nbackend = "ray"\naddress = "{ray_models.address}"\ntimeout_s = 60.0\n')
    call = str(AUDIO_DIR / "support-years.wav")
    base = ["replay", call, "--kb", str(REPO / "kb" / "acme.yaml"), "--profile", "minimal", "--json", "--no-store"]
    runner = CliRunner()
    local = runner.invoke(main, ["--db", str(tmp_path / "a.db"), *base])
    probe = RayTranscriber(ray_models, prompt=PROMPT)
    before = probe.info()
    killed: dict = {}

    def kill_mid_call() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = probe.info()
            if now["pid"] == before["pid"] and now["items"] >= before["items"] + 2:   # the call is under way
                os.kill(now["pid"], signal.SIGKILL)
                killed["pid"] = now["pid"]
                return
            time.sleep(0.05)
    killer = threading.Thread(target=kill_mid_call)
    killer.start()
    served = runner.invoke(main, ["--db", str(tmp_path / "b.db"), "--config", str(cfg), *base])
    killer.join(70)
    assert killed, "the replica was never killed during the call"
    assert local.exit_code == 0 and served.exit_code == 0, local.output + served.output
    ivs = [json.loads(x) for x in local.output.splitlines() if x.startswith("{")]
    assert ivs and ivs == [json.loads(x) for x in served.output.splitlines() if x.startswith("{")]
    assert RayTranscriber(ray_models, prompt=PROMPT).info()["pid"] != killed["pid"]       # a new replica
