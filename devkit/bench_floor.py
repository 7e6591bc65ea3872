"""The floor: what bare nats-py + aiohttp do with no logic at all — publish to JetStream, pull
with a durable consumer, POST each message (one event per request) to the same receiver, ack.
Its own stream and consumer on the suite's nats-server; the consumer is a process of its own
(as a delivery worker is), with the worker's default fetch size and concurrency.

    python -m devkit.bench_floor --nats nats://127.0.0.1:4222 --url http://127.0.0.1:9100/floor
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import NotFoundError

from devkit.bench_setup import ReceiverClient
from launcher.processes import Child, python_env, start
from runtime.times import iso
from services.router import cloudevents

STREAM = "BENCHFLOOR"
SUBJECT = "benchfloor.events"
CONSUMER = "benchfloor"
PATH = "/floor"


# The floor's fetch size: what a bare consumer would use.
FETCH_BATCH = 256


def worker_defaults() -> tuple[int, int]:
    """(fetch batch, requests in flight to one sink) to give the floor the worker's footing."""
    from services.delivery.settings import Settings

    return FETCH_BATCH, Settings().sink_concurrency


# --- the consumer process -------------------------------------------------------------


# How the consumer acknowledges (devkit/bench_acks.py compares them): `explicit`, each message
# after its POST (the worker's way); `all`, only the last message of each fetched batch once
# every POST of the batch is done (JetStream's AckAll: it acknowledges every earlier message
# too); `none`, never (AckNone: JetStream forgets a message once delivered).
ACK_POLICIES = {"explicit": AckPolicy.EXPLICIT, "all": AckPolicy.ALL, "none": AckPolicy.NONE}


async def consume(nats_url: str, url: str, fetch_batch: int, in_flight: int, ack: str = "explicit") -> None:
    nc = await nats.connect(nats_url, name="bench-floor")
    js = nc.jetstream(timeout=10)
    subscription = await js.pull_subscribe(SUBJECT, durable=CONSUMER, stream=STREAM)
    connector = aiohttp.TCPConnector(limit=in_flight, limit_per_host=in_flight)
    slots = asyncio.Semaphore(in_flight)
    tasks: set[asyncio.Task[bool]] = set()
    ackers: set[asyncio.Task[None]] = set()
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=5)) as http:

        async def post(message: Msg) -> bool:
            try:
                async with http.post(url, data=message.data, headers=headers) as response:
                    await response.read()
                    ok = response.status < 300
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ack == "explicit":
                await (message.ack() if ok else message.nak(delay=1.0))
            return ok

        async def ack_last(batch: list[asyncio.Task[bool]], last: Msg) -> None:
            if all(await asyncio.gather(*batch)):
                await last.ack()

        def finished(task: asyncio.Task[bool]) -> None:
            tasks.discard(task)
            slots.release()

        while True:
            want = min(fetch_batch, max(1, in_flight - len(tasks)))
            try:
                messages = await subscription.fetch(want, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            batch = []
            for message in messages:
                await slots.acquire()
                task = asyncio.create_task(post(message))
                tasks.add(task)
                task.add_done_callback(finished)
                batch.append(task)
            if ack == "all" and messages:
                acking = asyncio.create_task(ack_last(batch, messages[-1]))
                ackers.add(acking)
                acking.add_done_callback(ackers.discard)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nats", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--fetch-batch", type=int, default=256)
    parser.add_argument("--in-flight", type=int, default=512)
    parser.add_argument("--ack", choices=sorted(ACK_POLICIES), default="explicit")
    args = parser.parse_args()
    import uvloop

    try:
        uvloop.run(consume(args.nats, args.url, args.fetch_batch, args.in_flight, args.ack))
    except KeyboardInterrupt:
        pass


# --- the bench side -------------------------------------------------------------------


async def prepare_stream(js: JetStreamContext, ack: str = "explicit") -> None:
    try:
        await js.delete_stream(STREAM)
    except NotFoundError:
        pass
    await js.add_stream(StreamConfig(name=STREAM, subjects=[SUBJECT]))
    await js.add_consumer(
        STREAM,
        ConsumerConfig(
            durable_name=CONSUMER,
            ack_policy=ACK_POLICIES[ack],
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_deliver=-1,
            max_ack_pending=-1,
        ),
    )


class Payloads:
    """CloudEvents like the router's, with distinct ids, stamped at publish time."""

    def __init__(self, account_sid: str, type_name: str, run: str) -> None:
        from devkit.produce import sample_event

        sample = sample_event(account_sid, type_name)
        self._type = type_name
        self._source = sample.source
        self._data: Any = json.loads(sample.data_json)
        self._run = run
        self._serial = 0

    def make(self, count: int) -> list[bytes]:
        from datetime import UTC, datetime

        stamp = iso(datetime.now(UTC))
        out = []
        for _ in range(count):
            self._serial += 1
            envelope = cloudevents.envelope(
                event_id=f"EZfloor{self._run}{self._serial:010d}",
                type_name=self._type,
                source=self._source,
                time=stamp,
                dataschema="",
                data=self._data,
            )
            out.append(cloudevents.encode(envelope))
        return out


async def publish(js: JetStreamContext, payloads: Payloads, count: int, chunk: int = 500) -> float:
    """Publish `count` messages with publish_async, `chunk` acks awaited at a time; returns
    the wall time of the first publish."""
    started = time.time()
    sent = 0
    while sent < count:
        size = min(chunk, count - sent)
        futures = [await js.publish_async(SUBJECT, body) for body in payloads.make(size)]
        await asyncio.gather(*futures)
        sent += size
    return started


@dataclass
class Floor:
    events: int
    received: int
    seconds: float
    publish_seconds: float
    fetch_batch: int
    in_flight: int

    @property
    def events_per_second(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    def report(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "received": self.received,
            "seconds": round(self.seconds, 3),
            "publish_seconds": round(self.publish_seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "fetch_batch": self.fetch_batch,
            "in_flight": self.in_flight,
        }


def start_consumer(
    nats_url: str, url: str, fetch_batch: int, in_flight: int, log_dir: Path, ack: str = "explicit"
) -> Child:
    argv = [sys.executable, "-m", "devkit.bench_floor", "--nats", nats_url, "--url", url]
    argv += ["--fetch-batch", str(fetch_batch), "--in-flight", str(in_flight), "--ack", ack]
    return start("bench-floor", argv, python_env({}), log_dir)


async def measure_floor(
    nats_url: str,
    receiver: ReceiverClient,
    payloads: Payloads,
    count: int,
    log_dir: Path,
    stall_seconds: float,
    in_flight: int,
    on_start: Callable[[Child], None] | None = None,
    window: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ack: str = "explicit",
) -> Floor:
    """Start the floor consumer, warm it up with one event, then time `count` events from
    first publish to last receipt."""
    fetch_batch, _ = worker_defaults()
    nc = await nats.connect(nats_url, name="bench-floor-publisher")
    js = nc.jetstream(timeout=10)
    child: Child | None = None
    try:
        await prepare_stream(js, ack)
        child = start_consumer(nats_url, receiver.url(PATH), fetch_batch, in_flight, log_dir, ack)
        if on_start is not None:
            on_start(child)
        await receiver.reset()
        await publish(js, payloads, 1)
        if (await receiver.wait_events(PATH, 1, stall_seconds)).events < 1:
            raise RuntimeError(f"floor consumer delivered nothing:\n{child.tail()}")
        await receiver.reset()
        with window() as measured:
            started = await publish(js, payloads, count)
            published = time.time()
            seen = await receiver.wait_events(PATH, count, stall_seconds)
            if measured is not None:
                measured.events = seen.events
        ended = seen.last_at if seen.events >= count else time.time()
        return Floor(count, seen.events, ended - started, published - started, fetch_batch, in_flight)
    finally:
        if child is not None:
            child.stop()
        try:
            await js.delete_stream(STREAM)
        finally:
            await nc.close()


if __name__ == "__main__":
    main()
