"""Tier 2 for Amazon SQS: a standard queue in a real moto behind the fault-injecting proxy,
read back with boto3. (A FIFO queue deduplicates a replay within five minutes of the first
delivery, by design: its groups and deduplication are tier 1's, `test_sqs_driver.py`.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conformance.aws_queues import SQS, QueueHarness, opened
from tests.conformance.suite import SinkConformance
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer


class TestSqs(SinkConformance):
    @pytest.fixture
    async def harness(self, moto: MotoServer, aws_proxy: AwsProxy) -> AsyncIterator[QueueHarness]:
        async for made in opened(SQS, moto, aws_proxy):
            yield made
