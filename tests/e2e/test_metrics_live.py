"""Issue 17, metrics end to end: `intervene serve` (in this process) on the
local Asterisk, one real call between two pjsua2 phones in which the rep
misstates a KB fact, a screen's live stream open, and /metrics scraped
while the call runs and after it: every metric where there was activity
moved, and the call is no longer in progress once it is over."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from intervene.formats.transcript import parse_transcript
from intervene_harness.calls import LiveHarness

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-e2e-token"
PAIR = 21                       # phones lead21/rep21: no other e2e test uses them

# as tests/e2e/test_live.py: a wrong claim, then room for the spoken correction
CLAIM_CALL = """\
{"start": 0.0, "end": 2.6, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 3.0, "end": 6.2, "speaker": "lead", "text": "Hi Mark. What kind of support comes with Standard?"}
{"start": 6.6, "end": 9.8, "speaker": "rep", "text": "The Standard package includes two years of support."}
{"start": 19.0, "end": 20.6, "speaker": "lead", "text": "Okay, good to know."}
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local Asterisk needs root (chroot)")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def service(loop, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("metricslive")
    config = tmp / "intervene.toml"            # Prometheus on this host scrapes without the token
    config.write_text(f'[serve]\nmetrics_allow = ["127.0.0.1/32"]\napi_token = "{TOKEN}"\n')
    h = loop.run(LiveHarness(tmp / "live.db", kb=str(ROOT / "kb"), config=str(config), stop_pbx=True).__aenter__(),
                 240)
    yield h
    loop.run(h.__aexit__(None, None, None), 120)


async def scrape(http: aiohttp.ClientSession, url: str, token: bool = False) -> Samples:
    headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
    async with http.get(url + "/metrics", headers=headers) as r:
        assert r.status == 200, await r.text()
        text = await r.text()
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def test_metrics_scraped_during_a_live_call(loop, service, tmp_path):
    url = service.controller.web.url
    worker = service.services.worker

    async def scenario() -> tuple[Samples, list[Samples], Samples, object]:
        async with aiohttp.ClientSession() as http:
            before = await scrape(http, url)
            # a screen watching: the live stream, with the API token
            stream = await http.get(url + "/api/events", headers={"Authorization": f"Bearer {TOKEN}"})
            assert stream.status == 200
            await stream.content.readline()
            call = asyncio.create_task(service.call(parse_transcript(CLAIM_CALL), tmp_path / "call", pair=PAIR))
            during: list[Samples] = []
            while not call.done():
                during.append(await scrape(http, url, token=len(during) % 2 == 1))    # both ways in
                await asyncio.wait([call], timeout=1.0)
            result = await call
            during.append(await scrape(http, url))
            stream.close()
            for _ in range(200):          # the server notices a closed stream at its next ping (PING_S, 15 s)
                after = await scrape(http, url)
                if total(after, "intervene_sse_clients") == total(before, "intervene_sse_clients"):
                    break
                await asyncio.sleep(0.1)
            return before, during, after, result

    before, during, after, r = loop.run(scenario(), 240)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    acc = [d for d in r.deliveries if d["category"] == "accuracy"]      # type: ignore[attr-defined]
    assert acc, r.deliveries                                             # type: ignore[attr-defined]
    # during the call: it is in progress on this worker, the screen's stream is counted
    assert max(total(s, "intervene_calls_in_progress", worker=worker) for s in during) >= 1
    assert max(total(s, "intervene_sse_clients") for s in during) >= total(before, "intervene_sse_clients") + 1
    # what happened in it was counted
    assert moved("intervene_utterances_total", party="rep", kind="final") >= 2
    assert moved("intervene_utterances_total", party="lead", kind="final") >= 1
    assert moved("intervene_interventions_total", category="accuracy") >= 1
    assert moved("intervene_deliveries_total", mode=acc[0]["mode"], status=acc[0]["delivery"]) >= 1
    assert moved("intervene_eos_to_decision_seconds_count") >= 3
    assert moved("intervene_decision_to_delivered_seconds_count") >= 1
    assert total(after, "intervene_event_loop_lag_seconds_count") > 0          # the service's probe runs
    assert ("intervene_asr_queue_depth", frozenset()) in after
    assert total(after, "intervene_store_pending_jobs") >= 0
    # and once it is over, nothing is in progress and the stream is gone
    assert total(after, "intervene_calls_in_progress", worker=worker) == 0
    assert total(after, "intervene_sse_clients") == total(before, "intervene_sse_clients")
    # the latency histograms hold real figures: decisions within seconds of the end of speech
    p = total(after, "intervene_eos_to_decision_seconds_sum") - total(before, "intervene_eos_to_decision_seconds_sum")
    assert 0 < p / moved("intervene_eos_to_decision_seconds_count") < 10
