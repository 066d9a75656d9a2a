"""The screens' server over real HTTP: who gets in, who sees what, feedback
and outcomes reaching the store, and the live push resuming without loss
or duplicates. (The browser itself: test_screen_browser.py.)"""
from __future__ import annotations

import asyncio
import time

from screenkit import PRACTICE, Client


def client(loop, server, login=None) -> Client:
    async def make():
        c = Client(server.url)
        if login:
            assert await c.login(login) == 303
        return c
    return loop.run(make())


def practice(loop, server, c: Client, speed: float = 20.0) -> str:
    status, body = loop.run(c.post("/api/practice", {"transcript": PRACTICE, "speed": speed}))
    assert status == 200, body
    return body["call_id"]


def test_nothing_answers_without_a_login(loop, server):
    anon = client(loop, server)
    for path in ("/", "/supervisor", "/admin"):
        status, _ = loop.run(anon.get(path))
        assert status == 303                                           # to the login page
    for path in ("/api/me", "/api/calls", "/api/events", "/api/users", "/static/live.js", "/api/live"):
        status, body = loop.run(anon.get(path))
        assert status == 401, (path, body)
    assert loop.run(anon.post("/api/practice", {"transcript": PRACTICE}))[0] == 401
    assert loop.run(anon.get("/api/calls", headers={"Authorization": "Bearer wrong"}))[0] == 401
    assert loop.run(anon.get("/login"))[0] == 200
    assert loop.run(anon.login("rep1", "not the password")) == 401
    assert loop.run(anon.login("nobody")) == 401
    assert loop.run(anon.get("/api/me"))[0] == 401
    # a forged or tampered cookie is nobody
    anon.http.cookie_jar.update_cookies({"iv_session": "cmVwMQ.AAAA"})
    assert loop.run(anon.get("/api/me"))[0] == 401
    loop.run(anon.close())


def test_the_api_token_reads_but_cannot_write(loop, server):
    c = client(loop, server)
    auth = {"Authorization": "Bearer tools-token"}
    assert loop.run(c.get("/api/calls", headers=auth))[0] == 200
    async def post():
        async with c.http.post(server.url + "/api/practice", json={"transcript": PRACTICE},
                               headers={**auth, "X-Intervene": "1"}) as r:
            return r.status
    assert loop.run(post()) == 403
    loop.run(c.close())


def test_a_practice_call_pushes_cards_and_feedback_reaches_the_store(loop, server):
    rep = client(loop, server, "rep1")
    assert loop.run(rep.get("/api/me"))[1]["role"] == "rep"
    call_id = practice(loop, server, rep)
    events, _ = loop.run(rep.events(lambda ev: any(k == "call" and d["id"] == call_id and d["state"] == "ended"
                                                   for _, k, d in ev)))
    cards = {d["seq"]: d for _, k, d in events if k == "card" and d["call_id"] == call_id}
    accuracy = [c for c in cards.values() if c["category"] == "accuracy"]
    assert accuracy and "three years" in accuracy[0]["say"] and accuracy[0]["evidence"], cards
    assert any(c["category"] == "competitive" for c in cards.values()), cards
    lines = [d for _, k, d in events if k == "line" and d["call_id"] == call_id]
    assert any(not d["final"] for d in lines) and any(d["final"] for d in lines)
    # feedback: used, edited (with the words), dismissed -> the store
    seqs = sorted(cards)
    assert loop.run(rep.post(f"/api/calls/{call_id}/cards/{seqs[0]}/feedback", {"action": "used"}))[0] == 200
    status, card = loop.run(rep.post(f"/api/calls/{call_id}/cards/{seqs[-1]}/feedback",
                                     {"action": "edited", "text": "It's three years, my mistake."}))
    assert status == 200 and card["feedback"] == "edited"
    rows = {r["seq"]: r for r in server.store.interventions(call_id)}
    assert rows[seqs[0]]["feedback"] == "used" and rows[seqs[0]]["feedback_by"] == "rep1"
    assert rows[seqs[-1]]["feedback_text"] == "It's three years, my mistake."
    # bad feedback is refused with the reason
    status, body = loop.run(rep.post(f"/api/calls/{call_id}/cards/{seqs[0]}/feedback", {"action": "liked"}))
    assert status == 400 and "action" in body["error"]
    assert loop.run(rep.post(f"/api/calls/{call_id}/cards/999/feedback", {"action": "used"}))[0] == 404
    assert loop.run(rep.post(f"/api/calls/{call_id}/cards/{seqs[0]}/feedback", {"action": "used"}, csrf=False))[0] == 403
    # the outcome
    status, call = loop.run(rep.post(f"/api/calls/{call_id}/outcome", {"outcome": "follow-up", "note": "call Friday"}))
    assert status == 200 and call["outcome"] == "follow-up"
    row = server.store.call(call_id)
    assert (row["outcome"], row["outcome_note"], row["outcome_by"]) == ("follow-up", "call Friday", "rep1")
    assert loop.run(rep.post(f"/api/calls/{call_id}/outcome", {"outcome": "maybe"}))[0] == 400
    # the whole call afterwards, from memory and (another run) from the store
    full = loop.run(rep.get(f"/api/calls/{call_id}"))[1]
    assert full["briefing"] is None and len(full["cards"]) == len(cards) and full["lines"]
    loop.run(rep.close())


def test_a_rep_sees_only_their_own_calls_a_supervisor_sees_the_team(loop, server):
    rep1, rep2, sup = (client(loop, server, n) for n in ("rep1", "rep2", "sup"))

    async def watch(c: Client, seconds: float):
        got: list = []
        try:
            await asyncio.wait_for(c.events(lambda ev: got.extend(ev[len(got):]) and False), seconds)
        except asyncio.TimeoutError:
            pass
        return got

    async def scenario():
        w2 = asyncio.create_task(watch(rep2, 3.0))
        ws = asyncio.create_task(watch(sup, 3.0))
        await asyncio.sleep(0.3)
        status, body = await rep1.post("/api/practice", {"transcript": PRACTICE, "speed": 20})
        return body["call_id"], await w2, await ws
    call_id, seen2, seen_sup = loop.run(scenario())
    assert not [d for _, k, d in seen2 if k != "hello" and (d.get("call_id") == call_id or d.get("id") == call_id)]
    assert [d for _, k, d in seen_sup if k == "card" and d["call_id"] == call_id]
    # and not through the API either
    assert loop.run(rep2.get(f"/api/calls/{call_id}"))[0] == 404
    assert call_id not in [c["id"] for c in loop.run(rep2.get("/api/calls"))[1]]
    assert loop.run(rep2.post(f"/api/calls/{call_id}/cards/0/feedback", {"action": "dismissed"}))[0] == 404
    # the supervisor reads, but cannot act on the rep's cards
    assert loop.run(sup.get(f"/api/calls/{call_id}"))[0] == 200
    assert loop.run(sup.post(f"/api/calls/{call_id}/cards/0/feedback", {"action": "dismissed"}))[0] == 403
    assert loop.run(sup.get("/admin"))[0] == 303 and loop.run(sup.get("/api/users"))[0] == 403
    # a rep cannot start a practice call for someone else
    assert loop.run(rep2.post("/api/practice", {"transcript": PRACTICE, "rep": "rep1"}))[0] == 403
    for c in (rep1, rep2, sup):
        loop.run(c.close())


def test_a_dropped_stream_resumes_without_losing_or_repeating_a_card(loop, server):
    rep = client(loop, server, "rep1")

    known = set(server.hub.views)

    async def scenario():
        # connect, see the call's first card, then lose the connection while it goes on
        first, last = await rep.events(lambda ev: any(k == "card" and d["call_id"] not in known for _, k, d in ev))
        call_id = next(d["call_id"] for _, k, d in first if k == "card" and d["call_id"] not in known)
        await asyncio.sleep(0.4)                          # pushes happen while we're away
        rest, _ = await rep.events(lambda ev: any(k == "call" and d["id"] == call_id and d["state"] == "ended"
                                                  for _, k, d in ev), last_id=last)
        return call_id, first, rest

    async def go():
        task = asyncio.create_task(scenario())
        await asyncio.sleep(0.2)
        status, body = await rep.post("/api/practice", {"transcript": PRACTICE, "speed": 8})
        return await task
    call_id, first, rest = loop.run(go())
    assert rest[0][1] == "hello" and rest[0][2]["snapshot"] is False          # resumed, not re-sent
    numbers = [int(i.split("-")[1]) for i, _, _ in first + rest if i]
    pushed = [n for n in numbers if n > numbers[0]]       # after the first connection's snapshot (all one id)
    assert pushed == sorted(pushed) and len(set(pushed)) == len(pushed)       # no push twice, in order
    got = {d["seq"] for _, k, d in first + rest if k == "card" and d["call_id"] == call_id}
    assert got == {r["seq"] for r in server.store.interventions(call_id)}     # none lost
    # a stale or foreign id gets a snapshot instead
    snap, _ = loop.run(rep.events(lambda ev: len(ev) >= 2, last_id="deadbeef-3"))
    assert snap[0][2]["snapshot"] is True
    loop.run(rep.close())


def test_admin_manages_users_links_and_revocation(loop, server):
    boss, rep = client(loop, server, "boss"), client(loop, server)
    status, user = loop.run(boss.post("/api/users", {"login": "newrep", "name": "New Rep", "role": "rep",
                                                    "team": "east", "endpoint": "PJSIP/rep9", "sip_message": True}))
    assert status == 200 and user["sip_message"] is True and user["effective"]["profile"] == "standard"
    assert loop.run(boss.post("/api/users", {"login": "x y"}))[0] == 400
    assert loop.run(boss.post("/api/users", {"login": "r", "endpoint": "rep9"}))[0] == 400
    status, link = loop.run(boss.post("/api/users/newrep/link", {"days": 7}))
    assert status == 200 and link["url"].startswith(server.url + "/l/")
    # the link logs the rep in, with no password
    assert loop.run(rep.follow_link(link["url"])) == 303
    assert loop.run(rep.get("/api/me"))[1]["login"] == "newrep"
    teams = {t["team"]: t for t in loop.run(boss.get("/api/teams"))[1]}
    assert "newrep" in teams["east"]["reps"]
    # revoking ends the session and the link
    assert loop.run(boss.post("/api/users/newrep/revoke"))[0] == 200
    assert loop.run(rep.get("/api/me"))[0] == 401
    assert loop.run(rep.follow_link(link["url"])) == 403
    assert loop.run(boss.post("/api/users/nobody/link", {"days": 1}))[0] == 404
    assert loop.run(boss.post("/api/practice", {"transcript": "not json"}))[0] == 400
    loop.run(boss.close())
    loop.run(rep.close())


def test_password_guessing_is_throttled(loop, server):
    c = client(loop, server)
    for _ in range(5):
        assert loop.run(c.login("rep2", "guess")) == 401
    async def locked():
        async with c.http.post(f"{server.url}/login", data={"login": "rep2", "password": "x"},
                               allow_redirects=False) as r:
            return r.headers["Location"]
    assert "locked" in loop.run(locked())
    loop.run(c.close())


def test_tokens_and_passwords():
    from intervene.accounts.auth import check_password, hash_password, make_token, read_token
    h = hash_password("s3cret-pass")
    assert check_password("s3cret-pass", h) and not check_password("s3cret-pasS", h)
    assert not check_password("x", None) and not check_password("x", "plain")
    now = time.time()
    t = make_token(b"k", "session", "sam", 3, now + 60)
    got = read_token(b"k", t, "session", now)
    assert got is not None and (got.login, got.epoch) == ("sam", 3)
    assert read_token(b"k", t, "link", now) is None                # a session is not a link
    assert read_token(b"other", t, "session", now) is None
    assert read_token(b"k", t, "session", now + 61) is None
    assert read_token(b"k", t[:-2] + "xx", "session", now) is None


def test_a_new_installation_writes_a_link_for_the_first_admin_to_a_private_file(loop, server, caplog):
    from intervene.app import first_admin
    with caplog.at_level("WARNING"):
        first_admin(server.store, server.screen, server.url)
    path = server.store.path.with_name(f"{server.store.path.stem}.first-admin-link")
    assert str(path) in caplog.text and "/l/" not in caplog.text        # where it is, never the link itself
    assert path.stat().st_mode & 0o777 == 0o600
    url = path.read_text().strip()
    c = client(loop, server)

    assert loop.run(c.follow_link(url)) == 303
    me = loop.run(c.get("/api/me"))[1]
    assert me["login"] == "admin" and me["role"] == "admin"
    assert not server.store.user("admin")["pw"]                 # no password until they set one
    loop.run(c.close())
