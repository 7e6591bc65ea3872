"""Unit tests of HTTP response classification (sinks.http) and per-event retry timing (decision)."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta, timezone

import aiohttp
import pytest

from services.delivery.errors import DeliveryError, DestinationRefused, Rejected, ServerError, Throttled
from services.delivery.settling.decision import RETRY_AFTER_LIMIT, retry_delay
from services.delivery.sinks import http
from services.delivery.sinks.http import classify, parse_retry_after

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


# --- classify --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_classify_2xx_is_delivered(status: int) -> None:
    assert classify(status) is None
    assert classify(status, "120") is None


@pytest.mark.parametrize(
    ("status", "retry_after", "kind", "retryable", "code", "expected_after"),
    [
        (429, None, Throttled, True, 91302, None),
        (429, "30", Throttled, True, 91302, 30.0),
        (429, " 7 ", Throttled, True, 91302, 7.0),
        (429, "soon", Throttled, True, 91302, None),
        (400, None, Rejected, False, 91305, None),
        (401, None, Rejected, False, 91305, None),
        (403, None, Rejected, False, 91305, None),
        (404, None, Rejected, False, 91305, None),
        (415, None, Rejected, False, 91305, None),
        (418, "30", Rejected, False, 91305, None),
        (500, None, ServerError, True, 91306, None),
        (502, None, ServerError, True, 91306, None),
        (503, None, ServerError, True, 91306, None),
        (503, "45", ServerError, True, 91306, 45.0),
        (599, None, ServerError, True, 91306, None),
        (301, None, Rejected, False, 91305, None),
        (302, None, Rejected, False, 91305, None),
        (307, None, Rejected, False, 91305, None),
        (100, None, Rejected, False, 91305, None),
    ],
)
def test_classify_failures(
    status: int,
    retry_after: str | None,
    kind: type[DeliveryError],
    retryable: bool,
    code: int,
    expected_after: float | None,
) -> None:
    error = classify(status, retry_after)
    assert type(error) is kind
    assert isinstance(error, DeliveryError)
    assert error.retryable is retryable
    assert error.code == code
    assert error.status == status
    assert error.retry_after == expected_after
    assert str(status) in error.message


# --- parse_retry_after -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("1", 1.0),
        ("120", 120.0),
        ("  15\t", 15.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2024 13:00:00 GMT", 3600.0),
        ("Wed, 01 May 2024 14:00:00 +0200", 0.0),  # = 12:00 UTC: now
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # in the past: never negative
        ("Wed, 01 May 2024 12:02:00 -0000", 120.0),  # naive (-0000) is read as UTC
        ("garbage", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("   ", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_http_date_uses_now_argument() -> None:
    header = "Wed, 01 May 2024 12:00:30 GMT"
    assert parse_retry_after(header, now=NOW - timedelta(seconds=30)) == 60.0
    assert parse_retry_after(header, now=NOW.astimezone(timezone(timedelta(hours=5)))) == 30.0


@pytest.mark.parametrize("value", ["²", "3²", "①"])
def test_parse_retry_after_unicode_digit_garbage_is_ignored(value: str) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_classify_unicode_digit_retry_after_is_throttled() -> None:
    error = classify(429, "²")
    assert isinstance(error, Throttled)
    assert error.retry_after is None


# --- retry_delay -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "ceiling"),
    [
        (1, 1.0, 300.0, 1.0),
        (2, 1.0, 300.0, 2.0),
        (3, 1.0, 300.0, 4.0),
        (4, 1.0, 300.0, 8.0),
        (5, 0.5, 300.0, 8.0),
        (9, 1.0, 300.0, 256.0),
        (10, 1.0, 300.0, 300.0),  # 512 capped
        (20, 2.0, 60.0, 60.0),
        (0, 1.0, 300.0, 1.0),  # attempt below 1 behaves as the first
        (-3, 1.0, 300.0, 1.0),
    ],
)
def test_retry_delay_within_upper_half_of_ceiling(
    attempt: int, base: float, cap: float, ceiling: float
) -> None:
    rng = random.Random(1234)
    delays = [retry_delay(attempt, base, cap, rng=rng) for _ in range(200)]
    assert all(0.5 * ceiling <= d <= ceiling for d in delays)
    assert min(delays) < 0.6 * ceiling  # jitter really spans the half-range
    assert max(delays) > 0.9 * ceiling


def test_retry_delay_is_deterministic_for_a_seed() -> None:
    first = [retry_delay(n, 1.0, 300.0, rng=random.Random(7)) for n in range(1, 10)]
    second = [retry_delay(n, 1.0, 300.0, rng=random.Random(7)) for n in range(1, 10)]
    assert first == second


def test_retry_delay_grows_exponentially() -> None:
    # Same jitter draw for every attempt: the delay doubles until the cap.
    delays = [retry_delay(n, 1.0, 1000.0, rng=random.Random(42)) for n in range(1, 9)]
    for previous, current in itertools.pairwise(delays):
        assert current == pytest.approx(previous * 2)
    assert delays[0] >= 0.5


@pytest.mark.parametrize(
    ("attempt", "retry_after", "cap", "low", "high"),
    [
        (1, 30.0, 300.0, 30.0, 30.0),  # Retry-After above the backoff: honoured exactly
        (3, 3.5, 300.0, 3.5, 4.0),
        (8, 0.0, 300.0, 64.0, 128.0),  # zero Retry-After does not shorten the backoff
        (30, 10.0, 60.0, 30.0, 60.0),  # capped backoff dominates a short Retry-After
        (1, 1000.0, 300.0, 1000.0, 1000.0),  # the receiver knows best: beyond the backoff cap
        (1, math.inf, 120.0, RETRY_AFTER_LIMIT, RETRY_AFTER_LIMIT),  # but never past the limit
        (1, 10.0**9, 60.0, RETRY_AFTER_LIMIT, RETRY_AFTER_LIMIT),
    ],
)
def test_retry_delay_respects_retry_after(
    attempt: int, retry_after: float, cap: float, low: float, high: float
) -> None:
    rng = random.Random(99)
    for _ in range(100):
        delay = retry_delay(attempt, 1.0, cap, retry_after=retry_after, rng=rng)
        assert delay >= min(retry_after, cap)
        assert low <= delay <= high


def test_retry_delay_retry_after_exact_when_backoff_smaller() -> None:
    assert retry_delay(1, 1.0, 300.0, retry_after=45.0, rng=random.Random(0)) == 45.0


@pytest.mark.parametrize("attempt", [64, 65, 1000, 10**6, 10**18])
def test_retry_delay_huge_attempt_does_not_overflow(attempt: int) -> None:
    delay = retry_delay(attempt, 1.0, 600.0, rng=random.Random(5))
    assert math.isfinite(delay)
    assert 300.0 <= delay <= 600.0


def test_retry_delay_without_rng_stays_in_bounds() -> None:
    delays = [retry_delay(4, 1.0, 100.0) for _ in range(50)]
    assert all(4.0 <= d <= 8.0 for d in delays)


def test_a_url_the_client_cannot_use_is_a_permanent_refusal() -> None:
    # Newer aiohttp says so of legacy numeric hosts; retrying it for 4 hours changes nothing.
    with pytest.raises(DestinationRefused) as refused, http.map_exceptions():
        raise aiohttp.InvalidUrlClientError("http://127.1/")
    assert refused.value.code == 91307 and not refused.value.retryable
