"""What the workers hold unacknowledged when nats-server restarts comes back after it, with
the events stream, its replay archive and the shared consumer made as the services make
them. (nats-server 2.14+ drops exactly those events on restart when the shared consumer's
name sorts after the archive's copying consumer: runtime/nats_versions.py.) And the shared
consumer's former default name is retired without losing what it held."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import nats
import pytest
from nats.js import JetStreamContext

from launcher.nats_server import NatsServer
from runtime import jetstream
from runtime.jetstream import StreamSpec
from runtime.natsio import acks
from services.delivery import former_consumer
from services.delivery.app import consumer_config
from services.delivery.settings import Settings

pytestmark = pytest.mark.integration

EVENTS = 300
ACK_WAIT = 1.0


async def publish_events(js: JetStreamContext, spec: StreamSpec) -> None:
    """EVENTS events for one sink, numbered from 0."""
    for i in range(EVENTS):
        await js.publish(f"{spec.subject_prefix}.AC1.DG1", str(i).encode())


async def take_until(pull: JetStreamContext.PullSubscription, wanted: set[int], seconds: float) -> set[int]:
    """Fetch and acknowledge until every `wanted` event has come (or `seconds` have passed,
    a reconnect among them); what came."""
    received: set[int] = set()
    deadline = time.monotonic() + seconds
    while not wanted <= received and time.monotonic() < deadline:
        try:
            for msg in await pull.fetch(100, timeout=1):
                received.add(int(msg.data))
                await acks.ack_all([msg])
        except (TimeoutError, nats.errors.Error):  # nothing yet, or reconnecting
            await asyncio.sleep(0.1)
    return received


async def test_unacknowledged_events_come_back_after_a_broker_restart(
    nats_server: NatsServer, unique: str
) -> None:
    spec = StreamSpec(name=f"EV_{unique}", subject_prefix=f"ev_{unique}")
    settings = replace(Settings(), ack_wait_seconds=ACK_WAIT)
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        js = nc.jetstream()
        # The workers' consumer first (with a short ack wait), then the rest as at start.
        await jetstream.ensure_stream(js, spec)
        await js.add_consumer(spec.name, consumer_config(settings))
        await jetstream.ensure_event_streams(js, spec, settings.consumer_name)
        await publish_events(js, spec)

        # A worker's moment: most delivered and acknowledged, some handed back for later
        # (a nak with a delay: a throttled or slow sink), some still in flight.
        pull = await js.pull_subscribe_bind(settings.consumer_name, stream=spec.name)
        held: set[int] = set()
        taken = 0
        while taken < EVENTS:
            messages = await pull.fetch(100, timeout=5)
            taken += len(messages)
            for msg in messages:
                i = int(msg.data)
                if i % 10 == 3:
                    await msg.nak(delay=0.5)
                    held.add(i)
                elif i % 10 == 7:
                    held.add(i)
                else:
                    await acks.ack_all([msg])
        await nc.flush()
        # The archive has copied everything (it acknowledges its copies about once a
        # second), and the work stream keeps only what is held.
        archive = spec.archive().name
        for _ in range(100):
            copied = (await js.stream_info(archive)).state.messages
            if copied == EVENTS and (await js.stream_info(spec.name)).state.messages == len(held):
                break
            await asyncio.sleep(0.05)
        assert (await js.stream_info(spec.name)).state.messages == len(held)

        await asyncio.to_thread(nats_server.stop)
        await asyncio.to_thread(nats_server.start)

        back = await take_until(pull, held, 10 * ACK_WAIT + 5)
        assert back == held, f"{len(held - back)} of {len(held)} events held at the restart never came back"
    finally:
        await nc.close()


async def test_the_former_shared_consumer_is_retired_and_what_it_held_is_delivered(
    nats_server: NatsServer, unique: str
) -> None:
    spec = StreamSpec(name=f"EV_{unique}", subject_prefix=f"ev_{unique}")
    settings = replace(Settings(), ack_wait_seconds=ACK_WAIT)
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        # A deployment of the former default: its consumer delivered some events, held others.
        await jetstream.ensure_event_streams(js, spec, former_consumer.FORMER_DEFAULT)
        await publish_events(js, spec)
        old = await js.pull_subscribe_bind(former_consumer.FORMER_DEFAULT, stream=spec.name)
        delivered = set()
        for msg in await old.fetch(EVENTS // 2, timeout=5):
            if int(msg.data) % 3:
                await acks.ack_all([msg])
                delivered.add(int(msg.data))
        await old.unsubscribe()

        # The workers of this release start: their consumer, then the former one retired.
        await jetstream.ensure_event_streams(js, spec, settings.consumer_name)
        await js.add_consumer(spec.name, consumer_config(settings))
        assert await former_consumer.retire(js, [spec.name], settings.consumer_name) == [spec.name]
        names = {info.name for info in await js.consumers_info(spec.name)}
        assert former_consumer.FORMER_DEFAULT not in names and settings.consumer_name in names

        new = await js.pull_subscribe_bind(settings.consumer_name, stream=spec.name)
        # Everything the former consumer had not acknowledged arrives through the new one
        # (and some it had, which the archive had not copied yet: at least once).
        wanted = set(range(EVENTS)) - delivered
        received = await take_until(new, wanted, 10)
        assert wanted <= received, f"{len(wanted - received)} never delivered"
    finally:
        await nc.close()
