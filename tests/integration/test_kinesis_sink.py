"""The Kinesis driver against a real moto (through the fault proxy, which shows what was
sent): AssumeRole as Twilio makes it, credentials cached and renewed, the stream checked,
records written as CloudEvents, and boto3's standard endpoint variables honoured."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from runtime.sink_configs import KinesisConfig
from services.delivery.errors import DeliveryError
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.kinesis import KinesisDriver, KinesisOptions
from services.delivery.sinks.kinesis.errors import StreamUnresolvable
from tests.support import moto_server
from tests.support.kinesis_proxy import KinesisProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "1" * 32
SID = "DG" + "2" * 32


@pytest.fixture
async def proxy(moto: MotoServer) -> AsyncIterator[KinesisProxy]:
    running = KinesisProxy(moto.url)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(autouse=True)
def aws_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.DUMMY_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.DUMMY_SECRET_ACCESS_KEY)


async def stream_and_role(moto: MotoServer, external_id: str) -> tuple[str, str]:
    arn = await asyncio.to_thread(moto_server.create_stream, moto.url, "k-" + secrets.token_hex(5))
    role = await asyncio.to_thread(moto_server.create_role, moto.url, external_id)
    return arn, role


def event(i: int) -> SinkEvent:
    return SinkEvent(f"EZ{i}", "com.example", ACCOUNT, json.dumps({"id": f"EZ{i}", "n": i}).encode())


async def test_assume_role_once_then_put_records(moto: MotoServer, proxy: KinesisProxy) -> None:
    arn, role = await stream_and_role(moto, "ext-abc")
    driver = KinesisDriver(KinesisOptions(endpoint_url=proxy.url, timeout_seconds=5))
    sink = driver.open(SinkSpec(SID, ACCOUNT, KinesisConfig(arn, role, "ext-abc"), "token"))
    try:
        for batch in ([event(0), event(1)], [event(2)]):
            await sink.prepare()
            outcomes = await sink.deliver(batch)
            assert all(o.delivered for o in outcomes)
        [assume] = [c for c in proxy.sts_calls if c.get("Action") == "AssumeRole"]
        assert (assume["RoleArn"], assume["ExternalId"], assume["RoleSessionName"]) == (
            role,
            "ext-abc",
            f"TwilioEventStreams-{SID}",
        )
        records = await asyncio.to_thread(moto_server.read_records, moto.url, arn)
        assert sorted((key, json.loads(data)["n"]) for key, data in records) == [
            ("EZ0", 0),
            ("EZ1", 1),
            ("EZ2", 2),
        ]
        # Credentials about to expire are renewed before the next call.
        sink._expires = datetime.now(UTC)
        await sink.prepare()
        assert len([c for c in proxy.sts_calls if c.get("Action") == "AssumeRole"]) == 2
    finally:
        await sink.close()
        await driver.close()


async def test_a_stream_that_does_not_exist_cannot_be_resolved(moto: MotoServer, proxy: KinesisProxy) -> None:
    _, role = await stream_and_role(moto, "ext-abc")
    missing = f"arn:aws:kinesis:us-east-1:{moto_server.ACCOUNT_ID}:stream/nowhere-{secrets.token_hex(3)}"
    driver = KinesisDriver(KinesisOptions(endpoint_url=proxy.url, timeout_seconds=5))
    sink = driver.open(SinkSpec(SID, ACCOUNT, KinesisConfig(missing, role, "ext-abc"), "token"))
    try:
        with pytest.raises(StreamUnresolvable) as info:
            await sink.prepare()
        assert (info.value.code, info.value.retryable) == (93104, False)
    finally:
        await driver.close()


async def test_an_unknown_region_cannot_be_resolved_without_an_endpoint() -> None:
    config = KinesisConfig("arn:aws:kinesis:xx-nowhere-9:1:stream/s", "arn:aws:iam::1:role/r", "ext-abc")
    driver = KinesisDriver(KinesisOptions(endpoint_url=None, timeout_seconds=1))
    sink = driver.open(SinkSpec(SID, ACCOUNT, config, "token"))
    try:
        with pytest.raises(StreamUnresolvable, match="xx-nowhere-9"):
            await sink.prepare()
    finally:
        await driver.close()


async def test_boto3s_standard_endpoint_variable_is_honoured(
    moto: MotoServer, proxy: KinesisProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    arn, role = await stream_and_role(moto, "ext-abc")
    driver = KinesisDriver(KinesisOptions(endpoint_url=None, timeout_seconds=5))
    sink = driver.open(SinkSpec(SID, ACCOUNT, KinesisConfig(arn, role, "ext-abc"), "token"))
    try:
        await sink.prepare()
        assert all(o.delivered for o in await sink.deliver([event(7)]))
        assert proxy.put_calls == 1 and any(c.get("Action") == "AssumeRole" for c in proxy.sts_calls)
    finally:
        await driver.close()


async def test_assume_role_failure_is_retryable_93102(moto: MotoServer) -> None:
    arn, _ = await stream_and_role(moto, "ext-abc")
    driver = KinesisDriver(KinesisOptions(endpoint_url="http://127.0.0.1:9", timeout_seconds=1))
    sink = driver.open(SinkSpec(SID, ACCOUNT, KinesisConfig(arn, "arn:aws:iam::1:role/r", "ext-abc"), "t"))
    try:
        with pytest.raises(DeliveryError) as info:
            await sink.prepare()
        assert (info.value.code, info.value.retryable) == (93102, True)
    finally:
        await driver.close()
