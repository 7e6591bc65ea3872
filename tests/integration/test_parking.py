"""Parking against a real nats-server: a down sink's events wait in the parking stream and
come back when it answers — even when the server has removed the sink's parking consumer
under the worker (idle past its threshold, or deleted by an operator)."""

from __future__ import annotations

import asyncio

import nats.js.errors
from aiohttp import web

from devkit.receiver import Receiver
from tests.integration.test_worker import ACCOUNT, SINK, Rig, rig, settled  # noqa: F401 (rig: the fixture)


async def parking_consumer(of: Rig) -> str:
    """The sink's parking consumer, once the worker has made it (its first probe does)."""
    name = f"parked_{SINK}"
    for _ in range(200):
        try:
            await of.nc.jetstream().consumer_info(of.spec.parking().name, name)
            return name
        except nats.js.errors.NotFoundError:
            await asyncio.sleep(0.05)
    raise AssertionError("the parking consumer was never made")


async def test_parked_events_come_back_after_their_consumer_is_removed(
    rig: Rig,  # noqa: F811
    receiver: Receiver,
) -> None:
    down = True
    receiver.responder = lambda _record: web.Response(status=500 if down else 200)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(50)
    js = rig.nc.jetstream()
    async with rig.worker(failing_buffer=1):
        await rig.wait_parked(45)
        # What is not parked yet is dropped: with no traffic of its own, the sink is probed
        # with its parked events — through its parking consumer, made by the first probe.
        await js.purge_stream(rig.spec.name)
        parked = await rig.parked()
        consumer = await parking_consumer(rig)
        await js.delete_consumer(rig.spec.parking().name, consumer)
        await asyncio.sleep(1.0)  # sweeps against the consumer that is gone
        down = False
        await receiver.wait_for(lambda r: len({e["id"] for e in r.events()}) >= parked, timeout=30)
        await settled(rig)
    assert await rig.parked() == 0


async def test_parked_events_past_the_retry_window_become_dead_letters(
    rig: Rig,  # noqa: F811
    receiver: Receiver,
) -> None:
    """A sink down for longer than the retry window (here 3 s, Twilio's 4 h): its parked
    events are made dead letters — recorded — not left for the stream's max_age to delete."""
    receiver.responder = lambda _record: web.Response(status=500)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(50)
    async with rig.worker(failing_buffer=1, max_retry_age_seconds=3.0):
        await rig.wait_parked(40)
        for _ in range(120):  # 12 s: well past the window, well short of one probe per event
            letters = (await rig.records.dead_letters(ACCOUNT, SINK, None, 100, "")).items
            if len(letters) == 50:
                break
            await asyncio.sleep(0.1)
        assert await rig.parked() == 0
    letters = (await rig.records.dead_letters(ACCOUNT, SINK, None, 100, "")).items
    assert sorted(letter.event_id for letter in letters) == sorted(f"EZ{i}" for i in range(50))
    assert all("retry window" in letter.reason for letter in letters)
