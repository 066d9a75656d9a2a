"""Who is asking: passwords, session cookies, signed per-rep links, and
what each role may see. Pure functions (time comes in as `now`).

A session and a signed link are the same kind of token: `purpose|login|
epoch|nonce|id|expiry`, HMAC-signed with the service's secret. Bumping a
user's `epoch` (revoke, new password, role change) ends every session and
link they hold at once. The user's random `nonce` is made when the login is
created, so a login deleted and created again (its epoch back at 1) does not
bring its old tokens back. Each token's random `id` lets one token be ended
alone: a link once used, a session logged out (the store keeps those ids
until the token would have expired anyway).
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
    nonce: str = ""            # random per login; "" for logins made before nonces (their old tokens stay valid)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "User":
        return cls(row["login"], row.get("name") or row["login"], row.get("role") or "rep", row.get("team") or "",
                   row.get("endpoint") or "", bool(row.get("sip_message")), int(row.get("epoch") or 1),
                   row.get("nonce") or "")

    def holds(self, token: "Token") -> bool:
        """The token was made for this user as they are now (not revoked, not an earlier login of the same name)."""
        return token.login == self.login and token.epoch == self.epoch and token.nonce == self.nonce

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
@dataclass(frozen=True)
class Token:
    """What a valid token says. `id` names this one token (to spend or revoke it)."""
    purpose: str
    login: str
    epoch: int
    nonce: str
    id: str
    expires: float


def make_token(secret: bytes, purpose: str, login: str, epoch: int, expires: float, nonce: str = "") -> str:
    payload = f"{purpose}|{login}|{epoch}|{nonce}|{secrets.token_urlsafe(12)}|{int(expires)}"
    return f"{_b64(payload.encode())}.{_b64(_mac(secret, payload))}"


def read_token(secret: bytes, token: str, purpose: str, now: float) -> Optional[Token]:
    """The claims of a valid, unexpired token made for `purpose`; None otherwise.
    A token from before nonces and ids (`purpose|login|epoch|expiry`) reads
    with no nonce and a digest of itself as its id, so a session made before
    an upgrade survives it and can still be logged out."""
    try:
        body, sig = token.split(".", 1)
        payload = _unb64(body).decode()
        if not hmac.compare_digest(_unb64(sig), _mac(secret, payload)):
            return None
        parts = payload.split("|")
        if len(parts) == 4:
            kind, login, epoch, expires = parts
            nonce, tid = "", "h" + hashlib.sha256(payload.encode()).hexdigest()[:24]
        else:
            kind, login, epoch, nonce, tid, expires = parts
        if kind != purpose or float(expires) < now or not tid:
            return None
        return Token(kind, login, int(epoch), nonce, tid, float(expires))
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
    """The call is this rep's: the login it was recorded under when it
    started (pbx resolves the phone to its holder then). Never by the phone
    itself: after a desk move the phone's new holder must not see the old
    holder's calls, nor the old holder lose them."""
    if user.role not in ("rep", "admin"):
        return False
    return bool(user.login) and call.get("rep") == user.login


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
