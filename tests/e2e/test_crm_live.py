"""Issue 17, CRM write-back end to end: the real `intervene serve` (a child
process) on the local Asterisk with a [[crm.webhook]] and [crm.hubspot],
one real call between two pjsua2 phones in which the rep misstates a KB
fact, the outcome set by the rep on the screen API - all while the CRM
side is down (nothing listens on its ports). The service is stopped
(SIGTERM) with every delivery still queued, the webhook receiver and the
HubSpot stand-in come up, the service starts again on the same database:
each event reaches the webhook exactly once, signed, carrying the call's
format-6 record; HubSpot gets one contact (the caller's number) and one
call engagement associated to it with the outcome, score, duration and
summary."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from screenkit import PASSWORD, Client

from intervene.formats.transcript import parse_transcript
from intervene.leads.crm_send import delivery_id_for, verify_signature
from intervene.screen.web import save_user
from intervene.store import crm_outbox
from intervene.store.db import Store
from intervene_harness import localpbx
from intervene_harness.calls import LEAD_IN_S, SIP
from intervene_harness.hubspot import HubSpotStandIn, WebhookReceiver
from intervene_harness.phone import PhoneProcess
from intervene_harness.soak_service import ServiceProcess, free_port
from intervene_harness.voices import render_parties

ROOT = Path(__file__).resolve().parents[2]
N = 19                                    # phones rep19 / +12125550119 (lead19's line): no other e2e test uses them
REP, CALLER = f"rep{N}", f"+121255501{N:02d}"
SECRET = "crm-e2e-webhook-secret"
TOKEN = "pat-na1-crm-e2e"
HOOK = "e2e-hook"

# as tests/e2e/test_live.py: a wrong claim, then room for the spoken correction
CLAIM_CALL = """\
{"start": 0.0, "end": 2.6, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 3.0, "end": 6.2, "speaker": "lead", "text": "Hi Mark. What kind of support comes with Standard?"}
{"start": 6.6, "end": 9.8, "speaker": "rep", "text": "The Standard package includes two years of support."}
{"start": 19.0, "end": 20.6, "speaker": "lead", "text": "Okay, good to know."}
"""

CONFIG = """\
[serve]
listen = "127.0.0.1:{port}"
[defaults]
profile = "standard"
[defaults.modes]
accuracy = "voice"
[crm]
max_attempts = 50                  # the outage outlasts the default's ten tries here
retry_base_s = 1
retry_max_s = 3
[[crm.webhook]]
url = "http://127.0.0.1:HOOK_PORT/hook"
secret_env = "CRM_E2E_WEBHOOK_SECRET"
name = "e2e-hook"
[crm.hubspot]
token_env = "CRM_E2E_HUBSPOT_TOKEN"
base_url = "http://127.0.0.1:HS_PORT"
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the local Asterisk needs root (chroot)")


async def ari(env: dict[str, str], method: str, path: str) -> Any:
    auth = {"Authorization": aiohttp.encode_basic_auth(env["INTERVENE_ARI_USER"], env["INTERVENE_ARI_PASSWORD"])}
    async with aiohttp.ClientSession(headers=auth) as http:
        async with http.request(method, f"{env['INTERVENE_ARI_URL'].rstrip('/')}/ari{path}") as r:
            assert r.status < 300, (method, path, r.status)
            return await r.json() if r.content_type == "application/json" else None


async def wait_app(env: dict[str, str], present: bool, timeout: float, why: str) -> None:
    """Until the Stasis app `intervene` is (or is no longer) connected to the local Asterisk."""
    deadline = time.monotonic() + timeout
    while ("intervene" in [a["name"] for a in await ari(env, "GET", "/applications")]) != present:
        assert time.monotonic() < deadline, why
        await asyncio.sleep(0.5)


async def until(what: str, check: Any, timeout: float, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(check)
        if got:
            return got
        await asyncio.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def outbox(db: Path) -> list[dict[str, Any]]:
    """The outbox as the test's own connection sees it (never the service's)."""
    s = Store(str(db))
    try:
        return crm_outbox.rows(s)
    finally:
        s.close()


def row(db: Path, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    s = Store(str(db))
    try:
        return s.db.query(sql, args)
    finally:
        s.close()


def tried_ends(db: Path) -> list[dict[str, Any]]:
    rows = [r for r in outbox(db) if r["event"] == "call.ended" and r["attempts"] >= 1]
    return rows if len(rows) == 2 else []


def all_sent(db: Path) -> list[dict[str, Any]]:
    rows = outbox(db)
    return rows if rows and all(r["status"] == "sent" for r in rows) else []


@pytest.fixture(scope="module")
def rig(loop, tmp_path_factory):
    """The local Asterisk (started if need be), a service process not yet
    started, and the CRM's two ports reserved but with nothing on them."""
    work = tmp_path_factory.mktemp("crmlive")
    started = not localpbx.running()
    env = localpbx.start()
    hook_port, hs_port = free_port(), free_port()
    text = CONFIG.replace("HOOK_PORT", str(hook_port)).replace("HS_PORT", str(hs_port))
    svc_env = {k: v for k, v in env.items() if k.startswith("INTERVENE_ARI_")}
    svc_env.update({"CRM_E2E_WEBHOOK_SECRET": SECRET, "CRM_E2E_HUBSPOT_TOKEN": TOKEN,
                    "INTERVENE_SECRET": "crm-e2e-session-secret"})
    svc = ServiceProcess(work, str(ROOT / "kb"), text, svc_env)
    s = Store(str(svc.db))
    save_user(s, {"login": REP, "name": "Rep Nineteen", "role": "rep", "team": "sales",
                  "endpoint": f"PJSIP/{REP}", "password": PASSWORD})
    s.close()
    rx, hs = WebhookReceiver(SECRET), HubSpotStandIn(token=TOKEN)
    yield {"work": work, "env": env, "svc": svc, "rx": rx, "hs": hs, "ports": (hook_port, hs_port)}
    svc.stop()
    loop.run(rx.stop())
    loop.run(hs.stop())
    if started:
        localpbx.stop()


async def live_call(env: dict[str, str], db: Path, out: Path) -> str:
    """The caller (+1 212 555 0119, a number with no digest auth in the dev
    rig) dials 6NN: [from-leads] hands the call to Stasis(intervene) with
    lead = the caller's number; rep NN's phone answers. Returns the call id."""
    out.mkdir(parents=True, exist_ok=True)
    spans = await asyncio.to_thread(render_parties, parse_transcript(CLAIM_CALL), out / "lead-says.wav",
                                    out / "rep-says.wav")
    pw = env.get("INTERVENE_SIP_PASSWORD")
    t_dial = time.time()
    rep = await PhoneProcess(REP).start(user=REP, password=pw, registrar=SIP, register=True,
                                        play=out / "rep-says.wav", record=out / "rep-heard.wav")
    lead = None
    try:
        await rep.wait_event("registered", 10)
        lead = await PhoneProcess("caller").start(user=CALLER, registrar=SIP, dial=f"6{N:02d}",
                                                  play=out / "lead-says.wav", record=out / "lead-heard.wav")
        found = await until(f"a monitored call to {REP}", lambda: row(
            db, "select id, conversation_started from calls where rep_endpoint = ? and conversation_started"
                " is not null and conversation_started >= ?", [f"PJSIP/{REP}", t_dial - 1]), 30, 0.05)
        call_id, t0 = found[0]["id"], float(found[0]["conversation_started"])
        for ph in (lead, rep):
            await ph.send({"cmd": "play", "at": t0 + LEAD_IN_S})
        await asyncio.gather(lead.wait_event("played", spans["duration"] + 30),
                             rep.wait_event("played", spans["duration"] + 30))
        await asyncio.sleep(2.0)
        await lead.send({"cmd": "hangup"})
        await until("the call's end stored", lambda: row(
            db, "select id from calls where id = ? and duration_s is not null", [call_id]), 30)
        return str(call_id)
    finally:
        for ph in (lead, rep):
            if ph is not None:
                await ph.close()


async def set_outcome(url: str, call_id: str) -> None:
    rep = Client(url)
    try:
        assert await rep.login(REP) == 303
        status, body = await rep.post(f"/api/calls/{call_id}/outcome", {"outcome": "won", "note": "signed today"})
        assert status == 200, (status, body)
    finally:
        await rep.close()


def test_deliveries_queued_while_the_crm_is_down_go_once_after_a_restart(loop, rig, tmp_path):
    svc: ServiceProcess = rig["svc"]
    env, rx, hs = rig["env"], rig["rx"], rig["hs"]
    hook_port, hs_port = rig["ports"]
    t_start = time.monotonic()

    # 1. the service up on the local Asterisk (the dev rig's [from-leads] calls Stasis app `intervene`)
    loop.run(wait_app(env, present=False, timeout=120,
                      why="another e2e test's service holds the Stasis app `intervene`: rerun later"), 130)
    svc.start()
    svc.wait_up(240)
    loop.run(wait_app(env, present=True, timeout=60, why="the service never registered its Stasis app"), 70)
    t_up = time.monotonic()

    # 2. the call, and its outcome from the rep's screen, with the CRM down
    call_id = loop.run(live_call(env, svc.db, tmp_path / "call"), 180)
    t_call = time.monotonic()
    ended = loop.run(until("call.ended queued for both targets and tried", lambda: tried_ends(svc.db), 30), 40)
    assert {r["target"] for r in ended} == {HOOK, "hubspot"} and all(r["call_id"] == call_id for r in ended)
    assert all(r["last_error"] for r in ended), ended                   # they were tried: nothing listened
    loop.run(set_outcome(svc.url, call_id), 30)
    loop.run(until("call.outcome queued", lambda: len(outbox(svc.db)) == 4, 20), 30)
    time.sleep(1.5)                                                     # a few more failing tries

    # 3. SIGTERM with everything still queued
    assert svc.stop(), "the service did not exit on SIGTERM"
    queued = outbox(svc.db)
    assert sorted((r["event"], r["target"], r["status"]) for r in queued) == sorted(
        (e, t, "pending") for e in ("call.ended", "call.outcome") for t in (HOOK, "hubspot")), queued
    assert all(r["payload"] for r in queued)
    tries_before = {r["delivery_id"]: r["attempts"] for r in queued}

    # 4. the CRM comes back; the service starts again on the same database
    loop.run(rx.start(port=hook_port))
    loop.run(hs.start(port=hs_port))
    svc.start()
    svc.wait_up(240)
    t_restarted = time.monotonic()
    done = loop.run(until("every delivery sent", lambda: all_sent(svc.db), 60), 70)
    t_sent = time.monotonic()
    time.sleep(3.0)                                                     # a few more passes: nothing goes twice
    print(f"\nCRM e2e: service up {t_up - t_start:.1f} s, call {t_call - t_up:.1f} s, "
          f"restart to all sent {t_sent - t_restarted:.1f} s, tries before the restart {tries_before}")

    # the webhook: each event once, signed, the record as data
    assert rx.refused == [], rx.refused
    assert sorted(d["doc"]["event"] for d in rx.received) == ["call.ended", "call.outcome"], rx.received
    by = {d["doc"]["event"]: d for d in rx.received}
    subjects = {"call.ended": call_id, "call.outcome": f"{call_id}:won"}
    for event, got in by.items():
        h, doc = got["headers"], got["doc"]
        assert doc["id"] == h["X-Intervene-Delivery"] == delivery_id_for(HOOK, event, subjects[event])
        assert verify_signature(SECRET, h["X-Intervene-Timestamp"], got["body"], h["X-Intervene-Signature"],
                                now=float(h["X-Intervene-Timestamp"]))
        data = doc["data"]
        assert data["call_id"] == call_id and data["source"] == "live" and data["rep"] == REP
        assert data["lead"]["phone"] == CALLER, data["lead"]                # the caller's number
        assert data["summary"] and isinstance(data["summary"], str)
        said = " ".join(u["text"] for u in data["transcript"]).lower()
        assert {"rep", "lead"} <= {u["speaker"] for u in data["transcript"]} and "two years" in said, said
        card = [iv for iv in data["interventions"] if iv["category"] == "accuracy"]
        assert card and "three years" in card[0]["say"].lower(), data["interventions"]
        assert data["duration_s"] > 15 and "total" in data["score"]
    assert by["call.ended"]["doc"]["data"]["outcome"] == "unknown"
    assert by["call.outcome"]["doc"]["data"]["outcome"] == "won"

    # HubSpot: one contact by the caller's number, one call associated to it, the outcome on it
    assert [c["properties"].get("phone") for c in hs.contacts.values()] == [CALLER], hs.contacts
    (contact,) = hs.contacts
    assert len(hs.calls) == 1, hs.calls
    (call,) = hs.calls.values()
    assert call["contacts"] == [contact]
    p = call["properties"]
    record = by["call.outcome"]["doc"]["data"]
    assert call_id in p["hs_call_title"] and "(won)" in p["hs_call_title"], p["hs_call_title"]
    assert p["hs_call_duration"] == str(int(round(record["duration_s"] * 1000)))
    body = p["hs_call_body"]
    assert "Outcome: won" in body and f"Score: {record['score']['total']}" in body, body
    assert "Duration: 0:" in body and f"Summary: {record['summary']}" in body, body
    assert "accuracy/" in body and "three years" in body.lower(), body                 # the correction card
    assert all(e["status"] < 300 for e in hs.log), hs.log

    # the outbox: all sent once, payloads dropped, HubSpot's ids kept
    assert all(r["payload"] is None and r["attempts"] == tries_before[r["delivery_id"]] + 1 for r in done), done
    remote = [r["remote"] for r in done if r["target"] == "hubspot"]
    assert all(r and r["call"] == next(iter(hs.calls)) and r["contact"] == contact for r in remote), remote
    assert outbox(svc.db) == done
