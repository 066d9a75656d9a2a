"""A headless Chromium for the screen's benchmark and browser tests:
Debian's /usr/bin/chromium driven by Playwright (never a downloaded browser:
this machine has no internet, and a PBX host should not fetch browsers)."""
from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:                   # playwright is only needed where a browser runs
    from playwright.async_api import Browser, BrowserContext, Page, Playwright

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """INTERVENE_CHROMIUM, else Debian's chromium; RuntimeError says how to get one."""
    path = os.environ.get("INTERVENE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        raise RuntimeError(f"no Chromium at {path}: `apt-get install chromium` (scripts/setup.sh does it "
                           "as root), or set INTERVENE_CHROMIUM")
    return path


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=chromium_path(), args=FLAGS, headless=True)


async def login(browser: Browser, base_url: str, login_name: str, password: str,
                viewport: tuple[int, int] = (1280, 800)) -> tuple[BrowserContext, Page]:
    """A fresh browser context logged in through the real login form; the page waits for the live stream."""
    ctx = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = await ctx.new_page()
    await page.goto(f"{base_url}/login")
    await page.fill("input[name=login]", login_name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit], input[type=submit]")
    await page.wait_for_selector("body[data-ready='1']", timeout=15000)
    return ctx, page
