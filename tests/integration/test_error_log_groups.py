"""The error log's groups on a real PostgreSQL and on SQLite: a worker's errors counted into
their group, the entry published (written to the outbox with the row's change) at the first
error, the 10th, the 100th … and by the sweep once the interval has passed — and workers
counting the same sink's errors at once publishing each entry once between them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from eventstreams_producer.outbox_table import outbox
from runtime import db, error_logs
from services.delivery.app import MIGRATIONS
from services.delivery.errorlog.groups import ErrorLogGroupRow, ErrorLogGroups, Errors, Key
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "a" * 32
SINK = "DG" + "b" * 32
KEY = Key(ACCOUNT, SINK, 91306)
INTERVAL = 1200.0
T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    url = database_url(request.param, request, tmp_path, "delivery")
    engine = db.create_engine(url)
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    await engine.dispose()
    yield url


@pytest.fixture
async def engine(url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(url)
    yield engine
    await engine.dispose()


def errors(count: int, at: datetime, message: str = "receiver failed (HTTP 500)") -> Errors:
    return Errors(count, message, at.timestamp())


async def entries(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox).order_by(outbox.c.position))).all()
    found = []
    for row in rows:
        data = json.loads(row.data_json)
        assert (row.type, row.schema_version, row.account_sid) == (error_logs.ERROR_LOGGED, 2, ACCOUNT)
        assert row.event_id == data["sid"] and row.source == f"/v1/Sinks/{SINK}"
        found.append(json.loads(data["payload"]) | {"error_code": data["error_code"]})
    return found


async def test_the_first_error_the_tenth_and_the_sweep(engine: AsyncEngine) -> None:
    groups = ErrorLogGroups(db.sessionmaker(engine), INTERVAL)
    first = await groups.count(KEY, errors(1, T0), T0)
    assert first is not None and (first.count, first.total) == (1, 1)
    for n in range(2, 10):  # grouped
        at = T0 + timedelta(seconds=n)
        assert await groups.count(KEY, errors(1, at), at) is None
    tenth = await groups.count(KEY, errors(1, T0 + timedelta(seconds=10)), T0 + timedelta(seconds=10))
    assert tenth is not None and (tenth.count, tenth.total) == (9, 10)
    # Three more, then quiet: the sweep tells them once the interval has passed — once.
    late = T0 + timedelta(seconds=11)
    assert await groups.count(KEY, errors(3, late, "receiver failed (HTTP 503)"), late) is None
    assert await groups.sweep(late + timedelta(seconds=INTERVAL - 60)) == []
    [swept] = await groups.sweep(T0 + timedelta(seconds=10 + INTERVAL))
    assert (swept.count, swept.total, swept.message) == (3, 13, "receiver failed (HTTP 503)")
    assert await groups.sweep(T0 + timedelta(seconds=20 + INTERVAL)) == []
    # Another code of the same sink is a group of its own.
    other = await groups.count(Key(ACCOUNT, SINK, 91308), errors(1, late), late)
    assert other is not None and other.count == 1
    assert [(e["count"], e["total"], e["error_code"]) for e in await entries(engine)] == [
        (1, 1, "91306"),
        (9, 10, "91306"),
        (3, 13, "91306"),
        (1, 1, "91308"),
    ]


async def test_workers_counting_one_sink_at_once_publish_each_entry_once(url: str) -> None:
    """Four workers (an engine each) count 150 errors of one group, one at a time, all at
    once: the 1st, 10th and 100th errors each make one entry, whichever worker counted it."""
    engines = [db.create_engine(url) for _ in range(4)]
    try:
        workers = [ErrorLogGroups(db.sessionmaker(e), INTERVAL) for e in engines]

        async def work(groups: ErrorLogGroups) -> int:
            made = 0
            for _ in range(150 // len(workers) + 1):
                made += await groups.count(KEY, errors(1, T0), T0) is not None
            return made

        made = await asyncio.gather(*(work(g) for g in workers))
        total = (150 // len(workers) + 1) * len(workers)
        published = await entries(engines[0])
        assert sum(made) == len(published) == 3
        assert [e["total"] for e in published] == [1, 10, 100]
        assert [e["count"] for e in published] == [1, 9, 90]
        async with engines[0].connect() as connection:
            row = (await connection.execute(select(ErrorLogGroupRow))).one()
        assert (row.errors, row.published_errors) == (total, 100)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_quiet_told_groups_are_forgotten_and_start_afresh(engine: AsyncEngine) -> None:
    groups = ErrorLogGroups(db.sessionmaker(engine), INTERVAL)
    assert await groups.count(KEY, errors(1, T0), T0) is not None
    untold = Key(ACCOUNT, "DG" + "c" * 32, 91306)
    assert await groups.count(untold, errors(1, T0), T0) is not None
    assert await groups.count(untold, errors(1, T0), T0) is None  # one error not told yet
    await groups.prune(T0 + timedelta(days=1), T0 + timedelta(days=1))
    async with engine.connect() as connection:
        left = (await connection.execute(select(ErrorLogGroupRow.sink_sid))).scalars().all()
        unsent = (await connection.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert left == [untold.sink_sid]
    assert unsent == 2  # unsent entries are never pruned
    # The forgotten group's next error is a first error again.
    later = T0 + timedelta(days=2)
    again = await groups.count(KEY, errors(1, later), later)
    assert again is not None and (again.count, again.total) == (1, 1)
