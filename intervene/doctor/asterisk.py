"""`intervene doctor` against one Asterisk: ARI and its credentials, the
version and modules, the Stasis app, the media fetch, the clock and the
reps' phones. Every request has a short timeout, so a silent Asterisk
makes a failed line, never a hung doctor."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Mapping, Optional, TypeVar, Union
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from intervene.doctor import verdict as v
from intervene.doctor.verdict import FAIL, PASS, WARN, Check, skipped
from intervene.pbx.ari import Ari, AriError, AriSettings, AriUnavailable
from intervene.pbx.media import DOCTOR_CLIP, DOCTOR_CLIP_S, doctor_clip

log = logging.getLogger("intervene.doctor")
T = TypeVar("T")
CLIP_S = DOCTOR_CLIP_S     # the test clip: silence, short enough to finish at once


@dataclass(frozen=True)
class Target:
    """One Asterisk as the service would reach it, and where its settings came from (for the fixes)."""
    settings: AriSettings
    password_from: str                  # "INTERVENE_ARI_PASSWORD", "[serve] ari_password", ...
    label: str = ""                     # prefix of its lines when the worker has several Asterisk servers


@dataclass(frozen=True)
class MediaPlan:
    """Where the test clip comes from and the URL Asterisk is asked to play."""
    host: str
    port: int
    public_url: str                     # "" = http://host:port
    service: bool = False               # the running service serves it (/media/doctor.wav), not the doctor


class AsteriskDoctor:
    def __init__(self, target: Target, timeout_s: float = 5.0) -> None:
        self.t = target
        self.timeout_s = timeout_s
        self.ari: Optional[Ari] = None
        self._info: tuple[dict[str, Any], Optional[str], float, float] = ({}, None, 0.0, 0.0)

    def name(self, what: str) -> str:
        return f"{self.t.label} {what}" if self.t.label else what

    async def _timed(self, aw: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(aw, self.timeout_s)
        except asyncio.TimeoutError as e:
            raise AriUnavailable(f"{self.t.settings.url}: no answer within {self.timeout_s:g} s") from e

    async def run(self, media: Optional[MediaPlan], reps: Mapping[str, str], several: bool) -> list[Check]:
        out: list[Check] = []
        try:
            first = await self.reach()
            out.append(first)
            later = ["Asterisk version", "modules", "Stasis app", "media fetch", "clock", "rep phones"]
            if first.status == FAIL:
                return out + [skipped(self.name(n)) for n in later]
            info, date, sent, received = self._info
            out.append(v.version_check(info, self.name("Asterisk version")))
            out.append(await self.modules())
            out.append(await self.app())
            out.append(await self.media(media))
            out.append(v.clock_check(date, sent, received, self.name("clock")))
            out.append(await self.endpoints(reps, several))
            return out
        finally:
            if self.ari is not None:
                await self.ari.close()

    async def reach(self) -> Check:
        """`GET /ari/asterisk/info`: reachable, the credentials, and (kept for
        later) the version and Asterisk's Date header."""
        s = self.t.settings
        name = self.name("ARI")
        try:
            self.ari = Ari(s)
        except ValueError as e:
            return Check(name, FAIL, str(e), "set INTERVENE_ARI_PASSWORD in the service's environment file "
                                             "(/etc/intervene/intervene.env) to the ari.conf user's password")
        sent = time.time()
        try:
            async with self.ari.session.get(f"{s.url}/ari/asterisk/info",
                                            timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as r:
                text = await r.text()
                received = time.time()
                status, date = r.status, r.headers.get("Date")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            why = "no answer" if isinstance(e, asyncio.TimeoutError) else f"{e.__class__.__name__}: {e}"
            return Check(name, FAIL, f"cannot reach ARI at {s.url} ({why})",
                         "start Asterisk, enable its HTTP server (http.conf: enabled=yes, bindaddr, bindport) "
                         "and point [serve] ari_url / INTERVENE_ARI_URL at it")
        if status == 401:
            return Check(name, FAIL, f"wrong ARI user/password: {s.url} refused user {s.user!r} "
                                     f"(password from {self.t.password_from})",
                         f"make the password in {self.t.password_from} equal password= of the [{s.user}] user "
                         f"in ari.conf (type=user, read_only=no), then `asterisk -rx 'module reload res_ari.so'`")
        if status == 404:
            return Check(name, FAIL, f"{s.url} answers but has no ARI (404 on /ari/asterisk/info)",
                         "enable ARI: ari.conf [general] enabled=yes, and load res_ari.so and res_ari_asterisk.so")
        if status >= 300:
            return Check(name, FAIL, f"{s.url}: ARI answered {status} {text.strip()[:120]}",
                         "see Asterisk's log (the HTTP server and res_ari)")
        try:
            info = json.loads(text)
        except ValueError:
            return Check(name, FAIL, f"{s.url}: /ari/asterisk/info is not JSON: is this Asterisk's HTTP server?",
                         "point [serve] ari_url / INTERVENE_ARI_URL at Asterisk's HTTP server (http.conf)")
        self._info = (info if isinstance(info, dict) else {}, date, sent, received)
        return Check(name, PASS, f"{s.url} answers, user {s.user!r} accepted")

    async def modules(self) -> Check:
        assert self.ari is not None
        try:
            mods = await self._timed(self.ari.call("GET", "/asterisk/modules"))
        except (AriError, AriUnavailable) as e:
            return Check(self.name("modules"), WARN, f"cannot list the modules ({e})",
                         "check by hand: `asterisk -rx 'module show'` (see asterisk/modules.conf)")
        return v.modules_check(mods or [], self.name("modules"))

    async def app(self) -> Check:
        assert self.ari is not None
        try:
            apps = await self._timed(self.ari.call("GET", "/applications"))
        except (AriError, AriUnavailable) as e:
            return Check(self.name("Stasis app"), FAIL, f"cannot list the Stasis apps ({e})",
                         "load res_ari_applications.so")
        return v.apps_check(apps or [], self.t.settings.app, self.name("Stasis app"))

    async def endpoints(self, reps: Mapping[str, str], several: bool) -> Check:
        assert self.ari is not None
        try:
            eps = await self._timed(self.ari.call("GET", "/endpoints"))
        except (AriError, AriUnavailable) as e:
            return Check(self.name("rep phones"), FAIL, f"cannot list the endpoints ({e})",
                         "load res_ari_endpoints.so")
        return v.endpoints_check(eps or [], reps, only_present=several, name=self.name("rep phones"))

    async def media(self, plan: Optional[MediaPlan]) -> Check:
        """Have Asterisk play a test clip on an empty mixing bridge:
        `PlaybackFinished` says done or failed. With the service running, the
        clip is its own /media/doctor.wav at the public URL, so the URL and
        any proxy in front are what is tested; else the doctor serves a clip
        where the service would, and its server also says whether Asterisk
        asked for it at all."""
        name = self.name("media fetch")
        if plan is None:
            return Check(name, WARN, f"not tested: the listen address is held by something that does not serve "
                                     f"/media/{DOCTOR_CLIP} (an intervene older than this doctor, or another "
                                     f"program) and the public URL is not that address (a proxy?)",
                         "restart the service with this version of intervene (or stop whatever holds the listen "
                         "address) and run doctor again")
        assert self.ari is not None
        if plan.service:
            return await self._via_service(name, plan)
        clip = doctor_clip()
        key = f"doctor-{uuid.uuid4().hex[:12]}"
        asked: list[str] = []

        async def serve(request: web.Request) -> web.StreamResponse:
            asked.append(request.headers.get("User-Agent", ""))
            if request.match_info["key"] != f"{key}.wav":
                raise web.HTTPNotFound()
            return web.Response(body=clip, content_type="audio/x-wav")

        app = web.Application()
        app.router.add_get("/media/{key}", serve)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            site = web.TCPSite(runner, plan.host, plan.port)
            try:
                await site.start()
            except OSError as e:
                return Check(name, FAIL, f"cannot listen on {plan.host}:{plan.port} for the test clip ({e})",
                             "check [serve] listen (an address of this machine)")
            port = runner.addresses[0][1] if plan.port == 0 else plan.port
            url = f"{media_base(plan, port)}/media/{key}.wav"
            c = await self._play(name, url, asked)
            if c.status == PASS:
                where = ("a spare port: the listen address is held by something that does not serve "
                         f"/media/{DOCTOR_CLIP}" if plan.port == 0 else
                         "the listen address: the service is not running")
                c = replace(c, detail=f"{c.detail} (served by doctor on {where})")
            return c
        finally:
            await runner.cleanup()

    async def _via_service(self, name: str, plan: MediaPlan) -> Check:
        """The running service's own test clip at its public URL. The query
        string makes each run a real fetch (Asterisk's media cache keys on
        the whole URL); the service ignores it."""
        url = f"{media_base(plan, plan.port)}/media/{DOCTOR_CLIP}?doctor={uuid.uuid4().hex[:12]}"
        played = await self._playback(name, url)
        if isinstance(played, Check):
            return played
        state, took = played
        if state == "done":
            how = "its public URL" if plan.public_url else "its listen address: no public_url set"
            return Check(name, PASS, f"Asterisk fetched and played {url} through the running service ({how})",
                         seconds=took)
        here = await self._from_here(url)
        return Check(name, FAIL, f"Asterisk could not fetch {url} from the running service (playback "
                                 f"{state or 'gave no answer'}); from this machine {here}",
                     "set [serve] public_url to the URL Asterisk reaches the service at; behind a reverse proxy, "
                     "forward /media/ to the service's listen address; open the firewall for it; keep "
                     "res_http_media_cache.so, res_curl.so and format_wav.so loaded")

    async def _from_here(self, url: str) -> str:
        """The same URL fetched by the doctor: tells a wrong URL or proxy
        (here too) from a network between Asterisk and the service."""
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as r:
                    body = await r.read()
                    status = r.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            why = "no answer" if isinstance(e, asyncio.TimeoutError) else e.__class__.__name__
            return f"it cannot be fetched either ({why})"
        if status != 200:
            return f"it answers HTTP {status}: the URL (or the proxy) does not lead to the service's /media/"
        if body[:4] != b"RIFF":
            return "it answers, but not with the test clip: the URL leads to another server"
        return "it serves the clip: Asterisk's machine cannot reach that address (firewall, DNS, routing)"

    async def _play(self, name: str, url: str, asked: list[str]) -> Check:
        """The doctor's own clip played; `asked` is what its server was asked for."""
        played = await self._playback(name, url)
        if isinstance(played, Check):
            return played
        state, took = played
        if state == "done" and asked:
            return Check(name, PASS, f"Asterisk fetched and played {url}", seconds=took)
        if not asked:
            return Check(name, FAIL, f"Asterisk never reached {url} (playback {state or 'gave no answer'})",
                         "set [serve] public_url (or --public-url) to an address of this machine that Asterisk "
                         "can reach, open the firewall for it, and keep res_http_media_cache.so and res_curl.so "
                         "loaded")
        return Check(name, FAIL, f"Asterisk fetched {url} but could not play it (playback {state or 'gave no answer'})",
                     "load format_wav.so (and res_http_media_cache.so); see Asterisk's log")

    async def _playback(self, name: str, url: str) -> Union[Check, tuple[str, float]]:
        """Play `url` on an empty bridge under an app of its own: the final
        state ("done", "failed", "" for no answer) and the seconds it took,
        or the failed line when the playback could not even be set up."""
        assert self.ari is not None
        s = self.t.settings
        app = f"{s.app}-doctor-{uuid.uuid4().hex[:6]}"      # its own app: never the service's events
        probe = Ari(replace(s, app=app))
        bridge, pb = f"doctor-{uuid.uuid4().hex[:12]}", f"doctor-pb-{uuid.uuid4().hex[:12]}"
        ws = None
        try:
            ws = await self._timed(probe.connect_events())
            await self._timed(probe.call("POST", "/bridges", type="mixing", bridgeId=bridge, name=bridge))
            await self._timed(probe.call("POST", f"/applications/{app}/subscription", eventSource=f"bridge:{bridge}"))
            t0 = time.monotonic()
            await self._timed(probe.call("POST", f"/bridges/{bridge}/play", media=f"sound:{url}", playbackId=pb))
            state = await self._finished(ws, pb)
            took = time.monotonic() - t0
        except AriError as e:
            fix = ("give the ARI user read_only=no in ari.conf" if e.status == 403
                   else "see Asterisk's log for the bridge and playback")
            return Check(name, FAIL, f"cannot run the test playback ({e})", fix)
        except AriUnavailable as e:
            return Check(name, FAIL, f"cannot run the test playback ({e})", "see Asterisk's log")
        finally:
            await probe.quiet("DELETE", f"/bridges/{bridge}")
            if ws is not None:
                await ws.close()
            await probe.close()
        return state, took

    async def _finished(self, ws: aiohttp.ClientWebSocketResponse, playback: str) -> str:
        """The playback's final state from its `PlaybackFinished` event ("" if none came in time)."""
        deadline = time.monotonic() + self.timeout_s + CLIP_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ws.receive(timeout=left)
            except asyncio.TimeoutError:
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
                continue
            try:
                ev: dict[str, Any] = msg.json()
            except ValueError:
                continue
            pbk = ev.get("playback") or {}
            if ev.get("type") == "PlaybackFinished" and pbk.get("id") == playback:
                return str(pbk.get("state", ""))
        return ""


def media_base(plan: MediaPlan, port: int) -> str:
    """The URL Asterisk is asked to fetch from: the public URL (its port
    swapped for `port` when the doctor could not take the service's own)."""
    if not plan.public_url:
        return f"http://{plan.host}:{port}"
    u = urlsplit(plan.public_url.rstrip("/"))
    if port == plan.port:
        return urlunsplit(u)
    return urlunsplit(u._replace(netloc=f"{u.hostname}:{port}"))


def media_plan(host: str, port: int, public_url: str, port_free: bool, service: bool = False) -> Optional[MediaPlan]:
    """Where the clip comes from: the doctor on the service's own listen
    address when it is free (the service is not running); the running
    service itself when it holds the address and serves /media/doctor.wav
    (`service`: the public URL and any proxy are tested as calls use them);
    else (an older service, another program) the doctor on a spare port of
    the same address, but only when the public URL points straight at the
    service's port (behind a proxy a spare port proves nothing). None: not
    testable."""
    if port_free:
        return MediaPlan(host, port, public_url)
    if service:
        return MediaPlan(host, port, public_url, service=True)
    if public_url:
        u = urlsplit(public_url)
        their = u.port or (443 if u.scheme == "https" else 80)
        if their != port or u.scheme != "http":
            return None
    return MediaPlan(host, 0, public_url)


async def service_serves_clip(host: str, port: int, timeout_s: float) -> bool:
    """Is what holds the listen address an intervene that serves the test
    clip? Asked on this machine, where the listen address is."""
    near = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://{f'[{near}]' if ':' in near else near}:{port}/media/{DOCTOR_CLIP}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
                return r.status == 200 and (await r.read())[:4] == b"RIFF"
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return False


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
