"""What the workers hold unacknowledged when nats-server restarts comes back after it, with
the events stream, its replay archive and the shared consumer made as the services make
them. (nats-server 2.14.0 to 2.15.1 drop exactly those events on restart when an
interest-retention stream is sourced by another: the lock keeps the broker below 2.14, and
`runtime/nats_versions.py` says so of a server in that range.)"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import nats
import pytest

from launcher.nats_server import NatsServer
from runtime import jetstream
from runtime.jetstream import StreamSpec
from runtime.natsio import acks
from services.delivery.app import consumer_config
from services.delivery.settings import Settings

pytestmark = pytest.mark.integration

EVENTS = 300
ACK_WAIT = 1.0


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
        for i in range(EVENTS):
            await js.publish(f"{spec.subject_prefix}.AC1.DG1", str(i).encode())

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

        back: set[int] = set()
        deadline = time.monotonic() + 10 * ACK_WAIT + 5
        while back != held and time.monotonic() < deadline:
            try:
                for msg in await pull.fetch(100, timeout=1):
                    back.add(int(msg.data))
                    await acks.ack_all([msg])
            except (TimeoutError, nats.errors.Error):  # reconnecting
                await asyncio.sleep(0.1)
        assert back == held, f"{len(held - back)} of {len(held)} events held at the restart never came back"
    finally:
        await nc.close()
