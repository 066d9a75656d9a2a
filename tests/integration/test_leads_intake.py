"""Lead intake: Facebook's webhook and handshake, the Graph read with its
retries, the plain signed endpoint, the rules for when a lead may be called,
the store's once-only claim, the CLI and the config. Facebook is the
stand-in of intervene_harness.graph on an ephemeral port; nothing leaves the host."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timezone

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from intervene.config.leads import Campaign, LeadOptions, campaign_for, lead_options, parse_days
from intervene.leads.graph import GraphClient, GraphError
from intervene.leads.intake import (
    IntakeError,
    lead_from_graph,
    normalize_phone,
    parse_leadgen,
    parse_plain,
    sign,
    verify_signature,
)
from intervene.leads.understand.rules import decide
from intervene.leads.webhooks import LeadIntake, LeadWebhooks
from intervene.store import leads as db
from intervene.store.db import Store
from intervene_harness.graph import GraphStandIn, leadgen_payload, signed

SECRET = "app-secret"
PLAIN_SECRET = "plain-secret"
TOKEN = "page-token"
PAGE, FORM = "1111", "2222"
CAMPAIGNS = {"solar": Campaign(id="solar", team="east", form_ids=(FORM,))}
OPTIONS = LeadOptions(verify_token="verify-me", app_secret=SECRET, page_token=TOKEN, leads_secret=PLAIN_SECRET,
                      graph_tries=3, graph_backoff_s=0.001, fetch_retry_s=300.0)
# Wednesday 4 June 2025, 15:00 UTC: 11:00 in New York, 01:00 Thursday in Sydney
WED_15_UTC = datetime(2025, 6, 4, 15, 0, tzinfo=timezone.utc).timestamp()
NY, SYDNEY = "+12125550123", "+61291234567"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "leads.db")
    yield s
    s.close()


class Harness:
    """The webhooks and intake on a real HTTP server, Graph stand-in beside them."""

    def __init__(self, store: Store, options: LeadOptions = OPTIONS, campaigns=CAMPAIGNS) -> None:
        self.store, self.campaigns = store, campaigns
        self.graph = GraphStandIn(token=TOKEN)
        self.options = options
        self.told: list[int] = []
        self.rows_when_told: list[dict] = []

    async def start(self) -> "Harness":
        gurl = await self.graph.start()
        self.options = replace(self.options, graph_url=gurl)
        self.intake = LeadIntake(self.store, self.options, self.campaigns)
        self.hooks = LeadWebhooks(self.store, self.options, self.campaigns, on_lead=self.on_lead)
        app = web.Application()
        self.hooks.add_routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.http = aiohttp.ClientSession()
        return self

    def on_lead(self, lead_id: int) -> None:
        self.told.append(lead_id)
        self.rows_when_told.append(db.get_lead(self.store, lead_id))

    async def stop(self) -> None:
        await self.http.close()
        await self.intake.close()
        await self.runner.cleanup()
        await self.graph.stop()

    async def post(self, path: str, body: bytes, headers: dict) -> tuple[int, object]:
        async with self.http.post(self.url + path, data=body, headers=headers) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text

    async def webhook(self, *leads: dict, secret: str = SECRET) -> tuple[int, object]:
        return await self.post("/webhooks/facebook", *signed(secret, leadgen_payload(list(leads))))

    async def plain(self, payload: object, secret: str = PLAIN_SECRET) -> tuple[int, object]:
        body = json.dumps(payload).encode()
        return await self.post("/webhooks/leads", body, {"Content-Type": "application/json",
                                                          "X-Intervene-Signature-256": sign(secret, body)})


@asynccontextmanager
async def harness(store, **kw):
    h = await Harness(store, **kw).start()
    try:
        yield h
    finally:
        await h.stop()


def run(coro):
    return asyncio.run(coro)


def lead(leadgen_id: str, form_id: str = FORM, page_id: str = PAGE) -> dict:
    return {"leadgen_id": leadgen_id, "page_id": page_id, "form_id": form_id}


# ------------------------------------------------------------- signatures
def test_signature_good_bad_missing_tampered():
    body = b'{"object":"page","entry":[]}'
    good = sign(SECRET, body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert verify_signature(SECRET, body, good)
    assert verify_signature(SECRET, body, good.upper().replace("SHA256=", "sha256="))   # hex case does not matter
    assert not verify_signature(SECRET, body + b" ", good)                  # tampered body
    assert not verify_signature("other", body, good)                        # wrong secret
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "")
    assert not verify_signature(SECRET, body, good[7:])                     # no sha256= prefix
    assert not verify_signature(SECRET, body, "sha1=" + good[7:])
    assert not verify_signature(SECRET, body, "sha256=nothex")
    assert not verify_signature(SECRET, body, good[:-2])
    assert not verify_signature("", body, sign("", body))                   # no secret: never valid


# ---------------------------------------------------------------- parsing
def test_parse_leadgen_reads_changes_and_names_what_is_wrong():
    payload = leadgen_payload([lead("10"), lead("11", page_id="9")], now=1700000000)
    payload["entry"][0]["changes"].append({"field": "feed", "value": {"item": "post"}})   # not ours: skipped
    got = parse_leadgen(payload)
    assert [(c.leadgen_id, c.page_id, c.form_id, c.created_time) for c in got] == [
        ("10", PAGE, FORM, 1700000000), ("11", "9", FORM, 1700000000)]
    numeric = {"object": "page", "entry": [{"id": 5, "time": 1, "changes": [
        {"field": "leadgen", "value": {"leadgen_id": 123, "page_id": 5, "form_id": 6}}]}]}
    assert parse_leadgen(numeric)[0].leadgen_id == "123"
    for bad, words in ((["x"], "JSON object"), ({"object": "user", "entry": []}, "object"),
                       ({"object": "page"}, "entry"), ({"object": "page", "entry": []}, "entry"),
                       ({"object": "page", "entry": [{"changes": "x"}]}, "entry[0].changes"),
                       ({"object": "page", "entry": [{"changes": [{"field": "leadgen", "value": {"form_id": 1}}]}]},
                        "leadgen_id")):
        with pytest.raises(IntakeError, match=words.replace("[", r"\[").replace("]", r"\]")):
            parse_leadgen(bad)


def test_lead_from_graph_reads_standard_and_custom_fields():
    obj = {"created_time": "2025-06-04T15:00:00+0000", "id": "1", "field_data": [
        {"name": "first_name", "values": ["Dana"]}, {"name": "last_name", "values": ["Reyes"]},
        {"name": "phone_number", "values": ["(212) 555-0123"]}, {"name": "email", "values": ["d@example.com"]},
        {"name": "what_is_your_budget?", "values": ["$5,000-$10,000"]},
        {"name": "which_products?", "values": ["panels", "battery"]}]}
    name, phone, email, fields = lead_from_graph(obj)
    assert (name, phone, email) == ("Dana Reyes", "(212) 555-0123", "d@example.com")
    assert fields["what_is_your_budget?"] == "$5,000-$10,000"
    assert fields["which_products?"] == "panels, battery"
    full = {"field_data": [{"name": "full_name", "values": ["Sam Lee"]}]}
    assert lead_from_graph(full)[:3] == ("Sam Lee", None, None)
    with pytest.raises(IntakeError, match="field_data"):
        lead_from_graph({"id": "1"})


def test_normalize_phone():
    assert normalize_phone("(212) 555-0123", "US") == ("+12125550123", "")
    assert normalize_phone("+61 2 9123 4567", "US") == (SYDNEY, "")
    assert normalize_phone("02 9123 4567", "AU") == (SYDNEY, "")
    for raw, words in ((None, "no phone"), ("", "no phone"), ("call me", "not a phone number"),
                       ("12", "too short"), ("+1 212 555 01234567", "not a"), ("+1 099 555 0123", "not a valid")):
        e164, why = normalize_phone(raw, "US")
        assert e164 is None and words in why, (raw, why)


def test_parse_plain():
    p = parse_plain({"name": " Dana ", "phone": "2125550123", "fields": {"budget": 5000}, "id": 7})
    assert (p.name, p.phone, p.fields, p.id, p.email) == ("Dana", "2125550123", {"budget": "5000"}, "7", None)
    for bad, words in (([], "JSON object"), ({"phone": "1"}, "`name`"), ({"name": "x"}, "`phone`"),
                       ({"name": "x", "phone": 5}, "`phone`"), ({"name": "x", "phone": "1", "fields": []}, "fields"),
                       ({"name": "x", "phone": "1", "nick": "y"}, "unknown key `nick`")):
        with pytest.raises(IntakeError, match=words):
            parse_plain(bad)


# ---------------------------------------------------------------- webhook
def test_handshake_echoes_the_challenge_only_for_our_token(store):
    async def go():
        async with harness(store) as h:
            async def get(params):
                async with h.http.get(h.url + "/webhooks/facebook", params=params) as r:
                    return r.status, r.content_type, await r.text()
            ok = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
            assert await get(ok) == (200, "text/plain", "1158201444")
            assert (await get({**ok, "hub.verify_token": "wrong"}))[0] == 403
            assert (await get({**ok, "hub.mode": "unsubscribe"}))[0] == 403
            assert (await get({"hub.challenge": "1"}))[0] == 403
        async with harness(store, options=replace(OPTIONS, verify_token="")) as h:
            async with h.http.get(h.url + "/webhooks/facebook",
                                  params={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}) as r:
                assert r.status == 403                            # no token configured: nobody subscribes
    run(go())


def test_webhook_commits_before_answering_and_never_stores_a_lead_twice(store):
    async def go():
        async with harness(store) as h:
            status, body = await h.webhook(lead("501"), lead("502"))
            assert status == 200 and body["received"] == 2 and body["duplicates"] == 0
            rows = db.list_leads(store)                     # in the store the moment the 200 is back
            assert sorted(r["leadgen_id"] for r in rows) == ["501", "502"]
            assert all(r["status"] == "received" and r["source"] == "facebook" and r["campaign"] == "solar"
                       for r in rows)
            assert rows[0]["raw"]["webhook"]["form_id"] == FORM
            await asyncio.sleep(0.01)
            assert sorted(h.told) == sorted(body["ids"])    # on_lead once per new lead, after the commit
            assert all(r is not None for r in h.rows_when_told)
            # Facebook retries the same notification: nothing new is stored, nobody is told again
            status, body = await h.webhook(lead("501"), lead("503"))
            assert status == 200 and body["received"] == 1 and body["duplicates"] == 1
            await asyncio.sleep(0.01)
            assert len(db.list_leads(store)) == 3 and len(h.told) == 3
    run(go())


def test_webhook_refuses_bad_signatures_and_malformed_bodies_storing_nothing(store):
    async def go():
        async with harness(store) as h:
            body, headers = signed(SECRET, leadgen_payload([lead("601")]))
            assert (await h.post("/webhooks/facebook", body, {**headers, "X-Hub-Signature-256": ""}))[0] == 403
            assert (await h.post("/webhooks/facebook", body, {"Content-Type": "application/json"}))[0] == 403
            assert (await h.post("/webhooks/facebook", body + b"\n", headers))[0] == 403      # tampered
            assert (await h.webhook(lead("601"), secret="not-the-secret"))[0] == 403
            bad = b'{"object": "page", "entry": ['
            status, err = await h.post("/webhooks/facebook", bad, {"X-Hub-Signature-256": sign(SECRET, bad)})
            assert status == 400 and "not valid JSON" in err["error"]
            missing = json.dumps({"object": "page", "entry": [{"id": PAGE, "changes": [
                {"field": "leadgen", "value": {"page_id": PAGE, "form_id": FORM}}]}]}).encode()
            status, err = await h.post("/webhooks/facebook", missing, {"X-Hub-Signature-256": sign(SECRET, missing)})
            assert status == 400 and "leadgen_id" in err["error"]
            assert db.list_leads(store) == [] and h.told == []
        async with harness(store, options=replace(OPTIONS, app_secret="")) as h:
            status, err = await h.webhook(lead("602"), secret="")
            assert status == 403 and "no app secret" in err["error"]
            assert db.list_leads(store) == []
    run(go())


def test_unknown_page_or_form_is_stored_and_reported_but_not_called(store):
    async def go():
        async with harness(store) as h:
            status, body = await h.webhook(lead("701", form_id="999", page_id="888"))
            assert status == 200 and body["unknown"] == 1 and body["ids"] == []
            await asyncio.sleep(0.01)
            assert h.told == []
            row = db.list_leads(store)[0]
            assert row["status"] == "unknown-campaign" and "888" in row["reason"] and "999" in row["reason"]
            assert h.graph.requests == 0                         # not even read from Graph
            # a page-level campaign, or a "default" one, claims it
            assert campaign_for({"p": Campaign("p", page_ids=("888",))}, "888", "999").id == "p"
            assert campaign_for({"default": Campaign("default")}, "888", "999").id == "default"
            assert campaign_for(CAMPAIGNS, "888", "999") is None
            # configured later: resume() puts it through intake again
            h.intake.campaigns = {**CAMPAIGNS, "p": Campaign("p", page_ids=("888",))}
            h.graph.add_lead("701", full_name="Kim", phone_number="+12125550199")
            assert h.intake.resume() == 1
            await h.intake.retry_due()
            assert db.get_lead(store, row["id"])["status"] == "ready"
    run(go())


# ------------------------------------------------------------------ graph
def test_a_lead_read_from_graph_becomes_ready_with_an_e164_number(store):
    async def go():
        async with harness(store) as h:
            h.hooks.on_lead = h.intake.schedule                  # as the service wires it
            h.graph.add_lead("801", form_id=FORM, full_name="Dana Reyes", phone_number="(212) 555-0123",
                             email="dana@example.com", **{"what_is_your_budget?": "10k"})
            status, body = await h.webhook(lead("801"))
            assert status == 200
            await asyncio.sleep(0.01)
            await h.intake.drain()
            row = db.get_lead(store, body["ids"][0])
            assert row["status"] == "ready" and row["phone"] == "+12125550123" and row["reason"] == ""
            assert (row["name"], row["email"], row["team"]) == ("Dana Reyes", "dana@example.com", "east")
            assert row["fields"]["what_is_your_budget?"] == "10k"
            assert row["raw"]["graph"]["id"] == "801" and row["raw"]["webhook"]["leadgen_id"] == "801"
            assert row["next_at"] <= time.time()
            assert db.due(store, time.time())[0]["id"] == row["id"]
            # asking again changes nothing and does not read Graph again
            assert (await h.intake.process(row["id"]))["status"] == "ready" and h.graph.requests == 1
    run(go())


def test_graph_failing_twice_then_answering_is_retried(store):
    async def go():
        async with harness(store) as h:
            h.graph.add_lead("802", full_name="Sam", phone_number="+12125550124")
            h.graph.fail_next(1, status=503)
            h.graph.fail_next(1, status=429)
            _, body = await h.webhook(lead("802"))
            row = await h.intake.process(body["ids"][0])
            assert row["status"] == "ready" and row["phone"] == "+12125550124"
            assert (h.graph.requests, h.graph.failed, h.graph.served) == (3, 2, 1)
    run(go())


def test_graph_down_leaves_the_lead_fetch_failed_and_the_sweep_gets_it_later(store, caplog):
    async def go():
        async with harness(store) as h:
            clock = [WED_15_UTC]
            h.intake.clock = lambda: clock[0]
            h.graph.add_lead("803", full_name="Alex", phone_number="+12125550125")
            h.graph.fail_next(3, status=500)                      # every one of the 3 tries
            _, body = await h.webhook(lead("803"))
            lid = body["ids"][0]
            with caplog.at_level(logging.DEBUG, logger="intervene.leads"):
                row = await h.intake.process(lid)
            assert row["status"] == "fetch-failed" and "Graph" in row["reason"] and "500" in row["reason"]
            assert row["next_at"] == WED_15_UTC + OPTIONS.fetch_retry_s
            assert TOKEN not in caplog.text and TOKEN not in row["reason"]
            assert await h.intake.retry_due() == 0                # not yet
            clock[0] += OPTIONS.fetch_retry_s
            assert await h.intake.retry_due() == 1
            assert db.get_lead(store, lid)["status"] == "ready"
    run(go())


def test_graph_definite_errors_are_not_retried(store):
    async def go():
        async with harness(store) as h:
            _, body = await h.webhook(lead("804"))                # Graph has no lead 804
            row = await h.intake.process(body["ids"][0])
            assert row["status"] == "failed" and "does not exist" in row["reason"] and "code 100" in row["reason"]
            assert h.graph.requests == 1
            client = GraphClient(h.graph.url, "v21.0", "wrong-token", tries=3, backoff_s=0.001)
            with pytest.raises(GraphError) as e:
                await client.fetch_lead("804")
            assert e.value.code == 190 and e.value.status == 400 and e.value.retry_later  # fix the token, then retry
            assert "wrong-token" not in str(e.value)
            await client.close()
            gone = GraphClient("http://127.0.0.1:9", "v21.0", TOKEN, tries=2, backoff_s=0.001)
            with pytest.raises(GraphError, match="connection failed") as e:
                await gone.fetch_lead("805")
            assert e.value.retry_later
            await gone.close()
            h.graph.delay_s = 0.2
            slow = GraphClient(h.graph.url, "v21.0", TOKEN, tries=2, backoff_s=0.001, timeout_s=0.05)
            with pytest.raises(GraphError, match="no answer"):
                await slow.fetch_lead("805")
            await slow.close()
    run(go())


def test_no_usable_phone_and_dnc(store):
    async def go():
        async with harness(store) as h:
            h.graph.add_lead("901", full_name="No Phone", email="x@example.com")
            h.graph.add_lead("902", full_name="Bad Phone", phone_number="12")
            h.graph.add_lead("903", full_name="Do Not Call", phone_number="+1 212 555 0126")
            db.dnc_add(store, "+12125550126", "asked on the last call")
            _, body = await h.webhook(lead("901"), lead("902"), lead("903"))
            rows = [await h.intake.process(i) for i in body["ids"]]
            assert [r["status"] for r in rows] == ["no-phone", "no-phone", "dnc"]
            assert "no phone number" in rows[0]["reason"] and "too short" in rows[1]["reason"]
            assert rows[2]["phone"] == "+12125550126"
            assert db.due(store, time.time() + 10) == []
    run(go())


def test_a_campaign_switched_off_pauses_its_leads_until_it_is_on_again(store):
    off = {"solar": replace(CAMPAIGNS["solar"], enabled=False)}

    async def go():
        async with harness(store, campaigns=off) as h:
            h.graph.add_lead("951", full_name="Pat", phone_number="+12125550127")
            _, body = await h.webhook(lead("951"))
            row = await h.intake.process(body["ids"][0])
            assert row["status"] == "paused" and "solar" in row["reason"]
            h.intake.campaigns = CAMPAIGNS
            assert h.intake.resume() == 1
            assert db.get_lead(store, row["id"])["status"] == "ready"
    run(go())


# ------------------------------------------------------------------ plain
def test_plain_endpoint(store):
    async def go():
        async with harness(store) as h:
            status, body = await h.plain({"name": "Dana", "phone": "212 555 0128", "fields": {"budget": "5k"},
                                          "id": "crm-1"})
            assert status == 200 and body["status"] == "ready" and body["phone"] == "+12125550128"
            row = db.get_lead(store, body["id"])                  # committed, ready, no Graph
            assert row["source"] == "webhook" and row["fields"] == {"budget": "5k"} and h.graph.requests == 0
            again = await h.plain({"name": "Dana", "phone": "212 555 0128", "id": "crm-1"})
            assert again[1]["duplicate"] and again[1]["id"] == body["id"] and len(db.list_leads(store)) == 1
            await asyncio.sleep(0.01)
            assert h.told == [body["id"]]
            assert (await h.plain({"name": "X", "phone": "12", "id": "crm-2"}))[1]["status"] == "no-phone"
            unknown = await h.plain({"name": "X", "phone": "2125550129", "campaign": "nope", "id": "crm-3"})
            assert unknown[1]["status"] == "unknown-campaign" and "nope" in unknown[1]["reason"]
            status, err = await h.plain({"name": "X"})
            assert status == 400 and "phone" in err["error"]
            n = len(db.list_leads(store))
            assert (await h.plain({"name": "X", "phone": "2125550129"}, secret="wrong"))[0] == 403
            assert len(db.list_leads(store)) == n
        async with harness(store, options=replace(OPTIONS, leads_secret="")) as h:
            status, err = await h.plain({"name": "X", "phone": "2125550129"}, secret="")
            assert status == 403 and "INTERVENE_LEADS_SECRET" in err["error"]
    run(go())


# ------------------------------------------------------------------ rules
def test_rules_calling_hours_are_the_leads_own():
    c = Campaign("solar")
    ny = decide(NY, c, OPTIONS, dnc=False, active_outbound=0, now=WED_15_UTC)
    assert ny.kind == "now" and ny.at == WED_15_UTC
    syd = decide(SYDNEY, c, OPTIONS, dnc=False, active_outbound=0, now=WED_15_UTC)   # 01:00 in Sydney
    opens = datetime(2025, 6, 5, 9, 0, tzinfo=timezone.utc).timestamp() - 10 * 3600   # 09:00 AEST = 23:00 UTC
    assert syd.kind == "later" and syd.at == opens and "Australia/Sydney" in syd.reason
    # 21:00 in New York: tomorrow 09:00 New York time
    late = WED_15_UTC + 10 * 3600
    d = decide(NY, c, OPTIONS, False, 0, late)
    assert d.kind == "later" and datetime.fromtimestamp(d.at, timezone.utc).hour == 13 and d.at > late
    # Saturday is a calling day by default, Sunday is not: Sunday noon in New York -> Monday 09:00
    sunday = datetime(2025, 6, 8, 16, 0, tzinfo=timezone.utc).timestamp()
    d = decide(NY, c, OPTIONS, False, 0, sunday)
    assert d.kind == "later" and datetime.fromtimestamp(d.at, timezone.utc).strftime("%a %H:%M") == "Mon 13:00"
    weekdays = replace(OPTIONS, call_days="mon-fri", call_hours="10:00-16:00")
    saturday = datetime(2025, 6, 7, 15, 0, tzinfo=timezone.utc).timestamp()
    assert decide(NY, c, weekdays, False, 0, saturday).kind == "later"
    assert decide(NY, c, weekdays, False, 0, WED_15_UTC).kind == "now"
    assert parse_days("fri-mon") == {4, 5, 6, 0} and parse_days("mon,wed") == {0, 2}


def test_rules_several_zones_must_all_be_inside_and_unknown_zones_fall_back():
    c = Campaign("x")
    # a UK mobile maps to London, Jersey, Guernsey, Isle of Man: all the same clock, so one answer
    assert decide("+447911123456", c, OPTIONS, False, 0, WED_15_UTC).kind == "now"
    # a US toll-free number maps to every zone from Guam to Newfoundland: no common hours, so the fallback
    d = decide("+18005550100", c, replace(OPTIONS, timezone="America/Chicago"), False, 0, WED_15_UTC)
    assert d.kind == "now" and "America/Chicago" in d.reason
    d = decide("+18005550100", c, OPTIONS, False, 0, WED_15_UTC - 8 * 3600)     # 07:00 UTC
    assert d.kind == "later" and "UTC" in d.reason


def test_rules_dnc_limit_and_campaign_off():
    c = Campaign("solar")
    d = decide(NY, c, OPTIONS, True, 0, WED_15_UTC)
    assert (d.kind, d.status) == ("never", "dnc")
    d = decide(NY, c, OPTIONS, False, OPTIONS.max_outbound, WED_15_UTC)
    assert d.kind == "later" and d.at == WED_15_UTC + 1 and "max_outbound" in d.reason
    d = decide(NY, replace(c, enabled=False), OPTIONS, False, 0, WED_15_UTC)
    assert (d.kind, d.status) == ("never", "paused")
    assert decide(None, c, OPTIONS, False, 0, WED_15_UTC).status == "no-phone"
    assert decide(NY, None, OPTIONS, False, 0, WED_15_UTC).status == "unknown-campaign"
    from intervene.config.leads import lead_campaign
    assert lead_campaign({"source": "cli", "campaign": "default"}, {}).enabled          # built-in default
    assert lead_campaign({"source": "cli", "campaign": "nope"}, CAMPAIGNS) is None
    assert lead_campaign({"source": "facebook", "page_id": PAGE, "form_id": FORM}, CAMPAIGNS).id == "solar"
    assert lead_campaign({"source": "facebook", "page_id": "1", "form_id": "2"}, CAMPAIGNS) is None


# ------------------------------------------------------------------ store
def test_claim_is_once_only_and_due_is_in_order(store, tmp_path):
    a = db.add_lead(store, source="cli", status="ready", phone=NY, next_at=200.0, now=100.0)
    b = db.add_lead(store, source="cli", status="ready", phone=SYDNEY, next_at=150.0, now=100.0)
    db.add_lead(store, source="cli", status="ready", next_at=999.0, now=100.0)
    assert [r["id"] for r in db.due(store, 300.0)] == [b.id, a.id]
    assert db.claim(store, a.id, call_id="c1", now=301.0)
    assert not db.claim(store, a.id, call_id="c2")
    other = Store(tmp_path / "leads.db")                  # another process (a restart) sees the same
    assert not db.claim(other, a.id)
    row = db.get_lead(other, a.id)
    assert (row["status"], row["attempts"], row["call_id"]) == ("calling", 0, "c1")   # the dialler counts
    other.close()
    assert not db.update_lead(store, a.id, only_if="ready", status="done")
    assert db.update(store, a.id, captured='{"budget": "5k"}')         # a column the dialler brings
    assert db.get(store, a.id)["captured"] == '{"budget": "5k"}'
    assert db.recover_calling(store) == 1                              # a restart mid-call: not dialled again
    assert db.get(store, a.id)["status"] == "failed" and not db.claim(store, a.id)
    assert db.update_lead(store, a.id, status="ready", next_at=400.0)
    assert [r["id"] for r in db.list(store, status="ready")] == [3, b.id, a.id]
    first = db.add_lead(store, source="facebook", leadgen_id="42")
    assert db.add_lead(store, source="facebook", leadgen_id="42") == (first.id, True)
    stopped = db.dnc_add(store, SYDNEY, "asked")
    assert stopped == 1 and db.get_lead(store, b.id)["status"] == "dnc" and db.dnc_contains(store, SYDNEY)
    assert db.dnc_remove(store, SYDNEY) and not db.dnc_contains(store, SYDNEY)
    with pytest.raises(ValueError, match="status"):
        db.add_lead(store, source="cli", status="bogus")
    with pytest.raises(ValueError, match="column"):
        db.update_lead(store, a.id, **{"x; drop table leads": 1})


# -------------------------------------------------------------------- cli
def test_cli_leads_and_dnc(tmp_path, monkeypatch):
    from intervene.cli.main import main
    monkeypatch.delenv("INTERVENE_CONFIG", raising=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[leads]\ndefault_region = "US"\n[campaigns.solar]\nform_ids = [2222]\nteam = "east"\n')
    base = ["--db", str(tmp_path / "cli.db"), "--config", str(cfg)]
    cli = CliRunner()

    def ok(*args):
        r = cli.invoke(main, [*base, *args])
        assert r.exit_code == 0, r.output
        return r.output
    out = ok("leads", "add", "--name", "Dana", "--phone", "(212) 555-0130", "--campaign", "solar",
             "--field", "budget=5k")
    assert out == "1\tready\t+12125550130\n"
    r = cli.invoke(main, [*base, "leads", "add", "--name", "Bad", "--phone", "12"])
    assert r.exit_code == 0 and "no-phone" in r.output and "too short" in r.output
    r = cli.invoke(main, [*base, "leads", "add", "--name", "X", "--phone", "2125550131", "--campaign", "nope"])
    assert r.exit_code == 2 and "unknown campaign 'nope'" in r.output and "solar" in r.output
    r = cli.invoke(main, [*base, "leads", "add", "--name", "X", "--phone", "2125550131", "--field", "oops"])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    assert ok("dnc", "add", "212-555-0132", "--reason", "asked").startswith("+12125550132")
    out = ok("leads", "add", "--name", "Dnc", "--phone", "2125550132")
    assert "\tdnc\t" in out
    assert "+12125550132\t" in ok("dnc", "list")
    lines = ok("leads", "list").strip().splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[1] == "dnc"
    assert ok("leads", "list", "--status", "ready").count("\n") == 1
    row = json.loads(ok("leads", "list", "--status", "ready", "--json"))
    assert row["fields"] == {"budget": "5k"} and row["team"] == "east" and row["source"] == "cli"
    ok("dnc", "remove", "+1 212 555 0132")
    r = cli.invoke(main, [*base, "dnc", "remove", "+12125550132"])
    assert r.exit_code == 2 and "not on the do-not-call list" in r.output
    r = cli.invoke(main, [*base, "dnc", "add", "hello"])
    assert r.exit_code == 2 and "not a phone number" in r.output


# ----------------------------------------------------------------- config
def test_config_leads_and_campaigns(tmp_path, monkeypatch):
    from intervene.config import ConfigError, load_config
    for var in ("INTERVENE_FB_APP_SECRET", "INTERVENE_FB_PAGE_TOKEN", "INTERVENE_FB_VERIFY_TOKEN",
                "INTERVENE_GRAPH_URL", "INTERVENE_LEADS_SECRET", "INTERVENE_FB_CAPI_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    p = tmp_path / "c.toml"
    p.write_text("""
[leads]
app_secret = "from-file"
call_hours = "08:30-19:00"
call_days = "mon-fri"
retry_s = [60, 300]
graph_backoff_s = 1
timezone = "America/Chicago"
[leads.capi_events]
won = "Purchase"
[campaigns.solar]
form_ids = [2222, "3333"]
team = "east"
[[campaigns.solar.questions]]
id = "budget"
ask = "Budget?"
kind = "budget"
[campaigns.default]
enabled = false
""")
    cfg = load_config(p)
    assert cfg.leads.hours == (510, 1140) and cfg.leads.days == {0, 1, 2, 3, 4}
    assert cfg.leads.retry_s == (60.0, 300.0) and cfg.leads.graph_backoff_s == 1.0
    assert cfg.leads.capi_events == {"won": "Purchase"} and cfg.leads.app_secret == "from-file"
    assert cfg.campaigns["solar"].form_ids == ("2222", "3333")
    assert cfg.campaigns["solar"].questions == ({"id": "budget", "ask": "Budget?", "kind": "budget"},)
    assert len(cfg.campaigns["default"].questions) == 4 and not cfg.campaigns["default"].enabled
    monkeypatch.setenv("INTERVENE_FB_APP_SECRET", "from-env")
    assert load_config(p).leads.app_secret == "from-env"
    assert lead_options({}, {"INTERVENE_FB_PAGE_TOKEN": "t"}).page_token == "t"
    for text, words in (('[leads]\ncall_hours = "9-17"', "call_hours"),
                        ('[leads]\ncall_hours = "18:00-09:00"', "after the start"),
                        ('[leads]\ncall_days = "weekdays"', "call_days"),
                        ('[leads]\nmax_outbound = "4"', "`max_outbound` must be a whole number"),
                        ('[leads]\nretry_s = 5', "retry_s"),
                        ('[leads]\ntimezone = "Mars/Olympus"', "unknown time zone"),
                        ('[leads]\ndial = "PJSIP/trunk"', "{number}"),
                        ('[leads]\nbogus = 1', "unknown key `bogus`"),
                        ('[leads.capi_events]\nsold = "Purchase"', "unknown outcome"),
                        ('[campaigns.a]\nform_ids = "1"', "form_ids"),
                        ('[campaigns.a]\nenabled = "yes"', "enabled"),
                        ('[campaigns.a]\nform_ids = ["1"]\n[campaigns.b]\nform_ids = ["1"]', "already in"),
                        ('[[campaigns.a.questions]]\nid = "x"\nask = "?"\nkind = "essay"', "kind"),
                        ('campaigns = 3', "[campaigns]")):
        p.write_text(text)
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("{", r"\{")):
            load_config(p)
