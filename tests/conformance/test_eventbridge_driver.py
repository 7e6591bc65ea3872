"""Tier 1 for Amazon EventBridge: the driver against a real moto behind the fault-injecting
proxy, each bus's events read back through a rule into an SQS queue; plus what only
EventBridge has (Source, DetailType)."""

from __future__ import annotations

import json

import pytest

from runtime.sink_configs import from_dict
from services.delivery.sinks.base import SinkDriver, SinkSpec
from services.delivery.sinks.eventbridge import EventBridgeDriver
from tests.conformance.aws import drivers
from tests.conformance.aws_queues import EVENTBRIDGE, QueueWorld
from tests.conformance.driver_suite import TYPE, DriverConformance, event, outcomes, read_until
from tests.support import moto_targets
from tests.support.aws_proxy import AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

driver, impatient = drivers(EventBridgeDriver)


@pytest.fixture
def world(
    moto: MotoServer, aws_proxy_of_module: AwsProxy, driver: SinkDriver, impatient: SinkDriver
) -> QueueWorld:
    return QueueWorld(EVENTBRIDGE, moto, aws_proxy_of_module, driver, impatient)


class TestEventBridgeDriver(DriverConformance):
    pass


async def test_the_event_type_is_the_detail_type_and_the_cloudevent_source_the_source(
    world: QueueWorld,
) -> None:
    spec = await world.spec()
    sink = world.driver.open(spec)
    sent = event()
    [outcome] = await outcomes(sink, [sent])
    assert outcome.delivered, outcome.error
    await read_until(world, spec, lambda e: len(e) >= 1)
    [envelope] = moto_targets.BusReader(world.queue(spec)).envelopes()
    assert envelope["detail-type"] == TYPE
    assert envelope["source"] == json.loads(sent.payload)["source"]
    assert envelope["detail"] == json.loads(sent.payload)
    await sink.close()


async def test_a_bus_that_does_not_exist_is_refused(world: QueueWorld) -> None:
    spec = await world.spec()
    arn = "arn:aws:events:us-east-1:123456789012:event-bus/nowhere"
    config = from_dict("eventbridge", {**spec.config.as_dict(), "arn": arn})
    sink = world.driver.open(SinkSpec(spec.sid, spec.account_sid, config, ""))
    [outcome] = await outcomes(sink, [event()])
    assert outcome.error is not None and (outcome.error.code, outcome.error.retryable) == (91305, False)
    await sink.close()
