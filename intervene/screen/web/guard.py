"""The small checks the ways in share: where a login may send you next,
whether a form post came from our own page, who is guessing (the address a
throttle counts), and the bounded pool password hashing runs in.

CSRF for the two form posts (/login, /logout) is an Origin check rather
than a double-submit token: the login page is a static file (no per-visit
token to put in it without a template or script), and every browser that
can be made to post a form cross-site sends `Origin` with a POST (Chrome 80+,
Firefox 70+, Safari); we answer with `Referrer-Policy: same-origin`, so our
own page's posts carry its real origin rather than `null`. A post with
neither Origin nor Referer is not from a browser (curl, a script holding the
password anyway) and is let through; the cookie is also SameSite=Lax, so a
cross-site post never carries a session. The JSON API keeps its own guard
(the X-Intervene header, which needs a CORS preflight we never answer).
"""
from __future__ import annotations

import asyncio
import ipaddress
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from intervene.errors import InterveneError

T = TypeVar("T")

HASH_THREADS = 2          # scrypt takes ~50 ms and a core: two at a time leave the rest to calls
HASH_WAITING = 8          # more than this waiting and the next login is told to try again at once


class HashPoolBusy(InterveneError):
    """Too many password checks are already waiting: answer "try again", do not queue without bound."""


class HashPool:
    """Password hashing off the event loop, in a few threads, with a bounded queue.
    `run` is only ever called from the loop, so the count needs no lock."""

    def __init__(self, threads: int = HASH_THREADS, waiting: int = HASH_WAITING) -> None:
        self._ex = ThreadPoolExecutor(threads, thread_name_prefix="intervene-pw")
        self._limit = threads + waiting
        self._busy = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._busy >= self._limit:
            raise HashPoolBusy(f"{self._busy} password checks already waiting")
        self._busy += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._ex, fn, *args)
        finally:
            self._busy -= 1

    def close(self) -> None:
        self._ex.shutdown(wait=False, cancel_futures=True)


def safe_next(nxt: str) -> str:
    """Where to go after logging in: a path on this site, else "/". Browsers
    drop tabs, newlines and other control characters from URLs and read `\\`
    as `/`, so `/\\t/evil.example` or `/\\evil.example` would leave the site:
    anything with a control character, whitespace or a backslash is refused,
    and what is left must parse to a path (and query) with no scheme or host."""
    if not nxt or len(nxt) > 2000 or "\\" in nxt:
        return "/"
    if any(unicodedata.category(c)[0] in "CZ" for c in nxt):      # controls, format chars, any space
        return "/"
    if not nxt.startswith("/") or nxt.startswith("//"):
        return "/"
    try:
        parts = urlsplit(nxt)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return nxt


def same_origin(request: web.Request, public_url: str = "") -> bool:
    """The form was posted by a page of this site (see the module's note on CSRF)."""
    origin = request.headers.get("Origin")
    if origin is None:
        origin = request.headers.get("Referer")
        if origin is None:
            return True                                  # not a browser
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False                                     # includes "null": a sandboxed or cross-site page
    ours = {_netloc(request.host)}
    if request.headers.get("X-Forwarded-Host"):
        ours.add(_netloc(request.headers["X-Forwarded-Host"].split(",")[0]))
    if public_url:
        ours.add(_netloc(urlsplit(public_url).netloc))
    return _netloc(parts.netloc) in ours


def client_address(request: web.Request) -> Optional[str]:
    """Who is asking, for the throttle: the peer, or, when the peer is a proxy
    on this machine, the address that proxy says it forwarded for (the last
    X-Forwarded-For entry, the one it added itself). Without this, every user
    behind a local proxy would share one address and one lock."""
    remote = request.remote
    forwarded = request.headers.get("X-Forwarded-For", "")
    if remote and forwarded:
        try:
            loopback = ipaddress.ip_address(remote).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last
    return remote


def _netloc(netloc: str) -> str:
    n = netloc.strip().lower().rsplit("@", 1)[-1]
    for default in (":80", ":443"):
        if n.endswith(default):
            return n[: -len(default)]
    return n
