"""The error log's policy: which delivery failures are alerts and at what level, alert sids,
and the StartDate/EndDate window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.errors import InvalidArgument
from services.delivery import errors
from services.delivery.reads import alerts
from services.delivery.reads.alerts import ERROR, WARNING


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (91300, ERROR),
        (91302, ERROR),  # 429
        (91303, ERROR),  # dropped before any attempt
        (91304, WARNING),  # our own transient fault
        (91305, ERROR),  # another 4xx
        (91306, ERROR),  # 5xx
        (91307, ERROR),  # cannot connect
        (91308, ERROR),  # timed out
        (93101, ERROR),  # Kinesis
        (93102, ERROR),
        (93103, ERROR),
        (93104, ERROR),
        (None, None),  # a delivery
        (0, None),
        (91100, None),  # a subscription's error, not a delivery's
        (11200, None),  # another product's
    ],
)
def test_level_of(code: int | None, level: str | None) -> None:
    assert alerts.level_of(code) == level


def leaves(cls: type[errors.DeliveryError]) -> list[type[errors.DeliveryError]]:
    below = cls.__subclasses__()
    return [cls] if not below else [leaf for sub in below for leaf in leaves(sub)]


def test_every_delivery_error_is_logged() -> None:
    """A new kind of delivery failure is given a level, or it never reaches the error log."""
    for kind in leaves(errors.DeliveryError):
        assert alerts.level_of(kind.code) is not None, kind


def test_codes_at_a_level() -> None:
    assert alerts.codes_at(WARNING) == [91304]
    assert 91304 not in alerts.codes_at(ERROR)
    assert alerts.codes_at("") == sorted(alerts.LEVELS)
    assert alerts.codes_at("notice") == alerts.codes_at("debug") == []


def test_sid_names_its_attempt_and_is_stable() -> None:
    created = datetime(2026, 12, 7, 12, 34, 56, 789_000, tzinfo=UTC)
    sid = alerts.alert_sid(123_456_789, created)
    assert sid == alerts.alert_sid(123_456_789, created)
    assert len(sid) == 34 and sid.startswith("NO")
    assert sid == alerts.alert_sid(123_456_789, created.replace(tzinfo=None))  # SQLite's naive UTC
    key = alerts.attempt_of(sid)
    assert key is not None
    assert key.id == 123_456_789
    assert key.second <= created < key.until
    assert alerts.alert_sid(123_456_790, created) != sid


@pytest.mark.parametrize(
    "sid",
    ["", "NO", "NO123", "DG" + "0" * 32, "NO" + "0" * 31, "NO" + "0" * 33, "NO" + "G" * 32, "no" + "0" * 32],
)
def test_sid_not_ours(sid: str) -> None:
    assert alerts.attempt_of(sid) is None


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "window"),
    [
        ("", "", (None, None)),
        ("2026-12-07T10:00:00Z", "", (at("2026-12-07T10:00:00"), None)),
        # Inclusive to the second: an alert dated 10:30:00 (10:30:00.9 in the log) is in.
        ("", "2026-12-07T10:30:00Z", (None, at("2026-12-07T10:30:01"))),
        ("2026-12-07T10:00:00.500Z", "", (at("2026-12-07T10:00:00"), None)),
        # A day alone: the whole day.
        ("2026-12-06", "2026-12-07", (at("2026-12-06T00:00:00"), at("2026-12-08T00:00:00"))),
        ("2026-12-07T12:00:00+02:00", "", (at("2026-12-07T10:00:00"), None)),
        ("2026-12-07T10:00:00Z", "2026-12-07T10:00:00Z", (at("2026-12-07T10:00"), at("2026-12-07T10:00:01"))),
    ],
)
def test_window(start: str, end: str, window: tuple[datetime | None, datetime | None]) -> None:
    assert alerts.window(start, end) == window


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("yesterday", ""),
        ("", "2026-13-01"),
        ("2026-12-07T10:00:00", ""),  # no zone
        ("2026-12-07T10:00:01Z", "2026-12-07T10:00:00Z"),  # ends before it starts
    ],
)
def test_window_refused(start: str, end: str) -> None:
    with pytest.raises(InvalidArgument):
        alerts.window(start, end)
