"""Tier 2 for Apache Kafka: the sink type through the real worker into a real broker (KRaft,
Kafka's own jars), every client connection through a TCP fault proxy, read back with the
Kafka client past it. The idempotent producer retries a lost connection or an unanswered
request itself within its timeout, so the faults the platform sees are the broker quiet for
longer than that (throttle, server and timeout alike: the write not acknowledged in time,
91308) and a topic refusing a record (reject)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conformance.harness import STALL_SECONDS, Expect
from tests.conformance.suite import SinkConformance
from tests.conftest import KafkaTarget
from tests.support import kafka_broker


@dataclass
class KafkaHarness:
    kafka: KafkaTarget
    topic: str = field(default_factory=lambda: "conf-" + secrets.token_hex(4))
    received: list[bytes] = field(default_factory=list)
    name: str = "kafka"
    sink_type: str = "kafka"
    partial_failures: bool = False
    assumes_role: bool = False
    external_id: str = ""
    max_event_bytes: int = 1000 * 1024
    max_call_bytes: int = 4 * 1024 * 1024
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91308, True),
            "server": Expect(91308, True),
            "reject": Expect(91305, False),
            "timeout": Expect(91308, True),
            "refused": Expect(91308, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        await kafka_broker.create_topic(self.kafka.broker.bootstrap_direct, self.topic, partitions=2)
        return {"bootstrap_servers": self.kafka.bootstrap, "topic": self.topic}

    def events(self) -> list[dict[str, Any]]:
        got = asyncio.run(kafka_broker.records(self.kafka.broker.bootstrap_direct, self.topic))
        self.received = [record.value for record in got]
        return [json.loads(value) for value in self.received]

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault in ("throttle", "server", "timeout"):
            self.kafka.proxy.stall_all(STALL_SECONDS)
        elif fault == "reject":
            # The topic refuses records this large for exactly the next request, then takes them.
            self.kafka.proxy.around_next_request(self._shrink, self._restore)
        else:
            raise ValueError(fault)

    async def _shrink(self) -> None:
        await kafka_broker.set_max_message_bytes(self.kafka.broker.bootstrap_direct, self.topic, 64)
        # The controller took the change; the broker applies it from its metadata log soon after
        # (well within the request's 1 s timeout, which holding it longer would outlast).
        await asyncio.sleep(0.3)

    async def _restore(self) -> None:
        await kafka_broker.set_max_message_bytes(self.kafka.broker.bootstrap_direct, self.topic, None)

    def clear(self) -> None:
        self.kafka.proxy.clear()

    async def down(self) -> None:
        await self.kafka.proxy.down()

    async def up(self) -> None:
        await self.kafka.proxy.up()

    def calls_within_limits(self) -> bool:
        return all(len(value) <= self.max_event_bytes for value in self.received)

    async def close(self) -> None:
        self.kafka.proxy.clear()
        await self.kafka.proxy.up()


class TestKafka(SinkConformance):
    @pytest.fixture
    async def harness(self, kafka: KafkaTarget) -> AsyncIterator[KafkaHarness]:
        made = KafkaHarness(kafka)
        yield made
        await made.close()
