"""Fault tolerance, end to end: a delivery worker SIGKILLed or SIGTERMed mid-load, and
nats-server stopped or SIGKILLed and restarted mid-load, lose no acknowledged event.

Each test runs a suite of its own (it kills and restarts processes), with two delivery
workers sharing the durable consumer and a short ack wait, so that what a killed worker held
comes back within seconds. The receiver records every CloudEvent id it is sent; the tests
assert that the set of received ids contains every id the router acknowledged (duplicates
are allowed: delivery is at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from launcher.processes import grpc_serving
from tests.helpers import create_webhook_sink, sample, subscribe
from tests.traffic import (
    Producer,
    Tally,
    missing_report,
    wait_received,
    wait_until,
    worker_agent,
    worker_tag,
)

pytestmark = pytest.mark.e2e

EVENT_TYPE = "com.twilio.messaging.message.delivered"

FAULT_ENV = {
    "ES_ALLOW_PRIVATE_DESTINATIONS": "true",
    # Short: what a killed worker held unacknowledged is redelivered within seconds.
    "ES_ACK_WAIT_SECONDS": "3",
    "ES_RETRY_BASE_SECONDS": "0.2",
    "ES_RETRY_MAX_DELAY_SECONDS": "1",
}


WORKERS = 2


def start_worker(suite: Suite, index: int) -> None:
    """Start (or restart) worker `index`, its User-Agent naming it, so the receiver can tell
    which worker each request came from."""
    suite.start_worker(index, worker_agent(index))


@pytest.fixture
def own_suite(tmp_path: Path) -> Iterator[Suite]:
    """A suite of this test's own (SQLite, two delivery workers), stopped whatever happens."""
    directory = tmp_path / "suite"
    running = Suite(
        data_dir=directory,
        catalog_db=f"sqlite+aiosqlite:///{directory / 'catalog'}.db",
        control_db=f"sqlite+aiosqlite:///{directory / 'control'}.db",
        delivery_db=f"sqlite+aiosqlite:///{directory / 'delivery'}.db",
        workers=0,  # started below, each with its own User-Agent
        log_dir=tmp_path / "logs",
        extra_env=dict(FAULT_ENV),
    )
    try:
        running.start()
        for index in range(WORKERS):
            start_worker(running, index)
        yield running
    finally:
        running.stop()


def jetstream_state(suite: Suite) -> str:
    """The stream's and the consumers' counters, from nats-server's monitoring endpoint."""
    assert suite.nats is not None
    url = f"http://127.0.0.1:{suite.nats.monitor_port}/jsz?accounts=true&streams=true&consumers=true"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            jsz = json.loads(response.read())
    except Exception as exc:
        return f"jsz unavailable: {exc}"
    lines = []
    for account in jsz.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            lines.append(f"stream {stream.get('name')}: {stream.get('state')}")
            for consumer in stream.get("consumer_detail") or []:
                keys = ["num_pending", "num_ack_pending", "num_redelivered", "num_waiting"]
                counters = {k: consumer.get(k) for k in keys}
                lines.append(
                    f"  consumer {consumer.get('name')}: {counters} delivered={consumer.get('delivered')} "
                    f"ack_floor={consumer.get('ack_floor')}"
                )
    return "\n".join(lines)


def ack_pending(suite: Suite) -> int:
    """Messages handed to workers and not acknowledged yet, over all consumers."""
    assert suite.nats is not None
    url = f"http://127.0.0.1:{suite.nats.monitor_port}/jsz?accounts=true&streams=true&consumers=true"
    with urllib.request.urlopen(url, timeout=2) as response:
        jsz = json.loads(response.read())
    return sum(
        int(consumer.get("num_ack_pending", 0))
        for account in jsz.get("account_details") or []
        for stream in account.get("stream_detail") or []
        for consumer in stream.get("consumer_detail") or []
    )


def diagnostics(suite: Suite, tally: Tally, producer: Producer | None) -> str:
    nats_tail = suite.nats.child.tail() if suite.nats is not None and suite.nats.child else ""
    return "\n".join(
        [
            "=== fault test diagnostics",
            f"producer: {producer.summary() if producer else '-'}",
            f"receiver: {len(tally.counts)} distinct ids, {tally.duplicates()} duplicates",
            f"alive: { {name: child.alive() for name, child in suite.children.items()} }",
            jetstream_state(suite),
            suite.logs(),
            f"--- nats-server\n{nats_tail}",
        ]
    )


@contextlib.asynccontextmanager
async def explained(suite: Suite, tally: Tally, holder: dict[str, Producer]) -> AsyncIterator[None]:
    """On failure, print the services' log tails and JetStream's counters (pytest shows them)."""
    try:
        yield
    except BaseException:
        print(diagnostics(suite, tally, holder.get("producer")))
        raise


async def wire(suite: Suite, receiver: Receiver, channel: grpc.aio.Channel) -> Producer:
    """A fresh account, a webhook sink at the receiver, a subscription to one event type."""
    async with suite.channel("control") as control_channel:
        control = control_pb2_grpc.ControlStub(control_channel)
        account = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="faults"))
    async with httpx.AsyncClient(
        base_url=suite.gateway_url, auth=(account.sid, account.auth_token), timeout=30
    ) as rest:
        sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/events")
        await subscribe(rest, sink["sid"], EVENT_TYPE)
    return Producer(router_pb2_grpc.RouterStub(channel), sample(account.sid, EVENT_TYPE))


async def stop_publishers(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    stop.set()
    await asyncio.wait(tasks, timeout=25)
    for task in tasks:
        task.cancel()


async def all_acknowledged_on_retry(producer: Producer) -> None:
    """Publish what was not acknowledged again, with the same ids: now it must be."""
    await producer.republish_unacknowledged(500, time.monotonic() + 20)
    assert not producer.unacknowledged, f"not acknowledged on retry: {producer.summary()}"


async def load_with_a_worker_stopped(
    suite: Suite, receiver: Receiver, stop_worker: Any, total: int = 3000, batch: int = 250
) -> tuple[Producer, Tally]:
    """Publish `total` events in batches; once deliveries are well under way (and while
    many are in flight) stop worker 0 with `stop_worker`; wait for every event to arrive."""
    tally = Tally(delay=0.05)
    receiver.responder = tally.respond
    holder: dict[str, Producer] = {}
    async with (
        explained(suite, tally, holder),
        suite.channel("router") as channel,
    ):
        producer = holder["producer"] = await wire(suite, receiver, channel)
        await producer.first(batch)

        async def publish_rest() -> None:
            while len(producer.acknowledged) + len(producer.unacknowledged) < total:
                await producer.publish(producer.fresh(batch))
                await asyncio.sleep(0.05)

        publishing = asyncio.create_task(publish_rest())
        try:
            await wait_until(
                lambda: len(tally.counts) >= total // 5 and tally.open_by[worker_tag(0)] > 0,
                30,
                "deliveries under way, worker 0 having some in flight",
            )
            # Taken in the same step as the stop: nothing runs in between.
            unacknowledged = ack_pending(suite)
            received_at_stop = len(tally.counts)
            worker_sent, worker_open = tally.sent_by[worker_tag(0)], tally.open_by[worker_tag(0)]
            await stop_worker()
            print(
                f"worker 0 stopped with {received_at_stop}/{total} events received, "
                f"{unacknowledged} unacknowledged in JetStream, worker 0 having sent "
                f"{worker_sent} requests of which {worker_open} were awaiting their response"
            )
            # The stop must have caught the load, and worker 0, in the middle of it, or this
            # test proves nothing.
            assert received_at_stop < total, "the load was over before the worker was stopped"
            assert worker_sent > 0, f"worker 0 had delivered nothing: {dict(tally.sent_by)}"
            assert worker_open > 0, "worker 0 had no request in flight when it was stopped"
            assert unacknowledged > 0, "no message was unacknowledged when the worker was stopped"
            await asyncio.wait_for(publishing, 60)
        finally:
            publishing.cancel()

        # The router had no fault to face: every event it was given, it acknowledged.
        assert not producer.unacknowledged, producer.summary()
        assert len(producer.acknowledged) == total
        missing = await wait_received(tally, producer.acknowledged)
        assert not missing, missing_report(missing, tally)
        assert tally.ids() == producer.acknowledged
    print(f"delivered {len(tally.counts)} events with {tally.duplicates()} duplicate deliveries")
    return producer, tally


async def test_worker_sigkilled_mid_load_loses_nothing(own_suite: Suite, receiver: Receiver) -> None:
    suite = own_suite

    async def crash_and_restart() -> None:
        suite.kill_worker(0)
        assert not suite.children["delivery-0"].alive()
        # As a supervisor would: the crashed worker comes back and rejoins the consumer.
        await asyncio.to_thread(start_worker, suite, 0)

    await load_with_a_worker_stopped(suite, receiver, crash_and_restart)


async def test_nats_restart_mid_load_loses_no_acknowledged_event(
    own_suite: Suite, receiver: Receiver
) -> None:
    suite = own_suite
    batch = 100
    publishers = 3
    tally = Tally(delay=0.02)
    receiver.responder = tally.respond
    holder: dict[str, Producer] = {}
    async with (
        explained(suite, tally, holder),
        suite.channel("router") as channel,
    ):
        producer = holder["producer"] = await wire(suite, receiver, channel)
        await producer.first(batch)
        restarted = asyncio.Event()
        published_after_restart: set[str] = set()
        stop = asyncio.Event()

        async def publish_loop() -> None:
            while not stop.is_set():
                events = producer.fresh(batch)
                if restarted.is_set():
                    published_after_restart.update(e.id for e in events)
                await producer.publish(events)
                await asyncio.sleep(0.02)

        def acknowledged_after_restart() -> set[str]:
            return published_after_restart & producer.acknowledged

        tasks = [asyncio.create_task(publish_loop()) for _ in range(publishers)]
        try:
            await wait_until(
                lambda: (
                    len(producer.acknowledged) >= 1000
                    and len(tally.counts) >= 200
                    and sum(tally.open_by.values()) > 0
                ),
                30,
                "load under way before the restart, with deliveries in flight",
            )
            # Taken in the same step as the broker goes down: nothing runs in between.
            acknowledged_at_stop, received_at_stop = len(producer.acknowledged), len(tally.counts)
            open_at_stop = sum(tally.open_by.values())
            stopped_at = time.monotonic()
            # In a thread: the receiver and the publishers keep running while the broker is down.
            await asyncio.to_thread(suite.restart_nats, 1.5)
            restarted.set()
            back_at = time.monotonic()
            print(
                f"nats-server down for {back_at - stopped_at:.1f}s; when it went down "
                f"{acknowledged_at_stop} events were acknowledged, {received_at_stop} received and "
                f"{open_at_stop} requests awaiting their response"
            )
            # Deliveries were under way when the broker went down, or this test proves less.
            assert received_at_stop < acknowledged_at_stop, "the deliveries had all been made"
            assert open_at_stop > 0, "no delivery was in flight when nats-server went down"
            # The router reconnects by itself: publishing succeeds again.
            await wait_until(
                lambda: len(acknowledged_after_restart()) >= 1000,
                30,
                f"the router acknowledging publishes again after the restart ({producer.summary()})",
            )
            print(f"1000 events acknowledged {time.monotonic() - back_at:.1f}s after the restart")
            print(f"Publish calls, relative to the broker going down: {producer.timeline(stopped_at)}")
        finally:
            await stop_publishers(stop, tasks)
        await all_acknowledged_on_retry(producer)
        # Per-event failures are UNAVAILABLE ("publish again"), nothing else.
        assert not producer.other_failures, producer.summary()

        # The workers reconnect by themselves: everything acknowledged arrives, including
        # what was published after the restart.
        missing = await wait_received(tally, producer.acknowledged)
        assert not missing, missing_report(missing, tally)
        assert tally.ids() <= producer.published, "the receiver got events nobody published"
        dead = [name for name, child in suite.children.items() if not child.alive()]
        assert not dead, f"services died across the nats-server restart: {dead}"
    print(
        f"{producer.summary()}; delivered {len(tally.counts)} events "
        f"with {tally.duplicates()} duplicate deliveries"
    )


@pytest.mark.parametrize("crash", [False, True], ids=["SIGTERM", "SIGKILL"])
async def test_nats_restarted_again_and_again_under_a_backlog_loses_nothing(
    own_suite: Suite, receiver: Receiver, crash: bool
) -> None:
    """Publishers faster than the receiver: the workers hold events in flight and hand many
    back for later (a slow sink) each time nats-server stops — or crashes — and comes back.
    Each of those must come back afterwards (the broker keeps what a consumer holds
    unacknowledged), and every event the router acknowledged must have been stored."""
    suite = own_suite
    tally = Tally(delay=0.02)
    receiver.responder = tally.respond
    holder: dict[str, Producer] = {}
    async with explained(suite, tally, holder), suite.channel("router") as channel:
        producer = holder["producer"] = await wire(suite, receiver, channel)
        await producer.first(100)
        stop = asyncio.Event()

        async def publish_loop() -> None:
            while not stop.is_set():
                await producer.publish(producer.fresh(100))
                await asyncio.sleep(0.02)

        tasks = [asyncio.create_task(publish_loop()) for _ in range(3)]
        try:
            for _ in range(3):
                await asyncio.sleep(2.0)
                assert len(producer.acknowledged) > len(tally.counts), "no backlog to hold"
                await asyncio.to_thread(suite.restart_nats, 0.5, crash)
        finally:
            await stop_publishers(stop, tasks)
        await all_acknowledged_on_retry(producer)
        missing = await wait_received(tally, producer.acknowledged)
        assert not missing, missing_report(missing, tally)
    print(f"{producer.summary()}; {len(tally.counts)} received, {tally.duplicates()} duplicates")


async def test_worker_sigtermed_mid_load_loses_nothing(own_suite: Suite, receiver: Receiver) -> None:
    suite = own_suite
    codes: list[int | None] = []

    async def graceful_stop() -> None:
        # Not restarted: the other worker alone finishes the load.
        codes.append(await asyncio.to_thread(suite.children["delivery-0"].stop))

    await load_with_a_worker_stopped(suite, receiver, graceful_stop)
    assert codes == [0], f"delivery-0 did not exit cleanly on SIGTERM: {codes}\n{suite.logs()}"


async def test_router_and_workers_say_not_serving_while_the_broker_is_away(own_suite: Suite) -> None:
    suite = own_suite
    checked = [suite.address("router"), suite.address("delivery")]

    def serving_all() -> bool:
        return all(grpc_serving(address) for address in checked)

    def serving_none() -> bool:
        return not any(grpc_serving(address) for address in checked)

    assert serving_all()
    assert suite.nats is not None
    suite.nats.stop()
    try:
        await wait_until(serving_none, 20, "router and workers report NOT_SERVING without the broker")
    finally:
        suite.nats.start()
    await wait_until(serving_all, 30, "SERVING again once the broker is back")
