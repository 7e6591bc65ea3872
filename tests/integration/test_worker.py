"""A delivery worker against a real nats-server and a real HTTP receiver: retries with
backoff on 5xx and timeouts, terminates on 4xx, refuses private destinations."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from nats.aio.client import Client

from devkit.nats_server import NatsServer
from devkit.receiver import Received, Receiver, signature_valid
from eventstreams.v1 import control_pb2
from runtime import jetstream
from runtime.jetstream import StreamSpec
from services.delivery.app import consumer_config
from services.delivery.directory import SinkDirectory
from services.delivery.settings import Settings
from services.delivery.sinks.webhook import WebhookDriver
from services.delivery.worker import RetryPolicy, Worker
from services.router.bus import JetStreamBus, OutMessage

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "a" * 32
TOKEN = "b" * 32
SINK = "DG" + "c" * 32


@dataclass
class Rig:
    nc: Client
    spec: StreamSpec
    consumer: str
    directory: SinkDirectory

    def point_sink_at(self, destination: str) -> None:
        self.directory.load(
            control_pb2.RoutingSnapshot(
                revision=1,
                accounts=[control_pb2.RoutedAccount(sid=ACCOUNT, auth_token=TOKEN)],
                sinks=[
                    control_pb2.RoutedSink(
                        sid=SINK,
                        account_sid=ACCOUNT,
                        sink_type="webhook",
                        status="active",
                        configuration_json=json.dumps(
                            {"destination": destination, "method": "POST", "batch_events": False}
                        ),
                    )
                ],
            )
        )

    async def publish(self, count: int) -> None:
        bus = JetStreamBus(self.nc.jetstream(), self.spec, 5)
        messages = [
            OutMessage(
                ACCOUNT,
                SINK,
                f"EZ{i}",
                "com.example",
                f"EZ{i}:{SINK}",
                json.dumps({"id": f"EZ{i}"}).encode(),
                0,
            )
            for i in range(count)
        ]
        assert await bus.put(messages) == [None] * count

    @contextlib.asynccontextmanager
    async def worker(self, timeout: float = 5.0, allow_private: bool = True) -> AsyncIterator[Worker]:
        settings = Settings(consumer_name=self.consumer, ack_wait_seconds=30)
        js = self.nc.jetstream()
        subscription = await js.pull_subscribe(
            self.spec.subjects[0],
            durable=self.consumer,
            stream=self.spec.name,
            config=consumer_config(settings),
        )
        driver = WebhookDriver(timeout, allow_private, "test-agent")
        worker = Worker(
            subscription, self.directory, {"webhook": driver}, RetryPolicy(0.05, 0.2, 3600), 64, 64
        )
        task = asyncio.create_task(worker.run())
        try:
            yield worker
        finally:
            await worker.drain()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await driver.close()

    async def pending(self) -> tuple[int, int]:
        info = await self.nc.jetstream().consumer_info(self.spec.name, self.consumer)
        return info.num_pending, info.num_ack_pending


@pytest.fixture
async def rig(nats_server: NatsServer, unique: str) -> AsyncIterator[Rig]:
    nc = await jetstream.connect(nats_server.url, "test")
    spec = StreamSpec(name=f"EV_{unique}", subject_prefix=f"ev_{unique}")
    await jetstream.ensure_stream(nc.jetstream(), spec)
    yield Rig(nc, spec, f"delivery_{unique}", SinkDirectory())
    await nc.close()


def scripted(*statuses: int) -> Callable[[Received], web.Response]:
    """Answer each request for an event with the next status in turn, then 200."""
    seen: dict[bytes, int] = {}

    def respond(record: Received) -> web.Response:
        count = seen.get(record.body, 0)
        seen[record.body] = count + 1
        return web.Response(status=statuses[count] if count < len(statuses) else 200)

    return respond


async def settled(rig: Rig) -> None:
    for _ in range(100):
        if await rig.pending() == (0, 0):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"consumer not settled: {await rig.pending()}")


async def test_5xx_is_retried_until_delivered(rig: Rig, receiver: Receiver) -> None:
    receiver.responder = scripted(500, 503)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(5)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 15)
        await settled(rig)
    assert len(receiver.received) == 15  # 3 attempts per event, no more
    assert all(signature_valid(TOKEN, record) for record in receiver.received)


async def test_400_is_not_retried(rig: Rig, receiver: Receiver) -> None:
    receiver.responder = scripted(400)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(3)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 3)
        await settled(rig)
        await asyncio.sleep(0.5)
    assert len(receiver.received) == 3


async def test_429_honours_retry_after(rig: Rig, receiver: Receiver) -> None:
    calls: list[float] = []

    def respond(record: Received) -> web.Response:
        calls.append(record.at)
        if len(calls) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return web.Response(status=200)

    receiver.responder = respond
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(1)
    async with rig.worker():
        await receiver.wait_for(lambda r: len(r.received) >= 2)
        await settled(rig)
    assert calls[1] - calls[0] >= 0.9


async def test_timeout_is_retried(rig: Rig, receiver: Receiver) -> None:
    async def slow_first(record: Received) -> web.Response:
        if len(receiver.received) == 1:
            await asyncio.sleep(1.0)
        return web.Response(status=200)

    receiver.responder = slow_first
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(1)
    async with rig.worker(timeout=0.3):
        await receiver.wait_for(lambda r: len(r.received) >= 2)
        await settled(rig)


async def test_private_destination_is_refused(rig: Rig, receiver: Receiver) -> None:
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(2)
    async with rig.worker(allow_private=False):
        await settled(rig)
        await asyncio.sleep(0.3)
    assert receiver.received == []


async def test_private_name_is_refused_at_resolution(rig: Rig, receiver: Receiver) -> None:
    rig.point_sink_at(f"http://localhost:{receiver.port}/hook")
    await rig.publish(1)
    async with rig.worker(allow_private=False):
        await settled(rig)
        await asyncio.sleep(0.3)
    assert receiver.received == []
