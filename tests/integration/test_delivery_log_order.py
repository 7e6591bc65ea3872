"""The delivery log, dead letters and replays are read newest first (as Twilio's and Svix's
logs are), on SQLite and PostgreSQL: the first page is what happened last, the next page goes
back in time, the previous page forward again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import db
from runtime.errors import InvalidArgument
from runtime.paging import Cursor, encode
from services.delivery.app import MIGRATIONS
from services.delivery.models import AttemptRow, DeadLetterRow
from services.delivery.reads.records import Records
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "1" * 32
SINK = "DG" + "1" * 32
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    yield db.sessionmaker(engine)
    await engine.dispose()


def attempt(n: int, outcome: str = "delivered") -> AttemptRow:
    return AttemptRow(
        account_sid=ACCOUNT,
        sink_sid=SINK,
        event_id=f"EV{n}",
        type="t",
        attempt=1,
        outcome=outcome,
        status_code=200,
        latency_ms=n,
        error_code=None,
        error=None,
        date_created=T0 + timedelta(seconds=n),
    )


async def test_the_delivery_log_reads_newest_first_page_by_page(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add_all(attempt(n, "failed" if n % 3 == 0 else "delivered") for n in range(7))
    records = Records(sessions)

    first = await records.attempts(ACCOUNT, SINK, "", "", 3, "")
    assert [r.event_id for r in first.items] == ["EV6", "EV5", "EV4"]
    assert first.previous_token == ""
    second = await records.attempts(ACCOUNT, SINK, "", "", 3, first.next_token)
    assert [r.event_id for r in second.items] == ["EV3", "EV2", "EV1"]
    last = await records.attempts(ACCOUNT, SINK, "", "", 3, second.next_token)
    assert [r.event_id for r in last.items] == ["EV0"]
    assert last.next_token == ""
    back = await records.attempts(ACCOUNT, SINK, "", "", 3, last.previous_token)
    assert [r.event_id for r in back.items] == ["EV3", "EV2", "EV1"]
    newest = await records.attempts(ACCOUNT, SINK, "", "", 3, back.previous_token)
    assert [r.event_id for r in newest.items] == ["EV6", "EV5", "EV4"]
    assert newest.previous_token == ""

    failed = await records.attempts(ACCOUNT, SINK, "failed", "", 50, "")
    assert [r.event_id for r in failed.items] == ["EV6", "EV3", "EV0"]

    # A log being written to: a newer attempt shows first, not after the rows read so far.
    async with sessions.begin() as session:
        session.add(attempt(7))
    assert (await records.attempts(ACCOUNT, SINK, "", "", 1, "")).items[0].event_id == "EV7"

    with pytest.raises(InvalidArgument):
        await records.attempts(ACCOUNT, SINK, "", "", 3, encode(Cursor("after", "not a number")))


async def test_dead_letters_and_replays_read_newest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add_all(
            DeadLetterRow(
                sid=f"DL{n:032d}",
                account_sid=ACCOUNT,
                sink_sid=SINK,
                event_id=f"EV{n}",
                type="t",
                subject="s",
                payload="{}",
                attempts=3,
                reason="r",
                error_code=1,
                status_code=500,
                date_created=T0 + timedelta(seconds=n),
                date_redriven=None,
            )
            for n in range(3)
        )
    records = Records(sessions)
    letters = await records.dead_letters(ACCOUNT, SINK, None, 50, "")
    assert [d.event_id for d in letters.items] == ["EV2", "EV1", "EV0"]

    made = []
    for _ in range(2):
        replay = await records.create_replay(ACCOUNT, SINK, T0, T0 + timedelta(hours=1))
        await records.transition(replay.sid, ("submitted",), "completed")
        made.append(replay.sid)
    replays = await records.replays(ACCOUNT, SINK, 50, "")
    assert [r.sid for r in replays.items] == made[::-1]
