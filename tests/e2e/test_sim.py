"""Simulated calls, for real: neural TTS voices rendered to per-party WAVs, and
two pjsua2 phone processes calling each other directly (no PBX), each playing
its party's audio and recording what it hears. Also registration with digest
auth against a tiny fake registrar, and the failure paths (486, 403)."""
from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import signal
import socket
import time
import wave

import numpy as np
import pytest

pytest.importorskip("pjsua2")
pytest.importorskip("hibari")
pytest.importorskip("piper")

from intervene_harness.phone import PhoneError, PhoneProcess  # noqa: E402
from intervene_harness.voices import read_mono, render_parties, speak  # noqa: E402

RATE = 8000
CALL = [  # (start, end, speaker, text)
    (0.30, 2.40, "rep", "Hi, this is Jess from Acme Business Networks."),
    (2.90, 4.60, "lead", "Oh, hi. Yes, I filled out the form."),
    (5.10, 7.00, "rep", "Great. So what kind of business is it?"),
    (7.50, 8.60, "lead", "It's a small bakery."),
]


def dbfs(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return 20 * np.log10(max(np.sqrt(np.mean(x ** 2)) if len(x) else 0.0, 1.0) / 32768)


def _hot_frames(pcm: np.ndarray, near: float, span: float, level: int) -> tuple[int, int, np.ndarray]:
    """2 ms frames above `level` within `near` ± `span` seconds: (first sample, frame size, indexes)."""
    a, b = max(int((near - span) * RATE), 0), int((near + span) * RATE)
    seg = np.abs(pcm[a: b].astype(np.int32))
    n = RATE // 500
    k = len(seg) // n
    hot = np.nonzero(seg[: k * n].reshape(k, n).max(axis=1) > level)[0]
    assert len(hot), f"no sound near {near:.2f} s"
    return a, n, hot


def onset(pcm: np.ndarray, near: float, span: float = 0.3, level: int = 300) -> float:
    """Start of the first loud 2 ms frame near `near`."""
    a, n, hot = _hot_frames(pcm, near, span, level)
    return a / RATE + hot[0] * n / RATE


def offset(pcm: np.ndarray, near: float, span: float = 0.3, level: int = 300) -> float:
    """End of the last loud 2 ms frame near `near`."""
    a, n, hot = _hot_frames(pcm, near, span, level)
    return a / RATE + (hot[-1] + 1) * n / RATE


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("voices")
    rows = [{"start": s, "end": e, "speaker": sp, "text": t} for s, e, sp, t in CALL]
    times = render_parties(rows, d / "lead.wav", d / "rep.wav")
    return d, times


def test_render_parties_places_lines_at_transcript_times(rendered):
    d, times = rendered
    lead, lr = read_mono(d / "lead.wav")
    rep, rr = read_mono(d / "rep.wav")
    assert lr == rr == RATE and len(lead) == len(rep)
    assert [len(times["lead"]), len(times["rep"])] == [2, 2]
    for party, pcm in (("lead", lead), ("rep", rep)):
        lines = [(s, e) for s, e, sp, _ in CALL if sp == party]
        for (t_start, t_end), (start, end) in zip(lines, times[party]):
            measured = onset(pcm, t_start)
            assert abs(measured - t_start) <= 0.05, (party, t_start, measured)
            assert abs(start - measured) <= 0.05
            assert abs(offset(pcm, end) - end) <= 0.05          # the reported end is where the sound ends
            # fitted to the slot: within the speed limits (0.75x-1.35x of its natural pace)
            assert 0.5 * (t_end - t_start) < end - start < 1.6 * (t_end - t_start)
        # the other party's lines are silence on this track
        for s, e, sp, _ in CALL:
            if sp != party:
                assert dbfs(pcm[int(s * RATE): int(e * RATE)]) < -80
    assert [r["speaker"] for r in times["retimed"]] == ["rep", "lead", "rep", "lead"]


def test_render_never_overlaps_a_partys_next_line(tmp_path):
    long = "Then honestly the Standard package is plenty, it handles up to twenty-five devices."
    rows = [{"start": 0.2, "end": 1.0, "speaker": "rep", "text": long},      # far too long for 0.8 s
            {"start": 1.5, "end": 3.0, "speaker": "rep", "text": "Does that sound good?"}]
    times = render_parties(rows, tmp_path / "l.wav", tmp_path / "r.wav")
    (s1, e1), (s2, e2) = times["rep"]
    assert s1 == pytest.approx(0.2, abs=0.002) and e1 > 1.5           # it ran over ...
    assert s2 >= e1 + 0.1                                               # ... so the next line waits
    rep, _ = read_mono(tmp_path / "r.wav")
    assert abs(onset(rep, s2, span=0.1) - s2) <= 0.05
    assert times["lead"] == []


def test_speak_is_cached_and_telephone_band():
    a = speak("Thanks for calling.", "lead")
    assert speak("Thanks for calling.", "lead") is a and a.dtype == np.int16
    spec = np.abs(np.fft.rfft(a.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(a), 1 / RATE)
    assert spec[(f > 195) & (f < 3660)].sum() > 0.999 * spec.sum()   # 300-3400 Hz with soft edges
    assert -26 < dbfs(a) < -14
    with pytest.raises(ValueError):
        speak("hi", "ai")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def heard(rec: np.ndarray, src: np.ndarray, expect: float) -> tuple[float, float]:
    """(lag in s of `src` inside `rec`, normalised correlation) searched around `expect`."""
    r, s = rec.astype(np.float64), src.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(r) + len(s))))
    c = np.fft.irfft(np.fft.rfft(r, n) * np.conj(np.fft.rfft(s, n)), n)
    lo, hi = max(0, int((expect - 0.1) * RATE)), int((expect + 0.3) * RATE)
    lag = lo + int(np.argmax(c[lo:hi]))
    seg = r[lag: lag + len(s)]
    ss = s[: len(seg)]
    return lag / RATE, float(c[lag] / np.sqrt((ss ** 2).sum() * (seg ** 2).sum()))


def window_corrs(rec: np.ndarray, src: np.ndarray, lag: float, s: float, e: float,
                 win: float = 0.25, slip: float = 0.04) -> list[float]:
    """Normalised correlation of each `win`-second window of src[s:e] that has
    sound with rec, at the best shift within lag ± `slip` (the jitter buffer
    moves things by ±10-20 ms, and can drop or stretch a frame under load)."""
    out = []
    n, k = int(win * RATE), int(slip * RATE)
    for w in range(int(s * RATE), int(e * RATE) - n + 1, n):
        seg = src[w: w + n].astype(np.float64)
        if dbfs(seg) < -40:
            continue
        a = w + int(lag * RATE)
        ref = rec[max(a - k, 0): a + n + k].astype(np.float64)
        if len(ref) < n + 2 * k:
            out.append(0.0)
            continue
        c = np.correlate(ref, seg, mode="valid")
        energy = np.convolve(ref ** 2, np.ones(n), mode="valid")
        out.append(float((c / np.sqrt(energy * (seg ** 2).sum() + 1e-9)).max()))
    return out


def test_two_phones_call_each_other_and_hear_each_other(rendered, tmp_path):
    d, times = rendered
    port = free_udp_port()

    async def scenario():
        rep = PhoneProcess("rep")
        lead = PhoneProcess("lead")
        try:
            await rep.start(user="rep", listen_port=port, answer_delay=0.1,
                            play=d / "rep.wav", record=tmp_path / "rep-heard.wav")
            assert rep.find("ready")["port"] == port
            await lead.start(user="lead", dial=f"sip:rep@127.0.0.1:{port}",
                             play=d / "lead.wav", record=tmp_path / "lead-heard.wav")
            await rep.wait_event("incoming", 5)
            await lead.wait_event("ringing", 5)
            await lead.wait_event("confirmed", 5)
            await rep.wait_event("confirmed", 5)

            # a third phone calling the busy rep gets 486 and exits with 2
            intruder = PhoneProcess("intruder")
            await intruder.start(user="intruder", dial=f"sip:rep@127.0.0.1:{port}")
            err = await intruder.wait_event("error", 5)
            assert err["code"] == 486
            assert await intruder.close() == 2

            at = time.time() + 0.3
            await lead.send({"cmd": "play", "at": at})
            await rep.send({"cmd": "play", "at": at})
            for p in (lead, rep):
                ev = await p.wait_event("playing", 3)
                assert abs(ev["t"] - at) < 0.03
            for p in (lead, rep):
                await p.wait_event("played", times["duration"] + 3)
            await lead.send({"cmd": "hangup"})
            for p in (lead, rep):
                await p.wait_event("disconnected", 3)
            assert await lead.close() == 0
            rep.proc.send_signal(signal.SIGTERM)                    # SIGTERM is a clean quit too
            await asyncio.wait_for(rep.proc.wait(), 5)
            assert await rep.close() == 0
        finally:
            await lead.close()
            await rep.close()
        return lead, rep

    lead, rep = asyncio.run(scenario())
    assert rep.events[-1]["event"] == "exit" and lead.events[-1]["event"] == "exit"
    plays = {p.name: p.find("playing")["t"] for p in (lead, rep)}

    for me, other in ((lead, rep), (rep, lead)):
        path = tmp_path / f"{me.name}-heard.wav"
        with wave.open(str(path)) as w:                             # a finished, well-formed WAV
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
            frames = w.getnframes()
        assert path.stat().st_size >= 44 + 2 * frames
        confirmed = me.find("confirmed")["t"]
        call_s = me.find("disconnected")["t"] - confirmed
        assert abs(frames / RATE - call_s) < 0.15, (frames / RATE, call_s)

        rec, _ = read_mono(path)
        src, _ = read_mono(d / f"{other.name}.wav")
        expect = plays[other.name] - confirmed                     # where the other side's audio should be
        lag, corr = heard(rec, src, expect)
        # over the whole call one stretched or dropped frame misaligns the rest, so this
        # only says the other side was found at that lag; the windows below judge quality
        assert corr > 0.3, corr
        assert -0.03 <= lag - expect <= 0.2, (lag, expect)          # mouth-to-ear latency
        # in windows: PCMU on loopback is near-identical (corr ~0.9999 when the box is
        # idle); a CPU-starved box can mangle a few hundred ms as the jitter buffer copes
        corrs = []
        for s, e in times[other.name]:                               # the other side's lines are loud ...
            assert dbfs(rec[int((lag + s + 0.05) * RATE): int((lag + e - 0.05) * RATE)]) > -35
            line = window_corrs(rec, src, lag, s, e)
            assert max(line) > 0.95, line
            corrs += line
        assert np.mean(np.array(corrs) > 0.9) >= 0.75, corrs
        for s, e in times[me.name]:                                  # ... my own are not fed back
            assert dbfs(rec[int((lag + s + 0.05) * RATE): int((lag + e - 0.05) * RATE)]) < -60


# --- registration, against a minimal digest-auth registrar --------------------

class FakeRegistrar(asyncio.DatagramProtocol):
    """Answers REGISTER: 401 with a digest challenge, then 200 or 403."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users, self.nonce, self.log = users, secrets.token_hex(8), []

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        msg = data.decode(errors="replace")
        if not msg.startswith("REGISTER "):
            return
        head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
        hdr = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            hdr.setdefault(k.strip().lower(), []).append(v.strip())
        auth = (hdr.get("authorization") or [""])[0]
        copy = [f"{k}: {v}" for k in ("Via", "From", "To", "Call-ID", "CSeq") for v in hdr.get(k.lower(), [])]
        expires = (hdr.get("expires") or ["300"])[0]
        self.log.append((auth != "", expires))
        if not auth:
            status = ["SIP/2.0 401 Unauthorized",
                      f'WWW-Authenticate: Digest realm="test", nonce="{self.nonce}", algorithm=MD5']
        else:
            f = dict(re.findall(r'(\w+)="?([^",]*)"?', auth))
            pw = self.users.get(f.get("username", ""))

            def md5(text: str) -> str:
                return hashlib.md5(text.encode()).hexdigest()
            ha1 = md5(f"{f.get('username')}:test:{pw}")
            ha2 = md5(f"REGISTER:{f.get('uri')}")
            ok = pw is not None and f.get("response") == md5(f"{ha1}:{self.nonce}:{ha2}")
            if not ok:
                status = ["SIP/2.0 403 Forbidden"]
            elif expires == "0":
                status = ["SIP/2.0 200 OK"]
            else:
                status = ["SIP/2.0 200 OK", f"Contact: {hdr['contact'][0]};expires={expires}"]
        lines = status[:1] + copy + status[1:] + ["Content-Length: 0", "", ""]
        self.transport.sendto("\r\n".join(lines).encode(), addr)


def test_register_with_digest_auth_and_unregister_on_quit():
    async def scenario():
        reg = FakeRegistrar({"rep7": "s3cret"})
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: reg, local_addr=("127.0.0.1", 0))
        where = "127.0.0.1:%d" % transport.get_extra_info("sockname")[1]
        try:
            good = await PhoneProcess("good").start(user="rep7", password="s3cret", registrar=where, register=True)
            assert good.find("registered")["expires"] > 0
            assert [e["event"] for e in good.events][:2] == ["registered", "ready"]
            assert await good.close() == 0
            assert reg.log[-1] == (True, "0")                   # unregistered on the way out

            bad = PhoneProcess("bad")
            with pytest.raises(PhoneError) as e:
                await bad.start(user="rep7", password="wrong", registrar=where, register=True)
            assert e.value.event["code"] == 403
            assert await bad.close() == 3
        finally:
            transport.close()

    asyncio.run(scenario())
