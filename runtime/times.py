"""Timestamps as the REST edge and the CloudEvents want them."""

from __future__ import annotations

import math
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
def epoch_ms(moment: datetime) -> int:
    """Unix milliseconds of `moment` (naive, as SQLite gives it back: UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _second(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat()


def utc_day(epoch: float) -> str:
    """The UTC day (YYYY-MM-DD) of an epoch time, formatted once a day: the usage meter
    counts every delivered event by its day, and a datetime per event to find it was ~3 % of
    a worker."""
    return _day(int(epoch // 86400))


@lru_cache(maxsize=8)
def _day(days: int) -> str:
    return (EPOCH + timedelta(days=days)).date().isoformat()


def sqlite_timestamp(epoch: float) -> str:
    """An epoch time (UTC) as SQLAlchemy stores a DateTime in SQLite — `2026-12-02
    19:07:22.499812` — with its second formatted once: a datetime per attempt record and
    SQLAlchemy's formatting of it were ~5 % of a worker (services/delivery/settling/journal.py checks
    the two agree before using this)."""
    # Split as datetime.fromtimestamp splits it: the whole second, then the fraction rounded.
    fraction, whole = math.modf(epoch)
    micro = round(fraction * 1e6)
    if micro < 0:
        micro += 1_000_000
        whole -= 1
    elif micro >= 1_000_000:
        micro -= 1_000_000
        whole += 1
    return f"{_sqlite_second(int(whole))}.{micro:06d}"


@lru_cache(maxsize=8)
def _sqlite_second(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")


def iso_of(seconds: int, nanos: int) -> str:
    """`iso` of a protobuf Timestamp's fields, without building a datetime per event: the
    events of a batch mostly share their second, and only the milliseconds differ."""
    return f"{_second(seconds)}.{nanos // 1_000_000:03d}Z"
