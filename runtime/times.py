"""Timestamps as the REST edge and the CloudEvents want them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """RFC 3339 with milliseconds and a Z, as Twilio writes event times."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat is several times cheaper than strftime; this runs once per published event.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def iso_seconds(moment: datetime) -> str:
    """RFC 3339 to the second, as Twilio writes resource dates."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=64)
def _second(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat()


def iso_of(seconds: int, nanos: int) -> str:
    """`iso` of a protobuf Timestamp's fields, without building a datetime per event: the
    events of a batch mostly share their second, and only the milliseconds differ."""
    return f"{_second(seconds)}.{nanos // 1_000_000:03d}Z"
