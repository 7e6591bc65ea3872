"""The work stream and the replay archive against a real nats-server: an archive full of
delivered events never refuses a publish (it forgets its oldest), undelivered work past its
budget is refused with a retryable answer until the sink drains, and replays read the
archive and say how far back it reaches."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy

from launcher.nats_server import NatsServer
from runtime import db, jetstream, stream_codec
from runtime.jetstream import StreamSpec
from runtime.natsio import acks
from services.delivery.app import MIGRATIONS, consumer_config
from services.delivery.reads.records import Records
from services.delivery.reads.replay import ArchiveReach, ReplayRunner, work_too_full
from services.delivery.settings import Settings
from services.router.bus import JetStreamBus, OutMessage

pytestmark = pytest.mark.integration

FIRST = "AC" + "1" * 32
SECOND = "AC" + "2" * 32
SINK = "DG" + "3" * 32
PAYLOAD = b'{"x":"' + b"p" * 400 + b'"}'
CAP = 64 * 1024  # both budgets, scaled down: ~120 events each


def message(account: str, i: int) -> OutMessage:
    event_id = f"EZ{account[-1]}{i}"
    return OutMessage(account, SINK, event_id, "com.example", f"{event_id}:{SINK}", PAYLOAD)


def small(unique: str, work: int = CAP) -> StreamSpec:
    return StreamSpec(
        name=f"EV_{unique}", subject_prefix=f"ev_{unique}", max_bytes=work, archive_max_bytes=CAP
    )


async def as_the_services_start(js: JetStreamContext, spec: StreamSpec) -> None:
    """The streams and the shared consumer, as the router and the workers make them."""
    await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)
    await js.add_consumer(spec.name, consumer_config(Settings()))


async def deliver_everything(js: JetStreamContext, spec: StreamSpec) -> int:
    """What a healthy sink's worker does: take every stored event and acknowledge it."""
    pull = await js.pull_subscribe_bind(Settings().consumer_name, stream=spec.name)
    taken = 0
    try:
        while True:
            try:
                messages = await pull.fetch(200, timeout=0.5)
            except TimeoutError:
                return taken
            await acks.ack_all(messages)
            taken += len(messages)
    finally:
        await pull.unsubscribe()


async def settled(js: JetStreamContext, spec: StreamSpec) -> None:
    """Until the work stream has let go of everything delivered: the archive acknowledges
    its copies about once a second (its source consumer's flow control)."""
    for _ in range(100):
        if (await js.stream_info(spec.name)).state.messages == 0:
            return
        await asyncio.sleep(0.05)


async def test_an_archive_full_of_delivered_events_never_refuses_a_publish(
    nats_server: NatsServer, unique: str
) -> None:
    spec = small(unique)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await as_the_services_start(js, spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        # Three caps' worth, every event delivered and acknowledged as it goes.
        for start in range(0, 480, 40):
            outcomes = await bus.put([message(FIRST, i) for i in range(start, start + 40)])
            assert outcomes == [None] * 40, f"refused after {start} delivered events: {outcomes[-1]!r}"
            await deliver_everything(js, spec)
            await settled(js, spec)
        # Another account's publish is taken: nothing undelivered stands in its way.
        assert await bus.put([message(SECOND, 0)]) == [None]
        await deliver_everything(js, spec)
        await settled(js, spec)
        archive = (await js.stream_info(spec.archive().name)).state
        # The archive forgot its oldest to make room, and holds the newest.
        assert archive.bytes <= CAP
        assert archive.first_seq > 1
        assert archive.messages < 481
        last = await js.get_msg(spec.archive().name, archive.last_seq)
        assert last.subject == spec.subject(SECOND, SINK)
    finally:
        await nc.close()


async def test_undelivered_work_past_its_budget_is_refused_until_the_sink_drains(
    nats_server: NatsServer, unique: str
) -> None:
    spec = small(unique)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await as_the_services_start(js, spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=2)
        # A sink that is down: nothing is acknowledged, the backlog grows to the budget.
        outcomes: list[BaseException | None] = []
        for start in range(0, 400, 40):
            outcomes += await bus.put([message(FIRST, i) for i in range(start, start + 40)])
        refused = [o for o in outcomes if o is not None]
        assert outcomes[0] is None and refused, "the backlog never reached its budget"
        assert "maximum bytes" in str(refused[0]).lower()
        work = (await js.stream_info(spec.name)).state
        assert work.first_seq == 1  # discard new: no undelivered event was dropped for room
        assert await work_too_full(js, spec)  # replays and redrives wait too
        # Another account is refused too (the budget is the store's), with the same answer.
        assert (await bus.put([message(SECOND, 0)]))[0] is not None
        # The sink comes back and drains its backlog: publishing is taken again.
        assert await deliver_everything(js, spec) == outcomes.count(None)
        await settled(js, spec)  # within about a second (the archive's acknowledgements)
        assert await bus.put([message(SECOND, 1)]) == [None]
        assert not await work_too_full(js, spec)
    finally:
        await nc.close()


async def test_no_event_is_lost_to_interest_before_the_workers_start(
    nats_server: NatsServer, unique: str
) -> None:
    """The router makes the shared consumer with the streams: events it takes before any
    worker ever ran wait for the workers instead of leaving with the archive's copy."""
    spec = small(unique)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)  # the router alone
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        assert await bus.put([message(FIRST, i) for i in range(10)]) == [None] * 10
        await asyncio.sleep(0.5)  # the archive has sourced them by now
        await js.add_consumer(spec.name, consumer_config(Settings()))  # a worker starts
        assert await deliver_everything(js, spec) == 10
        # Another consumer made and removed (an operator's look) drops nothing undelivered.
        assert await bus.put([message(FIRST, 100)]) == [None]
        await js.add_consumer(spec.name, ConsumerConfig(durable_name="look", ack_policy=AckPolicy.EXPLICIT))
        await js.delete_consumer(spec.name, "look")
        assert await deliver_everything(js, spec) == 1
    finally:
        await nc.close()


async def test_a_replay_reads_the_archive_and_says_how_far_back_it_reaches(
    nats_server: NatsServer, unique: str, tmp_path: Path
) -> None:
    spec = small(unique, work=4 * CAP)  # room for the whole archive's copies
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    records = Records(db.sessionmaker(engine))
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await as_the_services_start(js, spec)
        reach = ArchiveReach(nc, spec, ordered=lambda sink_sid: False)
        assert await reach.starts_at(SINK) is None  # nothing archived yet
        started = datetime.now(UTC) - timedelta(seconds=1)
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        # Past the archive's cap: its oldest are forgotten, the replay window starts later.
        for start in range(0, 240, 40):
            assert await bus.put([message(FIRST, i) for i in range(start, start + 40)]) == [None] * 40
            await deliver_everything(js, spec)
            await settled(js, spec)
        oldest = await reach.starts_at(SINK)
        assert oldest is not None and started < oldest < datetime.now(UTC)
        archived = (await js.stream_info(spec.archive().name)).state.messages
        assert 0 < archived < 240
        # The work stream holds nothing: the replay's copies come from the archive.
        assert (await js.stream_info(spec.name)).state.messages == 0
        row = await records.create_replay(FIRST, SINK, started, datetime.now(UTC))
        runner = ReplayRunner(js, spec, records, poll_seconds=0.1)
        running = asyncio.create_task(runner.run())
        try:
            for _ in range(100):
                done = await records.replay(FIRST, SINK, row.sid)
                if done.status not in ("submitted", "running"):
                    break
                await asyncio.sleep(0.1)
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        assert (done.status, done.events_replayed) == ("completed", archived), done.error
        pull = await js.pull_subscribe_bind(Settings().consumer_name, stream=spec.name)
        copies = await pull.fetch(archived, timeout=2)
        assert len(copies) == archived
        assert all((m.headers or {}).get(stream_codec.REPLAY) == row.sid for m in copies)
    finally:
        await nc.close()
        await engine.dispose()


async def test_an_events_stream_from_before_the_archive_hands_it_its_history(
    nats_server: NatsServer, unique: str
) -> None:
    """Upgrading: the old events stream kept everything (limits retention). Made interest-
    retained, it lets go of what was delivered — after the archive has copied it all."""
    spec = small(unique, work=4 * CAP)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        before = replace(spec, interest=False)
        await jetstream.ensure_stream(js, before)
        await js.add_consumer(spec.name, consumer_config(Settings()))
        bus = JetStreamBus(nc, before, timeout_seconds=5)
        assert await bus.put([message(FIRST, i) for i in range(30)]) == [None] * 30
        assert await deliver_everything(js, spec) == 30  # delivered: kept only for replays
        await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)
        assert (await js.stream_info(spec.name)).config.retention == RetentionPolicy.INTEREST
        await settled(js, spec)
        assert (await js.stream_info(spec.archive().name)).state.messages == 30
    finally:
        await nc.close()


async def test_events_acknowledged_at_once_from_the_first_still_reach_the_archive(
    nats_server: NatsServer, unique: str
) -> None:
    """A new archive's source takes a moment to start copying; what the workers acknowledge
    meanwhile would leave the work stream uncopied — so the services start once it copies."""
    spec = replace(small(unique), max_bytes=-1, archive_max_bytes=-1)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await as_the_services_start(js, spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        for start in range(0, 1000, 100):
            assert await bus.put([message(FIRST, i) for i in range(start, start + 100)]) == [None] * 100
            await deliver_everything(js, spec)
        await settled(js, spec)
        assert (await js.stream_info(spec.archive().name)).state.messages == 1000
    finally:
        await nc.close()


async def test_a_service_starting_under_live_traffic_is_not_held_up(
    nats_server: NatsServer, unique: str
) -> None:
    """The start waits for the archive to copy what was stored before it, not for a lag of
    nil, which events arriving all the while never leave."""
    spec = replace(small(unique), max_bytes=-1, archive_max_bytes=-1)
    nc = await jetstream.connect(nats_server.url, "test")
    try:
        js = nc.jetstream()
        await as_the_services_start(js, spec)
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        stop = asyncio.Event()

        async def live() -> None:
            i = 0
            while not stop.is_set():
                await bus.put([message(FIRST, n) for n in range(i, i + 20)])
                i += 20

        traffic = asyncio.create_task(live())
        try:
            await asyncio.sleep(0.5)
            began = asyncio.get_running_loop().time()
            await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)  # a restart
            assert asyncio.get_running_loop().time() - began < 10
        finally:
            stop.set()
            await traffic
    finally:
        await nc.close()
