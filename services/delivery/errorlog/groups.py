"""The error-log groups in delivery's database, shared by every worker, and the entries they
publish written to the transactional outbox in the same transaction.

A group's row is counted into with INSERT … ON CONFLICT DO UPDATE … RETURNING: the statement
adds a worker's errors and hands back the row as it now is, holding it (PostgreSQL's row
lock; SQLite's one writer) until the transaction ends — so the decision taken on it
(grouping.publish), the row marked published and the entry written to the outbox are one
step no other worker sees half of. Two workers counting the same sink's 10th error publish
one entry between them.

The entry goes through the SDK's outbox (eventstreams_producer): the relay publishes what was
committed, again and again while the router is unreachable, each time with the entry's sid as
its id — a router outage loses no entry, and no entry is decided twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from eventstreams_producer.outbox import Outbox, prune_settled
from services.delivery.errorlog import grouping
from services.delivery.errorlog.entry import Entry, event_of
from services.delivery.models import Base

# The sweep looks for groups with errors not told yet, oldest entry first, at most this many.
SWEEP_BATCH = 100


class ErrorLogGroupRow(Base):
    """One account's sink's errors of one code (delivery_0009)."""

    __tablename__ = "error_log_groups"

    account_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    sink_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    error_code: Mapped[int] = mapped_column(Integer, primary_key=True)
    errors: Mapped[int] = mapped_column(BigInteger)
    published_errors: Mapped[int] = mapped_column(BigInteger)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_message: Mapped[str] = mapped_column(String(500))


Row = ErrorLogGroupRow


@dataclass(frozen=True)
class Key:
    account_sid: str
    sink_sid: str
    error_code: int


@dataclass
class Errors:
    """A worker's errors of one group not counted into the row yet."""

    count: int
    message: str
    at: float  # the last one's time (epoch seconds)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite gives the times back without their zone; they were written in UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class ErrorLogGroups:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], interval_seconds: float) -> None:
        self._sessions = sessions
        self._interval = interval_seconds
        self._outbox = Outbox()

    async def count(self, key: Key, errors: Errors, now: datetime) -> Entry | None:
        """Count a worker's errors into their group; the entry published for it, if now is
        the time (written to the outbox with the row's change, or neither)."""
        async with self._sessions.begin() as session:
            values = {
                "account_sid": key.account_sid,
                "sink_sid": key.sink_sid,
                "error_code": key.error_code,
                "errors": errors.count,
                "published_errors": 0,
                "published_at": None,
                "last_error_at": datetime.fromtimestamp(errors.at, UTC),
                "last_message": errors.message[:500],
            }
            module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            insert = module.insert(Row).values(values)
            statement = insert.on_conflict_do_update(
                index_elements=[Row.account_sid, Row.sink_sid, Row.error_code],
                set_={
                    "errors": Row.errors + insert.excluded.errors,
                    "last_error_at": insert.excluded.last_error_at,
                    "last_message": insert.excluded.last_message,
                },
            ).returning(Row.errors, Row.published_errors, Row.published_at, Row.last_message)
            found = (await session.execute(statement)).one()
            return await self._decide(session, key, found, errors.count, now)

    async def sweep(self, now: datetime) -> list[Entry]:
        """Publish the groups whose errors since their last entry have waited the interval
        (the sink has gone quiet, or fails too rarely to reach a milestone)."""
        cutoff = now - timedelta(seconds=self._interval)
        async with self._sessions() as session:
            due = (
                await session.execute(
                    select(Row.account_sid, Row.sink_sid, Row.error_code)
                    .where(Row.errors > Row.published_errors, Row.published_at <= cutoff)
                    .order_by(Row.published_at)
                    .limit(SWEEP_BATCH)
                )
            ).all()
        published = []
        for account_sid, sink_sid, error_code in due:
            key = Key(account_sid, sink_sid, error_code)
            async with self._sessions.begin() as session:
                # A write that changes nothing, to hold the row as the count's upsert does:
                # the worker that gets it second finds the errors told.
                found = (
                    await session.execute(
                        update(Row)
                        .where(*_is(key))
                        .values(errors=Row.errors)
                        .returning(Row.errors, Row.published_errors, Row.published_at, Row.last_message)
                    )
                ).one_or_none()
                if found is not None and (entry := await self._decide(session, key, found, 0, now)):
                    published.append(entry)
        return published

    async def _decide(
        self, session: AsyncSession, key: Key, found: Any, added: int, now: datetime
    ) -> Entry | None:
        errors, published_errors, published_at, message = found
        published_at = _aware(published_at)
        group = grouping.Group(
            errors, published_errors, published_at.timestamp() if published_at is not None else None
        )
        if not grouping.publish(group, added, now.timestamp(), self._interval):
            return None
        await session.execute(update(Row).where(*_is(key)).values(published_errors=errors, published_at=now))
        entry = Entry(key.account_sid, key.sink_sid, key.error_code, group.untold, errors, message, now)
        await self._outbox.add_events(session, [event_of(entry)])
        return entry

    async def prune(self, quiet_since: datetime, sent_before: datetime) -> None:
        """Forget the groups quiet since `quiet_since` with every error told (a sink failing
        again later starts a group afresh), and the outbox's entries sent before
        `sent_before`."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(Row).where(Row.last_error_at < quiet_since, Row.errors == Row.published_errors)
            )
            await prune_settled(session, sent_before)


def _is(key: Key) -> Sequence[Any]:
    return (
        Row.account_sid == key.account_sid,
        Row.sink_sid == key.sink_sid,
        Row.error_code == key.error_code,
    )
