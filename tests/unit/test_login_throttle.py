"""Failed sign-ins per username, table-tested with a hand-moved clock."""

from __future__ import annotations

import pytest

from gateway.login_throttle import FailedLogins, LoginRules

pytestmark = pytest.mark.unit

RULES = LoginRules(max_failures=3, window_seconds=60.0, max_tracked=4)


@pytest.mark.parametrize(
    ("failures_at", "asked_at", "refused_for"),
    [
        ([], 0.0, 0.0),
        ([0.0, 1.0], 2.0, 0.0),  # under the limit
        ([0.0, 1.0, 2.0], 3.0, 57.0),  # at the limit: until the oldest leaves the window
        ([0.0, 1.0, 2.0], 60.5, 0.0),  # the oldest has left: below the limit again
        ([0.0, 30.0, 59.0, 61.0], 62.0, 28.0),  # a sliding window, not a fixed one
    ],
)
def test_refusal(failures_at: list[float], asked_at: float, refused_for: float) -> None:
    logins = FailedLogins(RULES)
    for moment in failures_at:
        logins.failed("AC1", moment)
    assert logins.refused_for("AC1", asked_at) == pytest.approx(refused_for)
    assert logins.refused_for("AC2", asked_at) == 0.0  # per username


def test_a_success_forgets_the_failures() -> None:
    logins = FailedLogins(RULES)
    for moment in (0.0, 1.0):
        logins.failed("AC1", moment)
    logins.succeeded("AC1")
    logins.failed("AC1", 2.0)
    assert logins.refused_for("AC1", 3.0) == 0.0


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    logins = FailedLogins(RULES)
    for i in range(10):
        for moment in (0.0, 1.0, 2.0):
            logins.failed(f"AC{i}", moment)
    assert logins.refused_for("AC9", 3.0) > 0  # the newest kept
    assert logins.refused_for("AC0", 3.0) == 0.0  # the oldest forgotten
