"""Tier 1 for Amazon SNS: the driver against a real moto (standard and FIFO topics) behind the
fault-injecting proxy, each topic's messages read back from an SQS queue subscribed to it with
raw message delivery; plus what only a FIFO topic has (message groups)."""

from __future__ import annotations

import json

import pytest

from services.delivery.sinks.base import SinkDriver
from services.delivery.sinks.sns import SnsDriver
from tests.conformance.aws import drivers
from tests.conformance.aws_queues import SNS, QueueWorld
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, event, outcomes, read_until
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

driver, impatient = drivers(SnsDriver)


class TestSnsDriver(DriverConformance):
    @pytest.fixture(params=["standard", "fifo"])
    def world(
        self,
        request: pytest.FixtureRequest,
        moto: MotoServer,
        aws_proxy_of_module: AwsProxy,
        driver: SinkDriver,
        impatient: SinkDriver,
    ) -> QueueWorld:
        return QueueWorld(SNS, moto, aws_proxy_of_module, driver, impatient, fifo=request.param == "fifo")


async def test_a_fifo_message_groups_by_the_ordering_key_else_the_account(
    moto: MotoServer, aws_proxy_of_module: AwsProxy, driver: SinkDriver, impatient: SinkDriver
) -> None:
    world = QueueWorld(SNS, moto, aws_proxy_of_module, driver, impatient, fifo=True)
    spec = await world.spec()
    sink = world.driver.open(spec)
    keyed, plain = event(order_key="customer-42"), event()
    assert all(o.delivered for o in await outcomes(sink, [keyed, plain]))
    await read_until(world, spec, lambda e: len(e) >= 2)
    groups = {
        json.loads(m["Body"])["id"]: m["Attributes"]["MessageGroupId"] for m in world.queue(spec).messages
    }
    assert groups == {keyed.event_id: "customer-42", plain.event_id: ACCOUNT}
    await sink.close()
