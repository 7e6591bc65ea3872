"""Tier 2 for Amazon EventBridge: a bus in a real moto behind the fault-injecting proxy, its
events read back with boto3 through a rule into an SQS queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conformance.aws_queues import EVENTBRIDGE, QueueHarness, opened
from tests.conformance.suite import SinkConformance
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer


class TestEventBridge(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[QueueHarness]:
        async for made in opened(EVENTBRIDGE, moto, aws_proxy):
            yield made
