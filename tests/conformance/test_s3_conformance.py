"""Tier 2 for Amazon S3: an archive bucket in a real moto behind the fault-injecting proxy,
its objects read back with boto3 (the platform flushes after ES_S3_FLUSH_SECONDS, 0.5 s)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sinks.s3 import FLUSH_BYTES, MAX_CALL_BYTES, MAX_EVENT_BYTES
from tests.conformance.harness import STALL_SECONDS, BehindProxy, Expect
from tests.conformance.suite import SinkConformance
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUT_OBJECT, AwsProxy
from tests.support.moto_server import MotoServer


@dataclass
class S3Harness(BehindProxy):
    moto: MotoServer
    proxy: AwsProxy
    external_id: str = ""
    arn: str = ""
    name: str = "s3"
    sink_type: str = "s3"
    partial_failures: bool = False
    assumes_role: bool = True
    max_event_bytes: int = MAX_EVENT_BYTES
    max_call_bytes: int = MAX_CALL_BYTES  # one call; an object may gather several (calls_within_limits)
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),  # the bucket is gone: a dead letter
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.calls.clear()
        self.arn = await asyncio.to_thread(moto_targets.create_bucket, self.moto.url)
        role = await asyncio.to_thread(moto_server.create_role, self.moto.url, self.external_id)
        return {"arn": self.arn, "region": "us-east-1", "role_arn": role, "external_id": self.external_id}

    def events(self) -> list[dict[str, Any]]:
        if not self.arn:
            return []
        return [line for _, lines in moto_targets.archived(self.moto.url, self.arn) for line in lines]

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=PUT_OBJECT)
        else:
            self.proxy.fail({"reject": "not_found"}.get(fault, fault), count, action=PUT_OBJECT)

    def calls_within_limits(self) -> bool:
        """An object holds what one flush gathered: under its size limit, and the call that
        reached it."""
        calls = self.proxy.calls_of(PUT_OBJECT)
        return all(0 < n and size < FLUSH_BYTES + MAX_CALL_BYTES for n, size in calls)


class TestS3(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[S3Harness]:
        made = S3Harness(moto, aws_proxy)
        yield made
        await made.close()
