"""Tier 1 for Amazon S3: the archive driver against a real moto behind the fault-injecting
proxy, its objects read back with boto3; plus what only an archive has (keys by type and
date, several calls gathered into one object, a flush at the size limit)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from runtime.sink_configs import from_dict
from runtime.sinks.s3 import FLUSH_BYTES
from services.delivery.sinks.aws import credentials
from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.s3 import S3Driver
from tests.conformance.aws import drivers
from tests.conformance.driver_suite import ACCOUNT, TYPE, DriverConformance, Expect, event, outcomes, sized
from tests.support import moto_server, moto_targets
from tests.support.aws_proxy import PUT_OBJECT, AwsProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

STALL_SECONDS = 2.5  # outlasts the impatient driver's 1 s timeout
FLUSH_SECONDS = 0.3


@dataclass
class S3World:
    moto: MotoServer
    proxy: AwsProxy
    driver: S3Driver
    impatient: S3Driver
    prefix: str = "twilio/"
    buckets: set[str] = field(default_factory=set)
    partial_failures: bool = False  # one object per event type: no call the tests make spans two
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
        bucket = await asyncio.to_thread(moto_targets.create_bucket, self.moto.url)
        role_arn = await asyncio.to_thread(moto_server.create_role, self.moto.url, "ext-s3")
        config = from_dict(
            "s3",
            {
                "arn": bucket,
                "region": "us-east-1",
                "prefix": self.prefix,
                "role_arn": role_arn,
                "external_id": "ext-s3",
            },
        )
        self.buckets.add(bucket)
        sid = "DG" + f"{len(self.buckets):032d}"
        return SinkSpec(sid=sid, account_sid=ACCOUNT, config=config, auth_token="")

    async def read(self, spec: SinkSpec) -> list[dict[str, Any]]:
        found = await asyncio.to_thread(moto_targets.archived, self.moto.url, spec.config.as_dict()["arn"])
        return [line for _, lines in found for line in lines]

    def inject(self, fault: str, count: int | None = 1) -> None:
        if fault == "timeout":
            self.proxy.fail("delay", count, delay_seconds=STALL_SECONDS, action=PUT_OBJECT)
        else:
            self.proxy.fail(fault, count, action=PUT_OBJECT)

    def clear(self) -> None:
        self.proxy.clear()
        self.proxy.calls.clear()

    def calls(self) -> list[tuple[int, int]]:
        return self.proxy.calls_of(PUT_OBJECT)

    def role_assumed(self) -> int:
        return len(self.proxy.sts_calls)

    def expire_credentials(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(credentials, "due", lambda expires, now: True)


driver, impatient = drivers(lambda options: S3Driver(options, flush_seconds=FLUSH_SECONDS))


@pytest.fixture
def world(moto: MotoServer, aws_proxy_of_module: AwsProxy, driver: S3Driver, impatient: S3Driver) -> S3World:
    return S3World(moto, aws_proxy_of_module, driver, impatient)


class TestS3Driver(DriverConformance):
    pass


def typed(type_name: str) -> SinkEvent:
    made = event()
    return SinkEvent(
        made.event_id, type_name, made.account_sid, made.payload.replace(TYPE.encode(), type_name.encode())
    )


async def test_objects_are_keyed_by_type_and_date_and_calls_share_them(world: S3World) -> None:
    spec = await world.spec()
    sink = world.driver.open(spec)
    other = "com.twilio.voice.call.completed"
    calls = [[event(), typed(other)], [event(), event()], [typed(other)]]
    answered = await asyncio.gather(*(outcomes(sink, call) for call in calls))
    assert [o.error for call in answered for o in call if o.error] == []
    found = await asyncio.to_thread(moto_targets.archived, world.moto.url, spec.config.as_dict()["arn"])
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    pattern = rf"twilio/type=(?P<type>[\w.]+)/date={today}/\d{{6}}-{spec.sid}-[0-9a-f]{{12}}\.ndjson"
    by_type = {re.fullmatch(pattern, key)["type"]: len(lines) for key, lines in found}  # type: ignore[index]
    # Three calls in one flush: one object per event type.
    assert by_type == {TYPE: 3, other: 2}
    await sink.close()


def patient(moto: MotoServer, proxy: AwsProxy) -> tuple[S3Driver, S3World]:
    """A driver that holds its objects for a minute unless something else writes them."""
    made = S3Driver(AwsOptions(endpoint_url=proxy.url, timeout_seconds=10), flush_seconds=60)
    return made, S3World(moto, proxy, made, made)


async def test_an_object_is_written_at_the_size_limit_without_waiting(
    moto: MotoServer, aws_proxy_of_module: AwsProxy, aws_identity: None
) -> None:
    patient_driver, world = patient(moto, aws_proxy_of_module)
    spec = await world.spec()
    sink = patient_driver.open(spec)
    each = sink.limits.max_event_bytes
    calls = [[sized(sink, each)] for _ in range(FLUSH_BYTES // each)]
    answered = await asyncio.wait_for(asyncio.gather(*(outcomes(sink, call) for call in calls)), 20)
    assert all(o.delivered for call in answered for o in call)
    assert len(await world.read(spec)) == len(calls)
    await sink.close()
    await patient_driver.close()


async def test_closing_writes_what_is_held(
    moto: MotoServer, aws_proxy_of_module: AwsProxy, aws_identity: None
) -> None:
    patient_driver, world = patient(moto, aws_proxy_of_module)
    spec = await world.spec()
    sink = patient_driver.open(spec)
    await sink.prepare()
    waiting = asyncio.create_task(outcomes(sink, [event()]))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await sink.close()
    [outcome] = await waiting
    assert outcome.delivered
    assert len(await world.read(spec)) == 1
    await patient_driver.close()
