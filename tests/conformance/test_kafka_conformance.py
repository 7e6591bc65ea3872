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

from tests.conformance.harness import STALL_SECONDS, BehindProxy, Expect
from tests.conformance.suite import SinkConformance
from tests.conftest import KafkaTarget
from tests.support import kafka_broker
from tests.support.broker_proxy import BrokerProxy


@dataclass
class KafkaHarness(BehindProxy):
    kafka: KafkaTarget
    proxy: BrokerProxy
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
            self.proxy.stall_all(STALL_SECONDS)
        elif fault == "reject":
            # The topic refuses records this large for exactly the next request, then takes them.
            self.proxy.around_next_request(self._shrink, self._restore)
        else:
            raise ValueError(fault)

    async def _shrink(self) -> None:
        await kafka_broker.set_max_message_bytes(self.kafka.broker.bootstrap_direct, self.topic, 64)
        # The controller took the change; the broker applies it from its metadata log soon after
        # (well within the request's 1 s timeout, which holding it longer would outlast).
        await asyncio.sleep(0.3)

    async def _restore(self) -> None:
        await kafka_broker.set_max_message_bytes(self.kafka.broker.bootstrap_direct, self.topic, None)

    def calls_within_limits(self) -> bool:
        return all(len(value) <= self.max_event_bytes for value in self.received)


class TestKafka(SinkConformance):
    @pytest.fixture
    async def harness(self, kafka: KafkaTarget) -> AsyncIterator[KafkaHarness]:
        made = KafkaHarness(kafka, kafka.proxy)
        yield made
        await made.close()
