"""Tier 1 for Amazon SQS: the driver against a real moto (standard and FIFO queues), behind
the fault-injecting proxy; plus what only a FIFO queue has (message groups, deduplication)."""

from __future__ import annotations

import asyncio
import json

import pytest

from runtime.sink_configs import from_dict
from services.delivery.sinks.base import SinkDriver, SinkSpec
from services.delivery.sinks.sqs import SqsDriver
from tests.conformance.aws import drivers
from tests.conformance.aws_queues import SQS, QueueWorld
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, event, outcomes, read_until
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

driver, impatient = drivers(SqsDriver)


class TestSqsDriver(DriverConformance):
    @pytest.fixture(params=["standard", "fifo"])
    def world(
        self,
        request: pytest.FixtureRequest,
        moto: MotoServer,
        aws_proxy_of_module: AwsProxy,
        driver: SinkDriver,
        impatient: SinkDriver,
    ) -> QueueWorld:
        return QueueWorld(SQS, moto, aws_proxy_of_module, driver, impatient, fifo=request.param == "fifo")


@pytest.fixture
async def fifo(
    moto: MotoServer, aws_proxy_of_module: AwsProxy, driver: SinkDriver, impatient: SinkDriver
) -> QueueWorld:
    return QueueWorld(SQS, moto, aws_proxy_of_module, driver, impatient, fifo=True)


async def test_a_fifo_message_groups_by_the_ordering_key_else_the_account(fifo: QueueWorld) -> None:
    spec = await fifo.spec()
    sink = fifo.driver.open(spec)
    keyed, plain = event(order_key="customer-42"), event()
    assert all(o.delivered for o in await outcomes(sink, [keyed, plain]))
    reader = fifo.queue(spec)
    await read_until(fifo, spec, lambda e: len(e) >= 2)
    groups = {json.loads(m["Body"])["id"]: m["Attributes"]["MessageGroupId"] for m in reader.messages}
    dedup = {json.loads(m["Body"])["id"]: m["Attributes"]["MessageDeduplicationId"] for m in reader.messages}
    assert groups == {keyed.event_id: "customer-42", plain.event_id: ACCOUNT}
    assert dedup == {keyed.event_id: keyed.event_id, plain.event_id: plain.event_id}
    await sink.close()


async def test_a_fifo_queue_takes_an_event_sent_again_once(fifo: QueueWorld) -> None:
    """A retry of a call SQS took (its answer lost on the way) is not a second message."""
    spec = await fifo.spec()
    sink = fifo.driver.open(spec)
    sent = event()
    for _ in range(2):
        [outcome] = await outcomes(sink, [sent])
        assert outcome.delivered
    await read_until(fifo, spec, lambda e: len(e) >= 1)
    await asyncio.sleep(0.3)
    assert [e["id"] for e in await fifo.read(spec)] == [sent.event_id]
    await sink.close()


async def test_a_queue_that_does_not_exist_is_refused_at_prepare(fifo: QueueWorld) -> None:
    spec = await fifo.spec()
    config = from_dict("sqs", {**spec.config.as_dict(), "arn": "arn:aws:sqs:us-east-1:123456789012:nowhere"})
    sink = fifo.driver.open(SinkSpec(spec.sid, spec.account_sid, config, ""))
    [outcome] = await outcomes(sink, [event()])
    assert outcome.error is not None and (outcome.error.code, outcome.error.retryable) == (91305, False)
    await sink.close()
