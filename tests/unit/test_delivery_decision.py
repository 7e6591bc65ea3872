"""decide(), table-tested: every sink type's ack / retry / dead-letter rule in one table."""

from __future__ import annotations

import random

import pytest

from services.delivery.errors import (
    ConnectFailed,
    Rejected,
    SchemaMismatch,
    ServerError,
    Throttled,
    TimedOut,
    TooLarge,
)
from services.delivery.settling.decision import (
    Ack,
    DeadLetter,
    Decision,
    Happened,
    HeldBack,
    Park,
    Paused,
    Retry,
    RetryRules,
    SinkState,
    UnknownSink,
    decide,
    probe_gap,
)
from services.delivery.sinks.base import Outcome
from services.delivery.sinks.kinesis.errors import KinesisWriteFailed, StreamUnresolvable

pytestmark = pytest.mark.unit

RULES = RetryRules(base_seconds=1.0, max_delay_seconds=300.0, max_age_seconds=4 * 3600.0)
HEALTHY = SinkState()
DOWN_20S = SinkState(outage_seconds=20.0)
DOWN_1H = SinkState(outage_seconds=3600.0)
HOUR = 3600.0


class Top(random.Random):
    """Jitter at its top: delays are their ceilings."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("happened", "attempt", "age", "sink", "expected"),
    [
        # Delivered.
        (Outcome(status=200), 1, 0.0, HEALTHY, Ack()),
        (Outcome(), 9, 3 * HOUR, DOWN_1H, Ack()),
        # Permanent: a dead letter with the error's code and status, whatever the attempt.
        (Outcome(error=Rejected("no", status=400)), 1, 0.0, HEALTHY, DeadLetter("no", 91305, 400)),
        (Outcome(error=TooLarge("big")), 1, 0.0, HEALTHY, DeadLetter("big", 91300)),
        (Outcome(error=SchemaMismatch("shape")), 1, 0.0, HEALTHY, DeadLetter("shape", 91303)),
        (Outcome(error=StreamUnresolvable("gone")), 1, 0.0, HEALTHY, DeadLetter("gone", 93104)),
        # Retryable, healthy sink: first failure retried after the base delay.
        (Outcome(error=ServerError("5xx", status=500)), 1, 0.0, HEALTHY, Retry(1.0, attempted=True)),
        (Outcome(error=TimedOut("slow")), 1, 0.0, HEALTHY, Retry(1.0, attempted=True)),
        (Outcome(error=KinesisWriteFailed("w")), 1, 0.0, HEALTHY, Retry(1.0, attempted=True)),
        # A sink that answers: the event backs off by its own attempts, in full.
        (Outcome(error=KinesisWriteFailed("w")), 5, 60.0, HEALTHY, Retry(16.0, attempted=True)),
        (Outcome(error=KinesisWriteFailed("w")), 20, 600.0, HEALTHY, Retry(300.0, attempted=True)),
        # Backoff by the event's attempts, but within a third of its sink's outage.
        (Outcome(error=ConnectFailed("x")), 3, 10.0, DOWN_20S, Retry(4.0, attempted=True)),
        (Outcome(error=ConnectFailed("x")), 8, 10.0, DOWN_20S, Retry(20.0, attempted=True)),
        (Outcome(error=ConnectFailed("x")), 30, 2 * HOUR, DOWN_1H, Retry(300.0, attempted=True)),
        # Retry-After wins over backoff (it knows best), up to an hour.
        (Outcome(error=Throttled("429", retry_after=30.0)), 1, 0.0, HEALTHY, Retry(30.0, attempted=True)),
        (Outcome(error=Throttled("429", retry_after=1e9)), 1, 0.0, HEALTHY, Retry(3600.0, attempted=True)),
        # The retry window (Twilio: 4 h) closes: a dead letter that says so, with the last error.
        (
            Outcome(error=ServerError("receiver failed (HTTP 503)", status=503)),
            40,
            4 * HOUR,
            DOWN_1H,
            DeadLetter("retry window exceeded: receiver failed (HTTP 503)", 91306, 503),
        ),
        # Held back from a failing sink: parked until it answers (not an attempt); should
        # parking fail, handed back within the outage's length.
        (HeldBack(), 1, 5.0, DOWN_20S, Park(20.0)),
        (HeldBack(), 1, 5.0, SinkState(outage_seconds=0.3), Park(1.0)),
        (HeldBack(), 1, HOUR, DOWN_1H, Park(300.0)),
        # Held back from a throttled sink: when its lane should be through what it holds.
        (HeldBack(), 1, 5.0, SinkState(throttle_cap=10.0, queued=40), Retry(4.0, attempted=False)),
        (HeldBack(), 1, 5.0, SinkState(throttle_cap=100.0, queued=1), Retry(0.5, attempted=False)),
        # Held back from a slow sink: its queue at its pace.
        (
            HeldBack(),
            1,
            5.0,
            SinkState(call_seconds=0.9, queued=64, concurrency=32),
            Retry(1.8, attempted=False),
        ),
        (
            HeldBack(),
            1,
            4 * HOUR,
            DOWN_1H,
            DeadLetter("retry window exceeded while the sink was failing, throttled or slow", 91300),
        ),
        # Its owner paused the sink: parked whatever its lane's state, handed back now and
        # then should parking fail; past the retry window, a dead letter as parking makes it.
        (Paused(), 1, 5.0, HEALTHY, Park(30.0)),
        (Paused(), 3, HOUR, DOWN_1H, Park(30.0)),
        (
            Paused(),
            1,
            4 * HOUR,
            HEALTHY,
            DeadLetter("retry window exceeded while the sink was paused", 91300),
        ),
        # A sink this worker does not know yet: asked about a few times, then gone.
        (UnknownSink(), 1, 0.0, HEALTHY, Retry(1.0, attempted=False)),
        (UnknownSink(), 4, 0.0, HEALTHY, Retry(1.0, attempted=False)),
        (UnknownSink(), 5, 0.0, HEALTHY, DeadLetter("the sink no longer exists", 91303)),
        # A worker whose snapshot is behind the router's (a brand-new sink): waits for it
        # through the whole retry window, however many times it asked...
        (UnknownSink(behind=True), 50, 600.0, HEALTHY, Retry(1.0, attempted=False)),
        (UnknownSink(behind=True), 5000, 4 * HOUR, HEALTHY, DeadLetter("the sink no longer exists", 91303)),
        # ... and one as new as the router's knows the sink is gone: at once.
        (UnknownSink(behind=False), 1, 0.0, HEALTHY, DeadLetter("the sink no longer exists", 91303)),
    ],
)
def test_decide(happened: Happened, attempt: int, age: float, sink: SinkState, expected: Decision) -> None:
    got = decide(happened, attempt, age, sink, RULES, Top())
    if isinstance(expected, Retry):
        assert isinstance(got, Retry)
        assert got.attempted == expected.attempted
        assert got.delay == pytest.approx(expected.delay)
    elif isinstance(expected, Park):
        assert isinstance(got, Park)
        assert got.fallback_delay == pytest.approx(expected.fallback_delay)
    else:
        assert got == expected


def test_jitter_spreads_an_unparkable_backlog_over_the_lower_half_too() -> None:
    rng = random.Random(7)
    delays = [decide(HeldBack(), 1, 5.0, DOWN_20S, RULES, rng) for _ in range(500)]
    values = [d.fallback_delay for d in delays if isinstance(d, Park)]
    assert len(values) == 500
    assert min(values) >= 10.0 and max(values) <= 20.0
    assert max(values) - min(values) > 2.0  # spread, not one wave


def test_a_twenty_second_outage_never_parks_an_event_for_minutes() -> None:
    # Backoff by attempt count alone parked a 20 s blip's events for 366 s (median). Whatever
    # the attempt count, an event of a sink down for 20 s is back within 20 s.
    for attempt in range(1, 200):
        got = decide(Outcome(error=ServerError("x")), attempt, 20.0, DOWN_20S, RULES, Top())
        assert isinstance(got, Retry) and got.delay <= 20.0 + 1e-9


@pytest.mark.parametrize(
    ("outage", "gap"), [(0.0, 0.2), (1.0, 0.2), (5.0, 0.5), (20.0, 2.0), (50.0, 5.0), (HOUR, 5.0)]
)
def test_probe_gap(outage: float, gap: float) -> None:
    assert probe_gap(outage) == pytest.approx(gap)
