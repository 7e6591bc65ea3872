"""Tier 1 for Amazon SQS: the driver against a real moto (standard and FIFO queues), behind
the fault-injecting proxy; plus what only a FIFO queue has (message groups, deduplication)."""

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
from services.delivery.sinks.sqs import SqsDriver
from tests.conformance.driver_suite import ACCOUNT, DriverConformance, Expect, event, outcomes, read_until
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import SEND_MESSAGE_BATCH, AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

STALL_SECONDS = 2.5  # outlasts the impatient driver's 1 s timeout


@dataclass
class SqsWorld:
    moto: MotoServer
    proxy: AwsProxy
    driver: SqsDriver
    impatient: SqsDriver
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
        arn = await asyncio.to_thread(moto_targets.create_queue, self.moto.url, self.fifo)
        role_arn = await asyncio.to_thread(moto_server.create_role, self.moto.url, "ext-sqs")
        config = from_dict("sqs", {"arn": arn, "role_arn": role_arn, "external_id": "ext-sqs"})
        self.readers[arn] = moto_targets.QueueReader(self.moto.url, arn)
        return SinkSpec(
            sid="DG" + "0" * 31 + str(len(self.readers)), account_sid=ACCOUNT, config=config, auth_token=""
        )

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.readers[spec.config.as_dict()["arn"]].bodies)

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=SEND_MESSAGE_BATCH)
        else:
            self.proxy.fail(fault, count, action=SEND_MESSAGE_BATCH)

    def clear(self) -> None:
        self.proxy.clear()
        self.proxy.calls.clear()

    def calls(self) -> list[tuple[int, int]]:
        return self.proxy.calls_of(SEND_MESSAGE_BATCH)

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
async def driver(proxy: AwsProxy) -> AsyncIterator[SqsDriver]:
    made = SqsDriver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=10))
    yield made
    await made.close()


@pytest.fixture(scope="module")
async def impatient(proxy: AwsProxy) -> AsyncIterator[SqsDriver]:
    made = SqsDriver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=1))
    yield made
    await made.close()


class TestSqsDriver(DriverConformance):
    @pytest.fixture(params=["standard", "fifo"])
    def world(
        self,
        request: pytest.FixtureRequest,
        moto: MotoServer,
        proxy: AwsProxy,
        driver: SqsDriver,
        impatient: SqsDriver,
    ) -> SqsWorld:
        return SqsWorld(moto, proxy, driver, impatient, fifo=request.param == "fifo")


@pytest.fixture
async def fifo(moto: MotoServer, proxy: AwsProxy, driver: SqsDriver, impatient: SqsDriver) -> SqsWorld:
    return SqsWorld(moto, proxy, driver, impatient, fifo=True)


async def test_a_fifo_message_groups_by_the_ordering_key_else_the_account(fifo: SqsWorld) -> None:
    spec = await fifo.spec()
    sink = fifo.driver.open(spec)
    keyed, plain = event(order_key="customer-42"), event()
    assert all(o.delivered for o in await outcomes(sink, [keyed, plain]))
    reader = fifo.readers[spec.config.as_dict()["arn"]]
    await read_until(fifo, spec, lambda e: len(e) >= 2)
    groups = {json.loads(m["Body"])["id"]: m["Attributes"]["MessageGroupId"] for m in reader.messages}
    dedup = {json.loads(m["Body"])["id"]: m["Attributes"]["MessageDeduplicationId"] for m in reader.messages}
    assert groups == {keyed.event_id: "customer-42", plain.event_id: ACCOUNT}
    assert dedup == {keyed.event_id: keyed.event_id, plain.event_id: plain.event_id}
    await sink.close()


async def test_a_fifo_queue_takes_an_event_sent_again_once(fifo: SqsWorld) -> None:
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


async def test_a_queue_that_does_not_exist_is_refused_at_prepare(fifo: SqsWorld) -> None:
    spec = await fifo.spec()
    config = from_dict("sqs", {**spec.config.as_dict(), "arn": "arn:aws:sqs:us-east-1:123456789012:nowhere"})
    sink = fifo.driver.open(SinkSpec(spec.sid, spec.account_sid, config, ""))
    [outcome] = await outcomes(sink, [event()])
    assert outcome.error is not None and (outcome.error.code, outcome.error.retryable) == (91305, False)
    await sink.close()
