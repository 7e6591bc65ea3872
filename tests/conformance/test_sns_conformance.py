"""Tier 2 for Amazon SNS: a standard topic in a real moto behind the fault-injecting proxy,
read back with boto3 from an SQS queue subscribed to it with raw message delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conformance.aws_queues import SNS, QueueHarness, opened
from tests.conformance.suite import SinkConformance
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer


class TestSns(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[QueueHarness]:
        async for made in opened(SNS, moto, aws_proxy):
            yield made
