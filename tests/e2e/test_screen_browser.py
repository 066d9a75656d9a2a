"""The rep's and the supervisor's screens in a real headless Chromium
(Debian's, driven by Playwright) against the real screen server: cards
appear as the call goes, clicks reach the store, a second rep sees nothing,
a dropped connection loses and repeats nothing. Screenshots of the rep's
screen mid-call (desktop and phone width) go to test-artifacts/screens/."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from screenkit import PASSWORD, PRACTICE, Loop, ScreenServer

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("INTERVENE_SCREENSHOTS", ROOT / "test-artifacts" / "screens"))

pytestmark = pytest.mark.skipif(not os.path.exists(os.environ.get("INTERVENE_CHROMIUM", "/usr/bin/chromium")),
                                reason="no Chromium (scripts/setup.sh installs Debian's as root)")


@pytest.fixture(scope="module")
def browser(loop):
    from playwright.async_api import async_playwright

    from intervene_harness.browser import launch

    async def start():
        pw = await async_playwright().start()
        return pw, await launch(pw)
    pw, b = loop.run(start())
    yield b
    loop.run(b.close())
    loop.run(pw.stop())


class Screen:
    """One person's browser (own context: own cookies), logged in through the form."""

    def __init__(self, loop: Loop, browser, server: ScreenServer, login: str, width: int = 1280, height: int = 800):
        from intervene_harness.browser import login as do_login
        self.loop = loop
        self.ctx, self.page = loop.run(do_login(browser, server.url, login, PASSWORD, (width, height)))
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def run(self, coro, timeout: float = 60):
        return self.loop.run(coro, timeout)

    def close(self) -> None:
        self.loop.run(self.ctx.close())


def start_practice(screen: Screen, speed: float) -> str:
    res = screen.run(screen.page.evaluate(
        """async ([t, s]) => (await (await fetch('/api/practice', {method: 'POST', headers:
            {'Content-Type': 'application/json', 'X-Intervene': '1'}, body: JSON.stringify({transcript: t, speed: s})})).json())""",
        [PRACTICE, speed]))
    assert "call_id" in res, res
    return res["call_id"]


def card_sel(call_id: str, category: str = "") -> str:
    return f"article.card[data-call='{call_id}']" + (f"[data-category='{category}']" if category else "")


def test_cards_appear_live_and_the_reps_clicks_reach_the_store(loop, server, browser):
    rep = Screen(loop, browser, server, "rep1")
    phone = Screen(loop, browser, server, "rep1", 390, 844)           # the same rep on a phone
    other = Screen(loop, browser, server, "rep2")                     # another rep, same team
    call_id = start_practice(rep, speed=2.5)
    page = rep.page
    rep.run(page.wait_for_selector(card_sel(call_id, "accuracy"), timeout=20000))
    # mid-call: the transcript is there, the accuracy card stands out; screenshots for a person to look at
    assert rep.run(page.locator("#transcript .line").count()) >= 2
    phone.run(phone.page.wait_for_selector(card_sel(call_id, "accuracy"), timeout=10000))
    SHOTS.mkdir(parents=True, exist_ok=True)
    rep.run(page.screenshot(path=str(SHOTS / "rep-desktop-mid-call.png"), full_page=True))
    phone.run(phone.page.screenshot(path=str(SHOTS / "rep-phone-mid-call.png"), full_page=True))
    assert (SHOTS / "rep-desktop-mid-call.png").stat().st_size > 10000
    acc = page.locator(card_sel(call_id, "accuracy"))
    text = rep.run(acc.inner_text())
    assert "three years" in text.lower() and "Factual error" in text
    # used
    rep.run(acc.locator("button[data-action=used]").click())
    rep.run(page.wait_for_selector(card_sel(call_id, "accuracy") + "[data-feedback=used]", timeout=5000))
    # wait for the call to end, then dismiss the competitor card
    loop.run(server.wait_ended(call_id))
    comp = page.locator(card_sel(call_id, "competitive"))
    rep.run(comp.locator("button[data-action=dismiss]").click())
    rep.run(page.wait_for_selector(card_sel(call_id, "competitive") + "[data-feedback=dismissed]", timeout=5000))
    rows = {r["category"]: r for r in server.store.interventions(call_id)}
    assert rows["accuracy"]["feedback"] == "used" and rows["competitive"]["feedback"] == "dismissed"
    # the rep's other device got the feedback too (pushed, not reloaded)
    phone.run(phone.page.wait_for_selector(card_sel(call_id, "accuracy") + "[data-feedback=used]", timeout=5000))
    # every card once, none missing
    n = rep.run(page.locator(card_sel(call_id)).count())
    assert n == len(server.store.interventions(call_id))
    # the outcome, after the call
    rep.run(page.click("#outcome button[data-outcome=won]"))
    rep.run(page.fill("#outcome textarea[name=note]", "Signed Standard, 3 sites"))
    rep.run(page.click("#outcome button[data-action=save-outcome]"))
    for _ in range(100):
        if server.store.call(call_id)["outcome"] == "won":
            break
        loop.run(asyncio.sleep(0.05))
    assert server.store.call(call_id)["outcome_note"] == "Signed Standard, 3 sites"
    # the other rep saw nothing of it
    assert other.run(other.page.locator(card_sel(call_id)).count()) == 0
    assert call_id not in other.run(other.page.content())
    assert not rep.errors and not phone.errors and not other.errors, rep.errors + phone.errors + other.errors
    for s in (rep, phone, other):
        s.close()


def test_edit_then_use_stores_the_words_the_rep_said(loop, server, browser):
    rep = Screen(loop, browser, server, "rep1")
    call_id = start_practice(rep, speed=8)
    page = rep.page
    rep.run(page.wait_for_selector(card_sel(call_id, "accuracy"), timeout=20000))
    acc = page.locator(card_sel(call_id, "accuracy"))
    rep.run(acc.locator("button[data-action=edit]").click())
    rep.run(acc.locator("textarea.say-edit").fill("Sorry - Standard has three years of support, not two."))
    rep.run(acc.locator("button[data-action=save]").click())
    rep.run(page.wait_for_selector(card_sel(call_id, "accuracy") + "[data-feedback=edited]", timeout=5000))
    row = next(r for r in server.store.interventions(call_id) if r["category"] == "accuracy")
    assert row["feedback"] == "edited" and row["feedback_text"].startswith("Sorry - Standard has three years")
    rep.close()


def test_a_dropped_connection_catches_up_without_duplicates(loop, server, browser):
    rep = Screen(loop, browser, server, "rep1")
    page = rep.page
    call_id = start_practice(rep, speed=2)
    rep.run(page.wait_for_selector(card_sel(call_id), timeout=20000))
    # the network blips twice while the call goes on: the server drops every stream
    for _ in range(2):
        assert server.hub.disconnect_all() >= 1
        for _ in range(200):                               # the browser reconnects by itself
            loop.run(asyncio.sleep(0.05))
            if server.hub.screens:
                break
        assert server.hub.screens
        rep.run(page.wait_for_selector("#conn[data-state=open]", timeout=10000))
        loop.run(asyncio.sleep(0.5))
    loop.run(server.wait_ended(call_id))
    stored = {r["seq"] for r in server.store.interventions(call_id)}
    for _ in range(60):
        shown = rep.run(page.eval_on_selector_all(card_sel(call_id), "els => els.map(e => +e.dataset.seq)"))
        if set(shown) == stored:
            break
        loop.run(asyncio.sleep(0.1))
    assert sorted(shown) == sorted(stored) and len(shown) == len(set(shown)), (shown, stored)
    finals = rep.run(page.eval_on_selector_all("#transcript .line:not(.interim)", "els => els.length"))
    assert finals == len(server.store.utterances(call_id))
    assert not rep.errors, rep.errors
    rep.close()


def test_the_supervisor_watches_live_read_only(loop, server, browser):
    sup = Screen(loop, browser, server, "sup")
    rep = Screen(loop, browser, server, "rep2")
    assert sup.page.url.endswith("/supervisor")
    call_id = start_practice(rep, speed=3)
    row = f".call-row[data-call='{call_id}']"
    sup.run(sup.page.wait_for_selector(row, timeout=10000))
    sup.run(sup.page.click(row))
    sup.run(sup.page.wait_for_selector(card_sel(call_id), timeout=20000))
    assert sup.run(sup.page.locator(f"{card_sel(call_id)} button[data-action]").count()) == 0
    assert sup.run(sup.page.locator("#outcome button[data-outcome]").count()) == 0
    loop.run(server.wait_ended(call_id))
    SHOTS.mkdir(parents=True, exist_ok=True)
    sup.run(sup.page.screenshot(path=str(SHOTS / "supervisor.png"), full_page=True))
    assert not sup.errors, sup.errors
    sup.close()
    rep.close()


def test_without_a_login_the_browser_gets_the_login_page_and_no_data(loop, server, browser):
    async def go():
        ctx = await browser.new_context()
        page = await ctx.new_page()
        await page.goto(server.url + "/")
        url = page.url
        status = await page.evaluate("async () => (await fetch('/api/calls')).status")
        events = await page.evaluate("async () => (await fetch('/api/events')).status")
        await ctx.close()
        return url, status, events
    url, status, events = loop.run(go())
    assert "/login" in url and status == 401 and events == 401


def test_admin_page_adds_a_rep(loop, server, browser):
    admin = Screen(loop, browser, server, "boss")
    page = admin.page
    admin.run(page.goto(server.url + "/admin"))
    admin.run(page.wait_for_selector("body[data-ready='1'], table", timeout=10000))
    form = page.locator("form").filter(has=page.locator("input[name=login]")).first
    admin.run(form.locator("input[name=login]").fill("carla"))
    admin.run(form.locator("input[name=name]").fill("Carla Ruiz"))
    admin.run(form.locator("input[name=team]").fill("west"))
    admin.run(form.locator("input[name=endpoint]").fill("PJSIP/rep7"))
    admin.run(form.locator("input[name=password]").fill("carla-password-1"))
    admin.run(form.locator("button[type=submit]").click())
    for _ in range(100):
        if server.store.user("carla"):
            break
        loop.run(asyncio.sleep(0.05))
    u = server.store.user("carla")
    assert u and u["team"] == "west" and u["endpoint"] == "PJSIP/rep7" and u["role"] == "rep"
    assert not admin.errors, admin.errors
    admin.close()


def test_the_supervisor_reports_page_shows_the_figures_and_plots(loop, server, browser):
    """The report `intervene report` writes, on the supervisor's Reports page,
    from the calls they may see (synthetic records with a planted effect)."""
    from intervene.report.record import call_record, import_records
    from intervene_harness.synth import synthetic_records
    records = synthetic_records(1500, seed=1, effects={"accuracy": (0.55, 0.30)})
    for r in records:
        r["team"] = "sales"                                   # the supervisor's team
    import_records(server.store, records)
    sup = Screen(loop, browser, server, "sup")
    page = sup.page
    sup.run(page.goto(server.url + "/reports/"), 180)
    assert "Which interventions go with better outcomes" in sup.run(page.inner_text("h1"))
    widths = sup.run(page.eval_on_selector_all("img", "els => els.map(e => e.complete ? e.naturalWidth : 0)"))
    assert widths and all(w > 0 for w in widths), widths      # every plot loaded (behind the login)
    text = sup.run(page.inner_text("body")).lower()
    assert "accuracy" in text and "what these numbers can and cannot say" in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    sup.run(page.screenshot(path=str(SHOTS / "supervisor-reports.png"), full_page=True))
    # a finished call on the supervisor page shows the rep's score, each part explained
    sup.run(page.goto(server.url + "/supervisor"))
    newest = max(records, key=lambda r: r["started"])
    row = page.locator(f".call-row[data-call='{newest['call_id']}']")
    sup.run(row.click())
    sup.run(page.wait_for_selector("#call-score:not([hidden]) .score-part[data-part=accuracy]", timeout=10000))
    score_text = sup.run(page.inner_text("#call-score"))
    assert "Score " in score_text and "/100" in score_text
    assert "listening" in score_text
    # ... and its summary (report/summary.py), line by line, as text: what people said is never HTML
    sup.run(page.wait_for_selector("#call-summary:not([hidden]) #summary-lines li", timeout=10000))
    shown = sup.run(page.inner_text("#summary-lines")).splitlines()
    assert shown == call_record(server.store, newest["call_id"])["summary"].splitlines()
    marked = dict(newest, call_id="summary-html", started="2999-01-01T00:00:00Z",
                  transcript=[{"start": 0.0, "end": 1.0, "speaker": "rep", "text": "Two years."}],
                  interventions=[{"at": 1.5, "utterance": 0, "category": "accuracy", "severity": "high",
                                  "mode": "silent", "trigger": "kb-mismatch", "detected": "d",
                                  "say": "<b id=planted>three</b> years", "evidence": [], "feedback": None}])
    import_records(server.store, [marked])
    sup.run(page.goto("about:blank"))                          # a hash change alone would not reload the page
    sup.run(page.goto(server.url + "/supervisor#call=summary-html"))
    sup.run(page.wait_for_selector("#call-summary:not([hidden]) #summary-lines li", timeout=10000))
    assert sup.run(page.locator("#planted").count()) == 0
    assert "<b id=planted>three</b> years" in sup.run(page.inner_text("#summary-lines"))
    assert not sup.errors, sup.errors
    # a rep has no Reports page; nobody without a login gets it
    rep = Screen(loop, browser, server, "rep1")
    status = rep.run(rep.page.evaluate("async () => (await fetch('/reports/')).status"))
    assert status == 403
    async def anon():
        ctx = await browser.new_context()
        page = await ctx.new_page()
        r = await page.goto(server.url + "/reports/report.json")
        code = r.status
        await ctx.close()
        return code
    assert loop.run(anon()) == 401
    sup.close()
    rep.close()
