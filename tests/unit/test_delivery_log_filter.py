"""The delivery log list's filters as a request gives them: Outcome, EventId, EventType and
the StartDate/EndDate window (the error log's forms, inclusive bounds), each bad value
refused as InvalidArgument (a 400 at the gateway)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.errors import InvalidArgument
from services.delivery.reads.log_filter import LogFilter, log_filter

pytestmark = pytest.mark.unit


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "wanted"),
    [
        ({}, LogFilter()),
        ({"outcome": "failed", "event_id": "EZ1"}, LogFilter(outcome="failed", event_id="EZ1")),
        (
            {"event_type": "com.twilio.messaging.message.sent"},
            LogFilter(event_type="com.twilio.messaging.message.sent"),
        ),
        # A day alone is the whole day, as the error log's.
        (
            {"start_date": "2026-12-06", "end_date": "2026-12-06"},
            LogFilter(since=at("2026-12-06T00:00:00"), until=at("2026-12-07T00:00:00")),
        ),
        # A moment is inclusive to the second: an attempt shown as 10:30:00 is in.
        (
            {"start_date": "2026-12-07T10:00:00Z", "end_date": "2026-12-07T10:30:00Z"},
            LogFilter(since=at("2026-12-07T10:00:00"), until=at("2026-12-07T10:30:01")),
        ),
        ({"start_date": "2026-12-07T12:00:00+02:00"}, LogFilter(since=at("2026-12-07T10:00:00"))),
        ({"end_date": "2026-12-07"}, LogFilter(until=at("2026-12-08T00:00:00"))),
        (
            {"outcome": "delivered", "event_type": "a.b", "start_date": "2026-12-01"},
            LogFilter(outcome="delivered", event_type="a.b", since=at("2026-12-01T00:00:00")),
        ),
    ],
)
def test_log_filter(given: dict[str, str], wanted: LogFilter) -> None:
    assert log_filter(**given) == wanted


@pytest.mark.parametrize(
    "given",
    [
        {"outcome": "lost"},
        {"event_id": "EZ\x00"},
        {"event_type": "com.example\n"},
        {"event_type": "t" * 201},
        {"start_date": "yesterday"},
        {"end_date": "2026-13-01"},
        {"start_date": "2026-12-07T10:00:00"},  # no zone
        {"start_date": "2026-12-07T10:00:01Z", "end_date": "2026-12-07T10:00:00Z"},  # ends before it starts
        {"start_date": "2026-12-08", "end_date": "2026-12-07"},
    ],
)
def test_log_filter_refused(given: dict[str, str]) -> None:
    with pytest.raises(InvalidArgument):
        log_filter(**given)
