"""A delivery worker against a real nats-server and a real HTTP receiver: retries with
backoff on 5xx and timeouts, terminates on 4xx, refuses private destinations."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from nats.aio.client import Client
from opentelemetry.trace import Tracer

from devkit.receiver import Received, Receiver, signature_valid
from eventstreams.v1 import control_pb2
from launcher.nats_server import NatsServer
from launcher.processes import free_port
from runtime import db, jetstream
from runtime.jetstream import StreamSpec
from runtime.routing import whole_table
from services.delivery.app import MIGRATIONS, consumer_config
from services.delivery.directory import SinkDirectory
from services.delivery.intake.room import Room
from services.delivery.intake.worker import Worker, bells
from services.delivery.outage.parking import Parking, ParkingRules, ParkingStream
from services.delivery.reads.records import Records
from services.delivery.scheduling.fleet import FleetView
from services.delivery.scheduling.lane import LaneRules
from services.delivery.scheduling.lanes import Dispatcher
from services.delivery.scheduling.throttle import ThrottleRules
from services.delivery.settings import Settings
from services.delivery.settling.decision import RetryRules
from services.delivery.settling.journal import Retention, SqlJournal
from services.delivery.settling.settle import Settler
from services.delivery.sinks.webhook import WebhookDriver
from services.router.bus import JetStreamBus, OutMessage

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "a" * 32
TOKEN = "b" * 32
SINK = "DG" + "c" * 32


@dataclass
class Rig:
    nc: Client
    spec: StreamSpec
    consumer: str
    directory: SinkDirectory
    journal: SqlJournal
    records: Records
    snapshot: control_pb2.RoutingChanges = field(default_factory=whole_table)
    dispatcher: Dispatcher | None = None  # the running worker's lanes

    def point_sink_at(
        self, destination: str, batch: bool = False, method: str = "POST", revision: int = 1
    ) -> None:
        self.snapshot = whole_table(
            revision=revision,
            accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token=TOKEN)],
            sinks=[
                control_pb2.RoutedSink(
                    sid=SINK,
                    account_sid=ACCOUNT,
                    sink_type="webhook",
                    status="active",
                    configuration_json=json.dumps(
                        {"destination": destination, "method": method, "batch_events": batch}
                    ),
                )
            ],
        )

    def drop_sink(self, revision: int) -> None:
        """A snapshot at `revision` with the account and without the sink."""
        accounts = [control_pb2.RoutedAccount(sid=ACCOUNT, auth_token=TOKEN)]
        self.snapshot = whole_table(revision=revision, accounts=accounts)

    async def publish(self, count: int, padding: int = 0, revision: int = 0, account: str = ACCOUNT) -> None:
        bus = JetStreamBus(self.nc, self.spec, 5)
        messages = [
            OutMessage(
                account,
                SINK,
                f"EZ{i}",
                "com.example",
                f"EZ{i}:{SINK}",
                json.dumps({"id": f"EZ{i}", "data": {"pad": "x" * padding}}).encode(),
                revision=revision,
            )
            for i in range(count)
        ]
        assert await bus.put(messages) == [None] * count

    @contextlib.asynccontextmanager
    async def worker(
        self,
        timeout: float = 5.0,
        allow_private: bool = True,
        max_retry_age_seconds: float = 4 * 3600.0,
        tracer: Tracer | None = None,
        fleet: FleetView | None = None,
        **rules: Any,
    ) -> AsyncIterator[Worker]:
        settings = Settings(consumer_name=self.consumer, ack_wait_seconds=30)
        await self.nc.jetstream().add_consumer(self.spec.name, consumer_config(settings))
        driver = WebhookDriver(timeout, allow_private, "test-agent")
        self.directory = SinkDirectory({"webhook": driver})
        self.directory.apply(self.snapshot)
        retry = RetryRules(base_seconds=0.05, max_delay_seconds=0.2, max_age_seconds=max_retry_age_seconds)
        wakes = bells(self.spec.name)
        room = Room(512, wakes)
        parked = ParkingStream(self.nc.jetstream(), self.spec.parking())
        await parked.start()
        settler = Settler(self.journal, retry, parked, self.directory.owner, tracer=tracer)
        dispatcher = Dispatcher(
            self.directory, settler, room, LaneRules(retry=retry, **rules), parked, fleet=fleet
        )
        self.dispatcher = dispatcher
        parking = Parking(parked, ParkingRules(sweep_seconds=0.2, expiry_seconds=0.5), dispatcher, settler)
        worker = Worker(self.nc, self.spec.name, self.consumer, dispatcher, room, wakes)
        tasks = [asyncio.create_task(worker.run()), asyncio.create_task(parking.run())]
        try:
            yield worker
        finally:
            await parking.stop()
            await worker.drain()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await driver.close()
            await self.journal.flush()

    async def pending(self) -> tuple[int, int]:
        """Events not yet settled: waiting or held in the events stream's consumer, and
        waiting in the parking stream."""
        js = self.nc.jetstream()
        info = await js.consumer_info(self.spec.name, self.consumer)
        parked = await js.stream_info(self.spec.parking().name)
        return info.num_pending + parked.state.messages, info.num_ack_pending

    async def parked(self) -> int:
        return (await self.nc.jetstream().stream_info(self.spec.parking().name)).state.messages

    async def wait_parked(self, count: int) -> None:
        for _ in range(200):
            if await self.parked() >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{await self.parked()} events parked, not {count}")


@pytest.fixture
async def rig(nats_server: NatsServer, unique: str, tmp_path: Path) -> AsyncIterator[Rig]:
    nc = await jetstream.connect(nats_server.url, "test")
    spec = StreamSpec(name=f"EV_{unique}", subject_prefix=f"ev_{unique}")
    await jetstream.ensure_event_streams(nc.jetstream(), spec, f"delivery_{unique}")
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    sessions = db.sessionmaker(engine)
    yield Rig(
        nc,
        spec,
        f"delivery_{unique}",
        SinkDirectory({}),
        SqlJournal(sessions, Retention()),
        Records(sessions),
    )
    await nc.close()
    await engine.dispose()


def scripted(*statuses: int) -> Callable[[Received], web.Response]:
    """Answer each request for an event with the next status in turn, then 200."""
    seen: dict[bytes, int] = {}

    def respond(record: Received) -> web.Response:
        count = seen.get(record.body, 0)
        seen[record.body] = count + 1
        return web.Response(status=statuses[count] if count < len(statuses) else 200)

    return respond


async def settled(rig: Rig) -> None:
    for _ in range(100):
        if await rig.pending() == (0, 0):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"consumer not settled: {await rig.pending()}")


async def test_5xx_is_retried_until_delivered(rig: Rig, receiver: Receiver) -> None:
    receiver.responder = scripted(500, 503)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(5)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 15)
        await settled(rig)
    assert len(receiver.received) == 15  # 3 attempts per event, no more
    assert all(signature_valid(TOKEN, record) for record in receiver.received)
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "EZ0", 50, "")).items
    assert [(a.attempt, a.outcome, a.status_code, a.error_code) for a in attempts] == [
        (3, "delivered", 200, None),  # newest first
        (2, "retrying", 503, 91306),
        (1, "retrying", 500, 91306),
    ]


async def test_400_is_a_dead_letter_without_retry(rig: Rig, receiver: Receiver) -> None:
    receiver.responder = scripted(400)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(3)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 3)
        await settled(rig)
        await asyncio.sleep(0.5)
    assert len(receiver.received) == 3
    letters = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    assert sorted(letter.event_id for letter in letters) == ["EZ0", "EZ1", "EZ2"]
    assert {(letter.error_code, letter.status_code, letter.attempts) for letter in letters} == {
        (91305, 400, 1)
    }
    assert json.loads(letters[0].payload)["id"] in {"EZ0", "EZ1", "EZ2"}
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "", 50, "")).items
    assert sorted((a.event_id, a.outcome, a.status_code) for a in attempts) == [
        ("EZ0", "failed", 400),
        ("EZ1", "failed", 400),
        ("EZ2", "failed", 400),
    ]


async def test_429_is_retried_and_throttles(rig: Rig, receiver: Receiver) -> None:
    # How long the retry waits (Retry-After, else backoff) is decide()'s, table-tested in
    # tests/unit/test_delivery_decision.py; here: the 429 is recorded, retried, delivered.
    calls: list[float] = []

    def respond(record: Received) -> web.Response:
        calls.append(record.at)
        if len(calls) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=200)

    receiver.responder = respond
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(1)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 2)
        await settled(rig)
        assert rig.dispatcher is not None
        state = rig.dispatcher.sink_state(SINK)
    assert state is not None and state.throttle_cap is not None
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "EZ0", 50, "")).items
    assert [(a.attempt, a.outcome, a.status_code, a.error_code) for a in attempts] == [
        (2, "delivered", 200, None),  # newest first
        (1, "retrying", 429, 91302),
    ]


async def test_timeout_is_retried(rig: Rig, receiver: Receiver) -> None:
    async def slow_first(record: Received) -> web.Response:
        if len(receiver.received) == 1:
            await asyncio.sleep(1.0)
        return web.Response(status=200)

    receiver.responder = slow_first
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(1)
    async with rig.worker(timeout=0.3):
        await receiver.wait_for(lambda r: len(r.received) >= 2)
        await settled(rig)
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "EZ0", 50, "")).items
    assert [(a.attempt, a.outcome, a.error_code) for a in attempts] == [
        (2, "delivered", None),  # newest first
        (1, "retrying", 91308),
    ]


async def test_connection_refused_is_retried_then_delivered(rig: Rig, receiver: Receiver) -> None:
    port = free_port()  # nothing listens there yet
    rig.point_sink_at(f"http://127.0.0.1:{port}/hook")
    await rig.publish(1)
    async with rig.worker():
        for _ in range(200):
            attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "EZ0", 50, "")).items
            if attempts:
                break
            await rig.journal.flush()
            await asyncio.sleep(0.05)
        late = Receiver()
        await late.start(port=port)
        try:
            await late.wait_for(lambda r: len(r.received) >= 1)
            await settled(rig)
        finally:
            await late.stop()
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "EZ0", 50, "")).items
    # Newest first: delivered after a retry, unlike a refusal.
    assert attempts[-1].outcome == "retrying" and attempts[-1].error_code == 91307
    assert attempts[0].outcome == "delivered"


async def test_private_destination_is_a_recorded_dead_letter(rig: Rig, receiver: Receiver) -> None:
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(2)
    async with rig.worker(allow_private=False):
        await settled(rig)
    assert receiver.received == []
    letters = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    recorded = sorted((letter.event_id, letter.error_code) for letter in letters)
    assert recorded == [("EZ0", 91307), ("EZ1", 91307)]


async def test_localhost_is_refused_before_the_request_and_recorded(rig: Rig, receiver: Receiver) -> None:
    rig.point_sink_at(f"http://localhost:{receiver.port}/hook")
    await rig.publish(1)
    async with rig.worker(allow_private=False):
        await settled(rig)
    assert receiver.received == []
    [letter] = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    assert letter.error_code == 91307
    assert "localhost" in letter.reason


# Hosts that are the receiver's loopback address in disguise: fullwidth digits and ideographic
# full stops (IDNA maps them to ASCII on the way to the wire), userinfo, an IPv4-mapped IPv6
# literal — refused on the path that connects (91307) — and a trailing dot, a legacy numeric
# form the sink's configuration is refused for (91300) before any connection.
DISGUISED_LOOPBACK = [
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/hook", 91307),
    ("http://127\u30020\u30020\u30021:{port}/hook", 91307),
    ("http://evil.example@127.0.0.1:{port}/hook", 91307),
    ("http://[::ffff:127.0.0.1]:{port}/hook", 91307),
    ("http://127.0.0.1.:{port}/hook", 91300),
]


@pytest.mark.parametrize(("template", "code"), DISGUISED_LOOPBACK)
async def test_a_disguised_loopback_host_never_reaches_the_receiver(
    rig: Rig, receiver: Receiver, template: str, code: int
) -> None:
    rig.point_sink_at(template.format(port=receiver.port))
    await rig.publish(1)
    async with rig.worker(allow_private=False):
        await settled(rig)
    assert receiver.received == []
    [letter] = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    assert letter.error_code == code


async def test_retry_window_exhausted_becomes_a_dead_letter(rig: Rig, receiver: Receiver) -> None:
    receiver.responder = scripted(*[503] * 100)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(2)
    async with rig.worker(max_retry_age_seconds=1.0):
        await settled(rig)
    letters = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    assert len(letters) == 2
    assert all(letter.reason.startswith("retry window exceeded") for letter in letters)
    assert len(receiver.received) >= 4


async def test_batches_never_exceed_64_kb(rig: Rig, receiver: Receiver) -> None:
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook", batch=True)
    await rig.publish(300, padding=900)  # ~1 kB events: ~60 per batch
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.events()) >= 300)
        await settled(rig)
    assert sorted(e["id"] for e in receiver.events()) == sorted(f"EZ{i}" for i in range(300))
    assert all(len(record.body) <= 64 * 1024 for record in receiver.received)
    assert any(len(record.events()) > 10 for record in receiver.received)  # batches did form
    assert all(record.body.startswith(b"[") for record in receiver.received)
    assert all(signature_valid(TOKEN, record) for record in receiver.received)


async def test_get_deliveries_carry_the_event_in_the_signed_url(rig: Rig, receiver: Receiver) -> None:
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook?tenant=7", method="GET")
    await rig.publish(3)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 3)
        await settled(rig)
    assert {record.method for record in receiver.received} == {"GET"}
    assert all(signature_valid(TOKEN, record) for record in receiver.received)
    ids = sorted(json.loads(parse_qs(urlsplit(r.url).query)["event"][0])["id"] for r in receiver.received)
    assert ids == ["EZ0", "EZ1", "EZ2"]
    assert all("tenant=7" in record.url for record in receiver.received)


async def test_429_throttles_the_sink(rig: Rig, receiver: Receiver) -> None:
    receiver.responder = scripted(429)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(40)
    async with rig.worker(throttle=ThrottleRules(initial_cap=20.0)):
        await receiver.wait_for(lambda r: len(r.received) >= 80, timeout=30)
        await settled(rig)
        assert rig.dispatcher is not None
        state = rig.dispatcher.sink_state(SINK)
    # Capped at 20 calls/s, cut further by each 429 after the first (the pace itself is
    # throttle.acquire's, unit-tested; speed belongs to make bench).
    assert state is not None and state.throttle_cap is not None and state.throttle_cap <= 20.0
    assert len({e["id"] for e in receiver.events()}) == 40


async def test_an_event_the_router_could_not_shape_becomes_a_dead_letter(
    rig: Rig, receiver: Receiver
) -> None:
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    bus = JetStreamBus(rig.nc, rig.spec, 5)
    failure = "cannot be projected to Example.Thing v1"
    message = OutMessage(ACCOUNT, SINK, "EZ9", "com.example", f"EZ9:{SINK}", b'{"id":"EZ9"}', failure)
    assert await bus.put([message]) == [None]
    async with rig.worker():
        await settled(rig)
    assert receiver.received == []
    [letter] = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    assert (letter.event_id, letter.error_code, letter.reason) == ("EZ9", 91303, f"event {failure}")


async def test_a_down_sinks_backlog_is_parked_once_and_flows_when_it_answers(
    rig: Rig, receiver: Receiver
) -> None:
    down = True
    receiver.responder = lambda record: web.Response(status=500 if down else 200)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(300)
    async with rig.worker(failing_buffer=4):
        await rig.wait_parked(280)
        tried_while_down = len(receiver.received)
        await asyncio.sleep(1.0)
        # Parked, it costs nothing: a few paced probes, no stream of hand-backs.
        assert len(receiver.received) - tried_while_down <= 10
        assert tried_while_down <= 40
        down = False
        await receiver.wait_for(lambda r: len({e["id"] for e in r.events()}) >= 300)
        await settled(rig)
    assert await rig.parked() == 0
    assert (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items == []
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "", 1000, "")).items
    assert sorted(a.event_id for a in attempts if a.outcome == "delivered") == sorted(
        f"EZ{i}" for i in range(300)
    )


async def test_parked_events_return_through_another_worker_without_new_traffic(
    rig: Rig, receiver: Receiver
) -> None:
    down = True
    receiver.responder = lambda record: web.Response(status=500 if down else 200)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(50)
    async with rig.worker(failing_buffer=1):
        await rig.wait_parked(45)
    down = False
    # A fresh worker has never seen the sink: the sweep finds its parked events and probes one.
    async with rig.worker():
        await receiver.wait_for(lambda r: len({e["id"] for e in r.events()}) >= 50)
        await settled(rig)
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "", 500, "")).items
    numbers = {a.event_id: a.attempt for a in attempts if a.outcome == "delivered"}
    assert len(numbers) == 50
    # Deliveries of a parked copy continue its original's count: each was delivered (and
    # parked) at least once before.
    assert all(number >= 2 for number in numbers.values())


async def test_a_sink_newer_than_the_workers_snapshot_is_waited_for_not_dead_lettered(
    rig: Rig, receiver: Receiver
) -> None:
    # The router routed these at revision 2, where the sink exists; the worker's feed lags
    # at revision 1, without it. Before, five asks a second apart made them dead letters.
    rig.drop_sink(revision=1)
    await rig.publish(3, revision=2)
    async with rig.worker():
        await asyncio.sleep(7)
        assert (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items == []
        rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook", revision=2)
        rig.directory.apply(rig.snapshot)  # the feed catches up
        await receiver.wait_for(lambda r: len(r.received) >= 3)
        await settled(rig)
    assert sorted(e["id"] for e in receiver.events()) == ["EZ0", "EZ1", "EZ2"]


async def test_a_sink_missing_from_an_up_to_date_snapshot_is_gone(rig: Rig, receiver: Receiver) -> None:
    rig.drop_sink(revision=3)
    await rig.publish(2, revision=2)  # routed at 2; the worker's snapshot (3) no longer has it
    async with rig.worker():
        await settled(rig)
    letters = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    recorded = sorted((letter.event_id, letter.error_code) for letter in letters)
    assert recorded == [("EZ0", 91303), ("EZ1", 91303)]


async def test_a_rolled_up_subaccounts_records_belong_to_the_sink_owner(rig: Rig, receiver: Receiver) -> None:
    subaccount = "AC" + "d" * 32
    receiver.responder = scripted(500, 400)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")  # owned by ACCOUNT
    await rig.publish(1, account=subaccount)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 2)
        await settled(rig)
    [letter] = (await rig.records.dead_letters(ACCOUNT, SINK, None, 50, "")).items
    assert (letter.account_sid, letter.source_account_sid, letter.error_code) == (ACCOUNT, subaccount, 91305)
    attempts = (await rig.records.attempts(ACCOUNT, SINK, "", "EZ0", 50, "")).items
    recorded = [(a.outcome, a.source_account_sid) for a in attempts]
    assert recorded == [("failed", subaccount), ("retrying", subaccount)]  # newest first
    assert (await rig.records.dead_letters(subaccount, SINK, None, 50, "")).items == []
