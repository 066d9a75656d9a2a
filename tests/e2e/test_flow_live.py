"""The whole lead flow on the local Asterisk with real phones: a signed Lead
Ads webhook, the stand-in Graph API, the AI's callback and qualification,
the rep rung and briefed alone, the hand-off, a wrong claim corrected, the
outcome going back through the Conversions API - checked in what each phone
recorded (Whisper), in the record and in what the stand-in Facebook received.
Also: a service killed between the webhook and the callback calls the lead
exactly once after it restarts."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intervene.store.db import Store
from intervene_harness.calls import heard
from intervene_harness.flow import DEFAULT_SCRIPT, FORM_ID, PAGE_ID, FlowHarness, flow_config, lead_number, post_webhook

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local Asterisk needs root (chroot)")


def _reader(flow):
    """A second connection to the service's database for the test's reads: sharing the
    service's connection across threads races its savepoints."""
    return Store(flow.services.store.path)


@pytest.fixture(scope="module")
def flow(loop, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flow")
    h = loop.run(FlowHarness(tmp / "flow.db", str(ROOT / "kb"), tmp / "work", stop_pbx=True).__aenter__(), 240)
    yield h
    loop.run(h.__aexit__(None, None, None), 120)


@pytest.fixture(scope="module")
def result(loop, flow, tmp_path_factory):
    return loop.run(flow.run(DEFAULT_SCRIPT, tmp_path_factory.mktemp("flowout"), lead_n=7, rep_n=7), 300)


@pytest.fixture(scope="module")
def transcriber():
    from intervene.listen.asr import Transcriber
    return Transcriber()


def test_the_lead_is_called_qualified_handed_over_and_the_outcome_reported(result, transcriber):
    r = result
    events = [e["event"] for e in r.timeline]
    for step in ("webhook-received", "lead-dialled", "lead-phone-incoming", "lead-answered", "qualified",
                 "rep-dialled", "rep-joined", "handed-off", "hang-up", "settled"):
        assert step in events, (step, events)
    assert events.index("qualified") < events.index("rep-dialled") < events.index("handed-off")
    assert r.lead_calls == 1
    # webhook -> the lead's phone ringing: seconds, not minutes
    t = {e["event"]: e["t"] for e in reversed(r.timeline)}
    assert t["lead-phone-incoming"] - t["webhook-received"] < 5.0
    # the captured answers, parsed
    fields = r.record["lead"]["fields"]
    assert fields["interest"] is True
    assert fields["budget"]["amount"] == 15000 and fields["budget"]["currency"] == "USD"
    assert fields["timeline"]["words"] and fields["timeline"]["start"] > "2026"
    assert "offices" in fields["needs"].lower()
    # the record: both halves of the transcript, the correction, a score with its parts
    speakers = [u["speaker"] for u in r.record["transcript"]]
    assert speakers[0] == "ai" and "lead" in speakers and "rep" in speakers
    acc = [i for i in r.record["interventions"] if i["category"] == "accuracy"]
    assert acc and acc[0]["delivery"] == "spoken"
    assert 0 <= r.record["score"]["total"] <= 100 and r.record["score"]["explain"]["accuracy"]
    assert r.record["outcome"] == "won" and r.record["lead"]["source"] == "facebook"
    # what each phone heard
    lead_rec, rep_rec = t["lead-phone-confirmed"], t["rep-phone-confirmed"]
    greeting = heard(transcriber, r.out / "lead-heard.wav", lead_rec, lead_rec, lead_rec + 15)
    assert "automated assistant" in greeting, greeting                  # the AI says what it is
    fix = next(e["t"] for e in r.timeline if e["event"] == "intervention" and e["category"] == "accuracy")
    correction = heard(transcriber, r.out / "lead-heard.wav", lead_rec, fix - 0.3, fix + 9)
    assert "3 years" in correction or "three years" in correction, correction
    briefing = heard(transcriber, r.out / "rep-heard.wav", rep_rec, rep_rec, t["rep-joined"])
    assert "briefing" in briefing and any(x in briefing for x in ("15,000", "15000", "15 000")), briefing
    meanwhile = heard(transcriber, r.out / "lead-heard.wav", lead_rec, rep_rec, t["rep-joined"])
    assert "briefing" not in meanwhile and "15,000" not in meanwhile, meanwhile
    # the Conversions API: one event, hashed phone and email, never the raw values
    assert len(r.capi_bodies) == 1
    body = json.dumps(r.capi_bodies[0])
    ev = r.capi_bodies[0]["data"][0]
    assert ev["event_name"] == "Purchase" and ev["action_source"] == "system_generated"
    assert ev["custom_data"]["event_source"] == "crm"
    phone = lead_number(7)
    assert ev["user_data"]["ph"] == [hashlib.sha256(phone.lstrip("+").encode()).hexdigest()]
    assert ev["user_data"]["em"] == [hashlib.sha256(DEFAULT_SCRIPT["lead"]["email"].encode()).hexdigest()]
    assert phone not in body and phone.lstrip("+") not in body and DEFAULT_SCRIPT["lead"]["email"] not in body
    # demo outputs
    for name in ("record.json", "capi-events.jsonl", "timeline.jsonl", "lead-heard.wav", "rep-heard.wav"):
        assert (r.out / name).stat().st_size > 0


def test_a_duplicate_webhook_is_not_called_twice(loop, flow, result):
    from intervene.store import leads as lead_store
    store = _reader(flow)          # its own connection: the service writes from its own thread
    lead = lead_store.get(store, result.lead_id)
    t, answer = loop.run(post_webhook(flow.url, [{"leadgen_id": lead["leadgen_id"], "page_id": PAGE_ID,
                                                  "form_id": FORM_ID}]))
    assert answer["duplicates"] == 1 and answer["received"] == 0
    assert lead_store.get(store, result.lead_id)["status"] == "done"


def test_a_bad_signature_is_refused_and_nothing_is_stored(loop, flow):
    import aiohttp

    from intervene_harness.graph import leadgen_payload
    store = _reader(flow)          # its own connection: the service writes from its own thread
    before = store.db.execute("select count(*) from leads").fetchone()[0]

    async def post():
        body = json.dumps(leadgen_payload([{"leadgen_id": "424242", "page_id": PAGE_ID, "form_id": FORM_ID}])).encode()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{flow.url}/webhooks/facebook", data=body,
                                 headers={"X-Hub-Signature-256": "sha256=" + "0" * 64}) as r:
                return r.status
    assert loop.run(post()) == 403
    assert store.db.execute("select count(*) from leads").fetchone()[0] == before


def test_a_service_killed_between_webhook_and_callback_calls_the_lead_exactly_once(loop, flow, tmp_path):
    """`intervene serve` (a real process) takes the webhook outside calling
    hours, is killed (SIGKILL), and the restarted service calls the lead once."""
    from intervene.store import leads as lead_store
    from intervene.store.db import Store
    from intervene_harness.calls import SIP
    from intervene_harness.phone import PhoneProcess
    env = {**os.environ, **flow.live.env}
    db = tmp_path / "svc.db"
    now_h = time.gmtime().tm_hour
    closed = f"{(now_h + 3) % 24:02d}:00-{(now_h + 3) % 24:02d}:30"      # New York hours that are not now
    cfg = flow_config(tmp_path / "closed.toml", flow.fb.url, hours=closed)
    cfg.write_text(cfg.read_text() + '\n[serve]\napp = "intervene-flowkill"\nlisten = "127.0.0.1:18393"\n')
    leadgen_id = "7000000000001"
    flow.fb.graph.add_lead(leadgen_id, form_id=FORM_ID, full_name="Kim Lee", phone_number=lead_number(9))
    phone = loop.run(PhoneProcess("lead9").start(user="lead9", password=env.get("INTERVENE_SIP_PASSWORD"),
                                                 registrar=SIP, register=True, answer_delay=30))
    proc = subprocess.Popen([sys.executable, "-m", "intervene.cli.main", "--db", str(db), "--config", str(cfg), "serve",
                             "--kb", str(ROOT / "kb")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        loop.run(phone.wait_event("registered", 10))
        deadline = time.monotonic() + 90
        while True:                                                  # the service is up
            try:
                loop.run(post_webhook("http://127.0.0.1:18393", [{"leadgen_id": leadgen_id, "page_id": PAGE_ID,
                                                                   "form_id": FORM_ID}]))
                break
            except Exception:
                assert proc.poll() is None and time.monotonic() < deadline, "intervene serve did not come up"
                time.sleep(0.5)
        store = Store(db)
        for _ in range(150):                     # intake: ready now; the dialler's rules: not before the opening
            lead = (lead_store.list(store) or [{}])[0]
            if lead.get("status") == "ready" and (lead.get("next_at") or 0) > time.time() + 3600:
                break
            time.sleep(0.1)
        assert lead.get("status") == "ready" and lead["next_at"] > time.time() + 3600, (lead, closed)  # queued
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert not [e for e in phone.events if e.get("event") == "incoming"]
        # restarted with the calling hours open: the lead is called, once
        lead_store.update(store, lead["id"], next_at=time.time())     # as the clock would reach the opening
        store.close()
        cfg.write_text(cfg.read_text().replace(f'call_hours = "{closed}"', 'call_hours = "00:00-24:00"'))
        proc = subprocess.Popen([sys.executable, "-m", "intervene.cli.main", "--db", str(db), "--config", str(cfg), "serve",
                                 "--kb", str(ROOT / "kb")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        try:
            loop.run(phone.wait_event("incoming", 90))
        except Exception:
            proc.kill()
            raise AssertionError(f"the restarted service never called the lead: {proc.stdout.read()[-3000:]}")
        time.sleep(4)                                                # a second call would come within the tick
        assert sum(1 for e in phone.events if e.get("event") == "incoming") == 1, phone.events
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        loop.run(phone.close())
    store = Store(db)
    assert len(lead_store.list(store)) == 1
    store.close()


def test_an_unreachable_number_is_recorded_with_the_reason_and_retried(loop, flow):
    """lead23's number has no phone registered behind it."""
    from intervene.store import leads as lead_store
    store = _reader(flow)          # its own connection: the service writes from its own thread
    flow.fb.graph.add_lead("7000000000023", form_id=FORM_ID, full_name="Nobody Home", phone_number=lead_number(23))
    t, answer = loop.run(post_webhook(flow.url, [{"leadgen_id": "7000000000023", "page_id": PAGE_ID,
                                                  "form_id": FORM_ID}]))
    lead_id = answer["ids"][0]
    for _ in range(300):
        lead = lead_store.get(store, lead_id)
        if lead["attempts"]:
            break
        time.sleep(0.1)
    assert lead["attempts"] == 1 and lead["status"] == "ready", lead         # retried later (retry_s), kept
    assert lead["next_at"] > time.time() and lead["reason"], lead
    assert "answer" in lead["reason"] or "dial" in lead["reason"], lead
