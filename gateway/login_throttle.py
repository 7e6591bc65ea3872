"""Failed sign-ins, counted per username: past a few failures in a window, that username's
attempts are refused unchecked until the window has passed — a password cannot be guessed
at the gateway's request rate. A success forgets the failures. Pure (the clock is passed in)."""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoginRules:
    max_failures: int = 10
    window_seconds: float = 60.0
    # Usernames remembered at most (the oldest forgotten first): bounded memory whatever
    # an attacker sends.
    max_tracked: int = 100_000


@dataclass
class FailedLogins:
    rules: LoginRules = field(default_factory=LoginRules)
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def refused_for(self, username: str, now: float) -> float:
        """Seconds until this username may try again; 0: it may now."""
        failures = self._recent(username, now)
        if failures is None or len(failures) < self.rules.max_failures:
            return 0.0
        return max(0.0, failures[0] + self.rules.window_seconds - now)

    def failed(self, username: str, now: float) -> None:
        failures = self._recent(username, now)
        if failures is None:
            failures = self._failures[username] = deque(maxlen=self.rules.max_failures)
            while len(self._failures) > self.rules.max_tracked:
                self._failures.popitem(last=False)
        failures.append(now)
        self._failures.move_to_end(username)

    def succeeded(self, username: str) -> None:
        self._failures.pop(username, None)

    def _recent(self, username: str, now: float) -> deque[float] | None:
        failures = self._failures.get(username)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.rules.window_seconds:
            failures.popleft()
        return failures
