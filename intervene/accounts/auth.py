"""Who is asking: passwords, session cookies, signed per-rep links, and
what each role may see. Pure functions (time comes in as `now`).

A session and a signed link are the same kind of token: `purpose|login|
epoch|expiry`, HMAC-signed with the service's secret. Bumping a user's
`epoch` (revoke, new password, role change) ends every session and link
they hold at once, with no session table to clean up.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Mapping, Optional

ROLES = ("rep", "supervisor", "admin")
SESSION_S = 12 * 3600          # a working day: a rep logs in once per shift
LOGIN_MAX_FAILS = 5            # per login within LOGIN_WINDOW_S, then LOGIN_LOCK_S locked
LOGIN_WINDOW_S = 300.0
LOGIN_LOCK_S = 60.0
_SCRYPT = (2 ** 14, 8, 1)      # n, r, p: ~50 ms here; a login is rare, a guess should be dear


@dataclass(frozen=True)
class User:
    login: str
    name: str
    role: str                  # rep | supervisor | admin | service (the bearer token: read-only)
    team: str = ""
    endpoint: str = ""         # the rep's phone as the dialplan names it, e.g. PJSIP/rep1
    sip_message: bool = False  # also send each card as a SIP MESSAGE to that phone
    epoch: int = 1

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "User":
        return cls(row["login"], row.get("name") or row["login"], row.get("role") or "rep", row.get("team") or "",
                   row.get("endpoint") or "", bool(row.get("sip_message")), int(row.get("epoch") or 1))

    def public(self) -> dict[str, Any]:
        return {"login": self.login, "name": self.name, "role": self.role, "team": self.team}


SERVICE = User("service", "API token", "service")


# ------------------------------------------------------------- passwords
def hash_password(password: str, salt: Optional[bytes] = None) -> str:
    salt = salt or secrets.token_bytes(16)
    n, r, p = _SCRYPT
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: Optional[str]) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


# ---------------------------------------------------------------- tokens
def make_token(secret: bytes, purpose: str, login: str, epoch: int, expires: float) -> str:
    payload = f"{purpose}|{login}|{epoch}|{int(expires)}"
    return f"{_b64(payload.encode())}.{_b64(_mac(secret, payload))}"


def read_token(secret: bytes, token: str, purpose: str, now: float) -> Optional[tuple[str, int]]:
    """(login, epoch) of a valid, unexpired token made for `purpose`; None otherwise."""
    try:
        body, sig = token.split(".", 1)
        payload = _unb64(body).decode()
        if not hmac.compare_digest(_unb64(sig), _mac(secret, payload)):
            return None
        kind, login, epoch, expires = payload.split("|")
        if kind != purpose or float(expires) < now:
            return None
        return login, int(epoch)
    except (ValueError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------- access
def can_see(user: User, call: Mapping[str, Any]) -> bool:
    """A rep sees their own calls; a supervisor their team's (all, without
    a team); an admin and the API token everything."""
    if user.role in ("admin", "service"):
        return True
    if user.role == "supervisor":
        return not user.team or call.get("team") == user.team
    return owns(user, call)


def owns(user: User, call: Mapping[str, Any]) -> bool:
    """The call is this rep's: by login (the dialplan's rep name) or by their phone."""
    if user.role not in ("rep", "admin"):
        return False
    return call.get("rep") == user.login or bool(user.endpoint and call.get("rep_endpoint") == user.endpoint)


class LoginThrottle:
    """Slows password guessing per login: after LOGIN_MAX_FAILS failures in
    LOGIN_WINDOW_S, refuse that login for LOGIN_LOCK_S."""

    def __init__(self) -> None:
        self._fails: dict[str, list[float]] = {}

    def locked(self, login: str, now: float) -> bool:
        recent = [t for t in self._fails.get(login, []) if now - t < LOGIN_WINDOW_S]
        self._fails[login] = recent
        return len(recent) >= LOGIN_MAX_FAILS and now - recent[-1] < LOGIN_LOCK_S

    def failed(self, login: str, now: float) -> None:
        self._fails.setdefault(login, []).append(now)

    def succeeded(self, login: str) -> None:
        self._fails.pop(login, None)


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
