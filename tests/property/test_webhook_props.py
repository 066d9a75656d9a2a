"""The lead webhooks over real HTTP, fed generated bodies: Facebook's leadgen
notification and our plain JSON lead, shaped right with wrong values, as raw
bytes, badly signed. Every answer is a 200 or a 4xx with a JSON `error` -
never a 500 (a traceback in the server, and for Facebook a webhook to retry)."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Iterator

import aiohttp
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from propkit import dumps, json_values, mixed, nested, plain_text, text

from intervene.config.leads import Campaign, LeadOptions
from intervene.leads.intake import sign
from intervene.leads.webhooks import LeadWebhooks
from intervene.store.db import Store

FB_SECRET, PLAIN_SECRET, PAGE, FORM = "app-secret", "plain-secret", "1111", "2222"
OPTIONS = LeadOptions(verify_token="verify-me", app_secret=FB_SECRET, leads_secret=PLAIN_SECRET)
CAMPAIGNS = {"solar": Campaign(id="solar", team="east", form_ids=(FORM,))}


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any


class Server:
    """LeadWebhooks on an ephemeral port, driven from synchronous tests."""

    def __init__(self, store: Store) -> None:
        self.loop = asyncio.new_event_loop()
        self.hooks = LeadWebhooks(store, OPTIONS, CAMPAIGNS)
        self.loop.run_until_complete(self._start())

    async def _start(self) -> None:
        app = web.Application()
        self.hooks.add_routes(app)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.http = aiohttp.ClientSession()

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
                params: dict[str, str] | None = None) -> Answer:
        async def go() -> Answer:
            async with self.http.request(method, self.url + path, data=body, headers=headers or {},
                                         params=params) as r:
                raw = await r.read()
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = raw
                return Answer(r.status, r.content_type, parsed)
        return self.loop.run_until_complete(go())

    def close(self) -> None:
        async def stop() -> None:
            await self.http.close()
            await self.runner.cleanup()
        self.loop.run_until_complete(stop())
        self.loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = Store(tmp_path_factory.mktemp("leads") / "leads.db")
    s = Server(store)
    yield s
    s.close()
    store.close()


def _assert_answered(a: Answer) -> None:
    assert a.status < 500, (a.status, a.body)
    if a.status >= 400:
        assert a.content_type == "application/json" and isinstance(a.body, dict), a
        assert isinstance(a.body.get("error"), str) and a.body["error"], a
    else:
        assert a.status == 200 and isinstance(a.body, dict), a


fb_id = st.one_of(st.sampled_from([PAGE, FORM, "9" * 20]), st.integers(0, 10**20).map(str), st.integers())
change_value = st.fixed_dictionaries(
    {"leadgen_id": mixed(fb_id)},
    optional={"page_id": mixed(st.just(PAGE)), "form_id": mixed(st.sampled_from([FORM, "3333"])),
              "ad_id": mixed(fb_id), "adgroup_id": mixed(fb_id),
              "created_time": mixed(st.integers(1_600_000_000, 1_900_000_000)), "field_data": json_values})
change = st.fixed_dictionaries({"field": mixed(st.just("leadgen")), "value": mixed(change_value)})
entry = st.fixed_dictionaries({"id": mixed(st.just(PAGE)), "changes": mixed(st.lists(change, max_size=3))},
                              optional={"time": mixed(st.integers(1_600_000_000, 1_900_000_000))})
leadgen = st.fixed_dictionaries({"object": mixed(st.just("page")), "entry": mixed(st.lists(entry, max_size=2))})

phones = st.sampled_from(["+12125550123", "(212) 555-0123", "+61291234567", "0", "+", "+999 123", "phone",
                          "+1" + "2" * 40, "١٢٣٤٥٦٧٨٩٠"])
plain_lead = st.fixed_dictionaries(
    {"name": mixed(plain_text), "phone": mixed(phones)},
    optional={"email": mixed(plain_text), "campaign": mixed(st.sampled_from(["solar", "other"])),
              "fields": mixed(st.dictionaries(plain_text, st.one_of(plain_text, st.integers(), st.floats()))),
              "id": mixed(st.one_of(plain_text, st.integers())), "timestamp": mixed(st.floats(0, 2e9)),
              "x-extra": json_values})


@st.composite
def body(draw: st.DrawFn, payloads: st.SearchStrategy[Any]) -> bytes:
    how = draw(st.sampled_from(["json", "json", "json", "ascii", "bytes", "nested"]))
    if how == "bytes":
        return draw(st.binary(max_size=200))
    if how == "nested":
        return nested(draw(st.integers(1, 100000)), "{}").encode()
    return dumps(draw(payloads), ascii=how == "ascii").encode("utf-8", "surrogatepass")


def _headers(draw: st.DrawFn, header: str, secret: str, raw: bytes) -> dict[str, str]:
    good = sign(secret, raw)
    value = draw(st.one_of(st.just(good), st.just(good), st.just(good), st.just(good.upper()),
                           st.sampled_from(["", "sha256=", "sha1=abc", sign("wrong", raw)]),
                           st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)))
    return {header: value, "Content-Type": "application/json"} if value else {"Content-Type": "application/json"}


@settings(max_examples=400)
@given(st.data())
def test_facebook_webhook_answers_200_or_a_json_4xx(server: Server, data: st.DataObject) -> None:
    raw = data.draw(body(leadgen))
    headers = _headers(data.draw, "X-Hub-Signature-256", FB_SECRET, raw)
    _assert_answered(server.request("POST", "/webhooks/facebook", raw, headers))


@settings(max_examples=400)
@given(st.data())
def test_plain_webhook_answers_200_or_a_json_4xx(server: Server, data: st.DataObject) -> None:
    raw = data.draw(body(plain_lead))
    headers = _headers(data.draw, "X-Intervene-Signature-256", PLAIN_SECRET, raw)
    _assert_answered(server.request("POST", "/webhooks/leads", raw, headers))


@settings(max_examples=100)
@given(st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]), text, max_size=3))
def test_handshake_never_fails(server: Server, params: dict[str, str]) -> None:
    """Facebook's GET wants the challenge back as text, so its refusal is text too: a 403, never a 500
    (and aiohttp's own 400 for a request line over 8 KiB)."""
    params = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in params.items()}
    a = server.request("GET", "/webhooks/facebook", params=params)
    assert a.status in (200, 403, 400)
