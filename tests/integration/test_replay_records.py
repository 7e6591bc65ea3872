"""Replays' stored state on SQLite and PostgreSQL: claiming is exclusive, cancelling follows
the spec's statuses (submitted → cancelled; running → cancelling → cancelled by the runner)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime import db
from runtime.errors import InvalidArgument, NotFound
from services.delivery.app import MIGRATIONS
from services.delivery.records import Records
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
    created = [await records.create_replay(ACCOUNT, SINK, *window()) for _ in range(3)]
    claimed = await asyncio.gather(*(records.claim_next() for _ in range(6)))
    sids = [row.sid for row in claimed if row is not None]
    assert sorted(sids) == sorted(row.sid for row in created)  # each once, none twice
    statuses = [(await records.replay(ACCOUNT, SINK, sid)).status for sid in sids]
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
