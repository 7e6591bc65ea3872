"""Failed sign-ins, counted per username *and client address*: past a few failures in a
window, that username's attempts from that address are refused unchecked until the window
has passed — a password cannot be guessed at the gateway's request rate. Counting per
username alone would let anyone who knows an Account SID (it is in every URL) lock its owner
out by failing on purpose; counted per address, a stranger's failures refuse only the
stranger. An IPv6 client is counted by its /64, the block one subscriber is given, so a new
address from the same block is no new budget. A success forgets the failures of its key.
Pure (the clock is passed in)."""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from dataclasses import dataclass, field

Key = tuple[str, str]  # (username, client)


@dataclass(frozen=True)
class LoginRules:
    max_failures: int = 10
    window_seconds: float = 60.0
    # Keys remembered at most (the oldest forgotten first): bounded memory whatever an
    # attacker sends.
    max_tracked: int = 100_000


def client_of(address: str | None) -> str:
    """The part of a client's address its failures are counted under."""
    if not address:
        return ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass
class FailedLogins:
    rules: LoginRules = field(default_factory=LoginRules)
    _failures: OrderedDict[Key, deque[float]] = field(default_factory=OrderedDict)

    def refused_for(self, username: str, address: str | None, now: float) -> float:
        """Seconds until this username may try again from this address; 0: it may now."""
        failures = self._recent((username, client_of(address)), now)
        if failures is None or len(failures) < self.rules.max_failures:
            return 0.0
        return max(0.0, failures[0] + self.rules.window_seconds - now)

    def failed(self, username: str, address: str | None, now: float) -> None:
        key = (username, client_of(address))
        failures = self._recent(key, now)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.rules.max_failures)
            while len(self._failures) > self.rules.max_tracked:
                self._failures.popitem(last=False)
        failures.append(now)
        self._failures.move_to_end(key)

    def succeeded(self, username: str, address: str | None) -> None:
        self._failures.pop((username, client_of(address)), None)

    def _recent(self, key: Key, now: float) -> deque[float] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.rules.window_seconds:
            failures.popleft()
        return failures
