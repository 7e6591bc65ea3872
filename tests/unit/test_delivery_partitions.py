"""The delivery log's days on PostgreSQL: how partitions are named, which are past retention
(a day's delivered attempts after 7 days, its errors and dead letters after 23), and where a
legacy partition ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.delivery.partitions import (
    RecordRefused,
    create_day,
    day_number,
    day_of,
    expired,
    legacy_until,
    parse,
    partition,
)
from services.delivery.settling.journal import Retention, refused

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 31, 6, 0, tzinfo=UTC)


def days_ago(n: int) -> date:
    return (NOW - timedelta(days=n)).date()


def tree(*days: date) -> list[str]:
    names = []
    for day in days:
        names += [
            partition("delivery_attempts", day),
            partition("delivery_attempts", day, "delivered"),
            partition("delivery_attempts", day, "errors"),
            partition("delivery_dead_letters", day),
        ]
    return [*names, "delivery_attempts_legacy", "delivery_attempts_default", "delivery_dead_letters_default"]


@pytest.mark.parametrize(
    ("age", "dropped"),
    [
        (0, []),
        (7, []),  # its last records are not 7 days old yet: the day's end decides
        (8, ["delivery_attempts_p{d}_delivered"]),
        (23, ["delivery_attempts_p{d}_delivered"]),
        (24, ["delivery_attempts_p{d}", "delivery_dead_letters_p{d}"]),  # whole: its kinds with it
        (400, ["delivery_attempts_p{d}", "delivery_dead_letters_p{d}"]),
    ],
)
def test_what_is_past_retention(age: int, dropped: list[str]) -> None:
    day = days_ago(age)
    expected = [name.format(d=f"{day:%Y%m%d}") for name in dropped]
    assert expired(tree(day), NOW, Retention()) == sorted(expected)


def test_errors_kept_shorter_than_delivered_drop_errors_first() -> None:
    retention = Retention(delivered=timedelta(days=30), errors=timedelta(days=3))
    day = days_ago(10)
    assert expired(tree(day), NOW, retention) == [f"delivery_attempts_p{day:%Y%m%d}_errors"]


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("delivery_attempts_p20261207", (date(2026, 12, 7), "")),
        ("delivery_attempts_p20261207_delivered", (date(2026, 12, 7), "delivered")),
        ("delivery_attempts_p20261207_errors", (date(2026, 12, 7), "errors")),
        ("delivery_attempts_legacy", None),
        ("delivery_attempts_default", None),
        ("delivery_dead_letters_p20261207", None),  # another table's
    ],
)
def test_partition_names(name: str, found: tuple[date, str] | None) -> None:
    assert parse("delivery_attempts", name) == found


def test_day_numbers_are_utc_days() -> None:
    moment = datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)
    assert day_of(day_number(moment.timestamp())) == date(2026, 12, 7)
    assert day_of(day_number(moment.timestamp() + 1)) == date(2026, 12, 8)


def test_a_legacy_partitions_end_as_postgresql_prints_it() -> None:
    bound = "FOR VALUES FROM (MINVALUE) TO ('2026-12-08 00:00:00+00')"
    assert legacy_until(bound) == datetime(2026, 12, 8, tzinfo=UTC)
    assert legacy_until(None) is None


def test_a_days_attempts_are_split_by_outcome() -> None:
    statements = create_day("delivery_attempts", date(2026, 12, 7))
    assert "FROM ('2026-12-07T00:00:00+00:00') TO ('2026-12-08T00:00:00+00:00')" in statements[0]
    assert "PARTITION BY LIST (outcome)" in statements[0]
    assert "FOR VALUES IN ('delivered')" in statements[1] and statements[2].endswith("DEFAULT")
    assert len(create_day("delivery_dead_letters", date(2026, 12, 7))) == 1


def test_what_copy_refused_is_the_records_fault() -> None:
    """COPY's errors come from asyncpg itself, not through SQLAlchemy: mapped to
    RecordRefused at the boundary, they are what the journal sets aside."""
    assert refused(RecordRefused("invalid byte sequence for encoding UTF8: 0x00", "22021"))
