"""Failed sign-ins per username and client address, table-tested with a hand-moved clock."""

from __future__ import annotations

import pytest

from gateway.login_throttle import FailedLogins, LoginRules, client_of

pytestmark = pytest.mark.unit

RULES = LoginRules(max_failures=3, window_seconds=60.0, max_tracked=4)
HERE, THERE = "203.0.113.7", "198.51.100.9"


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
        logins.failed("AC1", HERE, moment)
    assert logins.refused_for("AC1", HERE, asked_at) == pytest.approx(refused_for)
    assert logins.refused_for("AC2", HERE, asked_at) == 0.0  # per username
    # A stranger spending the budget never refuses the same username elsewhere.
    assert logins.refused_for("AC1", THERE, asked_at) == 0.0


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # a subscriber's whole block
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 on a dual-stack socket
        ("testclient", "testclient"),  # not an address: itself
        (None, ""),
    ],
)
def test_client_of(address: str | None, counted_as: str) -> None:
    assert client_of(address) == counted_as


def test_an_ipv6_block_shares_one_budget() -> None:
    logins = FailedLogins(RULES)
    for i, moment in enumerate((0.0, 1.0, 2.0)):
        logins.failed("AC1", f"2001:db8:1:2::{i + 1}", moment)
    assert logins.refused_for("AC1", "2001:db8:1:2::99", 3.0) > 0
    assert logins.refused_for("AC1", "2001:db8:1:3::1", 3.0) == 0.0


def test_a_success_forgets_the_failures() -> None:
    logins = FailedLogins(RULES)
    for moment in (0.0, 1.0):
        logins.failed("AC1", HERE, moment)
    logins.succeeded("AC1", HERE)
    logins.failed("AC1", HERE, 2.0)
    assert logins.refused_for("AC1", HERE, 3.0) == 0.0


def test_memory_is_bounded_oldest_forgotten_first() -> None:
    logins = FailedLogins(RULES)
    for i in range(10):
        for moment in (0.0, 1.0, 2.0):
            logins.failed("AC1", f"10.0.0.{i}", moment)
    assert logins.refused_for("AC1", "10.0.0.9", 3.0) > 0  # the newest kept
    assert logins.refused_for("AC1", "10.0.0.0", 3.0) == 0.0  # the oldest forgotten
