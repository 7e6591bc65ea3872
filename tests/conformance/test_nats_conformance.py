"""Tier 2 for NATS: the sink type through the real worker into a customer's own nats-server
(not the platform's) with a JetStream stream, behind a TCP fault proxy, read back from the
stream with nats-py. The stream deduplicates by event id for 0.1 s only: a replay sends
the same ids again, and the suite counts them arriving twice (with the server's default of
two minutes they would be stored once). NATS has no "slow down" answer: the throttle fault is a lost
connection, as the server fault is."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from launcher.nats_server import NatsServer
from tests.conformance.brokers import AimedFaults
from tests.conformance.harness import Expect
from tests.conformance.suite import SinkConformance
from tests.support import nats_target
from tests.support.broker_proxy import BrokerProxy

DUPLICATE_WINDOW = 0.1


@dataclass
class NatsHarness(AimedFaults):
    server: NatsServer
    proxy: BrokerProxy
    stream: str = field(default_factory=lambda: "CONF_" + secrets.token_hex(4).upper())
    archived: list[bytes] = field(default_factory=list)  # what a deleted stream held
    current: list[bytes] = field(default_factory=list)
    name: str = "nats"
    sink_type: str = "nats"
    partial_failures: bool = False
    assumes_role: bool = False
    external_id: str = ""
    max_event_bytes: int = 1000 * 1024
    max_call_bytes: int = 4 * 1024 * 1024
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91307, True),
            "server": Expect(91307, True),
            "reject": Expect(91305, False),
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    @property
    def subject(self) -> str:
        return f"conf.{self.stream.lower()}"

    async def config(self) -> dict[str, Any]:
        await nats_target.create_stream(self.server.url, self.stream, self.subject, DUPLICATE_WINDOW)
        return {"url": f"nats://{self.proxy.address}", "subject": self.subject, "stream": self.stream}

    def events(self) -> list[dict[str, Any]]:
        self.current = asyncio.run(nats_target.stored(self.server.url, self.stream))
        return nats_target.events(self.archived + self.current)

    def marker(self) -> bytes:
        return self.subject.encode()

    async def remove_target(self) -> None:
        # What the stream held is kept to be read; the publish then finds no responders.
        self.archived += await nats_target.stored(self.server.url, self.stream)
        await nats_target.delete_stream(self.server.url, self.stream)

    async def restore_target(self) -> None:
        await nats_target.create_stream(self.server.url, self.stream, self.subject, DUPLICATE_WINDOW)

    def calls_within_limits(self) -> bool:
        return all(len(body) <= self.max_event_bytes for body in self.archived + self.current)


@pytest.fixture(scope="session")
def customer_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    directory: Path = tmp_path_factory.mktemp("customer-nats")
    server = NatsServer.create(directory / "store", directory / "logs")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def customer_nats_proxy(customer_nats: NatsServer) -> AsyncIterator[BrokerProxy]:
    proxy = BrokerProxy("127.0.0.1", customer_nats.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


class TestNats(SinkConformance):
    @pytest.fixture
    async def harness(
        self, customer_nats: NatsServer, customer_nats_proxy: BrokerProxy
    ) -> AsyncIterator[NatsHarness]:
        made = NatsHarness(customer_nats, customer_nats_proxy)
        yield made
        await made.close()
