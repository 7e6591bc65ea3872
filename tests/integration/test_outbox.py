"""The transactional outbox on real SQLite and PostgreSQL, with a fake transport: events commit
or roll back with the application's transaction; the relay publishes them in order, settles
each with the router's answer (a rejection for good, an unavailable one again later), and
after a failure between publish and mark publishes the same ids again. On PostgreSQL two
relays share the work without publishing a row twice (FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from eventstreams_producer import Event, RetryPolicy
from eventstreams_producer.outbox import Outbox, unsent_count
from eventstreams_producer.outbox_table import create_outbox, outbox
from eventstreams_producer.relay import OutboxRelay, engine_for
from eventstreams_producer.results import EventResult
from tests.conftest import database_url

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "1" * 32
TYPE = "com.twilio.messaging.message.delivered"
ONCE = RetryPolicy(max_attempts=1)


class Recording:
    """Answers OK unless told otherwise per event id; records every call's ids."""

    def __init__(self, codes: dict[str, int] | None = None, pause: float = 0.0) -> None:
        self.codes = codes or {}
        self.calls: list[list[str]] = []
        self.pause = pause

    async def publish(self, events: Sequence[Event]) -> list[EventResult]:
        self.calls.append([e.id for e in events])
        if self.pause:
            await asyncio.sleep(self.pause)
        return [EventResult(e.id, self.codes.get(e.id, 0), f"code {self.codes.get(e.id, 0)}") for e in events]

    @property
    def ids(self) -> list[str]:
        return [i for call in self.calls for i in call]


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = database_url(request.param, request, tmp_path, "app")
    created = engine_for(url)
    await create_outbox(created)
    await create_outbox(created)  # idempotent
    yield created
    await created.dispose()


async def write(engine: AsyncEngine, count: int, commit: bool = True) -> list[str]:
    sessions = async_sessionmaker(engine)
    box = Outbox(account_sid=ACCOUNT)
    async with sessions() as session:
        ids = [(await box.add(session, TYPE, {"n": i}, schema_version=7)).id for i in range(count)]
        if commit:
            await session.commit()
        else:
            await session.rollback()
    return ids


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return await unsent_count(connection)


async def test_events_commit_and_roll_back_with_the_application_transaction(engine: AsyncEngine) -> None:
    kept = await write(engine, 3)
    await write(engine, 2, commit=False)
    sessions = async_sessionmaker(engine)
    async with sessions() as session:  # add() alone commits nothing: closing discards it
        await Outbox(ACCOUNT).add(session, TYPE, {}, schema_version=7)
    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox.c.event_id).order_by(outbox.c.position))).scalars()
        assert list(rows) == kept


async def test_the_relay_publishes_in_order_and_settles_each_row_with_its_answer(engine: AsyncEngine) -> None:
    ids = await write(engine, 7)
    fake = Recording({ids[1]: 3, ids[2]: 5, ids[4]: 14})
    relay = OutboxRelay(engine, fake, batch_size=3, retry=ONCE)
    assert await relay.drain() == 8
    # The unavailable one is first again in the next pass (position order); it stays unsent.
    assert fake.calls == [ids[0:3], ids[3:6], [ids[4], ids[6]]]
    assert await unsent(engine) == 1
    async with engine.connect() as connection:
        found = {
            r.event_id: r
            for r in (await connection.execute(select(outbox).order_by(outbox.c.position))).all()
        }
    assert found[ids[1]].result_code == 3 and found[ids[1]].settled_at is not None
    assert found[ids[2]].result_code == 5 and found[ids[2]].result_message == "code 5"
    assert found[ids[4]].settled_at is None and found[ids[4]].attempts == 2
    assert found[ids[4]].last_error.startswith("14")
    assert found[ids[0]].result_code == 0

    fake.codes.clear()  # the router is back: only the unavailable one goes again; rejected stay so
    assert (await relay.run_once()).accepted == 1
    assert fake.calls[-1] == [ids[4]]
    assert await unsent(engine) == 0
    assert (await relay.run_once()).rows == 0


async def test_a_relay_that_dies_after_publishing_publishes_the_same_ids_again(engine: AsyncEngine) -> None:
    ids = await write(engine, 4)
    fake = Recording()

    def die(rows: object, batch: object) -> None:
        raise SystemExit("killed between publish and mark")

    with pytest.raises(SystemExit):
        await OutboxRelay(engine, fake, batch_size=10, after_publish=die).run_once()
    assert await unsent(engine) == 4
    await OutboxRelay(engine, fake, batch_size=10).drain()
    assert fake.calls == [ids, ids] and await unsent(engine) == 0


async def test_the_run_loop_stops_when_asked_and_survives_a_failing_pass(engine: AsyncEngine) -> None:
    await write(engine, 5)

    class Flaky(Recording):
        async def publish(self, events: Sequence[Event]) -> list[EventResult]:
            if not self.calls:
                self.calls.append([])
                raise RuntimeError("transport bug")
            return await super().publish(events)

    fake = Flaky()
    relay = OutboxRelay(engine, fake, batch_size=2, poll_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    for _ in range(200):
        if await unsent(engine) == 0:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await unsent(engine) == 0 and len(fake.ids) == 5


async def test_two_relays_on_postgresql_never_publish_the_same_row(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = database_url("postgres", request, tmp_path, "app")
    engine = engine_for(url)
    try:
        await create_outbox(engine)
        ids = await write(engine, 120)
        fakes = [Recording(pause=0.02), Recording(pause=0.02)]
        relays = [OutboxRelay(engine, fake, batch_size=10) for fake in fakes]
        await asyncio.gather(*(relay.drain() for relay in relays))
        while await unsent(engine):  # a relay may stop early on a short pass; finish
            await relays[0].drain()
        published = fakes[0].ids + fakes[1].ids
        assert sorted(published) == sorted(ids)  # each exactly once
        assert fakes[0].ids and fakes[1].ids  # and both took part
    finally:
        await engine.dispose()
