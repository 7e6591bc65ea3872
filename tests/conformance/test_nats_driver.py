"""Tier 1 for NATS: the driver against a real nats-server with JetStream (a customer's own),
behind a TCP fault proxy, read back from the stream with nats-py."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from launcher.nats_server import NatsServer
from runtime.sinks.nats import NatsConfig
from services.delivery.sinks.base import SinkSpec
from services.delivery.sinks.nats import NatsDriver
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, Expect
from tests.support import nats_target
from tests.support.broker_proxy import BrokerProxy

pytestmark = pytest.mark.integration


@dataclass
class NatsWorld:
    server: NatsServer
    proxy: BrokerProxy
    driver: NatsDriver
    impatient: NatsDriver
    received: dict[str, list[bytes]] = field(default_factory=dict)  # by stream
    partial_failures: bool = False
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "server": Expect(91307, True),  # the connection lost with the publishes in flight
            "not_found": Expect(91305, False),  # the stream deleted: no responders
            "timeout": Expect(91308, True),  # an acknowledgement that never comes
        }
    )

    async def spec(self) -> SinkSpec:
        stream = "CONF_" + secrets.token_hex(4).upper()
        subject = f"conf.{stream.lower()}"
        await nats_target.create_stream(self.server.url, stream, subject)
        self.received[stream] = []
        config = NatsConfig(f"nats://{self.proxy.address}", subject, stream, "", "", "")
        return SinkSpec(sid="DG" + "0" * 31 + "1", account_sid=ACCOUNT, config=config, auth_token="")

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        stream = spec.config.as_dict()["stream"]
        self.received[stream] = await nats_target.stored(self.server.url, stream)
        return nats_target.events(self.received[stream])

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "server":
            self.proxy.cut_next_request()
        elif fault == "timeout":
            self.proxy.stall()
        elif fault == "not_found":
            self.proxy.around_next_request(self._delete_streams, _nothing)
        else:
            raise ValueError(fault)

    async def _delete_streams(self) -> None:
        for stream in self.received:
            await nats_target.delete_stream(self.server.url, stream)

    def clear(self) -> None:
        self.proxy.clear()

    def calls(self) -> list[tuple[int, int]]:
        # Every message is a publish of its own: the server's unit of a write.
        return [(1, len(body)) for bodies in self.received.values() for body in bodies]

    def role_assumed(self) -> int:
        return 0

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        return None


async def _nothing() -> None:
    return None


@pytest.fixture(scope="module")
def customer_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    directory: Path = tmp_path_factory.mktemp("customer-nats")
    server = NatsServer.create(directory / "store", directory / "logs")
    server.start()
    yield server
    server.stop()


class TestNatsDriver(DriverConformance):
    @pytest.fixture
    async def world(self, customer_nats: NatsServer) -> AsyncIterator[NatsWorld]:
        proxy = BrokerProxy("127.0.0.1", customer_nats.port)
        await proxy.start()
        made = NatsWorld(customer_nats, proxy, NatsDriver(True), NatsDriver(True, timeout_seconds=1.0))
        yield made
        await made.driver.close()
        await made.impatient.close()
        await proxy.stop()
