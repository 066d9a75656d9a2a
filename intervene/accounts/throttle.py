"""Slows password guessing without handing anyone a way to lock a user out.

A lock keyed on the login alone (what this replaced) lets anyone who knows
the admin's login keep the admin out for good with five guesses a minute.
So the counters are keyed by who guesses as well as by what is guessed,
each over LOGIN_WINDOW_S:

- one address, one login: LOGIN_MAX_FAILS failures and that address may not
  try that login for LOGIN_LOCK_S (a typo streak, or one guesser on one account);
- one address, any logins: ADDR_MAX_FAILS failures and that address may not
  try any login for ADDR_LOCK_S (one guesser spraying many logins);
- one login, many addresses: SPREAD_FAILS failures from at least SPREAD_ADDRS
  addresses and the login is locked for LOGIN_LOCK_S, but only for addresses
  it has not signed in from within TRUST_S (a distributed guess; the real
  user at their usual desk still gets in).

One address alone can therefore only ever lock itself out: it cannot reach
the spread lock (it needs SPREAD_ADDRS addresses), and the other two locks
hold only it. An IPv6 address counts by its /64, since one host has many.
Every table is bounded (MAX_ENTRIES, oldest dropped) so a flood of made-up
logins costs a fixed amount of memory. Pure: time comes in as `now`.
"""
from __future__ import annotations

import collections
import ipaddress
from typing import Deque, Generic, Hashable, Optional, TypeVar

LOGIN_MAX_FAILS = 5
LOGIN_WINDOW_S = 300.0
LOGIN_LOCK_S = 60.0
ADDR_MAX_FAILS = 20
ADDR_LOCK_S = 300.0
SPREAD_FAILS = 20
SPREAD_ADDRS = 3
TRUST_S = 30 * 86400.0
MAX_ENTRIES = 10_000

K = TypeVar("K", bound=Hashable)


class _Recent(Generic[K]):
    """Per key, the times (and addresses) of its last `keep` failures; at most MAX_ENTRIES keys."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.rows: collections.OrderedDict[K, Deque[tuple[float, str]]] = collections.OrderedDict()

    def add(self, key: K, now: float, addr: str = "") -> None:
        row = self.rows.pop(key, None) or collections.deque(maxlen=self.keep)
        row.append((now, addr))
        self.rows[key] = row                                # newest last: the oldest go first
        while len(self.rows) > MAX_ENTRIES:
            self.rows.popitem(last=False)

    def recent(self, key: K, now: float) -> list[tuple[float, str]]:
        return [r for r in self.rows.get(key, ()) if now - r[0] < LOGIN_WINDOW_S]

    def drop(self, key: K) -> None:
        self.rows.pop(key, None)


class LoginThrottle:
    def __init__(self) -> None:
        self._pair: _Recent[tuple[str, str]] = _Recent(LOGIN_MAX_FAILS)
        self._addr: _Recent[str] = _Recent(ADDR_MAX_FAILS)
        self._login: _Recent[str] = _Recent(SPREAD_FAILS)
        self._trusted: collections.OrderedDict[tuple[str, str], float] = collections.OrderedDict()

    def locked(self, login: str, address: Optional[str], now: float) -> bool:
        addr = address_key(address)
        pair = self._pair.recent((login, addr), now)
        if len(pair) >= LOGIN_MAX_FAILS and now - pair[-1][0] < LOGIN_LOCK_S:
            return True
        mine = self._addr.recent(addr, now)
        if len(mine) >= ADDR_MAX_FAILS and now - mine[-1][0] < ADDR_LOCK_S:
            return True
        spread = self._login.recent(login, now)
        if (len(spread) >= SPREAD_FAILS and len({a for _, a in spread}) >= SPREAD_ADDRS
                and now - spread[-1][0] < LOGIN_LOCK_S):
            return now - self._trusted.get((login, addr), -TRUST_S) >= TRUST_S
        return False

    def failed(self, login: str, address: Optional[str], now: float) -> None:
        addr = address_key(address)
        self._pair.add((login, addr), now)
        self._addr.add(addr, now)
        self._login.add(login, now, addr)

    def succeeded(self, login: str, address: Optional[str], now: float) -> None:
        addr = address_key(address)
        self._pair.drop((login, addr))
        self._trusted.pop((login, addr), None)
        self._trusted[(login, addr)] = now
        while len(self._trusted) > MAX_ENTRIES:
            self._trusted.popitem(last=False)

    def size(self) -> int:
        """Entries held in all tables (bounded by 4 x MAX_ENTRIES)."""
        return len(self._pair.rows) + len(self._addr.rows) + len(self._login.rows) + len(self._trusted)


def address_key(address: Optional[str]) -> str:
    """The unit one guesser controls: an IPv4 address, an IPv6 /64."""
    if not address:
        return "?"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 6 and getattr(ip, "ipv4_mapped", None) is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)
