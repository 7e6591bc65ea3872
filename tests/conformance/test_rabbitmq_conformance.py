"""Tier 2 for RabbitMQ: the sink type through the real worker into a real broker (Debian's
rabbitmq-server) behind a TCP fault proxy, read back with pika. AMQP has no "slow down"
answer: the throttle fault is a lost connection, as the server fault is."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conformance.brokers import AimedFaults
from tests.conformance.harness import Expect
from tests.conformance.suite import SinkConformance
from tests.support.broker_proxy import BrokerProxy
from tests.support.rabbitmq_server import WRITER, RabbitMQServer, declare, drain


@dataclass
class RabbitMQHarness(AimedFaults):
    broker: RabbitMQServer
    proxy: BrokerProxy
    exchange: str = field(default_factory=lambda: "conf-" + secrets.token_hex(4))
    received: list[bytes] = field(default_factory=list)
    name: str = "rabbitmq"
    sink_type: str = "rabbitmq"
    partial_failures: bool = False
    assumes_role: bool = False
    external_id: str = ""
    max_event_bytes: int = 1024 * 1024
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

    async def config(self) -> dict[str, Any]:
        await asyncio.to_thread(declare, self.broker, self.exchange, self.exchange)
        return {
            "url": f"amqp://{self.proxy.address}",
            "exchange": self.exchange,
            "username": WRITER[0],
            "password": WRITER[1],
        }

    def events(self) -> list[dict[str, Any]]:
        self.received += [body for _, _, body in drain(self.broker, self.exchange)]
        return [json.loads(body) for body in self.received]

    def marker(self) -> bytes:
        return self.exchange.encode()

    async def remove_target(self) -> None:
        # The publish to a missing exchange is refused: 404 NOT_FOUND.
        def delete() -> None:
            with self.broker.blocking() as connection:
                connection.channel().exchange_delete(self.exchange)

        await asyncio.to_thread(delete)

    async def restore_target(self) -> None:
        await asyncio.to_thread(declare, self.broker, self.exchange, self.exchange)

    def calls_within_limits(self) -> bool:
        return all(len(body) <= self.max_event_bytes for body in self.received)


@pytest.fixture(scope="session")
async def rabbitmq_proxy(rabbitmq: RabbitMQServer) -> AsyncIterator[BrokerProxy]:
    proxy = BrokerProxy("127.0.0.1", rabbitmq.port)
    await proxy.start()
    yield proxy
    await proxy.stop()


class TestRabbitMQ(SinkConformance):
    @pytest.fixture
    async def harness(
        self, rabbitmq: RabbitMQServer, rabbitmq_proxy: BrokerProxy
    ) -> AsyncIterator[RabbitMQHarness]:
        made = RabbitMQHarness(rabbitmq, rabbitmq_proxy)
        yield made
        await made.close()
