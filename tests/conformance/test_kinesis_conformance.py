"""Tier 2 for Amazon Kinesis: a real moto behind the fault-injecting proxy."""

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
from tests.support import moto_server
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer


@dataclass
class KinesisHarness(BehindProxy):
    moto: MotoServer
    proxy: AwsProxy
    external_id: str = ""  # the account's issued one, set before config() (active_sink)
    arn: str = ""
    name: str = "kinesis"
    sink_type: str = "kinesis"
    partial_failures: bool = True
    assumes_role: bool = True
    max_event_bytes: int = 1024 * 1024  # less the partition key: at least the stream's limit
    max_call_bytes: int = 5 * 1024 * 1024
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(93101, True),
            "server": Expect(93101, True),
            "reject": Expect(93104, False),  # the stream cannot be resolved: discarded
            "timeout": Expect(93101, True),
            "refused": Expect(93101, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.proxy.clear()
        self.proxy.records_per_call.clear()
        self.proxy.bytes_per_call.clear()
        name = "es-" + secrets.token_hex(6)
        self.arn = await asyncio.to_thread(moto_server.create_stream, self.moto.url, name, 2)
        role = await asyncio.to_thread(moto_server.create_role, self.moto.url, self.external_id)
        return {"arn": self.arn, "role_arn": role, "external_id": self.external_id}

    def events(self) -> list[dict[str, Any]]:
        out = []
        for key, data in moto_server.read_records(self.moto.url, self.arn):
            event = json.loads(data)
            assert key == event["id"], "the partition key is the event id"
            out.append(event)
        return out

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS)
        else:
            self.proxy.fail({"reject": "not_found"}.get(fault, fault), count)

    def calls_within_limits(self) -> bool:
        return all(0 < n <= 500 for n in self.proxy.records_per_call) and all(
            0 < n <= 5 * 1024 * 1024 for n in self.proxy.bytes_per_call
        )


class TestKinesis(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[KinesisHarness]:
        made = KinesisHarness(moto, aws_proxy)
        yield made
        await made.close()
