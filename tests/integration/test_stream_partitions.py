"""Events spread over three partitions (a stream each) against a real nats-server and a real
HTTP receiver: every sink's events land in its own partition and are all delivered, an
ordered sink keeps its per-key order, a duplicate Nats-Msg-Id is stored once, and a replay
finds a sink's events in its own partition's archive, whichever partition that is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from nats.aio.client import Client

from devkit.nats_cluster import NatsCluster
from devkit.receiver import Received, Receiver
from eventstreams.v1 import control_pb2
from launcher.nats_server import NatsServer
from runtime import db, jetstream
from runtime.jetstream import StreamSpec, partition_of
from runtime.routing import whole_table
from services.delivery.app import MIGRATIONS, consumer_config
from services.delivery.directory import SinkDirectory
from services.delivery.intake.room import Room
from services.delivery.intake.worker import Worker, bells
from services.delivery.leaders import placements, spread
from services.delivery.ordered.lanes import OrderedDelivery, OrderedRules
from services.delivery.outage.parking import Parking, ParkingRules, ParkingStream
from services.delivery.reads.records import Records
from services.delivery.reads.replay import ArchiveReach, ReplayRunner
from services.delivery.scheduling.lane import LaneRules
from services.delivery.scheduling.lanes import Dispatcher
from services.delivery.settings import Settings
from services.delivery.settling.decision import RetryRules
from services.delivery.settling.journal import Retention, SqlJournal
from services.delivery.settling.settle import Settler
from services.delivery.sinks.webhook import WebhookDriver
from services.router.bus import JetStreamBus, OutMessage

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "a" * 32
PARTITIONS = 3
SINKS = [f"DG{i:032x}" for i in range(12)]
ORDERED = "DG" + "f" * 32
PER_SINK = 10
KEYS = ("k0", "k1", "k2")


def event(sink_sid: str, i: int, key: str | None = None) -> OutMessage:
    event_id = f"EZ{sink_sid[-4:]}{i:04d}"
    body = {"id": event_id, "data": {"sink": sink_sid, "n": i, "key": key}}
    return OutMessage(
        ACCOUNT,
        sink_sid,
        event_id,
        "com.example",
        f"{event_id}:{sink_sid}",
        json.dumps(body).encode(),
        order_key=key,
    )


def snapshot(url: str) -> control_pb2.RoutingChanges:
    def sink(sid: str) -> control_pb2.RoutedSink:
        configuration = json.dumps({"destination": f"{url}/{sid}", "method": "POST", "batch_events": False})
        return control_pb2.RoutedSink(
            sid=sid,
            account_sid=ACCOUNT,
            sink_type="webhook",
            status="active",
            configuration_json=configuration,
        )

    return whole_table(
        revision=1,
        accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token="t" * 32)],
        sinks=[sink(sid) for sid in [*SINKS, ORDERED]],
        subscriptions=[
            control_pb2.RoutedSubscription(
                sid="DF" + "1" * 32, account_sid=ACCOUNT, sink_sid=ORDERED, ordering_key="key"
            )
        ],
    )


@contextlib.asynccontextmanager
async def workers(
    nc: Client, spec: StreamSpec, directory: SinkDirectory, journal: SqlJournal, **rules: Any
) -> AsyncIterator[None]:
    """One delivery worker as app.build wires it: a puller per partition, one room."""
    js = nc.jetstream()
    parts = spec.split()
    consumer = Settings().consumer_name
    for part in parts:
        await js.add_consumer(part.name, consumer_config(Settings(ack_wait_seconds=30)))
    retry = RetryRules(base_seconds=0.05, max_delay_seconds=0.2, max_age_seconds=3600)
    streams = [part.name for part in parts]
    wakes = bells(streams)
    room = Room(512, wakes)
    parked = ParkingStream(js, [part.parking() for part in parts])
    await parked.start()
    settler = Settler(journal, retry, parked, directory.owner)
    dispatcher = Dispatcher(directory, settler, room, LaneRules(retry=retry, **rules), parked)
    parking = Parking(parked, ParkingRules(sweep_seconds=0.2), dispatcher, settler)
    worker = Worker(nc, streams, consumer, dispatcher, room, wakes)
    ordered = OrderedDelivery(nc, js, [part.ordered() for part in parts], directory, settler, OrderedRules())
    tasks = [
        asyncio.create_task(worker.run()),
        asyncio.create_task(parking.run()),
        asyncio.create_task(ordered.run()),
    ]
    try:
        yield
    finally:
        await parking.stop()
        await asyncio.gather(worker.drain(), ordered.drain(timeout=5))
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await journal.flush()


def delivered(receiver: Receiver) -> dict[str, list[dict[str, object]]]:
    by_sink: dict[str, list[dict[str, object]]] = defaultdict(list)
    for record in receiver.received:
        by_sink[record.url.split("?")[0].rsplit("/", 1)[-1]] += record.events()
    return by_sink


async def test_events_of_many_sinks_spread_over_three_partitions_and_all_arrive(
    nats_server: NatsServer, unique: str, tmp_path: Path
) -> None:
    spec = StreamSpec(name=f"EV_{unique}", subject_prefix=f"ev_{unique}", partitions=PARTITIONS)
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    sessions = db.sessionmaker(engine)
    receiver = Receiver()
    url = await receiver.start()
    nc = await jetstream.connect(nats_server.url, "test")
    driver = WebhookDriver(5.0, True, "test-agent")
    try:
        js = nc.jetstream()
        await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)
        directory = SinkDirectory({"webhook": driver})
        directory.apply(snapshot(url))
        started = datetime.now(UTC) - timedelta(seconds=1)
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        plain = [event(sink, i) for sink in SINKS for i in range(PER_SINK)]
        ordered = [event(ORDERED, i, KEYS[i % len(KEYS)]) for i in range(60)]
        assert await bus.put(plain + ordered) == [None] * (len(plain) + len(ordered))
        # Sent again, the same Nats-Msg-Id: the same partition, which keeps it once.
        assert await bus.put([plain[0], ordered[0]]) == [None, None]

        stored = {part.name: (await js.stream_info(part.name)).state.last_seq for part in spec.split()}
        assert all(count > 0 for count in stored.values()), stored  # every partition took some
        assert sum(stored.values()) == len(plain)  # and none twice
        expected: dict[str, int] = defaultdict(int)
        for sink in SINKS:
            expected[spec.partition(partition_of(sink, PARTITIONS)).name] += PER_SINK
        assert stored == expected
        ordered_stream = spec.for_sink(ORDERED).ordered().name
        assert (await js.stream_info(ordered_stream)).state.messages == len(ordered)

        async with workers(nc, spec, directory, SqlJournal(sessions, Retention())):
            await receiver.wait_for(lambda r: len(r.events()) >= len(plain) + len(ordered), timeout=30)
        got = delivered(receiver)
        for sink in SINKS:
            assert sorted(e["data"]["n"] for e in got[sink]) == list(range(PER_SINK))  # type: ignore[index]
        for key in KEYS:
            sequence = [e["data"]["n"] for e in got[ORDERED] if e["data"]["key"] == key]  # type: ignore[index]
            assert sequence == [i for i in range(60) if KEYS[i % len(KEYS)] == key]

        # Replays: each partition's archive holds its sinks' events, and a replay of one
        # sink of each partition finds all of that sink's.
        records = Records(sessions)
        reach = ArchiveReach(nc, spec, ordered=lambda sink_sid: sink_sid == ORDERED)
        oldest = await reach.starts_at()
        assert oldest is not None and started < oldest
        one_per_partition = {partition_of(sink, PARTITIONS): sink for sink in SINKS}
        assert len(one_per_partition) == PARTITIONS
        runner = ReplayRunner(js, spec, records, poll_seconds=0.1)
        running = asyncio.create_task(runner.run())
        try:
            for sink in one_per_partition.values():
                assert await reach.starts_at(sink) is not None
                row = await records.create_replay(ACCOUNT, sink, started, datetime.now(UTC))
                for _ in range(100):
                    done = await records.replay(ACCOUNT, sink, row.sid)
                    if done.status not in ("submitted", "running"):
                        break
                    await asyncio.sleep(0.1)
                assert (done.status, done.events_replayed) == ("completed", PER_SINK), done.error
                # The copies went to the sink's own partition, for its consumer there.
                info = await js.consumer_info(spec.for_sink(sink).name, Settings().consumer_name)
                assert info.num_pending == PER_SINK
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    finally:
        await nc.close()
        await driver.close()
        await receiver.stop()
        await engine.dispose()


async def test_partition_leaders_bunched_on_one_server_are_spread_over_the_three(tmp_path: Path) -> None:
    """As a server's restart leaves them: every partition led by one server. The workers'
    spreading moves them, one step-down at a time, until each server leads one."""
    cluster = NatsCluster(tmp_path, tmp_path / "logs", 3)
    cluster.start()
    try:
        nc = await jetstream.connect(cluster.url, "test", "delivery", cluster.passwords["delivery"])
        try:
            js = nc.jetstream(timeout=10)
            spec = StreamSpec(replicas=3, partitions=PARTITIONS)
            deadline = time.monotonic() + 60
            while True:  # a fresh cluster elects its meta leader first
                try:
                    await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
            names = [part.name for part in spec.split()]
            body = json.dumps({"placement": {"preferred": "nats-0"}}).encode()
            for name in names:
                await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{name}", body, timeout=10)
            for _ in range(50):
                if {p.leader for p in (await placements(nc, names)).values()} == {"nats-0"}:
                    break
                await asyncio.sleep(0.2)
            for _ in range(50):
                led = sorted(p.leader for p in (await placements(nc, names)).values())
                if led == ["nats-0", "nats-1", "nats-2"]:
                    break
                await spread(nc, [names])
                await asyncio.sleep(0.5)
            assert led == ["nats-0", "nats-1", "nats-2"]
        finally:
            await nc.close()
    finally:
        cluster.stop()


async def test_a_down_sink_is_parked_in_its_own_partition_and_comes_back(
    nats_server: NatsServer, unique: str, tmp_path: Path
) -> None:
    spec = StreamSpec(name=f"EV_{unique}", subject_prefix=f"ev_{unique}", partitions=PARTITIONS)
    sink = next(s for s in SINKS if partition_of(s, PARTITIONS) != 0)  # not the unpartitioned names
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    down = True
    taken: set[int] = set()  # events the sink answered 200 for

    def respond(record: Received) -> web.Response:
        if down:
            return web.Response(status=500)
        taken.update(e["data"]["n"] for e in record.events())
        return web.Response(status=200)

    receiver = Receiver(responder=respond)
    url = await receiver.start()
    nc = await jetstream.connect(nats_server.url, "test")
    driver = WebhookDriver(5.0, True, "test-agent")
    try:
        js = nc.jetstream()
        await jetstream.ensure_event_streams(js, spec, Settings().consumer_name)
        directory = SinkDirectory({"webhook": driver})
        directory.apply(snapshot(url))
        bus = JetStreamBus(nc, spec, timeout_seconds=5)
        assert await bus.put([event(sink, i) for i in range(30)]) == [None] * 30
        parking = spec.for_sink(sink).parking().name
        assert parking == f"{spec.name}_P{partition_of(sink, PARTITIONS)}_PARKED"
        async with workers(
            nc, spec, directory, SqlJournal(db.sessionmaker(engine), Retention()), failing_buffer=1
        ):
            for _ in range(200):
                if (await js.stream_info(parking)).state.messages >= 25:
                    break
                await asyncio.sleep(0.05)
            assert (await js.stream_info(parking)).state.messages >= 25
            down = False
            await receiver.wait_for(lambda _r: taken == set(range(30)), timeout=30)
            for _ in range(100):  # the last acknowledgements
                if (await js.stream_info(parking)).state.messages == 0:
                    break
                await asyncio.sleep(0.05)
        assert (await js.stream_info(parking)).state.messages == 0
        others = [p.parking().name for p in spec.split() if p.parking().name != parking]
        assert [(await js.stream_info(name)).state.last_seq for name in others] == [0, 0]
    finally:
        await nc.close()
        await driver.close()
        await receiver.stop()
        await engine.dispose()
