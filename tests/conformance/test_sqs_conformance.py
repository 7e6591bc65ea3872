"""Tier 2 for Amazon SQS: a standard queue in a real moto behind the fault-injecting proxy,
read back with boto3. (A FIFO queue deduplicates a replay within five minutes of the first
delivery, by design: its groups and deduplication are tier 1's, `test_sqs_driver.py`.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sinks.sqs import MAX_BYTES, MAX_MESSAGES_PER_CALL
from tests.conformance.harness import STALL_SECONDS, Expect
from tests.conformance.suite import SinkConformance
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import SEND_MESSAGE_BATCH, AwsProxy
from tests.support.moto_server import MotoServer


@dataclass
class SqsHarness:
    moto: MotoServer
    proxy: AwsProxy
    external_id: str = ""
    reader: moto_targets.QueueReader | None = None
    name: str = "sqs"
    sink_type: str = "sqs"
    partial_failures: bool = True
    assumes_role: bool = True
    max_event_bytes: int = MAX_BYTES
    max_call_bytes: int = MAX_BYTES
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),  # the queue is gone: a dead letter
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.calls.clear()
        arn = await asyncio.to_thread(moto_targets.create_queue, self.moto.url)
        self.reader = moto_targets.QueueReader(self.moto.url, arn)
        role = await asyncio.to_thread(moto_server.create_role, self.moto.url, self.external_id)
        return {"arn": arn, "role_arn": role, "external_id": self.external_id}

    def events(self) -> list[dict[str, Any]]:
        return self.reader.bodies() if self.reader else []

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=SEND_MESSAGE_BATCH)
        else:
            self.proxy.fail({"reject": "not_found"}.get(fault, fault), count, action=SEND_MESSAGE_BATCH)

    def clear(self) -> None:
        self.proxy.clear()

    async def down(self) -> None:
        await self.proxy.go_down()

    async def up(self) -> None:
        await self.proxy.come_up()

    def calls_within_limits(self) -> bool:
        calls = self.proxy.calls_of(SEND_MESSAGE_BATCH)
        return all(0 < n <= MAX_MESSAGES_PER_CALL and size <= MAX_BYTES for n, size in calls)

    async def close(self) -> None:
        self.proxy.clear()
        await self.proxy.come_up()


class TestSqs(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[SqsHarness]:
        made = SqsHarness(moto, aws_proxy)
        yield made
        await made.close()
