"""Shared fixtures: real nats-server, real PostgreSQL, the real suite of processes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devkit.postgres import PostgresCluster
from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from launcher.nats_server import NatsServer
from launcher.processes import free_port
from tests.helpers import missing_tool
from tests.support import kafka_broker, rabbitmq_server
from tests.support.broker_proxy import BrokerProxy
from tests.support.kafka_broker import KafkaBroker
from tests.support.moto_server import MotoServer
from tests.support.rabbitmq_server import RabbitMQServer
from tests.support.segment_receiver import DEV_WRITE_KEY, SegmentReceiver

BACKENDS = ["sqlite", "postgres"]
MAX_SINKS = 260
# Small enough that the tree limit test reaches it with a few dozen subscriptions.
MAX_ROUTING_BYTES_PER_TREE = 64 * 1024


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(tmp_path_factory.mktemp("postgres"))
    cluster.start()
    yield cluster
    cluster.stop()


def database_url(backend: str, request: pytest.FixtureRequest, directory: Path, name: str) -> str:
    if backend == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        return cluster.create_database(name)
    return f"sqlite+aiosqlite:///{directory / name}.db"


@pytest.fixture(scope="session", params=BACKENDS)
def suite(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    backend = request.param
    directory = tmp_path_factory.mktemp(f"suite-{backend}")
    running = Suite(
        data_dir=directory,
        catalog_db=database_url(backend, request, directory, "catalog"),
        control_db=database_url(backend, request, directory, "control"),
        delivery_db=database_url(backend, request, directory, "delivery"),
        log_dir=directory / "logs",
        extra_env={
            "ES_ALLOW_PRIVATE_DESTINATIONS": "true",
            "ES_RETRY_BASE_SECONDS": "0.2",
            "ES_RETRY_MAX_DELAY_SECONDS": "1",
            # Raised so one account can hold the 250 sinks of the paging test.
            "ES_MAX_SINKS_PER_ACCOUNT": str(MAX_SINKS),
            "ES_MAX_ROUTING_BYTES_PER_TREE": str(MAX_ROUTING_BYTES_PER_TREE),
            # A failing sink's error-log events at most every 2 s rather than 20 min.
            "ES_ERROR_LOG_INTERVAL_SECONDS": "2",
        },
    )
    running.start()
    yield running
    logs = running.logs()
    running.stop()
    if request.session.testsfailed:
        print(logs)


@pytest.fixture
async def control(suite: Suite) -> AsyncIterator[control_pb2_grpc.ControlAsyncStub]:
    async with suite.channel("control") as channel:
        yield control_pb2_grpc.ControlStub(channel)


@pytest.fixture
async def router(suite: Suite) -> AsyncIterator[router_pb2_grpc.RouterAsyncStub]:
    async with suite.channel("router") as channel:
        yield router_pb2_grpc.RouterStub(channel)


@pytest.fixture
async def account(control: control_pb2_grpc.ControlAsyncStub) -> control_pb2.Account:
    """A fresh account per test: tests never see each other's sinks or subscriptions."""
    return await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="test"))


@pytest.fixture
async def rest(suite: Suite, account: control_pb2.Account) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=suite.gateway_url, auth=(account.sid, account.auth_token), timeout=30
    ) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    instance = Receiver()
    await instance.start()
    yield instance
    await instance.stop()


@pytest.fixture
async def segment() -> AsyncIterator[SegmentReceiver]:
    """A stand-in for Segment's HTTP Tracking API that accepts the write key DEV_WRITE_KEY."""
    instance = SegmentReceiver(write_keys={DEV_WRITE_KEY})
    await instance.start()
    yield instance
    await instance.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own, with a temporary store."""
    server = NatsServer.create(tmp_path / "jetstream", tmp_path / "logs")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto_server (Kinesis, STS, IAM) for the session: tests make streams of fresh names."""
    server = MotoServer.create(tmp_path_factory.mktemp("moto") / "logs")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    """One RabbitMQ broker for the session (~7 s to start): tests use exchanges of fresh names."""
    if not rabbitmq_server.installed():
        missing_tool("rabbitmq-server not found: make test installs it (apt-get install rabbitmq-server)")
    server = RabbitMQServer.create(tmp_path_factory.mktemp("rabbitmq"))
    server.start()
    yield server
    server.stop()


@dataclass
class KafkaTarget:
    """The session's Kafka broker, every client's connection through a fault proxy."""

    broker: KafkaBroker
    proxy: BrokerProxy

    @property
    def bootstrap(self) -> str:
        return self.proxy.address


@pytest.fixture(scope="session")
async def kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KafkaTarget]:
    """One Kafka broker (KRaft) for the session — it takes seconds to start: tests use topics of
    fresh names."""
    if not kafka_broker.installed():
        missing_tool("Kafka's jars or java not found: make test copies them (tests/support/kafka/pom.xml)")
    proxy = BrokerProxy("127.0.0.1", 0, port=free_port())
    broker = KafkaBroker.create(tmp_path_factory.mktemp("kafka"), advertised_port=proxy.port, secured=True)
    proxy.upstream_port = broker.port
    await proxy.start()
    await asyncio.to_thread(broker.start)
    yield KafkaTarget(broker, proxy)
    await proxy.stop()
    await asyncio.to_thread(broker.stop)


@pytest.fixture
def unique() -> str:
    return secrets.token_hex(4)
