"""The adaptive throttle, table-driven: Twilio's numbers (100/s, x0.99, 5 quiet minutes)."""

from __future__ import annotations

import pytest

from services.delivery.scheduling.throttle import Throttle, ThrottleRules, acquire, adopt, on_error, relax

pytestmark = pytest.mark.unit

RULES = ThrottleRules()


def test_first_error_caps_at_100_per_second() -> None:
    state = on_error(Throttle(), now=10.0, rules=RULES)
    assert state.throttled
    assert state.cap == 100.0
    assert state.last_error == 10.0


@pytest.mark.parametrize(("errors", "cap"), [(1, 100.0), (2, 99.0), (3, 98.01), (11, 100.0 * 0.99**10)])
def test_each_further_error_cuts_the_cap_to_99_percent(errors: int, cap: float) -> None:
    state = Throttle()
    for second in range(errors):
        state = on_error(state, now=float(second), rules=RULES)
    assert state.cap == pytest.approx(cap)


def test_the_cap_never_falls_below_the_floor() -> None:
    rules = ThrottleRules(initial_cap=2.0, cut_factor=0.5, floor=1.0)
    state = Throttle()
    for second in range(10):
        state = on_error(state, float(second), rules)
    assert state.cap == 1.0


@pytest.mark.parametrize(
    ("quiet_for", "expected_cap"),
    [
        (0.0, 100.0),  # just failed
        (299.0, 100.0),  # not yet five quiet minutes
        (300.0, 100.0),  # quiet now: the ramp starts here
        (309.9, 100.0),
        (310.0, 150.0),  # one step of x1.5 per 10 s
        (330.0, 100.0 * 1.5**3),
        (390.0, 100.0 * 1.5**9),  # 3,844/s
        (400.0, None),  # past 5,000/s: lifted
    ],
)
def test_the_cap_grows_back_slowly_after_five_quiet_minutes(
    quiet_for: float, expected_cap: float | None
) -> None:
    state = on_error(Throttle(), now=1000.0, rules=RULES)
    relaxed = relax(state, now=1000.0 + quiet_for, rules=RULES)
    assert relaxed.cap == (pytest.approx(expected_cap) if expected_cap is not None else None)


def test_relaxing_in_small_steps_matches_one_big_step() -> None:
    state = on_error(Throttle(), now=0.0, rules=RULES)
    stepwise = state
    for now in range(0, 361):
        stepwise = relax(stepwise, float(now), RULES)
    assert stepwise.cap == pytest.approx(relax(state, 360.0, RULES).cap)
    assert stepwise.cap == pytest.approx(100.0 * 1.5**6)


def test_ramp_grows_step_by_step_until_uncapped() -> None:
    rules = ThrottleRules(
        quiet_seconds=60.0, ramp_interval_seconds=10.0, ramp_factor=2.0, uncapped_above=1000.0
    )
    state = on_error(Throttle(), now=0.0, rules=rules)
    caps = []
    for now in (59.0, 65.0, 70.0, 80.0, 90.0, 100.0):
        state = relax(state, now, rules)
        caps.append(state.cap)
    assert caps == [100.0, 100.0, 200.0, 400.0, 800.0, None]


def test_an_error_during_the_ramp_caps_again() -> None:
    state = Throttle(cap=400.0, last_error=0.0, last_ramp=0.0)
    assert on_error(state, 500.0, RULES).cap == pytest.approx(396.0)


@pytest.mark.parametrize(
    ("state", "wanted", "now", "granted", "wait"),
    [
        (Throttle(), 50, 0.0, 50, 0.0),  # not throttled: everything goes
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 5, 0.0, 0, 0.01),  # empty: wait one token
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 5, 0.05, 5, 0.0),  # 50 ms at 100/s = 5
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 50, 1.0, 10, 0.0),  # burst: 0.1 s worth
        (Throttle(cap=10.0, tokens=0.5, refilled_at=0.0), 1, 0.0, 0, 0.05),
        (Throttle(cap=1.0, tokens=0.0, refilled_at=0.0), 1, 2.0, 1, 0.0),  # burst at least one
    ],
)
def test_acquire_tokens(state: Throttle, wanted: int, now: float, granted: int, wait: float) -> None:
    after, got, wait_for = acquire(state, wanted, now)
    assert got == granted
    assert wait_for == pytest.approx(wait)
    if state.cap is not None:
        assert after.refilled_at == now
        assert after.tokens >= 0


def test_acquire_over_time_holds_the_rate() -> None:
    state = on_error(Throttle(), now=0.0, rules=RULES)  # 100/s
    sent, now = 0, 0.0
    while now < 10.0:
        state, granted, wait = acquire(state, 1000, now)
        sent += granted
        assert granted > 0 or wait > 0
        now += wait if granted == 0 else 0.001
    assert 990 <= sent <= 1011


@pytest.mark.parametrize(
    ("state", "wanted", "now", "share", "granted", "wait"),
    [
        (Throttle(), 50, 0.0, 0.25, 50, 0.0),  # not throttled: no share asked, everything goes
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 5, 0.0, 0.25, 0, 0.04),  # 25/s: a token in 40 ms
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 5, 0.08, 0.25, 2, 0.0),  # 80 ms at 25/s = 2
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 50, 1.0, 0.25, 2, 0.0),  # burst: 0.1 s of 25/s
        (Throttle(cap=100.0, tokens=0.0, refilled_at=0.0), 50, 1.0, 1.0, 10, 0.0),  # alone: the whole cap
    ],
)
def test_acquire_paces_at_this_workers_share_of_the_cap(
    state: Throttle, wanted: int, now: float, share: float, granted: int, wait: float
) -> None:
    _, got, wait_for = acquire(state, wanted, now, share)
    assert got == granted
    assert wait_for == pytest.approx(wait)


@pytest.mark.parametrize("workers", [1, 2, 4, 7])
def test_the_workers_shares_add_up_to_the_cap(workers: int) -> None:
    sent = 0
    for _ in range(workers):
        state, now = on_error(Throttle(), now=0.0, rules=RULES), 0.0
        while now < 10.0:
            state, granted, wait = acquire(state, 1000, now, 1 / workers)
            sent += granted
            now += wait if granted == 0 else 0.001
    assert 990 <= sent <= 1000 + workers * 10


@pytest.mark.parametrize(
    ("state", "cap", "last_error", "expected"),
    [
        # Not throttled here: another worker's cap holds from its error on.
        (
            Throttle(),
            100.0,
            5.0,
            Throttle(cap=100.0, last_error=5.0, last_ramp=5.0, tokens=1.0, refilled_at=9.0),
        ),
        # A newer error's cap (a further cut) wins; the tokens stay within its burst.
        (
            Throttle(cap=100.0, last_error=1.0, last_ramp=1.0, tokens=10.0, refilled_at=8.0),
            50.0,
            5.0,
            Throttle(cap=50.0, last_error=5.0, last_ramp=5.0, tokens=5.0, refilled_at=8.0),
        ),
        # An older error (or the same one, heard back) changes nothing.
        (
            Throttle(cap=99.0, last_error=6.0, last_ramp=6.0),
            100.0,
            5.0,
            Throttle(cap=99.0, last_error=6.0, last_ramp=6.0),
        ),
        (
            Throttle(cap=99.0, last_error=5.0, last_ramp=5.0),
            80.0,
            5.0,
            Throttle(cap=99.0, last_error=5.0, last_ramp=5.0),
        ),
    ],
)
def test_adopt_takes_the_newest_cap_another_worker_set(
    state: Throttle, cap: float, last_error: float, expected: Throttle
) -> None:
    assert adopt(state, cap, last_error, now=9.0) == expected
