"""The bench's Segment phase: a Segment sink delivering to tests/support/segment_receiver.py (a local
stand-in for Segment's HTTP Tracking API that checks what Segment documents) in its own
process, end to end: first publish → the last message accepted.

The sink is made as Twilio's flow goes (create, Test, the test event's test_id read back
from the receiver, Validate, subscribe) once; every trial then publishes a fixed count and
pages through the receiver's accepted messages (`GET /_messages?since=N&ids=1`), counting
distinct messageIds (the event ids); the end of a run is the receipt time of its last one.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devkit.bench_load import EventFactory, arrival_timeline, publish_fixed, publish_until_routed
from devkit.bench_setup import Rest
from eventstreams.v1 import router_pb2_grpc
from launcher.processes import Child, python_env, start, wait_until

TYPE_SEGMENT = "com.twilio.messaging.message.undelivered"
TEST_TYPE = "com.twilio.eventstreams.test-event"
POLL_SECONDS = 0.2


def new_write_key() -> str:
    return "wk_bench_" + secrets.token_hex(8)


def _up(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=1) as response:
        return bool(response.status == 200)


def start_receiver(port: int, write_key: str, log_dir: Path) -> Child:
    argv = [sys.executable, "-m", "tests.support.segment_receiver", "--port", str(port)]
    argv += ["--write-key", write_key, "--quiet"]
    child = start("segment-receiver", argv, python_env({}), log_dir)
    wait_until(lambda: _up(port), child, "segment receiver")
    return child


@dataclass
class SegmentClient:
    """The Segment receiver's read side, with a cursor into its accepted messages."""

    port: int
    cursor: int = 0
    _client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self._client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def close(self) -> None:
        await self._client.aclose()

    async def messages(self) -> list[dict[str, Any]]:
        """Full messages accepted since the cursor (moves it)."""
        response = await self._client.get("/_messages", params={"since": self.cursor})
        body = response.raise_for_status().json()
        self.cursor = int(body["next"])
        return [m["message"] for m in body["messages"]]

    async def ids(self) -> list[tuple[str, float]]:
        """(messageId, receipt time) accepted since the cursor (moves it)."""
        response = await self._client.get("/_messages", params={"since": self.cursor, "ids": "1"})
        body = response.raise_for_status().json()
        self.cursor = int(body["next"])
        return list(zip(body["ids"], body["at"], strict=True))

    async def skip(self) -> int:
        """Move the cursor past everything accepted so far; how many that was."""
        return len(await self.ids())


@dataclass
class SegmentSink:
    sid: str
    setup_seconds: float
    status: str


async def create_sink(
    rest: Rest,
    client: SegmentClient,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    write_key: str,
    timeout: float,
) -> SegmentSink:
    """Create, Test, read the test event's test_id back, Validate, subscribe, and wait for a
    routed probe event to arrive."""
    started = time.monotonic()
    sid = await rest.create_sink("bench segment", "segment", {"write_key": write_key})
    await rest.test_sink(sid)
    test_id = ""
    deadline = time.monotonic() + timeout
    while not test_id:
        for message in await client.messages():
            if message.get("event") == TEST_TYPE:
                test_id = str(message["properties"]["test_id"])
        if not test_id:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Segment test event in {timeout:.0f} s")
            await asyncio.sleep(0.2)
    await rest.validate_sink(sid, test_id)
    status = await rest.sink_status(sid)
    await rest.subscribe("bench segment", sid, [TYPE_SEGMENT])
    await publish_until_routed(router, factory, TYPE_SEGMENT, 1, timeout=15)
    while not await client.skip():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the probe event did not reach Segment in {timeout:.0f} s")
        await asyncio.sleep(0.1)
    return SegmentSink(sid, round(time.monotonic() - started, 2), status)


async def measure(
    client: SegmentClient,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    count: int,
    batch: int,
    concurrency: int,
    stall_seconds: float,
    window: Callable[[str], Any],
) -> dict[str, Any]:
    """`count` events, first publish → the last one accepted by the receiver."""
    await asyncio.sleep(0.5)
    await client.skip()  # stragglers of a warm-up
    first: dict[str, float] = {}
    repeats = 0
    with window("segment") as measured:
        published = await publish_fixed(router, factory, TYPE_SEGMENT, count, batch, concurrency)
        progressed = time.monotonic()
        while len(first) < published.events and time.monotonic() - progressed < stall_seconds:
            await asyncio.sleep(POLL_SECONDS)
            found = await client.ids()
            for message_id, at in found:
                if message_id in first:
                    repeats += 1
                else:
                    first[message_id] = at
            if found:
                progressed = time.monotonic()
        measured.events = len(first)
    received = len(first)
    complete = received >= published.events
    ended = max(first.values()) if complete and first else time.time()
    seconds = max(ended - published.started_at, 1e-9)
    return {
        "target": count,
        "received": received,
        "duplicates": repeats,
        "complete": complete,
        "seconds": round(seconds, 3),
        "events_per_second": round(received / seconds, 1),
        "publish": published.report(),
        "timeline": arrival_timeline(published.started_at, list(first.values())),
    }
