"""Tier 1 for Apache Kafka: the driver against a real broker (KRaft, Kafka's own jars),
every connection through a TCP fault proxy, read back with the Kafka client. The producer
retries a lost connection, a broker gone quiet and an unanswered request itself, on a new
connection and within its timeout (its sequence numbers keep those retries from writing
twice): those faults heal inside the call, and a call sees only what the broker refuses."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sinks.kafka import KafkaConfig
from services.delivery.sinks.base import SinkSpec
from services.delivery.sinks.kafka import KafkaDriver
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, Expect
from tests.conftest import KafkaTarget
from tests.support import kafka_broker

pytestmark = pytest.mark.integration


@dataclass
class KafkaWorld:
    kafka: KafkaTarget
    driver: KafkaDriver
    impatient: KafkaDriver
    received: dict[str, list[bytes]] = field(default_factory=dict)  # by topic
    partial_failures: bool = False
    shrunk: bool = False
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "access_denied": Expect(91305, False),  # the topic refusing records this large
        }
    )

    async def spec(self) -> SinkSpec:
        topic = "conf-" + secrets.token_hex(4)
        await kafka_broker.create_topic(self.kafka.broker.bootstrap_direct, topic, partitions=2)
        self.received[topic] = []
        config = KafkaConfig(self.kafka.bootstrap, topic, False, "", "", "")
        return SinkSpec(sid="DG" + "0" * 31 + "1", account_sid=ACCOUNT, config=config, auth_token="")

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        topic = spec.config.as_dict()["topic"]
        got = await kafka_broker.records(self.kafka.broker.bootstrap_direct, topic)
        self.received[topic] = [r.value for r in got]
        return [json.loads(value) for value in self.received[topic]]

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "access_denied":
            # Until cleared (the driver suite sends nothing after a permanent failure).
            for topic in self.received:
                self._admin(kafka_broker.set_max_message_bytes(self.kafka.broker.bootstrap_direct, topic, 64))
            # The controller took the change; the broker applies it from its metadata log soon after.
            time.sleep(1.0)
            self.shrunk = True
        else:
            raise ValueError(fault)

    def _admin(self, call: Coroutine[Any, Any, None]) -> None:
        # inject and clear are called from the test's loop, and wait: the call on a loop of its own.
        worker = threading.Thread(target=asyncio.run, args=(call,))
        worker.start()
        worker.join()

    def clear(self) -> None:
        self.kafka.proxy.clear()
        if self.shrunk:
            for topic in self.received:
                self._admin(
                    kafka_broker.set_max_message_bytes(self.kafka.broker.bootstrap_direct, topic, None)
                )
            self.shrunk = False

    def calls(self) -> list[tuple[int, int]]:
        return [(1, len(value)) for values in self.received.values() for value in values]

    def role_assumed(self) -> int:
        return 0

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        return None


class TestKafkaDriver(DriverConformance):
    @pytest.fixture
    async def world(self, kafka: KafkaTarget) -> AsyncIterator[KafkaWorld]:
        made = KafkaWorld(kafka, KafkaDriver(True), KafkaDriver(True, timeout_seconds=1.0))
        yield made
        await made.driver.close()
        await made.impatient.close()
        kafka.proxy.clear()
