"""Tier 2 for Amazon SNS: a standard topic in a real moto behind the fault-injecting proxy,
read back with boto3 from an SQS queue subscribed to it with raw message delivery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sinks.sns import MAX_BYTES, MAX_MESSAGES_PER_CALL
from tests.conformance.harness import STALL_SECONDS, Expect
from tests.conformance.suite import SinkConformance
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUBLISH_BATCH, AwsProxy
from tests.support.moto_server import MotoServer


@dataclass
class SnsHarness:
    moto: MotoServer
    proxy: AwsProxy
    external_id: str = ""
    reader: moto_targets.QueueReader | None = None
    name: str = "sns"
    sink_type: str = "sns"
    partial_failures: bool = True
    assumes_role: bool = True
    max_event_bytes: int = MAX_BYTES
    max_call_bytes: int = MAX_BYTES
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),  # the topic is gone: a dead letter
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.calls.clear()
        topic, queue = await asyncio.to_thread(moto_targets.create_topic, self.moto.url)
        self.reader = moto_targets.QueueReader(self.moto.url, queue)
        role = await asyncio.to_thread(moto_server.create_role, self.moto.url, self.external_id)
        return {"arn": topic, "role_arn": role, "external_id": self.external_id}

    def events(self) -> list[dict[str, Any]]:
        return self.reader.bodies() if self.reader else []

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=PUBLISH_BATCH)
        else:
            self.proxy.fail({"reject": "not_found"}.get(fault, fault), count, action=PUBLISH_BATCH)

    def clear(self) -> None:
        self.proxy.clear()

    async def down(self) -> None:
        await self.proxy.go_down()

    async def up(self) -> None:
        await self.proxy.come_up()

    def calls_within_limits(self) -> bool:
        calls = self.proxy.calls_of(PUBLISH_BATCH)
        return all(0 < n <= MAX_MESSAGES_PER_CALL and size <= MAX_BYTES for n, size in calls)

    async def close(self) -> None:
        self.proxy.clear()
        await self.proxy.come_up()


class TestSns(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[SnsHarness]:
        made = SnsHarness(moto, aws_proxy)
        yield made
        await made.close()
