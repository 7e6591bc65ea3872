"""The delivery log on a real database: dead letters written by group commit — a burst of
them (a deleted sink's backlog) takes a few transactions, each waiter learns the outcome of
its own letter, and a failed write fails its waiters instead of leaving them hanging."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from services.delivery.app import MIGRATIONS
from services.delivery.journal import DeadLetter, SqlJournal
from services.delivery.models import DeadLetterRow

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
    journal = SqlJournal(db.sessionmaker(engine), timedelta(days=7))

    await asyncio.gather(*(journal.dead_letter(letter(i)) for i in range(2000)))

    async with db.sessionmaker(engine)() as session:
        count = await session.scalar(select(func.count()).select_from(DeadLetterRow))
        ids = set((await session.scalars(select(DeadLetterRow.event_id))).all())
    assert count == 2000
    assert ids == {f"EZ{i}" for i in range(2000)}
    assert len(transactions) <= 10  # one per letter was 2,000 racing for SQLite's one writer


async def test_a_failed_write_fails_its_letters_and_nobody_waits_forever(engine: AsyncEngine) -> None:
    journal = SqlJournal(db.sessionmaker(engine), timedelta(days=7))
    async with engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {DeadLetterRow.__tablename__}"))
    results = await asyncio.wait_for(
        asyncio.gather(*(journal.dead_letter(letter(i)) for i in range(600)), return_exceptions=True),
        timeout=10,
    )
    assert all(isinstance(result, Exception) for result in results)
