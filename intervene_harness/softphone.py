"""A SIP softphone on pjsua2, one process per phone, driven over stdin/stdout.

    python -m intervene_harness.softphone --user lead1 --password PW --registrar 127.0.0.1:5060 \\
        --dial 601 --play lead.wav --record lead-heard.wav

Why a process of its own: pjsua2 owns its thread and event loop (it is polled
from the thread that created it, and calls back into Python from C), and a
crash, a hang or a stray log line in it must not take the test, the demo or
the service down with it. So each phone runs here, alone, and its asyncio
parent (intervene_harness.phone.PhoneProcess) only spawns it and talks to it
over pipes; nothing else imports pjsua2.

Reps pass --register so the PBX can ring them; a phone without --dial waits
for a call and answers it (180 at once, 200 OK after --answer-delay seconds).
Direct calls with no PBX: --listen-port N on the callee and --dial with a full
URI (sip:rep@127.0.0.1:N) on the caller; --registrar may then be left out.

Protocol, one JSON object per line (stdout is reserved for it; pjsua's own
log goes to stderr):

  phone -> parent   {"event": "registered"} (with --register), {"event": "ready", "port": N},
                    {"event": "calling", "to": URI, "t": ...}, {"event": "ringing", "t": ...},
                    {"event": "incoming", "from": URI, "t": ...},
                    {"event": "message", "from": URI, "body": TEXT, "t": ...}   an out-of-call SIP
                                                       MESSAGE arrived (pjsua answers it 200 OK)
                    {"event": "confirmed", "t": T}     T = time.time() when the recorder started:
                                                       recording sample i was heard at about T + i/8000
                    {"event": "playing", "t": T0, "file": ..., "duration": s}   T0 = when the player was
                                                       connected: its audio leaves within one 20 ms frame
                    {"event": "played", "t": T0 + duration, "duration": s}
                    {"event": "disconnected", "t": ..., "code": SIP, "reason": "..."},
                    {"event": "error", "message": "...", "fatal": true, "code": SIP (when there is one)}
                                                       fatal errors end the process; others (a bad
                                                       command) have no "fatal" and change nothing
                    {"event": "exit", "code": exit status}   always last
  parent -> phone   {"cmd": "play", "at": EPOCH}    start the --play file (or "file") at that wall time
                    {"cmd": "stop"}                 stop playing
                    {"cmd": "dial", "to": N|URI}     call (a phone started without --dial)
                    {"cmd": "hangup"}
                    {"cmd": "quit"}                 hang up if needed, finish the recording, exit
                    EOF on stdin = quit (unless --no-stdin); SIGTERM/SIGINT = quit.

Exit status: 0 after a quit, 2 when the call failed (the error event carries
the SIP code), 3 when registration failed, 1 on any other error.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import select
import signal
import sys
import time
import wave
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Optional, Sequence

EXIT_OK, EXIT_ERROR, EXIT_CALL_FAILED, EXIT_REG_FAILED = 0, 1, 2, 3


class _Out:
    """The protocol channel: a private copy of the original stdout."""

    def __init__(self, fd: int) -> None:
        self.f = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def emit(self, event: str, **kw: Any) -> None:
        try:
            self.f.write(json.dumps({"event": event, **kw}) + "\n")
            self.f.flush()
        except (BrokenPipeError, ValueError):
            pass


def _why(e: BaseException) -> str:
    """pjsua2.Error prints as nothing; its .title names the call and .reason the cause."""
    reason = getattr(e, "reason", None)
    if reason:
        title = getattr(e, "title", "")
        return f"{title.split('(')[0] or 'pjsua'}: {reason}"
    return f"{type(e).__name__}: {e}"


def _wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM WAV, got {8 * w.getsampwidth()}-bit")
        if w.getnchannels() != 1:
            raise ValueError(f"{path}: expected a mono WAV, got {w.getnchannels()} channels")
        return w.getnframes() / w.getframerate()


class Phone:
    """One phone, on one thread: pjsua's SIP side has no worker threads (threadCnt 0,
    mainThreadOnly) and run()'s loop polls it, so its callbacks land between our
    own steps and never race them."""

    def __init__(self, a: argparse.Namespace, out: _Out) -> None:
        import pjsua2 as pj
        self.pj, self.a, self.out = pj, a, out
        self.ep: Any = None
        self.acc: Any = None
        self.call: Any = None              # the one call this phone is in (or setting up)
        self.dead_calls: list[Any] = []     # disconnected Call objects, deleted from the main loop
        self.call_role: Optional[str] = None    # "out" | "in"
        self.confirmed = False
        self.ever_confirmed = False
        self.audio: Any = None              # the call's AudioMedia once media is active
        self.recorder: Any = None
        self.recording_done = False
        self.player: Any = None
        self.play_len = 0.0
        self.play_started = 0.0
        self.pending_play: Optional[tuple[float, str]] = None
        self.answer_at: Optional[float] = None
        self.quit = False
        self.exit_code = EXIT_OK
        self.registered = False
        self.unregistering = False
        self.stdin_buf = b""
        self.stdin_open = not a.no_stdin

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        pj, a = self.pj, self.a
        self.ep = pj.Endpoint()
        quiet = a.log_level < 3           # pjlib logs its start-up at level 5 before libInit sets ours
        if quiet:
            saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
        try:
            self.ep.libCreate()
        finally:
            if quiet:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(null)
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.userAgent = "intervene-sim"
        cfg.logConfig.level = a.log_level
        cfg.logConfig.consoleLevel = a.log_level
        cfg.logConfig.msgLogging = 1 if a.log_level >= 4 else 0
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.channelCount = 1
        cfg.medConfig.noVad = True
        cfg.medConfig.ecTailLen = 0
        cfg.medConfig.threadCnt = 1
        self.ep.libInit(cfg)

        tcfg = pj.TransportConfig()
        tcfg.port = a.listen_port or 0
        tcfg.boundAddress = a.bind
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        self.sip_port = self.ep.transportGetInfo(tid).localName.rsplit(":", 1)[-1]
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()

        codecs = [c.codecId for c in self.ep.codecEnum2()]
        want = [c for c in codecs if c.upper().startswith(a.codec.upper() + "/")]
        if not want:
            raise RuntimeError(f"codec {a.codec} not available (have: {', '.join(codecs)})")
        for c in codecs:
            self.ep.codecSetPriority(c, 255 if c in want else 0)

        acfg = pj.AccountConfig()
        host = a.registrar or f"{a.bind}:{self.sip_port}"
        acfg.idUri = f"sip:{a.user}@{host}"
        if a.registrar and a.register:
            acfg.regConfig.registrarUri = f"sip:{a.registrar}"
            acfg.regConfig.registerOnAdd = True
            acfg.regConfig.retryIntervalSec = 0
            acfg.regConfig.timeoutSec = a.reg_expires
        else:
            acfg.regConfig.registerOnAdd = False
        if a.password is not None:
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", a.user, 0, a.password))
        mt = acfg.mediaConfig.transportConfig
        mt.boundAddress = a.bind
        mt.port = random.randrange(20000, 60000, 2)   # pjsua retries upward if taken
        self.acc = _Account(self)
        self.acc.create(acfg, True)
        if not (a.registrar and a.register):
            self._ready()

    def _ready(self) -> None:
        self.out.emit("ready", port=int(self.sip_port), t=time.time())
        if self.a.dial:
            self.dial(self.a.dial)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.start()
            reg_deadline = time.time() + self.a.reg_timeout
            while not self.quit:
                self.ep.libHandleEvents(self._wait_ms())
                if self.a.register and self.a.registrar and not self.registered and time.time() > reg_deadline:
                    self.fail(EXIT_REG_FAILED, f"registration timed out after {self.a.reg_timeout:.0f} s")
                self._read_stdin()
                self._tick()
        except Exception as e:  # report, then clean up
            self.fail(EXIT_ERROR, _why(e))
        finally:
            self.shutdown()
        return self.exit_code

    def _wait_ms(self) -> int:
        """How long the next poll may block: --poll-ms, or less when something is due
        (a scheduled play, the answer, the end of the file). pjsua's own timers
        shorten it too. Commands on stdin wait for the poll to end."""
        now = time.time()
        due = [now + self.a.poll_ms / 1000.0]
        if self.pending_play is not None and self.audio is not None and self.confirmed:
            due.append(self.pending_play[0] - 0.005)
        if self.answer_at is not None:
            due.append(self.answer_at)
        if self.player is not None:
            due.append(self.play_started + self.play_len + 0.06)
        return max(0, int((min(due) - now) * 1000))

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        self.quit = True

    def fail(self, code: int, message: str, sip_code: Optional[int] = None) -> None:
        """A fatal error: report it and quit with exit status `code`."""
        kw = {"code": sip_code} if sip_code is not None else {}
        self.out.emit("error", message=message, fatal=True, **kw)
        if self.exit_code == EXIT_OK:
            self.exit_code = code
        self.quit = True

    def shutdown(self) -> None:
        try:
            if self.ep is not None:
                if self.call is not None and not self._call_gone():
                    try:
                        self.call.hangup(self.pj.CallOpParam())
                    except Exception:
                        pass
                    end = time.time() + 2.0
                    while self.call is not None and not self._call_gone() and time.time() < end:
                        self.ep.libHandleEvents(10)
                self._stop_player()
                self._stop_recorder()
                self.audio = None
                self.call = None
                self.dead_calls.clear()
                if self.acc is not None:
                    if self.registered:                # unregister ourselves, waiting for the answer
                        self.unregistering = True
                        try:
                            self.acc.setRegistration(False)
                            end = time.time() + 1.5
                            while self.unregistering and time.time() < end:
                                self.ep.libHandleEvents(10)
                        except Exception:
                            pass
                    try:
                        self.acc.shutdown()
                    except Exception:
                        pass
                    self.acc = None
                # Nothing is left to wait for: NO_RX_MSG skips pjsua's fixed 1 s grace sleep.
                self.ep.libDestroy(self.pj.PJSUA_DESTROY_NO_RX_MSG)
                self.ep = None
        except Exception as e:
            self.out.emit("error", message=f"shutdown: {_why(e)}", fatal=True)
            if self.exit_code == EXIT_OK:
                self.exit_code = EXIT_ERROR

    def _call_gone(self) -> bool:
        try:
            return self.call.getInfo().state == self.pj.PJSIP_INV_STATE_DISCONNECTED
        except Exception:
            return True

    # --- control --------------------------------------------------------------
    def _read_stdin(self) -> None:
        if not self.stdin_open:
            return
        try:
            ready, _, _ = select.select([0], [], [], 0)
        except (OSError, ValueError):
            ready = [0]
        if not ready:
            return
        try:
            data = os.read(0, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.stdin_open = False
            self.quit = True
            return
        self.stdin_buf += data
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            if line.strip():
                self.command(line)

    def command(self, line: bytes) -> None:
        try:
            cmd = json.loads(line)
            name = cmd["cmd"]
        except (ValueError, KeyError, TypeError):
            self.out.emit("error", message=f"bad command: {line[:200].decode(errors='replace')}")
            return
        if name == "play":
            path = cmd.get("file") or self.a.play
            if not path:
                self.out.emit("error", message="play: no file (start with --play or send \"file\")")
                return
            try:
                _wav_seconds(path)
            except (OSError, ValueError, EOFError, wave.Error) as e:
                self.out.emit("error", message=f"play: {e}")
                return
            self.pending_play = (float(cmd.get("at") or 0.0), path)
        elif name == "stop":
            self.pending_play = None
            if self.player is not None:
                self._stop_player()
                self.out.emit("played", t=time.time(), duration=time.time() - self.play_started, stopped=True)
        elif name == "dial":
            if self.call is not None:
                self.out.emit("error", message="dial: already in a call")
            else:
                self.dial(str(cmd.get("to") or ""))
        elif name == "hangup":
            self.pending_play = None
            if self.call is not None:
                try:
                    self.call.hangup(self.pj.CallOpParam())
                except Exception as e:
                    self.out.emit("error", message=f"hangup: {_why(e)}")
        elif name == "quit":
            self.quit = True
        else:
            self.out.emit("error", message=f"unknown command {name!r}")

    def dial(self, to: str) -> None:
        if to.startswith(("sip:", "sips:")):
            uri = to
        elif self.a.registrar:
            uri = f"sip:{to}@{self.a.registrar}"
        else:
            self.fail(EXIT_ERROR, f"--dial {to}: give a full SIP URI, or --registrar")
            return
        call = _Call(self, self.acc)
        prm = self.pj.CallOpParam(True)
        self.call, self.call_role = call, "out"
        self.confirmed = self.ever_confirmed = False
        self.recording_done = False
        self.out.emit("calling", to=uri, t=time.time())
        try:
            call.makeCall(uri, prm)
        except Exception as e:
            self.call = None
            self.fail(EXIT_CALL_FAILED, f"call to {uri} failed: {_why(e)}")

    # --- timers ---------------------------------------------------------------
    def _tick(self) -> None:
        now = time.time()
        if self.answer_at is not None and now >= self.answer_at and self.call is not None:
            self.answer_at = None
            prm = self.pj.CallOpParam()
            prm.statusCode = 200
            try:
                self.call.answer(prm)
            except Exception as e:
                self.out.emit("error", message=f"answer: {_why(e)}")
        if self.pending_play is not None and self.audio is not None and self.confirmed:
            at, path = self.pending_play
            wait = at - time.time()
            if wait <= 0.012:                       # the poll wakes ~5 ms early: sleep the rest exactly
                if wait > 0:
                    time.sleep(wait)
                self.pending_play = None
                try:
                    self._start_player(path)
                except Exception as e:
                    self._stop_player()
                    self.out.emit("error", message=f"play: {_why(e)}")
        # stop a little after the nominal end so the conference's last frame is out
        if self.player is not None and time.time() >= self.play_started + self.play_len + 0.06:
            t = self.play_started + self.play_len
            self._stop_player()
            self.out.emit("played", t=t, duration=self.play_len)
        if self.dead_calls:
            self.dead_calls.clear()

    def _start_player(self, path: str) -> None:
        self._stop_player()
        p = self.pj.AudioMediaPlayer()
        p.createPlayer(path, self.pj.PJMEDIA_FILE_NO_LOOP)
        self.play_len = _wav_seconds(path)
        p.startTransmit(self.audio)
        self.play_started = time.time()
        self.player = p
        self.out.emit("playing", t=self.play_started, file=path, duration=self.play_len)

    def _stop_player(self) -> None:
        if self.player is not None:
            try:
                if self.audio is not None:
                    self.player.stopTransmit(self.audio)
            except Exception:
                pass
            self.player = None

    def _start_recorder(self) -> None:
        if self.recorder is not None or self.recording_done or not self.a.record or self.audio is None:
            return
        Path(self.a.record).parent.mkdir(parents=True, exist_ok=True)
        r = self.pj.AudioMediaRecorder()
        r.createRecorder(str(self.a.record))
        self.audio.startTransmit(r)
        self.recorder = r

    def _stop_recorder(self) -> None:
        if self.recorder is not None:
            try:
                if self.audio is not None:
                    self.audio.stopTransmit(self.recorder)
            except Exception:
                pass
            self.recorder = None            # destroying it writes the WAV header's sizes
            self.recording_done = True

    # --- pjsua callbacks (main thread) -----------------------------------------
    def on_reg_state(self, code: int, reason: str, expiration: int) -> None:
        if self.unregistering:
            self.unregistering = False
            self.registered = False
            return
        if self.registered or not self.a.register:
            return
        if code // 100 == 2 and expiration > 0:
            self.registered = True
            self.out.emit("registered", t=time.time(), expires=expiration)
            self._ready()
        else:
            self.fail(EXIT_REG_FAILED, f"registration failed: {code} {reason}", sip_code=code)

    def on_incoming(self, call_id: int) -> None:
        call = _Call(self, self.acc, call_id)
        prm = self.pj.CallOpParam()
        if self.call is not None:
            prm.statusCode = 486
            call.hangup(prm)
            self.dead_calls.append(call)
            return
        self.call, self.call_role = call, "in"
        self.confirmed = self.ever_confirmed = False
        self.recording_done = False
        info = call.getInfo()
        self.out.emit("incoming", t=time.time(), **{"from": info.remoteUri})
        prm.statusCode = 180
        call.answer(prm)
        self.answer_at = time.time() + self.a.answer_delay

    def on_message(self, from_uri: str, body: str) -> None:
        self.out.emit("message", t=time.time(), body=body, **{"from": from_uri})

    def on_call_state(self, call: Any) -> None:
        if call is not self.call:
            return
        pj = self.pj
        ci = call.getInfo()
        if ci.state == pj.PJSIP_INV_STATE_EARLY and self.call_role == "out" and ci.lastStatusCode in (180, 183):
            self.out.emit("ringing", t=time.time(), code=ci.lastStatusCode)
        elif ci.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = self.ever_confirmed = True
            self._media_ready()
        elif ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.confirmed = False
            self.answer_at = None
            self.pending_play = None
            self._stop_player()
            self._stop_recorder()
            self.audio = None
            self.out.emit("disconnected", t=time.time(), code=ci.lastStatusCode, reason=ci.lastReason)
            self.dead_calls.append(call)
            self.call = None
            if not self.ever_confirmed and self.call_role == "out" and not self.quit:
                self.fail(EXIT_CALL_FAILED, f"call failed: {ci.lastStatusCode} {ci.lastReason}",
                          sip_code=ci.lastStatusCode)
            elif self.a.exit_on_hangup:
                self.quit = True

    def on_call_media_state(self, call: Any) -> None:
        if call is not self.call:
            return
        pj = self.pj
        ci = call.getInfo()
        for i, m in enumerate(ci.media):
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.audio = call.getAudioMedia(i)
                if self.player is not None:   # re-INVITE: keep talking into the new stream
                    self.player.startTransmit(self.audio)
                if self.recorder is not None:
                    self.audio.startTransmit(self.recorder)
                self._media_ready()
                return

    def _media_ready(self) -> None:
        if not (self.confirmed and self.audio is not None) or getattr(self.call, "announced", False):
            return
        self.call.announced = True
        self._start_recorder()
        self.out.emit("confirmed", t=time.time(), recording=bool(self.recorder))


def _make_classes() -> tuple[type, type]:
    """The pjsua2 subclasses, made on first use so that importing this module
    (and --help) does not load pjsua2."""
    import pjsua2 as pj

    # A Python exception must not unwind through pjsua's C code (SWIG turns it
    # into a C++ exception there): every callback catches and reports.
    def guarded(phone: Phone, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as e:
            phone.fail(EXIT_ERROR, _why(e))

    class Account(pj.Account):
        def __init__(self, phone: Phone) -> None:
            super().__init__()
            self.phone = phone

        def onRegState(self, prm: Any) -> None:
            guarded(self.phone, lambda: self.phone.on_reg_state(prm.code, prm.reason, self.getInfo().regExpiresSec))

        def onIncomingCall(self, prm: Any) -> None:
            guarded(self.phone, self.phone.on_incoming, prm.callId)

        def onInstantMessage(self, prm: Any) -> None:
            guarded(self.phone, self.phone.on_message, prm.fromUri, prm.msgBody)

    class Call(pj.Call):
        def __init__(self, phone: Phone, acc: Any, call_id: int = pj.PJSUA_INVALID_ID) -> None:
            super().__init__(acc, call_id)
            self.phone = phone
            self.announced = False

        def onCallState(self, prm: Any) -> None:
            guarded(self.phone, self.phone.on_call_state, self)

        def onCallMediaState(self, prm: Any) -> None:
            guarded(self.phone, self.phone.on_call_media_state, self)

    return Account, Call


def _Account(phone: Phone) -> Any:
    return _classes()[0](phone)


def _Call(phone: Phone, acc: Any, call_id: Optional[int] = None) -> Any:
    Call = _classes()[1]
    return Call(phone, acc) if call_id is None else Call(phone, acc, call_id)


_cls: Optional[tuple[type, type]] = None


def _classes() -> tuple[type, type]:
    global _cls
    if _cls is None:
        _cls = _make_classes()
    return _cls


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m intervene_harness.softphone",
                                 description="A pjsua2 softphone driven by JSON lines on stdin/stdout.")
    ap.add_argument("--user", required=True, help="SIP user (From user / auth user)")
    ap.add_argument("--password", help="digest password")
    ap.add_argument("--registrar", help="SIP server HOST:PORT, e.g. 127.0.0.1:5060")
    ap.add_argument("--register", action="store_true", help="register with the registrar (reps)")
    ap.add_argument("--dial", help="call this extension (at --registrar) or full SIP URI once ready")
    ap.add_argument("--answer-delay", type=float, default=0.5, help="seconds from ringing to 200 OK")
    ap.add_argument("--play", help="8 kHz mono 16-bit WAV to play on {\"cmd\":\"play\"}")
    ap.add_argument("--record", help="write what the phone hears to this WAV (8 kHz mono 16-bit)")
    ap.add_argument("--codec", default="PCMU", help="the only codec offered/accepted (default PCMU)")
    ap.add_argument("--bind", default="127.0.0.1", help="local address for SIP and RTP")
    ap.add_argument("--listen-port", type=int, default=0, help="local SIP UDP port (default: any free one)")
    ap.add_argument("--reg-timeout", type=float, default=10.0, help="give up registering after this long")
    ap.add_argument("--reg-expires", type=int, default=300)
    ap.add_argument("--exit-on-hangup", action="store_true", help="exit once the call ends")
    ap.add_argument("--no-stdin", action="store_true", help="ignore stdin (run until SIGTERM or hangup)")
    ap.add_argument("--poll-ms", type=int, default=50,
                    help="longest wait for SIP events before looking at stdin (default 50; CPU vs command latency)")
    ap.add_argument("--log-level", type=int, default=1, help="pjsua log level to stderr (0-6)")
    a = ap.parse_args(argv)
    if a.register and not a.registrar:
        ap.error("--register needs --registrar")
    if a.play:
        try:
            _wav_seconds(a.play)
        except (OSError, ValueError, EOFError, wave.Error) as e:
            ap.error(f"--play: {e}")
    return a


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = parse_args(argv)
    # stdout is the protocol: keep a private copy, and send everything else
    # written to fd 1 (pjsua's console log, stray prints) to stderr.
    out = _Out(os.dup(1))
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    phone = Phone(a, out)
    code = phone.run()
    out.emit("exit", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
