"""A throttled sink's cap holds across the fleet: four workers on one shared consumer, a
real nats-server and a real receiver that answers 429 at first, then 200. Twilio's cap is
per sink (100 events/s), so the receiver sees ~100 events/s, not 100 per worker. And the
workers' announcements themselves, over a real nats-server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from launcher.nats_server import NatsServer
from runtime import jetstream
from services.delivery.scheduling.fleet import Fleet
from services.delivery.scheduling.throttle import Throttle, ThrottleRules
from tests.integration.test_worker import SINK, Rig, rig  # noqa: F401 (rig: the fixture)

pytestmark = pytest.mark.integration

WORKERS = 4
CAP = 100.0
WINDOW = (2.0, 6.0)  # seconds after the first request: once the fleet has heard of the throttle


async def test_a_throttled_sinks_cap_holds_across_four_workers(
    rig: Rig,  # noqa: F811
    receiver: Receiver,
) -> None:
    started: list[float] = []

    def overloaded_at_first(record: Received) -> web.Response:
        # 429 for the first half second: every worker meets it while the backlog flows.
        if not started:
            started.append(record.at)
        return web.Response(status=429 if record.at - started[0] < 0.5 else 200)

    receiver.responder = overloaded_at_first
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    # Enough for four workers capped each on its own (400/s) to stay busy through the
    # window, and no more: a far larger backlog is handed back and forth (held back) for
    # CPU the calls' pacing then lacks.
    await rig.publish(2400)
    # cut_factor 1: the cap stays at 100 however many 429s the first burst met, so the
    # figure measured is the fleet's cap and nothing else.
    rules = ThrottleRules(initial_cap=CAP, cut_factor=1.0)
    fleets = [Fleet(rig.nc, f"delivery_fleet.{rig.consumer}") for _ in range(WORKERS)]
    announcing = [asyncio.create_task(fleet.run()) for fleet in fleets]
    async with contextlib.AsyncExitStack() as stack:
        for fleet in fleets:
            await stack.enter_async_context(rig.worker(throttle=rules, fleet=fleet))
        await receiver.wait_for(lambda r: bool(started), timeout=30)
        await asyncio.sleep(max(0.0, started[0] + WINDOW[1] + 0.5 - time.time()))
        delivered = [r.at for r in receiver.received if WINDOW[0] <= r.at - started[0] < WINDOW[1]]
    for task in announcing:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    rate = len(delivered) / (WINDOW[1] - WINDOW[0])
    assert CAP * 0.9 <= rate <= CAP * 1.1, f"{rate:.0f} events/s across {WORKERS} workers, cap {CAP:.0f}"


async def test_workers_hear_each_others_throttled_sinks_and_a_silent_one_gives_its_share_back(
    nats_server: NatsServer,
) -> None:
    nc = await jetstream.connect(nats_server.url, "test")
    subject = "delivery_fleet.test"
    here, there = Fleet(nc, subject, period=0.1), Fleet(nc, subject, period=0.1)
    tasks = {fleet: asyncio.create_task(fleet.run()) for fleet in (here, there)}

    async def until(condition: Callable[[], bool]) -> None:
        for _ in range(100):
            if condition():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the fleet did not hear it")

    try:
        there.report(SINK, Throttle(cap=99.0, last_error=5.0))
        await until(lambda: here.newest(SINK) == (99.0, 5.0) and here.share(SINK) == 0.5)
        there.report(SINK, Throttle())  # uncapped again
        await until(lambda: here.newest(SINK) is None and here.share(SINK) == 1.0)
        there.report(SINK, Throttle(cap=98.0, last_error=6.0))
        await until(lambda: here.share(SINK) == 0.5)
        tasks[there].cancel()  # that worker is gone: no word from it for three periods
        await until(lambda: here.share(SINK) == 1.0)
    finally:
        for task in tasks.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await nc.close()
