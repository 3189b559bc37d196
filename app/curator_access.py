"""What stands between a password guesser and the curator pages, without Streamlit: a login
throttle (backoff, then lockouts that double) and the signed, expiring curator cookie that keeps
a curator logged in across reloads. `app.ui.auth` wires both into the pages.

Throttle: failures are counted per key. An attempt has three (`LoginKeys`): its browser session,
its client, and the curator account. After `free_failures` wrong passwords a key waits 1 s, then
2 s …; from `lockout_after` failures on, each failure locks it for `lockout_s`, doubling up to
`max_wait_s`. Only keys that are the guesser's alone *refuse* an attempt while they wait (without
looking at the password, and without counting it): the session, and the client when it is told
apart from others (a real address, or the one a configured trusted proxy header names). Keys that
strangers share (the account, and a client all local or proxied visitors share) only *slow* the
answer, by their wait capped at `max_answer_delay_s`: so guessing slows for everyone, but no
stranger can lock the curator out, and the right password always gets in. A right password
clears the session's and the client's keys. One store serves the whole process (a module-level
instance in `app.ui.auth`), guarded by a lock; entries are forgotten `forget_after_s` after their
last failure, and the store never holds more than `max_entries`.

Cookie: ``v1.<expires>.<nonce>.<mac>``, the MAC an HMAC-SHA256 over the rest under a key derived
from the admin password and a random key held by the server process. So it can't be forged
without both, it expires by itself, changing the password (or restarting the server) voids
every cookie, and a logged-out cookie's nonce is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

COOKIE_NAME = "moodtune_curator"
ACCOUNT_KEY = "account:curator"  # the one curator account
SHARED_CLIENT = "ip:local"  # what clients are when they can't be told apart
COOKIE_TTL_S = 8 * 3600  # a working day; the curator logs in again after it
_COOKIE_VERSION = "v1"
_COOKIE_SHAPE = re.compile(
    r"v1\.(?P<expires>[0-9]{1,12})\.(?P<nonce>[A-Za-z0-9_-]{1,64})\.(?P<mac>[0-9a-f]{64})", re.ASCII
)


@dataclass
class _Entry:
    failures: int = 0
    last_failure: float = 0.0
    allowed_at: float = 0.0


@dataclass(frozen=True)
class LoginKeys:
    """The throttle keys of one login attempt (see the module docstring)."""

    session: str
    client: str
    client_is_distinct: bool
    account: str = ACCOUNT_KEY

    @property
    def refusing(self) -> tuple[str, ...]:
        """Keys whose wait refuses the attempt: the guesser's own."""
        return (self.session, self.client) if self.client_is_distinct else (self.session,)

    @property
    def slowing(self) -> tuple[str, ...]:
        """Keys shared with strangers: their wait only delays the answer."""
        return (self.account,) if self.client_is_distinct else (self.client, self.account)


def client_key(
    ip: object, headers: Mapping[str, str] | None = None, trusted_header: str | None = None
) -> tuple[str, bool]:
    """(throttle key, told apart from other clients?) for a connection from `ip`. With a trusted
    proxy header (e.g. X-Forwarded-For, set by the proxy in front of the app) the client is the
    last address in it, the one that proxy added (earlier ones are the client's own claims)."""
    if trusted_header:
        named = _address(((headers or {}).get(trusted_header) or "").split(",")[-1])
        if named is not None:
            return f"ip:{named}", True
        return SHARED_CLIENT, False  # not through the proxy, or it said nothing usable
    address = _address(ip)
    if address is None or address.is_loopback:
        return SHARED_CLIENT, False
    return f"ip:{address}", True


def _address(value: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Verdict:
    """After a failure: how many failures the worst of its keys has, and how long it must wait."""

    failures: int
    wait_s: float


class LoginThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 3,
        lockout_after: int = 5,
        lockout_s: float = 60.0,
        max_wait_s: float = 3600.0,
        forget_after_s: float = 24 * 3600.0,
        max_entries: int = 10_000,
        max_answer_delay_s: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.free_failures = free_failures
        self.lockout_after = lockout_after
        self.lockout_s = lockout_s
        self.max_wait_s = max_wait_s
        self.forget_after_s = forget_after_s
        self.max_entries = max_entries
        self.max_answer_delay_s = max_answer_delay_s
        self.clock = clock
        self.sleep = sleep
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def delay_after(self, failures: int) -> float:
        """The wait that `failures` consecutive wrong passwords earn."""
        if failures < self.free_failures:
            return 0.0
        if failures < self.lockout_after:
            return float(2 ** (failures - self.free_failures))
        return min(self.max_wait_s, self.lockout_s * 2 ** (failures - self.lockout_after))

    def wait_s(self, keys: Iterable[str]) -> float:
        """Seconds until any of `keys` may try again (0: it may try now)."""
        now = self.clock()
        with self._lock:
            entries = [self._entries.get(k) for k in keys]
        return max([0.0, *(e.allowed_at - now for e in entries if e is not None)])

    def slow_down(self, keys: Iterable[str]) -> float:
        """Sleep for the wait of `keys` (shared keys), capped at max_answer_delay_s; returns it."""
        delay = min(self.max_answer_delay_s, self.wait_s(keys))
        if delay > 0:
            self.sleep(delay)
        return delay

    def failure(self, keys: Iterable[str]) -> Verdict:
        """Count one wrong password against each of `keys`."""
        now = self.clock()
        worst = Verdict(0, 0.0)
        with self._lock:
            self._prune(now)
            for key in keys:
                entry = self._entries.setdefault(key, _Entry())
                entry.failures += 1
                entry.last_failure = now
                entry.allowed_at = now + self.delay_after(entry.failures)
                if entry.failures > worst.failures:
                    worst = Verdict(entry.failures, entry.allowed_at - now)
        return worst

    def success(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _prune(self, now: float) -> None:
        stale = [
            k for k, e in self._entries.items() if now - e.last_failure > self.forget_after_s and e.allowed_at <= now
        ]
        for key in stale:
            del self._entries[key]
        if len(self._entries) >= self.max_entries:  # a flood of keys: drop the oldest
            for key in sorted(self._entries, key=lambda k: self._entries[k].last_failure)[
                : len(self._entries) // 10 + 1
            ]:
                del self._entries[key]


# ----------------------------------------------------------------------------- the curator cookie


class CookieSigner:
    """Signs and checks curator cookies under a random key that lives only in this process."""

    def __init__(self, server_key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self._server_key = server_key if server_key is not None else secrets.token_bytes(32)
        self.clock = clock
        self._revoked: dict[str, int] = {}  # nonce -> its cookie's expiry
        self._lock = threading.Lock()

    def _mac(self, password: str, payload: str) -> str:
        key = hmac.new(self._server_key, b"moodtune curator cookie\0" + password.encode("utf-8"), hashlib.sha256)
        return hmac.new(key.digest(), payload.encode("ascii"), hashlib.sha256).hexdigest()

    def sign(self, password: str, ttl_s: float = COOKIE_TTL_S) -> str:
        payload = f"{_COOKIE_VERSION}.{int(self.clock() + ttl_s)}.{secrets.token_urlsafe(16)}"
        return f"{payload}.{self._mac(password, payload)}"

    def _parts(self, value: object) -> tuple[str, int, str, str] | None:
        """The cookie's fields, or None for anything that isn't exactly what `sign` makes: any
        page on the same host can set a cookie, so a malformed one (non-ASCII, a superscript
        digit) is treated as absent, never raised."""
        if not isinstance(value, str) or len(value) > 256:
            return None
        match = _COOKIE_SHAPE.fullmatch(value)
        if match is None:
            return None
        return _COOKIE_VERSION, int(match["expires"]), match["nonce"], match["mac"]

    def verify(self, value: object, password: str | None) -> bool:
        """True for an unexpired, unrevoked cookie this process signed under `password`."""
        parts = self._parts(value)
        if parts is None or not password:
            return False
        version, expires, nonce, mac = parts
        if not hmac.compare_digest(mac, self._mac(password, f"{version}.{expires}.{nonce}")):
            return False
        with self._lock:
            revoked = nonce in self._revoked
        return not revoked and self.clock() < expires

    def seconds_left(self, value: object) -> int:
        """Seconds until a cookie's signed expiry (0 if gone or malformed): its browser Max-Age."""
        parts = self._parts(value)
        return max(0, int(parts[1] - self.clock())) if parts is not None else 0

    def revoke(self, value: object) -> None:
        """Void a cookie before it expires (log-out), whether or not the browser drops it."""
        parts = self._parts(value)
        if parts is None:
            return
        now = self.clock()
        with self._lock:
            for nonce in [n for n, expires in self._revoked.items() if expires <= now]:
                del self._revoked[nonce]
            self._revoked[parts[2]] = parts[1]
