"""Issue 15, sessions and accounts: the ways in hold under attack. Password
checks stay off the event loop and cost the same for every login; `next`
never leaves the site; the signing secret is not in the database; tokens
die on logout, after one use (links) and with the login they were made for;
the throttle cannot be used to lock a user out; every answer carries a CSP,
and the login and logout forms refuse cross-site posts."""
from __future__ import annotations

import asyncio
import hashlib
import html.parser
import io
import sys
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from screenkit import PASSWORD, Client

from intervene.accounts import auth
from intervene.accounts.throttle import (
    ADDR_MAX_FAILS,
    LOGIN_MAX_FAILS,
    MAX_ENTRIES,
    SPREAD_FAILS,
    LoginThrottle,
    address_key,
)
from intervene.screen.web.guard import HashPool, safe_next, same_origin
from intervene.screen.web.session import COOKIE, service_secret
from intervene.store.db import Store

STATIC = Path(__file__).resolve().parents[2] / "intervene" / "screen" / "static"


async def post_login(base: str, login: str, password: str = PASSWORD, nxt: str = "/", addr: str = "",
                     headers: dict | None = None, http: aiohttp.ClientSession | None = None) -> aiohttp.ClientResponse:
    """One form post to /login; `addr` is what a local proxy says the client's address is."""
    own = http is None
    http = http or aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    hdrs = dict(headers or {})
    if addr:
        hdrs["X-Forwarded-For"] = addr
    try:
        async with http.post(f"{base}/login", data={"login": login, "password": password, "next": nxt},
                             headers=hdrs, allow_redirects=False) as r:
            await r.read()
            return r
    finally:
        if own:
            await http.close()


def client(loop, base: str) -> Client:
    async def make() -> Client:
        return Client(base)
    return loop.run(make())


def counting_scrypt(monkeypatch) -> list[str]:
    """Every scrypt call from now on, by the name of the thread it ran on."""
    calls: list[str] = []
    real = hashlib.scrypt

    def scrypt(*a, **kw):
        calls.append(threading.current_thread().name)
        return real(*a, **kw)
    monkeypatch.setattr(hashlib, "scrypt", scrypt)
    return calls


# ------------------------------------------------------------- 1. off the loop
def test_password_checks_never_run_on_the_event_loop(loop, server, monkeypatch):
    calls = counting_scrypt(monkeypatch)
    for i in range(3):
        r = loop.run(post_login(server.url, f"ghost{i}", "wrong", addr=f"10.1.0.{i}"))
        assert "error=1" in r.headers["Location"]
    r = loop.run(post_login(server.url, "rep1", addr="10.1.0.9"))
    assert r.status == 303 and "error" not in r.headers["Location"]
    assert len(calls) == 4 and loop.thread.name not in calls, calls


def healthz_worst_during(url: str, work) -> float:
    """The slowest /healthz answer, asked from another thread (not the loop under test), while work() runs."""
    stop, worst = threading.Event(), [0.0]

    def poll() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            with urllib.request.urlopen(f"{url}/healthz", timeout=30) as r:
                r.read()
            worst[0] = max(worst[0], time.perf_counter() - t)
            time.sleep(0.005)
    th = threading.Thread(target=poll)
    th.start()
    try:
        time.sleep(0.05)
        work()
    finally:
        stop.set()
        th.join()
    return worst[0]


def test_a_dozen_concurrent_bad_logins_do_not_stall_the_loop(loop, server):
    async def logins() -> None:
        await asyncio.gather(*(post_login(server.url, f"nobody{i}", "guess", addr=f"10.2.0.{i}") for i in range(12)))
    worst = healthz_worst_during(server.url, lambda: loop.run(logins()))
    print(f"/healthz worst latency during 12 concurrent bad logins: {worst * 1000:.1f} ms")
    assert worst < 0.35, worst          # scrypt on the loop: 12 x 2 x ~50 ms in a row


def test_a_full_password_pool_answers_try_again_at_once(loop, server, monkeypatch):
    sessions = server.screen.sessions
    slow = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **kw: (time.sleep(0.5), slow(*a, **kw))[1])
    old, sessions.pool = sessions.pool, HashPool(threads=1, waiting=1)
    try:
        async def burst():
            t = time.perf_counter()
            got = await asyncio.gather(*(post_login(server.url, f"busy{i}", "x", addr=f"10.3.0.{i}")
                                         for i in range(4)))
            return [r.headers["Location"] for r in got], time.perf_counter() - t
        locations, took = loop.run(burst())
    finally:
        sessions.pool.close()
        sessions.pool = old
    assert sum("error=busy" in loc for loc in locations) == 2, locations
    assert sum("error=1" in loc for loc in locations) == 2, locations


# ------------------------------------------------------------ 2. timing oracle
def test_unknown_and_known_logins_cost_one_hash_each(loop, server, monkeypatch):
    server.store.put_user("nopw", role="rep")                   # a login with no password yet
    calls = counting_scrypt(monkeypatch)
    timings: dict[str, float] = {}
    for who in ("rep2", "no-such-login", "nopw", "bad login!"):
        n = len(calls)
        t = time.perf_counter()
        r = loop.run(post_login(server.url, who, "wrong password", addr=f"10.4.0.{len(timings)}"))
        timings[who] = time.perf_counter() - t
        assert "error=1" in r.headers["Location"]
        assert len(calls) == n + 1, (who, calls[n:])             # never a fresh hash for an unknown login
    print("login timings (ms):", {k: round(v * 1000, 1) for k, v in timings.items()})


# ------------------------------------------------------------ 3. open redirect
@pytest.mark.parametrize("bad", ["/\t/evil.example", "/\n/evil.example", "//evil.example", "/\\evil.example",
                                 "\\/evil.example", "https://evil.example/", "/ /evil.example", "evil.example",
                                 "/\x00/evil.example", "/\u2028/evil.example", " //evil.example", "/\u00a0x",
                                 "javascript:alert(1)", ""])
def test_next_is_only_ever_a_path_on_this_site(bad):
    assert safe_next(bad) == "/"


def test_good_next_values_are_kept():
    for good in ("/", "/supervisor", "/admin?tab=users", "/supervisor#call=abc", "/reports/"):
        assert safe_next(good) == good


def test_login_with_a_tab_in_next_does_not_redirect_off_site(loop, server):
    r = loop.run(post_login(server.url, "rep1", nxt="/\t/evil.example", addr="10.5.0.1"))
    assert r.status == 303 and r.headers["Location"] == "/"
    r = loop.run(post_login(server.url, "rep1", "wrong", nxt="/a&error=0", addr="10.5.0.2"))
    assert r.headers["Location"] == "/login?error=1&next=/a%26error%3D0"     # quoted into the query


# ------------------------------------------------------------- 4. the secret
def test_a_new_secret_lives_in_a_private_file_not_the_database(tmp_path):
    store = Store(tmp_path / "intervene.db")
    try:
        secret = service_secret(store)
        path = tmp_path / "intervene.secret"
        assert path.read_text().strip().encode() == secret and path.stat().st_mode & 0o777 == 0o600
        assert store.setting("session_secret") is None
        assert service_secret(store) == secret                   # kept across restarts
        assert service_secret(store, "from-env") == b"from-env"
    finally:
        store.close()
    other = Store(tmp_path / "other.db")
    try:
        assert service_secret(other, "from-env") == b"from-env"
        assert not (tmp_path / "other.secret").exists()            # configured: no file needed
    finally:
        other.close()


def test_an_upgrade_moves_the_database_secret_to_the_file_and_sessions_survive(tmp_path):
    store = Store(tmp_path / "intervene.db")
    try:
        store.put_setting("session_secret", "old-secret-in-db")
        store.put_user("sam", role="rep", nonce="")              # a login made before nonces
        now = time.time()
        legacy = "sam|1|" + str(int(now + 3600))
        payload = "session|" + legacy
        import base64
        import hmac

        def b64(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).decode().rstrip("=")
        old_token = f"{b64(payload.encode())}.{b64(hmac.new(b'old-secret-in-db', payload.encode(), 'sha256').digest())}"
        secret = service_secret(store)
        assert secret == b"old-secret-in-db"
        assert (tmp_path / "intervene.secret").stat().st_mode & 0o777 == 0o600
        assert store.setting("session_secret") is None
        token = auth.read_token(secret, old_token, "session", now)
        assert token is not None and auth.User.from_row(store.user("sam")).holds(token)
    finally:
        store.close()


# ------------------------------------------------------------- 5. tokens
def test_a_deleted_and_recreated_login_does_not_revive_old_tokens(loop, server):
    from intervene.screen.web import save_user, signed_link
    save_user(server.store, {"login": "temp1", "role": "rep", "password": PASSWORD})
    c = client(loop, server.url)
    assert loop.run(post_login(server.url, "temp1", addr="10.6.0.1", http=c.http)).status == 303
    assert loop.run(c.get("/api/me"))[0] == 200
    url, _ = signed_link(server.screen.secret, auth.User.from_row(server.store.user("temp1")), server.url, 1)
    server.store.remove_user("temp1")
    save_user(server.store, {"login": "temp1", "role": "rep", "password": PASSWORD})   # epoch 1 again
    assert loop.run(c.get("/api/me"))[0] == 401
    assert loop.run(c.get(url[len(server.url):]))[0] == 403
    loop.run(c.close())


def test_a_link_works_once(loop, server):
    boss = client(loop, server.url)
    assert loop.run(post_login(server.url, "boss", addr="10.7.0.1", http=boss.http)).status == 303
    status, a = loop.run(boss.post("/api/users/rep2/link", {"days": 1}))
    status, b = loop.run(boss.post("/api/users/rep2/link", {"days": 1}))
    assert status == 200 and a["url"] != b["url"]                # each token has its own id
    path = a["url"][len(server.url):]
    first, second = client(loop, server.url), client(loop, server.url)
    for _ in range(3):                                           # a chat app's preview fetches it: not spent
        status, page = loop.run(second.get(path))
        assert status == 200 and "Sign in" in page and 'method="post"' in page

    async def cross_site() -> int:
        async with second.http.post(a["url"], headers={"Origin": "https://evil.example"},
                                    allow_redirects=False) as r:
            return r.status
    assert loop.run(cross_site()) == 403                        # another site's form cannot spend it
    assert loop.run(first.follow_link(a["url"])) == 303
    assert loop.run(first.get("/api/me"))[1]["login"] == "rep2"
    status, body = loop.run(second.get(path))
    assert status == 403 and "link" in body
    assert loop.run(second.follow_link(a["url"])) == 403
    assert loop.run(second.follow_link(b["url"])) == 303          # the other link is still good
    for c in (boss, first, second):
        loop.run(c.close())


def test_logging_out_ends_the_session_even_for_a_copied_cookie(loop, server):
    c = client(loop, server.url)
    assert loop.run(post_login(server.url, "sup", addr="10.8.0.1", http=c.http)).status == 303
    cookie = next(m.value for m in c.http.cookie_jar if m.key == COOKIE)
    thief = client(loop, server.url)
    thief.http.cookie_jar.update_cookies({COOKIE: cookie})
    assert loop.run(thief.get("/api/me"))[0] == 200

    async def logout():
        async with c.http.post(f"{server.url}/logout", allow_redirects=False) as r:
            return r.status
    assert loop.run(logout()) == 303
    assert loop.run(thief.get("/api/me"))[0] == 401
    for x in (c, thief):
        loop.run(x.close())


def test_spent_tokens_are_purged_when_they_expire(tmp_path):
    store = Store(tmp_path / "t.db")
    try:
        now = time.time()
        assert store.spend_token("a", now + 10, now) and not store.spend_token("a", now + 10, now)
        store.spend_token("b", now + 1, now)
        store.spend_token("c", now + 100, now + 50)              # a's and b's time is over: gone
        assert not store.token_spent("a") and not store.token_spent("b") and store.token_spent("c")
    finally:
        store.close()


# --------------------------------------------------------- 6. the first admin
def test_the_first_admin_link_reaches_a_terminal_only_if_there_is_one(loop, server, monkeypatch):
    from intervene.app import first_admin

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True
    for tty in (False, True):
        out = Tty() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stderr", out)
        first_admin(server.store, server.screen, server.url)
        assert ("/l/" in out.getvalue()) is tty


# ------------------------------------------------------------ 7. the throttle
def test_one_address_cannot_lock_a_user_out():
    t = LoginThrottle()
    now = 1000.0
    for i in range(500):
        t.failed("admin", "203.0.113.9", now + i * 0.1)
    assert t.locked("admin", "203.0.113.9", now + 50)            # the guesser is held
    assert not t.locked("admin", "198.51.100.7", now + 50)       # the real admin, elsewhere, is not


def test_each_lock_holds_who_it_should():
    t = LoginThrottle()
    for _ in range(LOGIN_MAX_FAILS):
        t.failed("rep1", "192.0.2.1", 0.0)
    assert t.locked("rep1", "192.0.2.1", 1.0) and not t.locked("rep2", "192.0.2.1", 1.0)
    assert not t.locked("rep1", "192.0.2.1", 61.0)               # a minute later: try again
    t2 = LoginThrottle()
    for i in range(ADDR_MAX_FAILS):                              # spraying logins from one address
        t2.failed(f"user{i}", "192.0.2.2", 0.0)
    assert t2.locked("someone-else", "192.0.2.2", 1.0) and not t2.locked("someone-else", "192.0.2.3", 1.0)
    # many addresses on one login: locked, except where the user signed in before
    t3 = LoginThrottle()
    t3.succeeded("boss", "192.0.2.50", 0.0)
    for i in range(SPREAD_FAILS):
        t3.failed("boss", f"198.51.100.{i % 5}", 10.0)
    assert t3.locked("boss", "192.0.2.99", 11.0) and not t3.locked("boss", "192.0.2.50", 11.0)
    # an IPv6 guesser counts by its /64
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") != address_key("2001:db8:0:1::1")


def test_the_failure_tables_are_bounded():
    t = LoginThrottle()
    for i in range(MAX_ENTRIES + 5000):
        t.failed(f"made-up-{i}", f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}", float(i) / 1000)
    assert t.size() <= 3 * MAX_ENTRIES


def test_guessing_the_admins_login_from_one_address_does_not_lock_the_admin(loop, server):
    for _ in range(LOGIN_MAX_FAILS + 3):
        loop.run(post_login(server.url, "boss", "guess", addr="203.0.113.66"))
    r = loop.run(post_login(server.url, "boss", "guess", addr="203.0.113.66"))
    assert "locked" in r.headers["Location"]
    r = loop.run(post_login(server.url, "boss", addr="198.51.100.20"))
    assert r.status == 303 and "error" not in r.headers["Location"]


# --------------------------------------------------------------- 8. CSP, CSRF
def test_every_answer_has_a_content_security_policy(loop, server):
    c = client(loop, server.url)

    async def headers(path):
        async with c.http.get(server.url + path, allow_redirects=False) as r:
            return r.status, r.headers
    for path in ("/login", "/healthz", "/static/login.js", "/static/login.css", "/", "/api/me", "/nope"):
        status, h = loop.run(headers(path))
        csp = h.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (path, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert loop.run(headers("/static/login.js"))[0] == 200      # the login page's own files: no login needed
    assert loop.run(headers("/static/live.js"))[0] == 401        # the rest still need one
    loop.run(c.close())


class _Inline(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {k for k, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("inline <style>")
        self.found += [f"{tag} {k}=" for k in names if k.startswith("on") or k == "style"]


@pytest.mark.parametrize("page", sorted(p.name for p in STATIC.glob("*.html")))
def test_no_page_needs_inline_script_or_style(page):
    p = _Inline()
    p.feed((STATIC / page).read_text(encoding="utf-8"))
    assert not p.found, (page, p.found)


def test_login_and_logout_refuse_cross_site_posts(loop, server):
    own = server.url
    cases = {"Origin: another site": {"Origin": "http://evil.example"},
             "Origin: null": {"Origin": "null"},
             "Referer: another site": {"Referer": "http://evil.example/login"}}
    for why, hdrs in cases.items():
        r = loop.run(post_login(own, "rep1", addr="10.9.0.1", headers=hdrs))
        assert r.status == 403, why
    for hdrs in ({"Origin": own}, {"Referer": own + "/login?next=/"}, {}):
        r = loop.run(post_login(own, "rep1", addr="10.9.0.2", headers=hdrs))
        assert r.status == 303 and "error" not in r.headers["Location"], hdrs
    c = client(loop, own)
    assert loop.run(post_login(own, "rep1", addr="10.9.0.3", http=c.http)).status == 303

    async def logout(hdrs):
        async with c.http.post(f"{own}/logout", headers=hdrs, allow_redirects=False) as r:
            return r.status
    assert loop.run(logout({"Origin": "http://evil.example"})) == 403
    assert loop.run(c.get("/api/me"))[0] == 200                 # still logged in
    assert loop.run(logout({"Origin": own})) == 303
    loop.run(c.close())


def test_same_origin_behind_a_proxy():
    from aiohttp.test_utils import make_mocked_request
    req = make_mocked_request("POST", "/login", headers={"Host": "127.0.0.1:8090", "Origin": "https://calls.example.com",
                                                         "X-Forwarded-Host": "calls.example.com"})
    assert same_origin(req)
    req = make_mocked_request("POST", "/login", headers={"Host": "127.0.0.1:8090", "Origin": "https://calls.example.com"})
    assert not same_origin(req) and same_origin(req, "https://calls.example.com/")


def test_secure_cookies_option(loop, tmp_path):
    from intervene.config import ConfigError, load_config
    cfg = tmp_path / "c.toml"
    cfg.write_text("[serve]\nsecure_cookies = true\n")
    assert load_config(cfg).serve.secure_cookies is True
    cfg.write_text('[serve]\nsecure_cookies = "yes"\n')
    with pytest.raises(ConfigError, match="secure_cookies"):
        load_config(cfg)

    from intervene.pbx.media import MediaStore, WebServer
    from intervene.screen.hub import Hub
    from intervene.screen.web import ScreenApp, save_user

    async def cookie_flags(secure_cookies: bool, headers: dict) -> bool:
        store = Store(tmp_path / f"s{secure_cookies}{len(headers)}.db")
        save_user(store, {"login": "u1", "role": "rep", "password": PASSWORD})
        srv = WebServer(MediaStore(), "127.0.0.1", 0, ScreenApp(store, Hub(), b"k", secure_cookies=secure_cookies))
        await srv.start()
        try:
            r = await post_login(srv.url, "u1", headers=headers)
            return "Secure" in r.headers.get("Set-Cookie", "")
        finally:
            await srv.stop()
            store.close()
    assert loop.run(cookie_flags(True, {})) is True
    assert loop.run(cookie_flags(False, {})) is False
    assert loop.run(cookie_flags(False, {"X-Forwarded-Proto": "https"})) is True


# ------------------------------------------------- 9. the store, off the loop
def test_handlers_read_users_through_the_store_thread(loop, server, monkeypatch):
    threads: list[str] = []
    real = server.store.user

    def user(login):
        threads.append(threading.current_thread().name)
        return real(login)
    monkeypatch.setattr(server.store, "user", user)
    c = client(loop, server.url)
    assert loop.run(post_login(server.url, "boss", addr="10.10.0.1", http=c.http)).status == 303
    assert loop.run(c.get("/api/me"))[0] == 200
    assert loop.run(c.get("/api/users"))[0] == 200
    assert loop.run(c.post("/api/users/rep2/link", {"days": 1}))[0] == 200
    loop.run(c.close())
    assert threads and loop.thread.name not in threads, threads
