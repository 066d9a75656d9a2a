"""Silent mode end to end: a real call through the local Asterisk between two
pjsua2 phones, `intervene serve` (in this process) listening live, and the
rep's screen open in headless Chromium. The briefing card is there while the
phone rings, the correction arrives as a card (and as a SIP MESSAGE on the
rep's phone), the rep's click reaches the store."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from screenkit import PASSWORD

from intervene.formats.transcript import parse_transcript
from intervene_harness.calls import LiveHarness

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("INTERVENE_SCREENSHOTS", ROOT / "test-artifacts" / "screens"))

CALL = """\
{"start": 0.0, "end": 2.6, "speaker": "rep", "text": "Hi Dana, this is Mark from Acme."}
{"start": 3.0, "end": 6.2, "speaker": "lead", "text": "Hi Mark. What kind of support comes with Standard?"}
{"start": 6.6, "end": 9.8, "speaker": "rep", "text": "The Standard package includes two years of support."}
{"start": 14.0, "end": 15.6, "speaker": "lead", "text": "Okay, good to know."}
"""

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the local Asterisk needs root (chroot)"),
    pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no Chromium"),
]


@pytest.fixture(scope="module")
def service(loop, tmp_path_factory):
    h = loop.run(LiveHarness(tmp_path_factory.mktemp("screenlive") / "live.db", kb=str(ROOT / "kb"), mode="silent",
                             stop_pbx=True).__aenter__(), 240)
    yield h
    loop.run(h.__aexit__(None, None, None), 120)


def test_a_live_silent_call_reaches_the_reps_screen_and_phone(loop, service, tmp_path):
    from playwright.async_api import async_playwright

    from intervene.screen.web import save_user
    from intervene_harness.browser import launch, login
    store = service.services.store
    save_user(store, {"login": "rep5", "name": "Mark", "role": "rep", "team": "sales", "endpoint": "PJSIP/rep5",
                      "sip_message": True, "password": PASSWORD})
    url = service.controller.web.url

    async def scenario():
        async with async_playwright() as pw:
            browser = await launch(pw)
            ctx, page = await login(browser, url, "rep5", PASSWORD)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            call = asyncio.create_task(service.call(parse_transcript(CALL), tmp_path / "call", pair=5))
            await page.wait_for_selector(".briefing", timeout=30000)
            lines_at_briefing = await page.locator("#transcript .line").count()
            briefing = await page.locator(".briefing").inner_text()
            card = page.locator("article.card[data-category=accuracy]")
            await card.wait_for(timeout=40000)
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "rep-live-call.png"), full_page=True)
            card_text = await card.inner_text()
            await card.locator("button[data-action=used]").click()
            await page.wait_for_selector("article.card[data-category=accuracy][data-feedback=used]", timeout=5000)
            result = await call
            lines = await page.eval_on_selector_all("#transcript .line:not(.interim)", "els => els.map(e => e.innerText)")
            times = await page.evaluate("window.__ivCardTimes")
            await browser.close()
            return result, briefing, lines_at_briefing, card_text, lines, times, errors

    r, briefing, lines_at_briefing, card_text, lines, times, errors = loop.run(scenario(), 240)
    assert "speak with" in briefing.lower() and lines_at_briefing == 0     # on screen before the conversation
    assert "three years" in card_text.lower() or "3 years" in card_text, card_text
    assert any("standard" in t.lower() for t in lines), lines                # the live transcript, both parties
    acc = next(d for d in r.deliveries if d["category"] == "accuracy")
    assert acc["mode"] == "silent" and acc["delivery"] == "shown"
    assert acc["feedback"] is None or acc["feedback"] == "used"              # collected before or after the click
    row = next(x for x in service.services.store.interventions(r.call_id) if x["category"] == "accuracy")
    assert row["feedback"] == "used" and row["feedback_by"] == "rep5"
    assert any("Factual error" in m["body"] and "three years" in m["body"] for m in r.rep_messages), r.rep_messages
    shown = next(t for t in times if t["seq"] == acc["seq"])
    print(f"live call: decision -> card rendered {1000 * (shown['rendered_wall'] - shown['decided_wall']):.0f} ms")
    assert not errors, errors
    # nothing of it was spoken into the call: silent mode
    assert all(d["delivery"] in ("shown", "call-ended") for d in r.deliveries), r.deliveries
