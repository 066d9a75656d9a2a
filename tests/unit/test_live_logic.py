"""The live service's pure pieces, without Asterisk."""
from __future__ import annotations

import asyncio

import pytest

from intervene.config import ConfigError, load_config
from intervene.kb.loader import load_kb
from intervene.pbx.ari import Ari, AriSettings, AriUnavailable
from intervene.pbx.briefing import briefing_text, parse_args
from intervene.pbx.call import when_to_speak
from intervene.pbx.media import MediaStore


def test_speaks_only_into_a_gap_and_gives_up_when_the_moment_passed():
    assert when_to_speak(decided=10.0, now=10.1, someone_speaking=False, max_wait_s=4) == "now"
    assert when_to_speak(decided=10.0, now=12.0, someone_speaking=True, max_wait_s=4) == "wait"
    assert when_to_speak(decided=10.0, now=14.5, someone_speaking=True, max_wait_s=4) == "give-up"
    assert when_to_speak(decided=10.0, now=14.5, someone_speaking=False, max_wait_s=4) == "give-up"


def test_stasis_arguments_parse_as_key_values_or_positions():
    assert parse_args(["rep=PJSIP/rep7", "team=sales", "lead=+15551234", "name=Jane Doe"]) == {
        "rep": "PJSIP/rep7", "team": "sales", "lead": "+15551234", "name": "Jane Doe"}
    assert parse_args(["PJSIP/rep2", "east", "555"]) == {"rep": "PJSIP/rep2", "team": "east", "lead": "555"}
    assert parse_args([]) == {}


def test_briefing_uses_what_is_known_and_the_kb():
    kb = load_kb("kb/acme.yaml")
    text = briefing_text({"rep": "PJSIP/rep1", "lead": "+15551234567", "name": "Jane Doe",
                          "source": "a Facebook ad", "interest": "the premium plan", "budget": "about 100 a month"},
                         kb)
    assert "Jane Doe" in text and "Facebook ad" in text
    assert "Premium package" in text and "$89 per month" in text      # the KB's own price
    assert "100 a month" in text
    assert "PJSIP" not in text                                       # plumbing is not read out
    anonymous = briefing_text({"lead": "+15551234567"}, kb)
    assert "5 5 5 1 2 3 4 5 6 7" in anonymous                        # a number read digit by digit


def test_ari_password_never_defaults(monkeypatch):
    monkeypatch.delenv("INTERVENE_ARI_PASSWORD", raising=False)
    s = AriSettings.from_env(env={})
    assert s.password == "" and s.url == "http://127.0.0.1:8088"
    with pytest.raises(ValueError, match="INTERVENE_ARI_PASSWORD"):
        Ari(s)
    s = AriSettings.from_env(env={"INTERVENE_ARI_PASSWORD": "pw", "INTERVENE_ARI_URL": "https://pbx:8089"})
    assert s.password == "pw" and s.ws_base == "wss://pbx:8089"


def test_unreachable_asterisk_is_a_clear_error():
    async def go():
        ari = Ari(AriSettings(url="http://127.0.0.1:9", password="x"))
        try:
            with pytest.raises(AriUnavailable, match="127.0.0.1:9"):
                await ari.call("GET", "/asterisk/info")
            with pytest.raises(AriUnavailable):
                await ari.connect_events()
        finally:
            await ari.close()
    asyncio.run(go())


def test_a_clip_fetched_before_it_is_rendered_waits_for_it():
    async def go():
        media2 = MediaStore()
        fetch = asyncio.create_task(media2.get("x"))
        await asyncio.sleep(0.01)
        assert await fetch is None                   # unknown key: not found at once
        media2.promise("y")
        fetch = asyncio.create_task(media2.get("y"))
        await asyncio.sleep(0.05)
        assert not fetch.done()                      # promised, still rendering
        media2.put("y", b"RIFF")
        assert await fetch == b"RIFF"
        media2.fail("z", RuntimeError("tts failed"))
        assert await media2.get("z") is None
    asyncio.run(go())


def test_serve_and_live_config_sections_are_validated(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[serve]\nlisten = "127.0.0.1:9000"\nvoice_engine = "espeak"\n[live]\nvoice_max_wait_s = 3\n'
                   '[reps.sam]\nmode = "whisper"\n')
    c = load_config(cfg)
    assert c.serve.listen == "127.0.0.1:9000" and c.live.voice_max_wait_s == 3.0
    assert {m.value for m in c.resolve(rep="sam").modes.values()} == {"whisper"}
    cfg.write_text('[live]\nbarge_in_s = "soon"\n')
    with pytest.raises(ConfigError, match=r"\[live\].*barge_in_s"):
        load_config(cfg)
    cfg.write_text('[serve]\nari_pasword = "x"\n')
    with pytest.raises(ConfigError, match="unknown key `ari_pasword`"):
        load_config(cfg)


def test_the_api_needs_a_token_and_is_off_without_one(tmp_path):
    import aiohttp

    from intervene.pbx.media import WebServer
    from intervene.screen.hub import Hub
    from intervene.screen.web import ScreenApp
    from intervene.store.db import Store

    async def go():
        out = {}
        for token in ("", "s3cret"):
            media = MediaStore()
            media.put("clip", b"RIFFdata")
            screen = ScreenApp(Store(tmp_path / f"t{len(token)}.db"), Hub(), b"k", api_token=token)
            srv = WebServer(media, "127.0.0.1", 0, screen, live=lambda: [{"id": "c1"}])
            await srv.start()
            base = f"http://127.0.0.1:{srv.port}"
            try:
                async with aiohttp.ClientSession() as http:
                    async def status(path, **headers):
                        async with http.get(base + path, headers=headers) as r:  # noqa: B023 (called within this iteration)
                            return r.status, await r.read()
                    out[token] = {
                        "health": await status("/healthz"),
                        "media": await status("/media/clip.wav"),
                        "unknown": await status("/media/nope.wav"),
                        "api": await status("/api/live"),
                        "wrong": await status("/api/live", Authorization="Bearer nope"),
                        "right": await status("/api/live", Authorization=f"Bearer {token}"),
                    }
            finally:
                await srv.stop()
        return out

    out = asyncio.run(go())
    for _token, r in out.items():
        assert r["health"][0] == 200 and r["media"] == (200, b"RIFFdata") and r["unknown"][0] == 404
    assert out[""]["api"][0] == 401                                             # nobody: log in first
    assert out[""]["wrong"][0] == 403                                           # no token configured: tokens off
    assert out["s3cret"]["api"][0] == 401 and out["s3cret"]["wrong"][0] == 401
    assert out["s3cret"]["right"] == (200, b'[{"id": "c1"}]')
