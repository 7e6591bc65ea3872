"""Traffic for the fault and failover tests: a producer that publishes through the router's
gRPC Publish and remembers what was acknowledged, and a receiver tally of what arrived,
from which worker — so a test can assert that nothing acknowledged was lost."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web

from devkit.receiver import Received
from eventstreams.v1 import router_pb2, router_pb2_grpc
from tests.helpers import publish_when_routed

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]
# How long every acknowledged event has, after the fault and the load, to reach the receiver.
DELIVERY_DEADLINE = 60.0
USER_AGENT = "TwilioEventStreams-compatible/0.1"


def worker_tag(index: int) -> str:
    return f"delivery-{index}"


def worker_agent(index: int) -> dict[str, str]:
    """The setting that makes worker `index` name itself in its User-Agent."""
    return {"ES_USER_AGENT": f"{USER_AGENT} ({worker_tag(index)})"}


@dataclass
class Tally:
    """What the receiver was sent: each CloudEvent id and how many times it came, and per
    worker (named in its User-Agent, see `worker_agent`), how many requests it has sent and
    how many are awaiting their response."""

    delay: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    sent_by: Counter[str] = field(default_factory=Counter)
    open_by: Counter[str] = field(default_factory=Counter)

    async def respond(self, record: Received) -> web.StreamResponse:
        for event in record.events():
            self.counts[str(event["id"])] += 1
        agent = record.headers.get("User-Agent", "")
        worker = agent[agent.rfind("(") + 1 : -1] if agent.endswith(")") else "?"
        self.sent_by[worker] += 1
        self.open_by[worker] += 1
        try:
            if self.delay:
                # Slow-ish: deliveries stay in flight long enough for a kill to catch some.
                await asyncio.sleep(self.delay)
        finally:
            self.open_by[worker] -= 1
        return web.Response(status=200)

    def ids(self) -> set[str]:
        return set(self.counts)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.counts.values())


@dataclass
class Producer:
    """Publishes through the router's gRPC Publish and remembers, per event id, whether the
    router acknowledged it (code 0, put on JetStream for the one subscribed sink)."""

    router: router_pb2_grpc.RouterAsyncStub
    template: router_pb2.Event
    published: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    # Published but not (yet) acknowledged: retried with the same id (the router dedupes).
    unacknowledged: dict[str, router_pb2.Event] = field(default_factory=dict)
    call_errors: Counter[str] = field(default_factory=Counter)
    result_codes: Counter[int] = field(default_factory=Counter)
    other_failures: list[str] = field(default_factory=list)
    # Per call: when it started and ended (monotonic), and how many events it got acknowledged.
    calls: list[tuple[float, float, int]] = field(default_factory=list)

    def fresh(self, count: int) -> list[router_pb2.Event]:
        events = []
        for _ in range(count):
            event = router_pb2.Event()
            event.CopyFrom(self.template)
            event.id = "EZ" + secrets.token_hex(16)
            event.source = f"/2010-04-01/Accounts/{event.account_sid}/Events/{event.id}"
            events.append(event)
        return events

    def record(self, events: list[router_pb2.Event], response: router_pb2.PublishResponse) -> None:
        assert [r.id for r in response.results] == [e.id for e in events]
        for event, result in zip(events, response.results, strict=True):
            self.result_codes[result.code] += 1
            if result.code == 0 and result.deliveries == 1:
                self.acknowledged.add(event.id)
                self.unacknowledged.pop(event.id, None)
                continue
            self.unacknowledged[event.id] = event
            if result.code != UNAVAILABLE:
                self.other_failures.append(f"{event.id}: code {result.code} {result.message!r}")

    async def publish(self, events: list[router_pb2.Event], timeout: float = 20.0) -> int:
        """One Publish call; returns how many of `events` were acknowledged."""
        self.published.update(event.id for event in events)
        started = time.monotonic()
        try:
            response = await self.router.Publish(router_pb2.PublishRequest(events=events), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            self.call_errors[f"{exc.code().name}: {exc.details()}"] += 1
            for event in events:
                if event.id not in self.acknowledged:
                    self.unacknowledged[event.id] = event
            self.calls.append((started, time.monotonic(), 0))
            return 0
        self.record(events, response)
        acknowledged = sum(result.code == 0 and result.deliveries == 1 for result in response.results)
        self.calls.append((started, time.monotonic(), acknowledged))
        return acknowledged

    def timeline(self, since: float) -> str:
        """The calls that ended after `since`: start and end relative to it, acknowledged."""
        return ", ".join(
            f"[{start - since:+.1f}s..{end - since:+.1f}s {acknowledged}]"
            for start, end, acknowledged in self.calls
            if end >= since
        )

    async def first(self, count: int) -> None:
        """The first batch, published until the new subscription has reached the router."""
        events = self.fresh(count)
        self.published.update(event.id for event in events)
        self.record(events, await publish_when_routed(self.router, events, timeout=15))

    async def republish_unacknowledged(self, batch: int, deadline: float) -> None:
        while self.unacknowledged and time.monotonic() < deadline:
            events = list(self.unacknowledged.values())[:batch]
            if await self.publish(events) == 0:
                await asyncio.sleep(0.2)

    def summary(self) -> str:
        return (
            f"acknowledged={len(self.acknowledged)} unacknowledged={len(self.unacknowledged)} "
            f"result codes={dict(self.result_codes)} call errors={dict(self.call_errors)} "
            f"other failures={self.other_failures[:5]}"
        )


async def wait_received(tally: Tally, wanted: set[str], timeout: float = DELIVERY_DEADLINE) -> set[str]:
    """Wait until every wanted id has arrived (or the time is up); returns those missing."""
    deadline = time.monotonic() + timeout
    missing = wanted - tally.ids()
    while missing and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        missing = wanted - tally.ids()
    return missing


async def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}")
        await asyncio.sleep(0.05)


def missing_report(missing: set[str], tally: Tally) -> str:
    return (
        f"{len(missing)} acknowledged event(s) never reached the receiver "
        f"(received {len(tally.counts)} distinct ids, {tally.duplicates()} duplicates); "
        f"e.g. {sorted(missing)[:5]}"
    )
