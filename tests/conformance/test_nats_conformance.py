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
from tests.conformance.harness import Expect
from tests.conformance.suite import SinkConformance
from tests.support import nats_target
from tests.support.broker_proxy import BrokerProxy

DUPLICATE_WINDOW = 0.1


@dataclass
class NatsHarness:
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

    def inject(self, fault: str, count: int | None = None) -> None:
        # Aimed at this sink's publish by its subject: the proxy is the session's, and every
        # sink the earlier tests made keeps its connection through it, answering the server's
        # PINGs — a PONG would take a fault meant for "the next request".
        publish = self.subject.encode()
        if fault in ("throttle", "server"):
            self.proxy.cut_next_request(carrying=publish)
        elif fault == "timeout":
            self.proxy.stall()
        elif fault == "reject":
            # The stream gone for exactly the next publish (no responders), then back.
            self.proxy.around_next_request(self._delete, self._restore, carrying=publish)
        else:
            raise ValueError(fault)

    async def _delete(self) -> None:
        self.archived += await nats_target.stored(self.server.url, self.stream)
        await nats_target.delete_stream(self.server.url, self.stream)

    async def _restore(self) -> None:
        await nats_target.create_stream(self.server.url, self.stream, self.subject, DUPLICATE_WINDOW)

    def clear(self) -> None:
        self.proxy.clear()

    async def down(self) -> None:
        await self.proxy.down()

    async def up(self) -> None:
        await self.proxy.up()

    def calls_within_limits(self) -> bool:
        return all(len(body) <= self.max_event_bytes for body in self.archived + self.current)

    async def close(self) -> None:
        self.proxy.clear()
        await self.proxy.up()


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
