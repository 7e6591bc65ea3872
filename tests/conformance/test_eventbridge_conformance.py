"""Tier 2 for Amazon EventBridge: a bus in a real moto behind the fault-injecting proxy, its
events read back with boto3 through a rule into an SQS queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sinks.eventbridge import MAX_BYTES, MAX_ENTRIES_PER_CALL
from tests.conformance.harness import STALL_SECONDS, Expect
from tests.conformance.suite import SinkConformance
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUT_EVENTS, AwsProxy
from tests.support.moto_server import MotoServer


@dataclass
class EventBridgeHarness:
    moto: MotoServer
    proxy: AwsProxy
    external_id: str = ""
    reader: moto_targets.BusReader | None = None
    name: str = "eventbridge"
    sink_type: str = "eventbridge"
    partial_failures: bool = True
    assumes_role: bool = True
    # Less its Source and DetailType (≈ 80 bytes): the CloudEvent the bus takes at most.
    max_event_bytes: int = MAX_BYTES - 1024
    max_call_bytes: int = MAX_BYTES
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),  # the bus is gone: a dead letter
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.calls.clear()
        bus, queue = await asyncio.to_thread(moto_targets.create_bus, self.moto.url)
        self.reader = moto_targets.BusReader(moto_targets.QueueReader(self.moto.url, queue))
        role = await asyncio.to_thread(moto_server.create_role, self.moto.url, self.external_id)
        return {"arn": bus, "role_arn": role, "external_id": self.external_id}

    def events(self) -> list[dict[str, Any]]:
        return self.reader.details() if self.reader else []

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=PUT_EVENTS)
        else:
            self.proxy.fail({"reject": "not_found"}.get(fault, fault), count, action=PUT_EVENTS)

    def clear(self) -> None:
        self.proxy.clear()

    async def down(self) -> None:
        await self.proxy.go_down()

    async def up(self) -> None:
        await self.proxy.come_up()

    def calls_within_limits(self) -> bool:
        calls = self.proxy.calls_of(PUT_EVENTS)
        return all(0 < n <= MAX_ENTRIES_PER_CALL and size <= MAX_BYTES for n, size in calls)

    async def close(self) -> None:
        self.proxy.clear()
        await self.proxy.come_up()


class TestEventBridge(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[EventBridgeHarness]:
        made = EventBridgeHarness(moto, aws_proxy)
        yield made
        await made.close()
