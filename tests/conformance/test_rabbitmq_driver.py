"""Tier 1 for RabbitMQ: the driver against a real broker (Debian's rabbitmq-server), behind a
TCP fault proxy, read back with pika."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sinks.rabbitmq import RabbitMQConfig
from services.delivery.sinks.base import SinkSpec
from services.delivery.sinks.rabbitmq import RabbitMQDriver
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, Expect
from tests.support.broker_proxy import BrokerProxy
from tests.support.rabbitmq_server import WRITER, RabbitMQServer, declare, drain

pytestmark = pytest.mark.integration


@dataclass
class RabbitMQWorld:
    broker: RabbitMQServer
    proxy: BrokerProxy
    driver: RabbitMQDriver
    impatient: RabbitMQDriver
    received: dict[str, list[bytes]] = field(default_factory=dict)  # by exchange
    partial_failures: bool = False  # each message is confirmed alone, but a fault ends the channel
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "server": Expect(91307, True),  # the connection lost
            "not_found": Expect(91305, False),  # the exchange deleted
            "timeout": Expect(91308, True),  # a confirm that never comes
        }
    )

    async def spec(self) -> SinkSpec:
        exchange = "conf-" + secrets.token_hex(4)
        await asyncio.to_thread(declare, self.broker, exchange, exchange)
        self.received[exchange] = []
        config = RabbitMQConfig(f"amqp://{self.proxy.address}", exchange, *WRITER)
        return SinkSpec(sid="DG" + "0" * 31 + "1", account_sid=ACCOUNT, config=config, auth_token="")

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        exchange = spec.config.as_dict()["exchange"]
        got = await asyncio.to_thread(drain, self.broker, exchange)
        self.received[exchange] += [body for _, _, body in got]
        return [json.loads(body) for body in self.received[exchange]]

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "server":
            asyncio.get_running_loop().create_task(self.proxy.cut())
        elif fault == "timeout":
            self.proxy.stall()
        elif fault == "not_found":
            with self.broker.blocking() as connection:
                for exchange in self.received:
                    connection.channel().exchange_delete(exchange)
        else:
            raise ValueError(fault)

    def clear(self) -> None:
        self.proxy.clear()

    def calls(self) -> list[tuple[int, int]]:
        # Every message is a publish of its own: the broker's unit of a write.
        return [(1, len(body)) for bodies in self.received.values() for body in bodies]

    def role_assumed(self) -> int:
        return 0

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        return None


class TestRabbitMQDriver(DriverConformance):
    @pytest.fixture
    async def world(self, rabbitmq: RabbitMQServer) -> AsyncIterator[RabbitMQWorld]:
        proxy = BrokerProxy("127.0.0.1", rabbitmq.port)
        await proxy.start()
        made = RabbitMQWorld(rabbitmq, proxy, RabbitMQDriver(True), RabbitMQDriver(True, timeout_seconds=1.0))
        yield made
        await made.driver.close()
        await made.impatient.close()
        await proxy.stop()
