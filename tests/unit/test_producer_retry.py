"""The producer SDK's retry decisions, table-tested: the backoff per attempt (a pure function
with an injected RNG) and how each result code is sorted (accepted / rejected / retried)."""

from __future__ import annotations

import random

import pytest

from eventstreams_producer import (
    EventDiscontinued,
    EventNotFound,
    EventRejected,
    InvalidEvent,
    PublishUnavailable,
    RequestFailed,
    RetryPolicy,
    backoff,
)
from eventstreams_producer.results import EventResult, Outcome, outcome

pytestmark = pytest.mark.unit

POLICY = RetryPolicy(max_attempts=6, base_seconds=0.1, cap_seconds=1.0)


class Edge(random.Random):
    """Jitter pinned at one end of its range."""

    def __init__(self, top: bool) -> None:
        super().__init__(0)
        self.top = top

    def uniform(self, a: float, b: float) -> float:
        return b if self.top else a


@pytest.mark.parametrize(
    ("attempt", "policy", "top", "bottom"),
    [
        (1, POLICY, 0.1, 0.05),  # the ceiling starts at base...
        (2, POLICY, 0.2, 0.1),  # ...doubles per attempt...
        (3, POLICY, 0.4, 0.2),
        (4, POLICY, 0.8, 0.4),
        (5, POLICY, 1.0, 0.5),  # ...up to the cap
        (6, POLICY, None, None),  # tries used up
        (99, POLICY, None, None),
        (1, RetryPolicy(max_attempts=1), None, None),  # no retries at all
        (0, POLICY, 0.1, 0.05),  # a nonsense attempt is the first
        (40, RetryPolicy(max_attempts=100, base_seconds=0.1, cap_seconds=5.0), 5.0, 2.5),  # no overflow
    ],
)
def test_backoff_doubles_to_the_cap_with_jitter_in_the_upper_half(
    attempt: int, policy: RetryPolicy, top: float | None, bottom: float | None
) -> None:
    assert backoff(attempt, policy, Edge(top=True)) == pytest.approx(top)
    assert backoff(attempt, policy, Edge(top=False)) == pytest.approx(bottom)


def test_backoff_spreads_producers_that_failed_together() -> None:
    rng = random.Random(7)
    delays = {backoff(3, POLICY, rng) for _ in range(50)}
    assert len(delays) > 40 and all(d is not None and 0.2 <= d <= 0.4 for d in delays)


@pytest.mark.parametrize(
    "bad", [{"max_attempts": 0}, {"base_seconds": -1.0}, {"base_seconds": 2.0, "cap_seconds": 1.0}]
)
def test_a_policy_that_makes_no_sense_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "message", "dead_letters", "expected", "error"),
    [
        (0, "", 0, Outcome.ACCEPTED, None),
        (3, "data does not match Messaging.MessageStatus v7", 0, Outcome.REJECTED, InvalidEvent),
        (5, "event type 'x' not found", 0, Outcome.REJECTED, EventNotFound),
        (9, "event type x is discontinued", 0, Outcome.REJECTED, EventDiscontinued),
        # Stored: only the sinks it could not be shaped for got a dead letter.
        (
            9,
            "event cannot be projected to the schema version subscribed by sink(s) DG1; "
            "recorded as their dead letters",
            1,
            Outcome.ACCEPTED,
            None,
        ),
        (
            14,
            "JetStream did not acknowledge 1 of 1 deliveries; publish again",
            0,
            Outcome.RETRY,
            PublishUnavailable,
        ),
        (4, "deadline", 0, Outcome.RETRY, PublishUnavailable),
        (13, "internal", 0, Outcome.REJECTED, EventRejected),
    ],
)
def test_each_result_code_is_sorted(
    code: int, message: str, dead_letters: int, expected: Outcome, error: type[Exception] | None
) -> None:
    assert outcome(code, dead_letters) is expected
    found = EventResult("EZ1", code, message, dead_letters=dead_letters).error()
    if error is None:
        assert found is None
    else:
        assert type(found) is error and found.event_id == "EZ1" and found.code == code


@pytest.mark.parametrize(("code", "retryable"), [(14, True), (4, True), (3, False), (16, False), (13, False)])
def test_which_whole_call_failures_are_retried(code: int, retryable: bool) -> None:
    assert RequestFailed(code, "x").retryable is retryable
