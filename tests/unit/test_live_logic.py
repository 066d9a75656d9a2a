"""The live service's pure pieces, without Asterisk."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from intervene.config import ConfigError, load_config
from intervene.kb.loader import load_kb
from intervene.pbx.ari import Ari, AriSettings, AriUnavailable
from intervene.pbx.briefing import briefing_text, handoff_briefing, parse_args
from intervene.pbx.call import when_to_speak
from intervene.pbx.media import MediaStore
from intervene.vocab import Category, Intervention, Mode, Severity, Speaker, Utterance


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


# --------------------------------------------------------------- the play path
class _FakeAri:
    """Asterisk as far as playing goes: a playback fetches its clip from the
    media store (waiting for a promised one, failing on an unknown one) and
    reports PlaybackFinished; a snoop reports StasisStart."""

    def __init__(self, waiters, media) -> None:
        self.waiters, self.media = waiters, media
        self.s = SimpleNamespace(app="iv-test")
        self.log: list[tuple[str, str, dict]] = []

    async def call(self, method, path, **params):
        self.log.append((method, path, params))
        if path.endswith("/play"):
            key = params["media"].rsplit("/", 1)[-1].removesuffix(".wav")
            asyncio.get_running_loop().create_task(self._fetch(key, params["playbackId"]))
        elif path.endswith("/snoop"):
            asyncio.get_running_loop().call_soon(self.waiters.resolve, f"start:{params['snoopId']}", {})
        return {}

    async def quiet(self, method, path, **params):
        return await self.call(method, path, **params)

    async def _fetch(self, key: str, playback: str) -> None:
        data = await self.media.get(key)
        self.waiters.resolve(f"played:{playback}", "done" if data else "failed")


def _live_call(fail_tts: bool = False, hooks=None):
    from intervene.config.live import LiveOptions
    from intervene.pbx.call import CallHooks, LiveCall
    from intervene.pbx.controller import Waiters

    media, waiters = MediaStore(), Waiters()
    said: list[tuple[float, float, str]] = []
    ai: list[str] = []
    quiet = SimpleNamespace(speaking=False)
    engine = SimpleNamespace(speech_started=lambda sp, now: ai.append("started") or [],
                             speech_ended=lambda sp, end, now: ai.append("ended") or [])
    pipeline = SimpleNamespace(parties={Speaker.LEAD: SimpleNamespace(segmenter=quiet),
                                        Speaker.REP: SimpleNamespace(segmenter=quiet)},
                               ai_said=lambda start, end, text: said.append((start, end, text)))

    async def synthesize(key, text, tone_first=False):
        await asyncio.sleep(0.01)
        if fail_tts:
            media.fail(key, RuntimeError("no voice"))
            raise RuntimeError("no voice")
        media.put(key, b"RIFF" + (b"T" if tone_first else b"") + text.encode())

    services = SimpleNamespace(media=media, waiters=waiters, options=LiveOptions(), intro_key="intro", worker="w1",
                               intro_line="This is the assistant.", synthesize=synthesize,
                               media_uri=lambda key: f"sound:http://svc/media/{key}.wav",
                               account=lambda args: None, new_pipeline=lambda args, on_u, on_i: ("standard", lambda: (engine, pipeline)))
    services.ari = _FakeAri(waiters, media)
    services.screen = SimpleNamespace(line=lambda call_id, u: None)
    services.store = SimpleNamespace(add_utterance=lambda call_id, u: None)
    services.db = SimpleNamespace(write=lambda fn, *a, **kw: fn(*a, **kw))      # the store thread, inline
    media.put("intro", b"RIFFintro")
    return LiveCall(services, "c1", "lead-ch", {"rep": "PJSIP/rep1"}, hooks=hooks or CallHooks()), said, ai


def _plays(call) -> list[tuple[str, str]]:
    return [(p, params["media"].rsplit("/", 1)[-1].removesuffix(".wav").split("-")[0])
            for m, p, params in call.s.ari.log if p.endswith("/play")]


def test_the_assistant_says_a_line_into_the_bridge_and_the_transcript():
    async def go():
        call, said, ai = _live_call()
        status = await call.say("What is your budget?", barge_in=False)
        await call.listening.idle()     # the engine and transcript steps, on the call's thread
        return status, call, said, ai
    status, call, said, ai = asyncio.run(go())
    assert status == "spoken"
    assert _plays(call) == [("/bridges/iv-c1/play", "say")]
    assert [t for _, _, t in said] == ["What is your budget?"] and ai == ["started", "ended"]


def test_a_correction_plays_the_intro_then_the_words_and_records_when_it_began():
    iv = Intervention(0.0, 3, Category.ACCURACY, Severity.HIGH, Mode.VOICE, "claim", "two years of support",
                      "Standard includes three years of support.")

    async def go():
        call, said, ai = _live_call()
        status = await call._speak(iv, 4)
        await call.listening.idle()     # the engine and transcript steps, on the call's thread
        return status, call, said, ai
    status, call, said, ai = asyncio.run(go())
    assert status == "spoken" and call.spoke_at == {4: 0.0}
    assert _plays(call) == [("/bridges/iv-c1/play", "intro"), ("/bridges/iv-c1/play", "say")]
    assert said == [(0.0, 0.0, "This is the assistant. Standard includes three years of support.")]
    assert ai == ["started", "ended"]


def test_a_whisper_goes_through_its_own_snoop_which_is_removed_after():
    async def go():
        call, said, ai = _live_call()
        call.rep = "rep-ch"
        status = await call._whisper("Mention the annual discount.", wait=False, seq=2)
        await call.listening.idle()     # the engine and transcript steps, on the call's thread
        return status, call, said, ai
    status, call, said, ai = asyncio.run(go())
    assert status == "whispered" and 2 in call.spoke_at
    log = [(m, p) for m, p, _ in call.s.ari.log]
    assert log == [("POST", "/channels/rep-ch/snoop"), ("POST", "/channels/iv-c1-whisper1/play"),
                   ("DELETE", "/channels/iv-c1-whisper1")]
    assert said == [] and ai == []                        # only the rep heard it: not the assistant's line


def test_the_rep_is_briefed_alone_with_the_tone_first():
    async def go():
        call, said, ai = _live_call()
        status = await call._brief_alone("rep-ch", "Here's your briefing.")
        return status, call
    status, call = asyncio.run(go())
    assert status == "played" and _plays(call) == [("/channels/rep-ch/play", "brief")]


def test_speech_that_cannot_be_rendered_is_a_failed_line_not_a_hang():
    async def go():
        call, said, ai = _live_call(fail_tts=True)
        return await call.say("Hello?"), call
    status, call = asyncio.run(go())
    assert status == "failed"


def test_a_call_the_lead_flow_runs_hears_for_it_and_coaches_nobody_before_a_rep_joins():
    from intervene.pbx.call import CallHooks
    heard: list[str] = []
    hooks = CallHooks(assistant_first=True, heard=lambda u: heard.append(u.text))
    iv = Intervention(1.0, 0, Category.ACCURACY, Severity.HIGH, Mode.VOICE, "claim", "x", "y")

    async def go():
        call, said, ai = _live_call(hooks=hooks)
        call._on_utterance(Utterance(0, Speaker.LEAD, 0.0, 1.0, "Yes, I am."))
        call._decided(iv)                                   # nobody to coach: not recorded, not delivered
        return call
    call = asyncio.run(go())
    assert heard == ["Yes, I am."] and call.seq == 0 and call.delivered == []


def test_the_lead_flow_briefing_is_written_for_the_screen_and_spoken_without_dates():
    written, spoken = handoff_briefing("Dana Whitfield", "Lead: Dana. Timeline: next month (2025-04-01 to 2025-04-30).")
    assert written == "You're about to speak with Dana Whitfield. Lead: Dana. Timeline: next month (2025-04-01 to 2025-04-30)."
    assert spoken == "Here's your briefing. You're about to speak with Dana Whitfield. Lead: Dana. Timeline: next month."
    assert briefing_text({"name": "Dana Whitfield"}).startswith("Here's your briefing. You're about to speak with Dana")
