"""The bench's broker sinks phase: a RabbitMQ, a NATS and an Apache Kafka sink, each delivering
into its real server (the tests' own: Debian's rabbitmq-server, a second nats-server with
JetStream standing for the customer's, Kafka's jars in KRaft mode), end to end (first
publish → the broker holding the last event), one row each. The sinks are made as a customer
makes them (create, Test, read the test event back, Validate, subscribe), once per bench run.

While a trial runs the bench only asks the broker how many messages it holds (a queue's
depth, a stream's message count, a topic's end offsets), so the broker's own CPU in the
window is what our sink cost it; the events themselves are read back after the window, to
count distinct ids and duplicates."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import nats
from aiokafka import AIOKafkaConsumer, TopicPartition
from nats.aio.client import Client as NatsClient
from nats.js.api import StreamConfig

from devkit.bench_load import EventFactory, publish_fixed, publish_until_routed
from devkit.bench_report import BROKERS
from devkit.bench_setup import Rest
from eventstreams.v1 import router_pb2_grpc
from launcher.nats_server import NatsServer
from tests.support import kafka_broker, rabbitmq_server

TEST_TYPE = "com.twilio.eventstreams.test-event"
# Each sink its own type: an event goes to one of them only.
TYPES = {
    "rabbitmq": "com.twilio.messaging.compliance.campaign-registration.campaign-approved",
    "nats": "com.twilio.messaging.compliance.campaign-registration.campaign-submitted",
    "kafka": "com.twilio.messaging.compliance.campaign-registration.campaign-deleted",
}
TITLES = {kind: title for kind, title, _ in BROKERS}
PROCESSES = {kind: process for kind, _, process in BROKERS}
EXCHANGE = QUEUE = "bench-events"
SUBJECT, STREAM = "bench.events", "BENCH_EVENTS"
TOPIC, PARTITIONS = "bench-events", 3
POLL_SECONDS = 0.2


class Target(Protocol):
    """One broker as the bench reads it."""

    async def config(self) -> dict[str, Any]:
        """A fresh destination on the broker, and the sink's configuration for it."""
        ...

    async def count(self) -> int:
        """How many messages the destination holds (cheap: no message is read)."""
        ...

    async def take(self) -> list[dict[str, Any]]:
        """Every event arrived since the last take, parsed."""
        ...

    async def close(self) -> None: ...


@dataclass
class RabbitTarget:
    server: rabbitmq_server.RabbitMQServer
    _connection: Any = None

    def _channel(self) -> Any:
        if self._connection is None or self._connection.is_closed:
            self._connection = self.server.blocking()
        return self._connection.channel()

    async def config(self) -> dict[str, Any]:
        await asyncio.to_thread(rabbitmq_server.declare, self.server, EXCHANGE, QUEUE)
        user, password = rabbitmq_server.WRITER
        return {"url": self.server.url(), "exchange": EXCHANGE, "username": user, "password": password}

    async def count(self) -> int:
        def depth() -> int:
            channel = self._channel()
            try:
                return int(channel.queue_declare(QUEUE, passive=True).method.message_count)
            finally:
                channel.close()

        return await asyncio.to_thread(depth)

    async def take(self) -> list[dict[str, Any]]:
        found = await asyncio.to_thread(rabbitmq_server.drain, self.server, QUEUE)
        return [json.loads(body) for _, _, body in found]

    async def close(self) -> None:
        if self._connection is not None and not self._connection.is_closed:
            await asyncio.to_thread(self._connection.close)


@dataclass
class NatsTarget:
    server: NatsServer
    _client: NatsClient | None = None
    _next_seq: int = 1

    async def _js(self) -> Any:
        if self._client is None:
            self._client = await nats.connect(self.server.url)
        return self._client.jetstream()

    async def config(self) -> dict[str, Any]:
        js = await self._js()
        await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT]))
        return {"url": self.server.url, "subject": SUBJECT, "stream": STREAM}

    async def count(self) -> int:
        info = await (await self._js()).stream_info(STREAM)
        return int(info.state.messages)

    async def take(self) -> list[dict[str, Any]]:
        js = await self._js()
        last = int((await js.stream_info(STREAM)).state.last_seq)
        found = []
        for seq in range(self._next_seq, last + 1):
            found.append(json.loads((await js.get_msg(STREAM, seq=seq)).data or b"{}"))
        self._next_seq = last + 1
        return found

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


@dataclass
class KafkaTarget:
    broker: kafka_broker.KafkaBroker
    _consumer: AIOKafkaConsumer | None = None
    _partitions: list[TopicPartition] = field(default_factory=list)

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._partitions = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.broker.bootstrap_direct, enable_auto_commit=False
            )
            await self._consumer.start()
            self._consumer.assign(self._partitions)
            await self._consumer.seek_to_beginning(*self._partitions)
        return self._consumer

    async def config(self) -> dict[str, Any]:
        await kafka_broker.create_topic(self.broker.bootstrap_direct, TOPIC, partitions=PARTITIONS)
        return {"bootstrap_servers": self.broker.bootstrap, "topic": TOPIC}

    async def count(self) -> int:
        consumer = await self._started()
        return sum((await consumer.end_offsets(self._partitions)).values())

    async def take(self) -> list[dict[str, Any]]:
        consumer = await self._started()
        ends = await consumer.end_offsets(self._partitions)
        found: list[dict[str, Any]] = []
        while [p for p in self._partitions if await consumer.position(p) < ends[p]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found += [json.loads(record.value or b"{}") for record in records]
        return found

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


@dataclass
class Brokers:
    """The three servers, started once for the bench run."""

    directory: Path
    rabbitmq: rabbitmq_server.RabbitMQServer | None = None
    nats: NatsServer | None = None
    kafka: kafka_broker.KafkaBroker | None = None

    def start(self) -> None:
        if not rabbitmq_server.installed() or not kafka_broker.installed():
            raise RuntimeError(
                "the brokers phase needs rabbitmq-server and Kafka's jars: run `make test` once"
            )
        self.nats = NatsServer.create(self.directory / "nats" / "store", self.directory / "nats" / "logs")
        self.nats.start()
        self.rabbitmq = rabbitmq_server.RabbitMQServer.create(self.directory / "rabbitmq")
        self.rabbitmq.start()
        self.kafka = kafka_broker.KafkaBroker.create(self.directory / "kafka")
        self.kafka.start()

    def pids(self) -> dict[str, int]:
        """Each broker's own process, by the name the CPU table gives it: RabbitMQ's script
        runs the Erlang VM as its child, so the VM is looked for below it."""
        found: dict[str, int] = {}
        for kind, server in (("rabbitmq", self.rabbitmq), ("nats", self.nats), ("kafka", self.kafka)):
            if server is not None and server.child is not None:
                pid = server.child.process.pid
                found[PROCESSES[kind]] = beam(pid) if kind == "rabbitmq" else pid
        return found

    def target(self, kind: str) -> Target:
        if kind == "rabbitmq" and self.rabbitmq is not None:
            return RabbitTarget(self.rabbitmq)
        if kind == "nats" and self.nats is not None:
            return NatsTarget(self.nats)
        if kind == "kafka" and self.kafka is not None:
            return KafkaTarget(self.kafka)
        raise RuntimeError(f"no {kind} server is running")

    def stop(self) -> None:
        for server in (self.kafka, self.rabbitmq, self.nats):
            if server is not None:
                server.stop()


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def beam(pid: int) -> int:
    """The Erlang VM (beam.smp) at or below `pid`; `pid` itself when there is none."""
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            if Path(f"/proc/{current}/comm").read_text().strip().startswith("beam"):
                return current
        except OSError:
            continue
        pending += children(current)
    return pid


@dataclass
class BrokerSink:
    kind: str
    sid: str
    target: Target
    setup_seconds: float


async def arrived(target: Target, type_name: str, timeout: float) -> dict[str, Any]:
    """The first event of `type_name` to arrive (those before it are taken and dropped)."""
    deadline = time.monotonic() + timeout
    while True:
        for event in await target.take():
            if event.get("type") == type_name:
                return event
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {type_name} event in {timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)


async def create_sink(
    rest: Rest,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    brokers: Brokers,
    kind: str,
    timeout: float,
) -> BrokerSink:
    started = time.monotonic()
    target = brokers.target(kind)
    sid = await rest.create_sink(f"bench {kind}", kind, await target.config())
    await rest.test_sink(sid)
    test = await arrived(target, TEST_TYPE, timeout)
    await rest.validate_sink(sid, str(test["data"]["test_id"]))
    await rest.subscribe(f"bench {kind}", sid, [TYPES[kind]])
    await publish_until_routed(router, factory, TYPES[kind], 1, timeout=15)
    # The probe taken off before measuring: a trial counts what the broker holds.
    await arrived(target, TYPES[kind], timeout)
    return BrokerSink(kind, sid, target, round(time.monotonic() - started, 2))


async def measure(
    sink: BrokerSink,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    count: int,
    batch: int,
    concurrency: int,
    stall_seconds: float,
) -> dict[str, Any]:
    """`count` events of the sink's type, first publish → the broker holding the last one."""
    before = await sink.target.count()
    published = await publish_fixed(router, factory, TYPES[sink.kind], count, batch, concurrency)
    held, progressed, ended = before, time.monotonic(), time.time()
    while held - before < published.events and time.monotonic() - progressed < stall_seconds:
        await asyncio.sleep(POLL_SECONDS)
        now = await sink.target.count()
        if now > held:
            held, progressed, ended = now, time.monotonic(), time.time()
    received = held - before
    seconds = max(ended - published.started_at, 1e-9)
    return {
        "target": count,
        "received": received,
        "complete": received >= published.events,
        "seconds": round(seconds, 3),
        "events_per_second": round(received / seconds, 1),
        "setup_seconds": sink.setup_seconds,
    }


async def read_back(sink: BrokerSink, found: dict[str, Any]) -> None:
    """After the window: the events themselves, their distinct ids and duplicates."""
    ids = [str(e.get("id")) for e in await sink.target.take() if e.get("type") == TYPES[sink.kind]]
    found["distinct"] = len(set(ids))
    found["duplicates"] = len(ids) - len(set(ids))
