"""Acknowledgements gathered for a moment (runtime/natsio/acks.GatheredAcks), against a real
nats-server: held back for their linger unless something else is written first, several
calls' in one write, and never lost to a clean close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from launcher.nats_server import NatsServer
from runtime import jetstream
from runtime.natsio.acks import GatheredAcks, QuickAckMsg

pytestmark = pytest.mark.integration

STREAM = "GATHER"
CONSUMER = "workers"


async def connected(server: NatsServer) -> Client:
    return await jetstream.connect(server.url, "gathered-acks-test")


@pytest.fixture
async def observer(nats_server: NatsServer) -> AsyncIterator[Client]:
    """A connection of its own, to look at the consumer without writing on the worker's."""
    nc = await connected(nats_server)
    js = nc.jetstream()
    await js.add_stream(name=STREAM, subjects=["gather.>"])
    await js.add_consumer(
        STREAM, ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
    )
    for i in range(6):
        await js.publish(f"gather.{i}", b"event")
    yield nc
    await nc.close()


async def unacknowledged(observer: Client) -> int:
    return (await observer.jetstream().consumer_info(STREAM, CONSUMER)).num_ack_pending


async def settles_to(observer: Client, expected: int, within: float) -> None:
    """The consumer's count reaches `expected` within `within` seconds: JetStream applies an
    acknowledgement on a goroutine of its own, a moment after reading it."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := await unacknowledged(observer)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{found} unacknowledged, not {expected}"
        await asyncio.sleep(0.05)


async def taken(worker: Client, count: int) -> list[Msg]:
    pull = await worker.jetstream().pull_subscribe_bind(CONSUMER, stream=STREAM)
    messages = await pull.fetch(count, timeout=5)
    assert all(type(m) is QuickAckMsg for m in messages)
    return messages


async def test_calls_acknowledgements_wait_their_linger_then_go_together(
    nats_server: NatsServer, observer: Client
) -> None:
    worker = await connected(nats_server)
    try:
        messages = await taken(worker, 6)
        gathered = GatheredAcks(linger_seconds=1.0)
        await gathered.ack_all(messages[:2])
        await gathered.ack_all(messages[2:5])
        await asyncio.sleep(0.3)
        assert await unacknowledged(observer) == 6  # nothing written yet
        await settles_to(observer, 1, within=5)  # both calls', in the linger's one write
        assert all(m._ackd for m in messages[:5])
    finally:
        await worker.close()


async def test_anything_else_written_takes_the_waiting_acknowledgements_along(
    nats_server: NatsServer, observer: Client
) -> None:
    worker = await connected(nats_server)
    try:
        messages = await taken(worker, 3)
        gathered = GatheredAcks(linger_seconds=60)
        await gathered.ack_all(messages)
        await worker.flush()  # any write on the connection empties its pending buffer
        await settles_to(observer, 0, within=5)  # long before the linger's minute
        gathered.cancel()
    finally:
        await worker.close()


async def test_a_clean_close_writes_what_is_still_gathering(
    nats_server: NatsServer, observer: Client
) -> None:
    worker = await connected(nats_server)
    messages = await taken(worker, 4)
    gathered = GatheredAcks(linger_seconds=60)
    await gathered.ack_all(messages)
    gathered.cancel()
    await worker.close()
    await settles_to(observer, 0, within=5)


async def test_no_linger_acknowledges_at_once(nats_server: NatsServer, observer: Client) -> None:
    worker = await connected(nats_server)
    try:
        messages = await taken(worker, 2)
        await GatheredAcks(linger_seconds=0).ack_all(messages)
        await settles_to(observer, 0, within=5)  # the other four were never handed out
    finally:
        await worker.close()
