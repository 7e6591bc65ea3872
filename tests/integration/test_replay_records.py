"""Replays' stored state on SQLite and PostgreSQL: claiming is exclusive, cancelling follows
the spec's statuses (submitted → cancelled; running → cancelling → cancelled by the runner)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime import db
from runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.delivery.app import MIGRATIONS
from services.delivery.reads.records import REDRIVE_PAGE, Records
from services.delivery.settling.journal import DeadLetter, Retention, SqlJournal
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

ACCOUNT, OTHER = "AC" + "1" * 32, "AC" + "2" * 32
SINK = "DG" + "1" * 32


@pytest.fixture(params=BACKENDS)
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Records]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    yield Records(db.sessionmaker(engine))
    await engine.dispose()


def window() -> tuple[datetime, datetime]:
    end = datetime.now(UTC)
    return end - timedelta(hours=1), end


async def test_claiming_is_exclusive(records: Records) -> None:
    sinks = ["DG" + str(i) * 32 for i in range(3)]
    created = [await records.create_replay(ACCOUNT, sink, *window()) for sink in sinks]
    claimed = await asyncio.gather(*(records.claim_next() for _ in range(6)))
    sids = [row.sid for row in claimed if row is not None]
    assert sorted(sids) == sorted(row.sid for row in created)  # each once, none twice
    statuses = [(await records.replay(ACCOUNT, row.sink_sid, row.sid)).status for row in created]
    assert statuses == ["running"] * 3


async def test_cancelling(records: Records) -> None:
    waiting = await records.create_replay(ACCOUNT, SINK, *window())
    assert (await records.cancel(ACCOUNT, SINK, waiting.sid)).status == "cancelled"
    running = await records.create_replay(ACCOUNT, SINK, *window())
    assert (await records.claim_next()) is not None
    assert (await records.cancel(ACCOUNT, SINK, running.sid)).status == "cancelling"
    assert await records.transition(running.sid, ("running", "cancelling"), "cancelled", replayed=7)
    finished = await records.replay(ACCOUNT, SINK, running.sid)
    assert (finished.status, finished.events_replayed) == ("cancelled", 7)
    with pytest.raises(InvalidArgument):
        await records.cancel(ACCOUNT, SINK, running.sid)
    with pytest.raises(NotFound):
        await records.cancel(OTHER, SINK, waiting.sid)  # another account's replay does not exist


async def test_a_replay_whose_worker_died_is_taken_over_from_its_position(records: Records) -> None:
    row = await records.create_replay(ACCOUNT, SINK, *window())
    claimed = await records.claim_next(lease_seconds=60)
    assert claimed is not None and claimed.sid == row.sid
    assert await records.transition(row.sid, ("running",), "running", replayed=40, position=1234)
    # Its worker renews the lease as it goes: nobody else may take it meanwhile.
    assert await records.claim_next(lease_seconds=60) is None
    # Then the worker dies (kill -9): no renewal; once the lease has run out it is taken over.
    await asyncio.sleep(1.1)
    taken = await asyncio.gather(*(records.claim_next(lease_seconds=1) for _ in range(4)))
    winners = [t for t in taken if t is not None]
    assert len(winners) == 1  # by one worker only
    assert (winners[0].sid, winners[0].status, winners[0].position, winners[0].events_replayed) == (
        row.sid,
        "running",
        1234,
        40,
    )


async def test_a_cancelling_replay_whose_worker_died_ends_cancelled(records: Records) -> None:
    row = await records.create_replay(ACCOUNT, SINK, *window())
    assert await records.claim_next() is not None
    assert (await records.cancel(ACCOUNT, SINK, row.sid)).status == "cancelling"
    await asyncio.sleep(1.1)
    assert await records.claim_next(lease_seconds=1) is None
    assert (await records.replay(ACCOUNT, SINK, row.sid)).status == "cancelled"


async def test_one_replay_at_a_time_per_sink(records: Records) -> None:
    first = await records.create_replay(ACCOUNT, SINK, *window())
    with pytest.raises(FailedPrecondition) as refused:
        await records.create_replay(ACCOUNT, SINK, *window())
    assert first.sid in refused.value.message
    assert (await records.create_replay(ACCOUNT, "DG" + "9" * 32, *window())).status == "submitted"
    assert await records.claim_next() is not None
    assert await records.transition(first.sid, ("running",), "completed", replayed=3)
    assert (await records.create_replay(ACCOUNT, SINK, *window())).status == "submitted"


async def test_redrive_goes_page_by_page(records: Records) -> None:
    journal = SqlJournal(records._sessions, Retention())  # the same database
    letters = [
        DeadLetter(ACCOUNT, SINK, f"EZ{i}", "com.example", "ev.x", b"{}", 1, "gone", 91305, 410)
        for i in range(1200)
    ]
    await asyncio.gather(*(journal.dead_letter(letter) for letter in letters))
    pages, after = [], 0
    while page := await records.to_redrive(ACCOUNT, SINK, [], after, REDRIVE_PAGE):
        pages.append(len(page))
        await records.mark_redriven([row.id for row in page])  # marked as it goes
        after = page[-1].id
    assert pages == [500, 500, 200]
    assert await records.to_redrive(ACCOUNT, SINK, [], 0, REDRIVE_PAGE) == []
    assert await records.not_redrivable(ACCOUNT, SINK, ["DL" + "0" * 32]) == {"DL" + "0" * 32}
