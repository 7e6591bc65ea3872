"""Tier 1 for Amazon SNS: the driver against a real moto (standard and FIFO topics) behind the
fault-injecting proxy, each topic's messages read back from an SQS queue subscribed to it with
raw message delivery; plus what only a FIFO topic has (message groups)."""

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
from services.delivery.sinks.sns import SnsDriver
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, Expect, event, outcomes, read_until
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUBLISH_BATCH, AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

STALL_SECONDS = 2.5  # outlasts the impatient driver's 1 s timeout


@dataclass
class SnsWorld:
    moto: MotoServer
    proxy: AwsProxy
    driver: SnsDriver
    impatient: SnsDriver
    fifo: bool
    readers: dict[str, moto_targets.QueueReader] = field(default_factory=dict)
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
        topic, queue = await asyncio.to_thread(moto_targets.create_topic, self.moto.url, self.fifo)
        role_arn = await asyncio.to_thread(moto_server.create_role, self.moto.url, "ext-sns")
        config = from_dict("sns", {"arn": topic, "role_arn": role_arn, "external_id": "ext-sns"})
        self.readers[topic] = moto_targets.QueueReader(self.moto.url, queue)
        sid = "DG" + f"{len(self.readers):032d}"
        return SinkSpec(sid=sid, account_sid=ACCOUNT, config=config, auth_token="")

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.readers[spec.config.as_dict()["arn"]].bodies)

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=PUBLISH_BATCH)
        else:
            self.proxy.fail(fault, count, action=PUBLISH_BATCH)

    def clear(self) -> None:
        self.proxy.clear()
        self.proxy.calls.clear()

    def calls(self) -> list[tuple[int, int]]:
        return self.proxy.calls_of(PUBLISH_BATCH)

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
async def driver(proxy: AwsProxy) -> AsyncIterator[SnsDriver]:
    made = SnsDriver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=10))
    yield made
    await made.close()


@pytest.fixture(scope="module")
async def impatient(proxy: AwsProxy) -> AsyncIterator[SnsDriver]:
    made = SnsDriver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=1))
    yield made
    await made.close()


class TestSnsDriver(DriverConformance):
    @pytest.fixture(params=["standard", "fifo"])
    def world(
        self,
        request: pytest.FixtureRequest,
        moto: MotoServer,
        proxy: AwsProxy,
        driver: SnsDriver,
        impatient: SnsDriver,
    ) -> SnsWorld:
        return SnsWorld(moto, proxy, driver, impatient, fifo=request.param == "fifo")


async def test_a_fifo_message_groups_by_the_ordering_key_else_the_account(
    moto: MotoServer, proxy: AwsProxy, driver: SnsDriver, impatient: SnsDriver
) -> None:
    world = SnsWorld(moto, proxy, driver, impatient, fifo=True)
    spec = await world.spec()
    sink = world.driver.open(spec)
    keyed, plain = event(order_key="customer-42"), event()
    assert all(o.delivered for o in await outcomes(sink, [keyed, plain]))
    await read_until(world, spec, lambda e: len(e) >= 2)
    reader = world.readers[spec.config.as_dict()["arn"]]
    groups = {json.loads(m["Body"])["id"]: m["Attributes"]["MessageGroupId"] for m in reader.messages}
    assert groups == {keyed.event_id: "customer-42", plain.event_id: ACCOUNT}
    await sink.close()
