"""The delivery log on PostgreSQL: a table per day, forgotten by dropping it.

Attempts and dead letters grow with every event (at 10k events/s, 7 days of attempts is
billions of rows); deleting them row by row cannot keep up with writing them. So both are
partitioned by day on their record time (`date_created`, UTC days), and each day of attempts
again by outcome — `delivered`, and every other outcome (the errors) — because Twilio keeps
the two for different times (7 and 23 days): a day's delivered attempts are dropped when 7
days have passed, its errors and its dead letters when 23 have. Dropping a table is the same
cost for ten rows or a hundred million, and touches no other day.

    delivery_attempts            RANGE (date_created)
      delivery_attempts_p20261207      LIST (outcome)
        delivery_attempts_p20261207_delivered   ('delivered')
        delivery_attempts_p20261207_errors      DEFAULT
      delivery_attempts_legacy         MINVALUE → the day after the migration (rows from before)
      delivery_attempts_default        DEFAULT: a record of a day with no partition
    delivery_dead_letters        RANGE (date_created)
      delivery_dead_letters_p20261207
      delivery_dead_letters_legacy, delivery_dead_letters_default

Days are created ahead (`AHEAD`) by each worker's retention loop, and on demand for a
batch's days (a record of a day nobody created yet), each time under one advisory lock and
with `IF NOT EXISTS`, so several workers may do it at once. A `legacy` partition is the table
as it was before the log was partitioned (migration delivery_0007): it is purged row by row as
before until its last day is past retention, then dropped whole. The `default` partition
holds what no day does (a clock far ahead, a late record of a day already dropped): nothing is
ever refused for want of a day, and it is purged row by row — it holds next to nothing, since
each day is made before its records are written.

Attempts are written by binary COPY (`Copier`): one statement per batch, a refused record
failing the whole batch — which the journal's halving (`journal.Apart`) finds as before.
"""

from __future__ import annotations

import logging
import operator
import re
import zlib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from sqlalchemy import Table

    from services.delivery.settling.journal import Attempt, Retention

log = logging.getLogger(__name__)

ATTEMPTS = "delivery_attempts"
LETTERS = "delivery_dead_letters"
LEGACY, DEFAULT = "legacy", "default"
DELIVERED, ERRORS = "delivered", "errors"
AHEAD = 3  # days created before they start: a worker down for a weekend still finds its day
EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86_400
# Dropping a partition takes its parent to itself for a moment (PostgreSQL locks the parent
# table; DETACH … CONCURRENTLY, which would not, is refused beside a default partition), so it
# waits for the statements running on the log: at most this long, rather than queue every
# writer behind it; a day not dropped is tried again next round.
DROP_LOCK_TIMEOUT = "2s"
LEGACY_PURGE_BATCH = 5000
LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout reached
MAINTENANCE_LOCK = zlib.crc32(b"delivery log partitions")
# A day as part of a partition's name.
NAME = re.compile(r"_p(\d{8})(?:_(delivered|errors))?$")
UPPER_BOUND = re.compile(r"TO \('([^']+)'\)")


class RecordRefused(Exception):
    """PostgreSQL refused what a COPY carried (its SQLSTATE class 22 or 23, or a value the
    driver could not encode): the records' fault, as the journal's `refused` understands it."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


# Pure naming and timing: the policy, table-tested.


def day_number(epoch_seconds: float) -> int:
    return int(epoch_seconds // DAY_SECONDS)


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=number)


def partition(table: str, day: date, kind: str = "") -> str:
    name = f"{table}_p{day:%Y%m%d}"
    return f"{name}_{kind}" if kind else name


def parse(table: str, name: str) -> tuple[date, str] | None:
    """The day and kind ('' for a day's own partition) a partition of `table` is named for."""
    if not name.startswith(table + "_p"):
        return None
    found = NAME.search(name)
    if found is None:
        return None
    return datetime.strptime(found[1], "%Y%m%d").date(), found[2] or ""


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def past(day: date, now: datetime, keep: timedelta) -> bool:
    """Whether every record of `day` is older than `keep`: the day may go. A record stays
    at least `keep`, at most a day longer."""
    return start_of(day + timedelta(days=1)) <= now - keep


def expired(tree: Iterable[str], now: datetime, retention: Retention) -> list[str]:
    """The partitions of the log past retention, given the names in the log's partition trees:
    a day's delivered attempts after `retention.delivered`, its errors after
    `retention.errors`, a day whose every kind is gone (and a dead letters' day) after both."""
    whole = max(retention.delivered, retention.errors)
    names = set(tree)
    drops: list[str] = []
    for name in sorted(names):
        for table in (ATTEMPTS, LETTERS):
            found = parse(table, name)
            if found is None:
                continue
            day, kind = found
            if kind == "":
                if past(day, now, whole):
                    drops.append(name)
            elif not past(day, now, whole):  # a kind of a day not going whole
                if past(day, now, retention.delivered if kind == DELIVERED else retention.errors):
                    drops.append(name)
    return drops


def legacy_until(bound: str | None) -> datetime | None:
    """The upper end of a legacy partition from its bound as PostgreSQL prints it
    (`FOR VALUES FROM (MINVALUE) TO ('2026-12-08 00:00:00+00')`)."""
    if bound is None:
        return None
    found = UPPER_BOUND.search(bound)
    return datetime.fromisoformat(found[1]) if found else None


# Writing by COPY.

# What a COPY of attempts carries, in the order of Attempt's fields (the columns named so).
COPY_COLUMNS: tuple[str, ...] = (
    "account_sid", "sink_sid", "event_id", "type", "attempt", "outcome", "status_code",
    "latency_ms", "error_code", "error", "date_created", "source_account_sid", "age_ms",
    "triggered_by", "call_detail",
)  # fmt: skip
CREATED_AT = COPY_COLUMNS.index("date_created")
DETAIL_AT = COPY_COLUMNS.index("call_detail")
REFUSED_CLASSES = ("22", "23")
CHECK_VIOLATION = "23514"  # also: the default partition holds rows of a day being made


class Copier:
    """Attempts as asyncpg's binary COPY wants them: one tuple each, the record time an aware
    datetime (made once per distinct time: a batch's records share few)."""

    def __init__(self) -> None:
        self._values = operator.attrgetter(*COPY_COLUMNS)

    def records(self, attempts: Sequence[Attempt]) -> list[list[Any]]:
        rows = []
        last: float | None = None
        moment: datetime | None = None
        for attempt in attempts:
            row = list(self._values(attempt))
            created = row[CREATED_AT]
            if created != last:
                last, moment = created, datetime.fromtimestamp(created, UTC)
            row[CREATED_AT] = moment
            exchange = row[DETAIL_AT]
            if exchange is not None:  # the call's detail, JSON (kept once per call)
                row[DETAIL_AT] = exchange.record(attempt.event_id, attempt.attempt)
            rows.append(row)
        return rows

    async def copy(self, connection: AsyncConnection, attempts: Sequence[Attempt]) -> None:
        """One COPY of `attempts` into the log through the session's own asyncpg connection;
        asyncpg's errors mapped here, at the boundary, to the journal's terms."""
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        try:
            await driver.copy_records_to_table(ATTEMPTS, records=self.records(attempts), columns=COPY_COLUMNS)
        except asyncpg.PostgresError as exc:
            state = getattr(exc, "sqlstate", None)
            if isinstance(state, str) and state[:2] in REFUSED_CLASSES:
                raise RecordRefused(str(exc), state) from exc
            raise
        except asyncpg.InterfaceError as exc:
            if isinstance(exc, ValueError):  # a value asyncpg could not encode
                raise RecordRefused(str(exc)) from exc
            raise
        except UnicodeError as exc:  # a lone surrogate in a str
            raise RecordRefused(str(exc)) from exc


class PartitionedLog:
    """The delivery log's store on PostgreSQL (see the module's docstring)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], retention: Retention) -> None:
        self._sessions = sessions
        self._retention = retention
        self._copier = Copier()
        # Days known to have their partitions, per table; and where each legacy partition
        # ends (None: there is none). Refreshed by every maintenance round.
        self._ready: dict[str, set[int]] = {ATTEMPTS: set(), LETTERS: set()}
        self._legacy: dict[str, datetime | None] | None = None

    # Writing

    async def write_attempts(self, attempts: Sequence[Attempt]) -> None:
        await self.ensure(ATTEMPTS, {day_number(a.date_created) for a in attempts})
        async with self._sessions() as session:
            await self._copier.copy(await session.connection(), attempts)

    async def write_letters(self, table: Table, rows: list[dict[str, Any]]) -> None:
        await self.ensure(LETTERS, {day_number(row["date_created"].timestamp()) for row in rows})
        async with self._sessions.begin() as session:
            await session.execute(insert(table), rows)

    # Partitions

    async def ensure(self, table: str, days: Iterable[int]) -> None:
        """Make the partitions of these days (day numbers since the epoch) unless known to
        exist; days a legacy partition holds are its."""
        ready = self._ready[table]
        missing = set(days) - ready
        if not missing:
            return
        async with self._sessions.begin() as session:
            legacy = (await self._legacies(session))[table]
            if legacy is not None:
                ready.update(d for d in missing if start_of(day_of(d)) < legacy)
                missing -= ready
            if missing:
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MAINTENANCE_LOCK})
                for number in sorted(missing):
                    try:
                        async with session.begin_nested():
                            for statement in create_day(table, day_of(number)):
                                await session.execute(text(statement))
                    except DBAPIError as exc:
                        if getattr(exc.orig, "sqlstate", None) != CHECK_VIOLATION:
                            raise
                        # The default partition holds records of this day already: the day
                        # stays there (purged row by row) rather than be refused.
                        log.warning("delivery log: %s's day %s stays in its default partition", table,
                                    day_of(number))  # fmt: skip
        ready.update(missing)

    async def _legacies(self, session: AsyncSession) -> dict[str, datetime | None]:
        if self._legacy is None:
            found: dict[str, datetime | None] = {}
            for table in (ATTEMPTS, LETTERS):
                bound = await session.scalar(
                    text(
                        "SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c "
                        "WHERE c.relname = :name AND c.relispartition"
                    ),
                    {"name": f"{table}_{LEGACY}"},
                )
                found[table] = legacy_until(bound)
            self._legacy = found
        return self._legacy

    async def maintain(self, now: datetime) -> None:
        """Days from today to AHEAD days on made ahead of their first record."""
        self._legacy = None
        today = day_number(now.timestamp())
        for table in (ATTEMPTS, LETTERS):
            await self.ensure(table, range(today, today + AHEAD + 1))

    async def tree(self) -> list[str]:
        """The names of every partition of the log, at every level."""
        async with self._sessions() as session:
            rows = await session.scalars(
                text(
                    "SELECT relid::regclass::text FROM pg_partition_tree(:a) WHERE level > 0 "
                    "UNION ALL SELECT relid::regclass::text FROM pg_partition_tree(:l) WHERE level > 0"
                ),
                {"a": ATTEMPTS, "l": LETTERS},
            )
            return list(rows.all())

    async def purge(self, now: datetime, batch: int = LEGACY_PURGE_BATCH) -> int:
        """Drop the partitions past retention (`expired`), each in its own short transaction
        that gives up rather than wait long for its lock; the legacy partition (until it can go
        whole) and the default one are purged row by row. Returns the rows deleted one by one
        (a dropped table's rows are not counted: nothing counts them)."""
        self._legacy = None
        for name in expired(await self.tree(), now, self._retention):
            try:
                await self._drop(name)
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
                log.warning("delivery log: %s not dropped (its lock is busy); next round", name)
                continue
            found = parse(ATTEMPTS, name) or parse(LETTERS, name)
            if found is not None:
                day = day_number(start_of(found[0]).timestamp())
                for ready in self._ready.values():
                    ready.discard(day)
        async with self._sessions() as session:
            legacies = await self._legacies(session)
        whole = max(self._retention.delivered, self._retention.errors)
        removed = 0
        for table, until in legacies.items():
            if until is not None and until <= now - whole:
                await self._drop(f"{table}_{LEGACY}")
                self._legacy = None
            elif until is not None:
                removed += await self._delete_old(f"{table}_{LEGACY}", table, now, batch)
            removed += await self._delete_old(f"{table}_{DEFAULT}", table, now, batch)
        return removed

    async def _drop(self, name: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
            await session.execute(text(f'DROP TABLE IF EXISTS "{name}"'))

    async def _delete_old(self, name: str, table: str, now: datetime, batch: int) -> int:
        """A partition that is not a day (legacy, default) purged as the log was before it was
        partitioned: in batches by id, each its own short transaction."""
        removed = 0
        rounds: tuple[tuple[str, datetime], ...]
        if table == ATTEMPTS:
            rounds = (
                ("outcome = 'delivered'", now - self._retention.delivered),
                ("outcome <> 'delivered'", now - self._retention.errors),
            )
        else:
            rounds = (("true", now - self._retention.errors),)
        for condition, before in rounds:
            while True:
                async with self._sessions.begin() as session:
                    result = await session.execute(
                        text(
                            f'DELETE FROM "{name}" WHERE id IN (SELECT id FROM "{name}" '
                            f"WHERE date_created < :before AND {condition} ORDER BY id LIMIT :batch)"
                        ),
                        {"before": before, "batch": batch},
                    )
                count = int(result.rowcount)  # type: ignore[attr-defined]
                removed += count
                if count < batch:
                    break
        return removed


def create_day(table: str, day: date) -> list[str]:
    """The statements that make `day`'s partitions of `table`, if not there already."""
    name = partition(table, day)
    start, end = start_of(day), start_of(day + timedelta(days=1))
    bounds = f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    if table == LETTERS:
        return [f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF {table} {bounds}']
    return [
        f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF {table} {bounds} PARTITION BY LIST (outcome)',
        f'CREATE TABLE IF NOT EXISTS "{partition(table, day, DELIVERED)}" PARTITION OF "{name}" '
        f"FOR VALUES IN ('delivered')",
        f'CREATE TABLE IF NOT EXISTS "{partition(table, day, ERRORS)}" PARTITION OF "{name}" DEFAULT',
    ]
