"""`intervene doctor`: its verdicts from canned ARI answers, its report, and
the probes that need no Asterisk (the database; a stand-in ARI that
refuses the password or never answers)."""
from __future__ import annotations

import asyncio
import json
import socket
import time
from email.utils import formatdate

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner

from intervene.app import Runtime
from intervene.cli.main import main
from intervene.config import load_config
from intervene.config.env import Env
from intervene.doctor import verdict as v
from intervene.doctor.asterisk import AsteriskDoctor, MediaPlan, Target, media_base, media_plan, service_serves_clip
from intervene.doctor.local import database_check, probe_write
from intervene.doctor.run import targets
from intervene.pbx.ari import AriSettings
from intervene.pbx.media import MediaStore, WebServer
from intervene.screen.hub import Hub
from intervene.screen.web import ScreenApp
from intervene.store.db import Store
from intervene.store.sql import connect

ALL = [{"name": n, "status": "Running"} for n in (*v.REQUIRED_MODULES, *v.OPTIONAL_MODULES)]


# ---------------------------------------------------------------- verdicts
@pytest.mark.parametrize("version,status", [("22.10.1+dfsg+~cs6.17.60671434-1", v.PASS), ("23.0.0", v.PASS),
                                            ("GIT-master-abc", v.WARN), ("20.5.2", v.FAIL), ("18.9-cert1", v.FAIL)])
def test_version(version, status):
    c = v.version_check({"system": {"version": version}})
    assert c.status == status
    if status == v.FAIL:
        assert "22 or later" in c.detail and c.fix


def test_modules_all_running_pass():
    assert v.modules_check(ALL).status == v.PASS


def test_a_missing_module_fails_and_is_named_with_the_fix():
    mods = [m for m in ALL if m["name"] != "res_stasis_snoop.so"]
    c = v.modules_check(mods)
    assert c.status == v.FAIL
    assert "res_stasis_snoop.so" in c.detail and "taps" in c.detail
    assert "module load res_stasis_snoop.so" in c.fix and "noload" in c.fix


def test_a_module_not_running_counts_as_missing():
    mods = [dict(m, status="Not Running") if m["name"] == "chan_websocket.so" else m for m in ALL]
    c = v.modules_check(mods)
    assert c.status == v.FAIL and "chan_websocket.so" in c.detail


def test_an_optional_module_missing_is_a_warning():
    c = v.modules_check([m for m in ALL if m["name"] != "res_musiconhold.so"])
    assert c.status == v.WARN and "res_musiconhold.so" in c.detail and "hold music" in c.detail


def test_stasis_app():
    assert v.apps_check([{"name": "intervene"}], "intervene").status == v.PASS
    c = v.apps_check([{"name": "intervene-w2"}], "intervene")
    assert c.status == v.WARN and "intervene-w2" in c.detail and "not running" in c.detail
    assert "Stasis(intervene" in c.fix


def test_clock():
    now = time.time()
    assert v.clock_check(formatdate(now, usegmt=True), now - 0.01, now + 0.01).status == v.PASS
    c = v.clock_check(formatdate(now + 5, usegmt=True), now - 0.01, now + 0.01)
    assert c.status == v.FAIL and "ahead" in c.detail and "chrony" in c.fix
    c = v.clock_check(formatdate(now - 9, usegmt=True), now - 0.01, now + 0.01)
    assert c.status == v.FAIL and "behind" in c.detail
    # a slow answer widens the margin: 2.4 s off with 1 s each way is not proof
    assert v.clock_check(formatdate(now + 2.4, usegmt=True), now - 1, now + 1).status == v.PASS
    assert v.clock_check(None, now, now).status == v.WARN
    assert v.clock_check("yesterday", now, now).status == v.WARN


def _ep(resource, state, tech="PJSIP"):
    return {"technology": tech, "resource": resource, "state": state, "channel_ids": []}


def test_rep_phones_without_reps_in_the_database():
    assert v.endpoints_check([_ep("rep1", "offline"), _ep("lead1", "offline")], {}).status == v.FAIL
    c = v.endpoints_check([_ep("rep1", "online"), _ep("lead1", "offline")], {})
    assert c.status == v.PASS and "PJSIP/rep1" in c.detail


def test_rep_phones_of_the_reps():
    eps = [_ep("rep1", "online"), _ep("rep2", "offline"), _ep("rep3", "offline")]
    c = v.endpoints_check(eps, {"ann": "PJSIP/rep1", "bob": "PJSIP/rep2"})
    assert c.status == v.PASS and "1 of 2" in c.detail and "PJSIP/rep2 (bob)" in c.detail
    c = v.endpoints_check(eps, {"bob": "PJSIP/rep2", "cy": "PJSIP/rep3"})
    assert c.status == v.FAIL and "none of the reps' phones" in c.detail
    c = v.endpoints_check(eps, {"ann": "PJSIP/rep1", "dee": "PJSIP/rep9"})
    assert c.status == v.FAIL and "PJSIP/rep9 (dee)" in c.detail and "/admin" in c.fix
    # several Asterisk servers: a phone that is not here may be on another
    assert v.endpoints_check(eps, {"ann": "PJSIP/rep1", "dee": "PJSIP/rep9"}, only_present=True).status == v.PASS


def test_endpoint_parts():
    assert v.endpoint_parts("PJSIP/rep7") == ("PJSIP", "rep7")
    assert v.endpoint_parts("PJSIP/rep7@trunk") == ("PJSIP", "rep7")
    assert v.endpoint_parts("rep7") is None


# --------------------------------------------------------------- reporting
def test_report_lines_exit_code_and_json():
    checks = [v.Check("ARI", v.PASS, "ok"), v.Check("Stasis app", v.WARN, "not running", "start it"),
              v.Check("modules", v.FAIL, "not loaded: x.so", "load it", 0.25), v.skipped("clock")]
    lines = [ln for c in checks for ln in v.format_check(c)]
    assert lines == ["PASS  ARI: ok", "WARN  Stasis app: not running", "      fix: start it",
                     "FAIL  modules: not loaded: x.so [0.2 s]", "      fix: load it", "SKIP  clock: skipped (needs ARI)"]
    assert v.exit_code(checks) == 1
    assert v.exit_code(checks[:2]) == 0 and v.exit_code(checks[:2], strict=True) == 1
    assert v.summary(checks) == "doctor: 1 passed, 1 warning(s), 1 failed, 1 skipped"
    doc = json.loads(v.to_json(checks))
    assert doc["ok"] is False and doc["checks"][2] == {"name": "modules", "status": "fail",
                                                       "detail": "not loaded: x.so", "fix": "load it", "seconds": 0.25}


def test_where_the_test_clip_is_served():
    assert media_plan("127.0.0.1", 8090, "", True) == MediaPlan("127.0.0.1", 8090, "")
    assert media_plan("0.0.0.0", 8090, "http://10.0.0.5:8090", False) == MediaPlan("0.0.0.0", 0, "http://10.0.0.5:8090")
    assert media_plan("127.0.0.1", 8090, "https://intervene.example.com", False) is None    # behind a proxy
    # the running service serves the clip itself: through its public URL, proxy or not
    assert media_plan("127.0.0.1", 8090, "https://intervene.example.com", False, service=True) == MediaPlan(
        "127.0.0.1", 8090, "https://intervene.example.com", service=True)
    assert media_plan("127.0.0.1", 8090, "", True, service=True) == MediaPlan("127.0.0.1", 8090, "")
    assert media_base(MediaPlan("127.0.0.1", 8090, ""), 8090) == "http://127.0.0.1:8090"
    assert media_base(MediaPlan("0.0.0.0", 0, "http://10.0.0.5:8090/"), 41234) == "http://10.0.0.5:41234"
    assert media_base(MediaPlan("0.0.0.0", 8090, "http://pbx-side.lan:8090"), 8090) == "http://pbx-side.lan:8090"


# ----------------------------------------------------------------- database
def test_database_not_made_yet_passes_and_is_not_made(tmp_path):
    c = database_check(str(tmp_path / "sub" / "x.db"))
    assert c.status == v.PASS and "does not exist yet" in c.detail
    assert not (tmp_path / "sub").exists()


def test_database_readable_by_others_fails(tmp_path):
    path = tmp_path / "x.db"
    Store(path).close()
    path.chmod(0o644)
    c = database_check(str(path))
    assert c.status == v.FAIL and "0644" in c.detail and c.fix == f"chmod 600 {path}"
    assert path.stat().st_mode & 0o777 == 0o644           # the doctor reports, it does not change


def test_database_in_a_directory_anyone_may_write_fails(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    Store(d / "x.db").close()
    d.chmod(0o777)
    c = database_check(str(d / "x.db"))
    assert c.status == v.FAIL and "writable by everyone" in c.detail


def test_database_writable_and_current(store_target):
    Store(store_target).close()
    c = database_check(store_target)
    assert c.status == v.PASS and "current" in c.detail, c
    db = connect(store_target)
    try:
        assert not [t for t in db.tables() if t.startswith("doctor_probe")]   # the probe was rolled back
        probe_write(db)
        assert not [t for t in db.tables() if t.startswith("doctor_probe")]
    finally:
        db.close()


def test_database_that_cannot_be_written_fails(pg_url):
    """A role that may read but not write (the commonest PostgreSQL mistake; a
    SQLite file's mode cannot be tested here, where the tests run as root)."""
    Store(pg_url).close()
    role = "reader_" + pg_url.rsplit("_", 1)[-1]          # roles are the server's: one per test database
    db = connect(pg_url)
    try:
        db.execute(f"create role {role} login")
        db.execute(f"grant usage on schema public to {role}")
        db.execute(f"grant select on all tables in schema public to {role}")
    finally:
        db.close()
    user = pg_url.split("//", 1)[1].split("@", 1)[0]
    reader = pg_url.replace(f"//{user}@", f"//{role}@", 1)
    assert reader != pg_url
    c = database_check(reader)
    assert c.status == v.FAIL and "cannot write" in c.detail and "CREATE and INSERT" in c.fix, c


# --------------------------------------------------------- stand-in ARI
async def _stand_in(handler):
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.5)     # a hung handler must not hold the test
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _doctor(url, password="pw", timeout_s=1.0):
    return AsteriskDoctor(Target(AriSettings(url=url, user="intervene", password=password), "INTERVENE_ARI_PASSWORD"),
                          timeout_s)


def test_wrong_password_names_the_user_and_the_variable_and_skips_the_rest():
    async def refuse(request):
        raise web.HTTPUnauthorized()

    async def go():
        runner, url = await _stand_in(refuse)
        try:
            return await _doctor(url).run(None, {}, several=False)
        finally:
            await runner.cleanup()
    checks = asyncio.run(go())
    assert checks[0].status == v.FAIL and "wrong ARI user/password" in checks[0].detail
    assert "'intervene'" in checks[0].detail and "INTERVENE_ARI_PASSWORD" in checks[0].fix
    assert "ari.conf" in checks[0].fix
    assert [c.status for c in checks[1:]] == [v.SKIP] * 6
    assert all(c.detail == "skipped (needs ARI)" for c in checks[1:])


def test_an_asterisk_that_never_answers_fails_within_the_timeout():
    async def hang(request):
        await asyncio.sleep(30)

    async def go():
        runner, url = await _stand_in(hang)
        try:
            t0 = time.monotonic()
            checks = await _doctor(url, timeout_s=0.5).run(None, {}, several=False)
            return checks, time.monotonic() - t0
        finally:
            await runner.cleanup()
    checks, took = asyncio.run(go())
    assert checks[0].status == v.FAIL and "no answer" in checks[0].detail
    assert took < 3


def test_no_password_fails_with_the_variable():
    c = asyncio.run(_doctor("http://127.0.0.1:9", password="").run(None, {}, several=False))[0]
    assert c.status == v.FAIL and "INTERVENE_ARI_PASSWORD" in c.detail


def test_cli_bad_config_is_a_failed_line_not_a_traceback(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[serve]\nlisten = 'nowhere'\n")
    r = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "--config", str(cfg), "doctor", "--no-models"],
                           env={"INTERVENE_ARI_PASSWORD": "pw"})
    assert r.exit_code == 1, r.output
    assert r.output.startswith("FAIL  config: listen: expected HOST:PORT"), r.output
    assert "Traceback" not in r.output


def test_targets_follow_the_services_settings_and_name_each_password(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[serve]\napp = "w1"\n[[serve.asterisk]]\nurl = "http://a:8088"\n'
                   '[[serve.asterisk]]\nurl = "http://b:8088"\npassword_env = "PW_B"\n')
    env = Env.read({"INTERVENE_ARI_PASSWORD": "pa", "PW_B": "pb"})
    rt = Runtime(str(tmp_path / "x.db"), str(cfg), env)
    ts = targets(rt, load_config(str(cfg), env), None)
    assert [(t.settings.url, t.settings.app, t.settings.password, t.password_from, t.label) for t in ts] == [
        ("http://a:8088", "w1", "pa", "INTERVENE_ARI_PASSWORD", "[http://a:8088]"),
        ("http://b:8088", "w1", "pb", "PW_B", "[http://b:8088]")]
    one = Runtime(str(tmp_path / "x.db"), None, Env.read({"INTERVENE_ARI_PASSWORD": "p"}))
    [t] = targets(one, load_config(None, one.env), "mine")
    assert (t.settings.app, t.password_from, t.label) == ("mine", "INTERVENE_ARI_PASSWORD", "")


# ------------------------------------------- media fetch through the service
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _fetching_asterisk():
    """A stand-in ARI whose bridge playback fetches the media URL as
    Asterisk does: `PlaybackFinished` done for a WAV, failed for anything else."""
    sockets: list[web.WebSocketResponse] = []
    played: list[str] = []

    async def events(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.append(ws)
        async for _ in ws:
            pass
        return ws

    async def finish(url: str, playback: str) -> None:
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    ok = r.status == 200 and (await r.read())[:4] == b"RIFF"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            ok = False
        await sockets[-1].send_json({"type": "PlaybackFinished",
                                     "playback": {"id": playback, "state": "done" if ok else "failed"}})

    async def ari(request):
        if request.path.endswith("/play"):
            url = request.query["media"].removeprefix("sound:")
            played.append(url)
            asyncio.ensure_future(finish(url, request.query["playbackId"]))
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/ari/events", events)
    app.router.add_route("*", "/ari/{tail:.*}", ari)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}", played


def test_media_fetch_through_the_running_service(tmp_path):
    """The service holds the listen address: Asterisk is asked for the
    service's own /media/doctor.wav at the public URL; a wrong public URL
    (or a proxy that does not forward /media/) fails, saying what the doctor
    itself got from that URL."""
    async def go():
        screen = ScreenApp(Store(tmp_path / "s.db"), Hub(), b"k" * 32)
        service = WebServer(MediaStore(), "127.0.0.1", 0, screen)
        await service.start()
        runner, ari_url, played = await _fetching_asterisk()
        try:
            serves = (await service_serves_clip("127.0.0.1", service.port, 1.0),
                      await service_serves_clip("127.0.0.1", _free_port(), 1.0),
                      await service_serves_clip("127.0.0.1", int(ari_url.rsplit(":", 1)[1]), 1.0))
            out = []
            for public in (service.url, f"{service.url}/wrong-prefix", f"http://127.0.0.1:{_free_port()}"):
                doc = _doctor(ari_url, timeout_s=3.0)
                await doc.reach()
                out.append(await doc.media(MediaPlan("127.0.0.1", service.port, public, service=True)))
                await doc.ari.close()
            return serves, out, played
        finally:
            await runner.cleanup()
            await service.stop()
            screen.state.db.close()

    serves, (ok, wrong, nothing), played = asyncio.run(go())
    assert serves == (True, False, False)      # ours; nothing there; something else on the port
    assert ok.status == v.PASS and "through the running service (its public URL)" in ok.detail, ok
    assert "/media/doctor.wav?doctor=" in played[0] and played[0] != played[-1] and len(set(played)) == 3
    assert wrong.status == v.FAIL and "/wrong-prefix/media/doctor.wav" in wrong.detail, wrong
    assert "from this machine it answers HTTP 404" in wrong.detail and "reverse proxy" in wrong.fix
    assert nothing.status == v.FAIL and "cannot be fetched either" in nothing.detail, nothing


def test_media_fetch_not_testable_says_why():
    async def go():
        doc = _doctor("http://127.0.0.1:9")
        return await doc.media(None)
    c = asyncio.run(go())
    assert c.status == v.WARN and "does not serve /media/doctor.wav" in c.detail and "restart the service" in c.fix
