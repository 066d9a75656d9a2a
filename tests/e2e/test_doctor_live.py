"""`intervene doctor` against the real local Asterisk 22: healthy (every
line passes, exit 0), then broken twice: a module the service needs
unloaded, and a wrong ARI password (exit 1, the failing line names the
module, or the user and the variable). And with the service's web server
holding the listen address: Asterisk fetches the service's own test clip
through the public URL, and a public URL that does not lead to the
service fails."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tomllib
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from screenkit import Loop

from intervene.cli.main import main
from intervene.pbx.ari import Ari, AriSettings
from intervene.pbx.media import MediaStore, WebServer
from intervene.screen.hub import Hub
from intervene.screen.web import ScreenApp
from intervene.screen.web.users import save_user
from intervene.store.db import Store
from intervene_harness import localpbx
from intervene_harness.phone import PhoneProcess

ROOT = Path(__file__).resolve().parents[2]
REP = "rep17"              # a phone no other live test registers (they use 1-13 and 21-24)
# Needed by the service, unloadable while Asterisk runs (res_stasis_snoop.so and
# res_http_media_cache.so are held by other modules: 409), and its absence for
# a second breaks nobody else's call on this shared Asterisk: only stopping a
# prompt early (DELETE /playbacks) needs it.
MODULE = "res_ari_playbacks.so"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pbx(loop: Loop):
    """The local Asterisk, this module's Stasis app connected (as `intervene serve`
    would be) and phone rep17 registered; stopped at the end if this started it."""
    started = not localpbx.running()
    env = localpbx.start()
    app = f"doctor-e2e-{uuid.uuid4().hex[:6]}"
    ari = Ari(replace(AriSettings.from_env(env), app=app))
    ws = loop.run(ari.connect_events())

    async def phone() -> PhoneProcess:
        p = await PhoneProcess(REP).start(user=REP, password=env["INTERVENE_SIP_PASSWORD"],
                                          registrar=env.get("INTERVENE_SIP_SERVER", "127.0.0.1:5060"), register=True)
        await p.wait_event("registered", 10)
        return p
    ph = loop.run(phone())
    try:
        yield env, app, ari
    finally:
        loop.run(ph.close())
        loop.run(ws.close())
        loop.run(ari.close())
        if started:
            localpbx.stop()


@pytest.fixture(scope="module")
def setup(pbx, tmp_path_factory):
    """A config and a database as an admin would have them: rep sam on PJSIP/rep17."""
    env, app, _ = pbx
    d = tmp_path_factory.mktemp("doctor")
    cfg = d / "intervene.toml"
    cfg.write_text(f'[serve]\napp = "{app}"\nlisten = "127.0.0.1:{_free_port()}"\nkb = "{ROOT / "kb" / "acme.yaml"}"\n')
    store = Store(d / "intervene.db")
    save_user(store, {"login": "sam", "name": "Sam", "role": "rep", "endpoint": f"PJSIP/{REP}"})
    store.close()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("INTERVENE_")}
    environ.update({k: v for k, v in env.items() if k.startswith("INTERVENE_ARI_")})
    return environ, ["--db", str(d / "intervene.db"), "--config", str(cfg)]


def test_healthy_every_line_passes(setup):
    environ, args = setup
    r = subprocess.run([sys.executable, "-m", "intervene.cli.main", *args, "doctor", "--strict"],
                       capture_output=True, text=True, env=environ, timeout=300)
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    checks = [ln for ln in lines if not ln.startswith(("doctor:", " "))]
    names = [ln.split(":")[0][6:] for ln in checks]
    assert names == ["config", "database", "knowledge base", "speech model", "sentence model", "judge", "ARI",
                     "Asterisk version", "modules", "Stasis app", "media fetch", "clock", "rep phones"], lines
    assert all(ln.startswith("PASS  ") for ln in checks), r.stdout
    assert "Asterisk fetched and played" in r.stdout and f"PJSIP/{REP} (sam)" in r.stdout
    assert "(served by doctor on the listen address: the service is not running)" in r.stdout
    assert lines[-1].startswith(f"doctor: {len(checks)} passed, 0 warning(s), 0 failed")


def _doctor(environ, args, *more):
    return CliRunner().invoke(main, [*args, "doctor", "--no-models", *more], env=environ)


def test_a_module_unloaded_fails_naming_it(pbx, setup, loop):
    """In this process (no start-up time), so the module is out for about a second."""
    _, _, ari = pbx
    environ, args = setup
    loop.run(ari.call("DELETE", f"/asterisk/modules/{MODULE}"))
    try:
        r = _doctor(environ, args)
    finally:
        loop.run(_reload(ari))
    assert r.exit_code == 1, r.output
    failed = [ln for ln in r.output.splitlines() if ln.startswith("FAIL")]
    assert len(failed) == 1 and failed[0].startswith("FAIL  modules: not loaded: res_ari_playbacks.so"), r.output
    assert f"module load {MODULE}" in r.output
    assert "PASS  media fetch" in r.output                  # the rest still ran


async def _reload(ari: Ari) -> None:
    for _ in range(20):
        try:
            await ari.call("POST", f"/asterisk/modules/{MODULE}")
            return
        except Exception as e:                              # noqa: BLE001
            if "already loaded" in str(e):
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"could not load {MODULE} again")


def test_wrong_password_fails_naming_the_user_and_the_variable(setup):
    environ, args = setup
    r = _doctor({**environ, "INTERVENE_ARI_PASSWORD": "not-the-password"}, args)
    assert r.exit_code == 1, r.output
    out = r.output
    assert "FAIL  ARI: wrong ARI user/password: http://127.0.0.1:8088 refused user 'intervene'" in out, out
    assert "INTERVENE_ARI_PASSWORD" in out and "ari.conf" in out
    assert "SKIP  modules: skipped (needs ARI)" in out


def test_media_fetch_goes_through_the_running_service(setup, loop, tmp_path):
    """The service's web server on the listen address (as `intervene serve`
    runs it): the doctor has Asterisk play the service's /media/doctor.wav
    at the public URL; a public URL that does not lead to the service (a
    proxy that does not forward /media/) fails and says what it answered."""
    environ, args = setup
    listen = tomllib.loads(Path(args[3]).read_text())["serve"]["listen"]
    host, port = listen.rsplit(":", 1)
    screen = ScreenApp(Store(tmp_path / "service.db"), Hub(), b"k" * 32)
    service = WebServer(MediaStore(), host, int(port), screen)
    loop.run(service.start())
    try:
        ok = _doctor(environ, args, "--public-url", f"http://{listen}")
        wrong = _doctor(environ, args, "--public-url", f"http://{listen}/not-the-service")
    finally:
        loop.run(service.stop())
        screen.state.db.close()
    assert ok.exit_code == 0, ok.output
    line = next(ln for ln in ok.output.splitlines() if ln.startswith("PASS  media fetch"))
    assert f"Asterisk fetched and played http://{listen}/media/doctor.wav?doctor=" in line, ok.output
    assert "through the running service (its public URL)" in line
    assert wrong.exit_code == 1, wrong.output
    failed = [ln for ln in wrong.output.splitlines() if ln.startswith("FAIL")]
    assert len(failed) == 1 and failed[0].startswith(
        f"FAIL  media fetch: Asterisk could not fetch http://{listen}/not-the-service/media/doctor.wav"), wrong.output
    assert "playback failed" in failed[0] and "it answers HTTP 404" in failed[0]
    assert "forward /media/" in wrong.output
