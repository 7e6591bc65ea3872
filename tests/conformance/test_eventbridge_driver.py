"""Tier 1 for Amazon EventBridge: the driver against a real moto behind the fault-injecting
proxy, each bus's events read back through a rule into an SQS queue; plus what only
EventBridge has (Source, DetailType)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.sink_configs import from_dict
from services.delivery.sinks.aws import credentials
from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.base import SinkSpec
from services.delivery.sinks.eventbridge import EventBridgeDriver
from tests.conformance.driver_suite import (
    ACCOUNT,
    TYPE,
    DriverConformance,
    Expect,
    event,
    outcomes,
    read_until,
)
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUT_EVENTS, AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

STALL_SECONDS = 2.5  # outlasts the impatient driver's 1 s timeout


@dataclass
class EventBridgeWorld:
    moto: MotoServer
    proxy: AwsProxy
    driver: EventBridgeDriver
    impatient: EventBridgeDriver
    readers: dict[str, moto_targets.BusReader] = field(default_factory=dict)
    partial_failures: bool = True
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "not_found": Expect(91305, False),
            "access_denied": Expect(91305, False),
            "timeout": Expect(91308, True),
        }
    )

    async def spec(self) -> SinkSpec:
        bus, queue = await asyncio.to_thread(moto_targets.create_bus, self.moto.url)
        role_arn = await asyncio.to_thread(moto_server.create_role, self.moto.url, "ext-eb")
        config = from_dict("eventbridge", {"arn": bus, "role_arn": role_arn, "external_id": "ext-eb"})
        self.readers[bus] = moto_targets.BusReader(moto_targets.QueueReader(self.moto.url, queue))
        sid = "DG" + f"{len(self.readers):032d}"
        return SinkSpec(sid=sid, account_sid=ACCOUNT, config=config, auth_token="")

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.readers[spec.config.as_dict()["arn"]].details)

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=PUT_EVENTS)
        else:
            self.proxy.fail(fault, count, action=PUT_EVENTS)

    def clear(self) -> None:
        self.proxy.clear()
        self.proxy.calls.clear()

    def calls(self) -> list[tuple[int, int]]:
        return self.proxy.calls_of(PUT_EVENTS)

    def role_assumed(self) -> int:
        return len(self.proxy.sts_calls)

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(credentials, "due", lambda expires, now: True)


@pytest.fixture(scope="module", autouse=True)
def aws_identity() -> Iterator[None]:
    """The worker's own identity, which assumes the tenants' roles (moto takes any)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", moto_server.DUMMY_ACCESS_KEY_ID)
        patch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.DUMMY_SECRET_ACCESS_KEY)
        yield


@pytest.fixture(scope="module")
async def proxy(moto: MotoServer) -> AsyncIterator[AwsProxy]:
    running = AwsProxy(moto.url)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(scope="module")
async def driver(proxy: AwsProxy) -> AsyncIterator[EventBridgeDriver]:
    made = EventBridgeDriver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=10))
    yield made
    await made.close()


@pytest.fixture(scope="module")
async def impatient(proxy: AwsProxy) -> AsyncIterator[EventBridgeDriver]:
    made = EventBridgeDriver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=1))
    yield made
    await made.close()


@pytest.fixture
def world(
    moto: MotoServer, proxy: AwsProxy, driver: EventBridgeDriver, impatient: EventBridgeDriver
) -> EventBridgeWorld:
    return EventBridgeWorld(moto, proxy, driver, impatient)


class TestEventBridgeDriver(DriverConformance):
    pass


async def test_the_event_type_is_the_detail_type_and_the_cloudevent_source_the_source(
    world: EventBridgeWorld,
) -> None:
    spec = await world.spec()
    sink = world.driver.open(spec)
    sent = event()
    [outcome] = await outcomes(sink, [sent])
    assert outcome.delivered, outcome.error
    await read_until(world, spec, lambda e: len(e) >= 1)
    [envelope] = world.readers[spec.config.as_dict()["arn"]].envelopes()
    assert envelope["detail-type"] == TYPE
    assert envelope["source"] == json.loads(sent.payload)["source"]
    assert envelope["detail"] == json.loads(sent.payload)
    await sink.close()


async def test_a_bus_that_does_not_exist_is_refused(world: EventBridgeWorld) -> None:
    spec = await world.spec()
    arn = "arn:aws:events:us-east-1:123456789012:event-bus/nowhere"
    config = from_dict("eventbridge", {**spec.config.as_dict(), "arn": arn})
    sink = world.driver.open(SinkSpec(spec.sid, spec.account_sid, config, ""))
    [outcome] = await outcomes(sink, [event()])
    assert outcome.error is not None and (outcome.error.code, outcome.error.retryable) == (91305, False)
    await sink.close()
