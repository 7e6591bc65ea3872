"""The delivery log on a real database: dead letters written by group commit — a burst of
them (a deleted sink's backlog) takes a few transactions, each waiter learns the outcome of
its own letter, and a failed write fails its waiters instead of leaving them hanging; a
failed write of attempt records keeps them for the next, and counts what it cannot keep;
retention as Twilio's (events 7 days, error logs 23)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.errors import InvalidArgument
from runtime.times import utcnow
from services.delivery.app import MIGRATIONS
from services.delivery.models import AttemptRow, DeadLetterRow
from services.delivery.reads.records import Records
from services.delivery.settling.journal import (
    ROWS_PER_INSERT,
    Attempt,
    DeadLetter,
    Retention,
    SqlJournal,
    letter_row,
)
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    yield engine
    await engine.dispose()


def letter(i: int) -> DeadLetter:
    account, sink = "AC" + "a" * 32, "DG" + "b" * 32
    return DeadLetter(account, sink, f"EZ{i}", "com.example", "ev.x", b'{"id":"x"}', 1, "gone", 91303, None)


async def test_a_burst_of_dead_letters_is_written_in_a_few_transactions(engine: AsyncEngine) -> None:
    transactions: list[Any] = []
    event.listen(engine.sync_engine, "begin", lambda connection: transactions.append(connection))
    journal = SqlJournal(db.sessionmaker(engine), Retention())

    await asyncio.gather(*(journal.dead_letter(letter(i)) for i in range(2000)))

    async with db.sessionmaker(engine)() as session:
        count = await session.scalar(select(func.count()).select_from(DeadLetterRow))
        ids = set((await session.scalars(select(DeadLetterRow.event_id))).all())
    assert count == 2000
    assert ids == {f"EZ{i}" for i in range(2000)}
    assert len(transactions) <= 10  # one per letter was 2,000 racing for SQLite's one writer


async def test_a_failed_write_fails_its_letters_and_nobody_waits_forever(engine: AsyncEngine) -> None:
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {DeadLetterRow.__tablename__}"))
    results = await asyncio.wait_for(
        asyncio.gather(*(journal.dead_letter(letter(i)) for i in range(600)), return_exceptions=True),
        timeout=10,
    )
    assert all(isinstance(result, Exception) for result in results)


def attempt(i: int) -> Attempt:
    account, sink = "AC" + "a" * 32, "DG" + "b" * 32
    return Attempt(account, sink, f"EZ{i}", "com.example", 1, "delivered", 200, 5, None, None, time.time())


async def test_a_failed_attempt_write_keeps_its_records_for_the_next(engine: AsyncEngine) -> None:
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    for i in range(10):
        journal.attempt(attempt(i))
    async with engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE {AttemptRow.__tablename__} RENAME TO away"))
    with pytest.raises(OperationalError):
        await journal.flush()
    journal.attempt(attempt(10))
    async with engine.begin() as connection:
        await connection.execute(text(f"ALTER TABLE away RENAME TO {AttemptRow.__tablename__}"))
    while await journal.flush():
        pass
    async with db.sessionmaker(engine)() as session:
        ids = list((await session.scalars(select(AttemptRow.event_id).order_by(AttemptRow.id))).all())
    assert ids == [f"EZ{i}" for i in range(11)]  # none lost, in order
    assert journal.dropped == 0


async def test_what_a_failed_write_cannot_keep_is_counted_as_dropped(engine: AsyncEngine) -> None:
    journal = SqlJournal(db.sessionmaker(engine), Retention(), max_pending=8)
    for i in range(8):
        journal.attempt(attempt(i))
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {AttemptRow.__tablename__}"))

    async def fail_and_refill() -> None:
        with pytest.raises(OperationalError):
            await journal.flush()

    flushing = asyncio.create_task(fail_and_refill())
    await asyncio.sleep(0)  # the batch is taken; new records arrive while it is written
    for i in range(8, 13):
        journal.attempt(attempt(i))
    await flushing
    assert journal.dropped == 5  # 13 records, room for 8: every loss counted


async def test_retention_keeps_error_logs_23_days_and_events_7(engine: AsyncEngine) -> None:
    sessions = db.sessionmaker(engine)
    journal = SqlJournal(sessions, Retention())
    now = utcnow()
    ages = {"fresh": 1, "week_old": 8, "month_old": 24}
    for label, days in ages.items():
        when = now - timedelta(days=days)
        for outcome in ("delivered", "retrying", "failed"):
            for i in range(4):
                record = replace(attempt(i), event_id=f"{label}-{outcome}-{i}", outcome=outcome)
                journal.attempt(replace(record, date_created=when.timestamp()))
    while await journal.flush():
        pass
    async with sessions.begin() as session:
        for label, days in ages.items():
            for i in range(3):
                row = letter_row(letter(i))
                row.update(event_id=f"{label}-letter-{i}", date_created=now - timedelta(days=days))
                await session.execute(insert(DeadLetterRow), [row])

    removed = await journal.purge(now, batch=2)  # small batches: the loop must go round

    async with sessions() as session:
        attempts = set((await session.scalars(select(AttemptRow.event_id))).all())
        letters = set((await session.scalars(select(DeadLetterRow.event_id))).all())
    kept = {e.rsplit("-", 1)[0] for e in attempts} | {e.rsplit("-", 1)[0] for e in letters}
    assert kept == {
        "fresh-delivered", "fresh-retrying", "fresh-failed", "fresh-letter",
        "week_old-retrying", "week_old-failed", "week_old-letter",
    }  # fmt: skip
    assert removed == 4 + 4 + 4 + 4 + 3  # week-old delivered; month-old attempts and letters


@pytest.fixture(params=BACKENDS)
async def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    yield engine
    await engine.dispose()


async def test_attempts_written_by_the_driver_read_back_as_the_orm_wrote_them(
    any_engine: AsyncEngine,
) -> None:
    """The journal writes the driver's own SQL and parameters (AttemptRows); what it stores
    must read back exactly as what SQLAlchemy's own insert of the same values stores."""
    sessions = db.sessionmaker(any_engine)
    journal = SqlJournal(sessions, Retention())
    when = utcnow().replace(microsecond=123456)  # the record's time, as the settler gives it: epoch seconds
    full = Attempt(
        "AC" + "a" * 32,
        "DG" + "b" * 32,
        "EZ-full",
        "com.example",
        3,
        "retrying",
        503,
        250,
        91301,
        "receiver failed (HTTP 503)",
        when.timestamp(),
        source_account_sid="AC" + "c" * 32,
        age_ms=12_345,
    )
    bare = replace(
        full,
        event_id="EZ-bare",
        status_code=None,
        error_code=None,
        error=None,
        source_account_sid=None,
        age_ms=None,
    )
    for record in (full, bare):
        journal.attempt(record)
    await journal.flush()
    async with sessions.begin() as session:
        for record in (full, bare):
            await session.execute(
                insert(AttemptRow),
                [{**vars(record), "event_id": f"orm-{record.event_id}", "date_created": when}],
            )
    async with sessions() as session:
        rows = {r.event_id: r for r in (await session.scalars(select(AttemptRow))).all()}
    fields = [name for name in vars(full) if name != "event_id"]
    for record in (full, bare):
        ours, theirs = rows[record.event_id], rows[f"orm-{record.event_id}"]
        assert [getattr(ours, f) for f in fields] == [getattr(theirs, f) for f in fields]
        assert ours.date_created.replace(tzinfo=None) == when.replace(tzinfo=None)
        assert ours.status_code == record.status_code and ours.age_ms == record.age_ms


async def test_a_large_flush_writes_every_attempt_in_order(any_engine: AsyncEngine) -> None:
    """SQLite gets many rows to an INSERT (ROWS_PER_INSERT): a flush of more than two such
    inserts' worth, and a partial one, loses and reorders nothing."""
    sessions = db.sessionmaker(any_engine)
    journal = SqlJournal(sessions, Retention())
    count = 2 * ROWS_PER_INSERT + 234
    for i in range(count):
        journal.attempt(replace(attempt(i), status_code=None if i % 7 else 500, age_ms=i))
    assert await journal.flush() == count
    async with sessions() as session:
        rows = (
            await session.execute(
                select(AttemptRow.event_id, AttemptRow.status_code, AttemptRow.age_ms).order_by(AttemptRow.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(f"EZ{i}", None if i % 7 else 500, i) for i in range(count)]


async def test_one_bad_attempt_row_is_quarantined_and_the_others_written(any_engine: AsyncEngine) -> None:
    """A record the database refuses (a NUL in text: PostgreSQL's text cannot hold it) must not
    hold back the others of its batch, nor every batch after it: it is set aside, counted."""
    sessions = db.sessionmaker(any_engine)
    journal = SqlJournal(sessions, Retention())
    for i in range(6):
        journal.attempt(attempt(i))
    bad = replace(attempt(6), event_id="EZ\x00bad", error="nul\x00here")
    journal.attempt(bad)
    for i in range(7, 10):
        journal.attempt(attempt(i))
    refused = any_engine.dialect.name == "postgresql"

    while await journal.flush():
        pass

    async with sessions() as session:
        ids = list((await session.scalars(select(AttemptRow.event_id).order_by(AttemptRow.id))).all())
    good = [f"EZ{i}" for i in range(10) if i != 6]
    if refused:
        assert ids == good  # in order, the bad one left out
        assert journal.quarantined == 1
    else:  # SQLite stores a NUL: nothing to set aside
        assert [i for i in ids if i != bad.event_id] == good
        assert journal.quarantined == 0
    assert journal.pending == 0 and journal.dropped == 0


async def test_a_dead_letter_the_database_refuses_fails_alone(any_engine: AsyncEngine) -> None:
    """A letter the database refuses (a type longer than its column) fails its own waiter; the
    others of its group commit are written — a NUL among them, with a stand-in: a dead letter
    is its event's last record."""
    sessions = db.sessionmaker(any_engine)
    journal = SqlJournal(sessions, Retention())
    letters = [letter(i) for i in range(5)]
    letters[1] = replace(letters[1], event_id="EZ1\x00", reason="nul\x00here")
    letters[3] = replace(letters[3], type="t" * 300)
    results = await asyncio.wait_for(
        asyncio.gather(*(journal.dead_letter(item) for item in letters), return_exceptions=True), timeout=30
    )
    async with sessions() as session:
        ids = set((await session.scalars(select(DeadLetterRow.event_id))).all())
    if any_engine.dialect.name == "postgresql":
        assert [isinstance(r, Exception) for r in results] == [False, False, False, True, False]
        assert ids == {"EZ0", "EZ1\ufffd", "EZ2", "EZ4"}
    else:  # SQLite holds both
        assert results == [None] * 5
        assert ids == {"EZ0", "EZ1\ufffd", "EZ2", "EZ3", "EZ4"}


async def test_looking_up_an_event_id_with_a_control_character_is_bad_input(any_engine: AsyncEngine) -> None:
    """No stored event id has one (the router refuses them); PostgreSQL cannot even compare
    with a NUL: a 400, not a failed query."""
    records = Records(db.sessionmaker(any_engine))
    with pytest.raises(InvalidArgument):
        await records.attempts("AC" + "a" * 32, "DG" + "b" * 32, "", "EZ\x00", 50, "")
