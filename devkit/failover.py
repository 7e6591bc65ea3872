"""A process lost under steady load, measured: used by the failover tests (which assert that
nothing the router acknowledged is lost and that delivery resumes by itself) and by `make
bench` (which reports the gap).

A webhook sink at the fast receiver takes `rate` events/s, published through the router's
gRPC Publish over every router replica on an absolute schedule (a slow or failed call does
not delay the next). After `before` seconds the fault is injected (a SIGKILL, in a thread:
the load goes on meanwhile), and the load goes on for `after` seconds. What the router did
not acknowledge is published again with the same ids until it is; then every acknowledged
event must reach the receiver. Figures:

- delivery_gap_seconds: the longest time, from the kill to the end of the load, in which
  no new event reached the receiver (the outage as the customer sees it);
- publish_gap_seconds: the longest time, from the kill to the end of the load, in which no
  Publish call completed with its events acknowledged (the outage as a producer sees it);
- redelivered: events that reached the receiver more than once (at least once: allowed;
  a kill makes some, a retry within the dedupe window must not).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import grpc

from devkit.bench_load import EventFactory
from devkit.bench_setup import ReceiverClient
from eventstreams.v1 import router_pb2, router_pb2_grpc

EVENT_TYPE = "com.twilio.messaging.message.delivered"


@dataclass(frozen=True)
class LoadPlan:
    rate: float = 200.0  # events/s
    batch: int = 20  # events per Publish call
    before: float = 4.0  # seconds of load before the fault
    after: float = 10.0  # seconds of load after it
    deliver_within: float = 90.0  # after the load, for every acknowledged event to arrive
    republish_within: float = 60.0


def quiet_gap(times: list[float], start: float, end: float) -> float:
    """The longest stretch of [start, end] with none of `times` in it."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max((b - a for a, b in itertools.pairwise(edges)), default=end - start)


@dataclass
class Producer:
    """Publishes and keeps what the router acknowledged, and what it did not (to publish
    again with the same ids)."""

    router: router_pb2_grpc.RouterAsyncStub
    acknowledged: set[str] = field(default_factory=set)
    unacknowledged: dict[str, router_pb2.Event] = field(default_factory=dict)
    acknowledged_at: list[float] = field(default_factory=list)  # epoch s of calls with acks
    call_errors: dict[str, int] = field(default_factory=dict)
    refused: dict[int, int] = field(default_factory=dict)  # per-event result codes other than OK

    async def publish(self, events: list[router_pb2.Event]) -> int:
        for event in events:
            self.unacknowledged.setdefault(event.id, event)
        try:
            response = await self.router.Publish(router_pb2.PublishRequest(events=events), timeout=30)
        except grpc.aio.AioRpcError as exc:
            key = exc.code().name
            self.call_errors[key] = self.call_errors.get(key, 0) + 1
            return 0
        taken = 0
        for result in response.results:
            if result.code == 0 and result.deliveries == 1:
                self.acknowledged.add(result.id)
                self.unacknowledged.pop(result.id, None)
                taken += 1
            else:
                self.refused[result.code] = self.refused.get(result.code, 0) + 1
        if taken:
            self.acknowledged_at.append(time.time())
        return taken

    async def paced(self, factory: EventFactory, rate: float, seconds: float, batch: int) -> None:
        interval = batch / rate
        start = time.monotonic()
        calls = []
        for tick in range(max(1, round(seconds / interval))):
            delay = start + tick * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            calls.append(asyncio.create_task(self.publish(factory.batch(EVENT_TYPE, batch))))
        await asyncio.gather(*calls)

    async def republish(self, within: float, batch: int = 200) -> None:
        deadline = time.monotonic() + within
        while self.unacknowledged and time.monotonic() < deadline:
            if await self.publish(list(self.unacknowledged.values())[:batch]) == 0:
                await asyncio.sleep(0.3)


@dataclass
class FailoverFigures:
    fault: str
    published: int = 0
    acknowledged: int = 0
    republished: int = 0  # not acknowledged during the load, acknowledged when sent again
    received: int = 0
    missing: int = 0
    redelivered: int = 0
    delivery_gap_seconds: float = 0.0
    publish_gap_seconds: float = 0.0
    caught_up_seconds: float | None = None  # from the end of the load to the last arrival
    call_errors: dict[str, int] = field(default_factory=dict)
    refused: dict[int, int] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return asdict(self)


async def wait_routed(routers: list[router_pb2_grpc.RouterAsyncStub], factory: EventFactory) -> None:
    """Until every router replica routes the type to the one new sink."""
    deadline = time.monotonic() + 20
    for router in routers:
        while True:
            response = await router.Publish(
                router_pb2.PublishRequest(events=factory.batch(EVENT_TYPE, 1)), timeout=10
            )
            if response.results[0].code == 0 and response.results[0].deliveries == 1:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"not routed by every router: {response.results[0]}")
            await asyncio.sleep(0.1)


async def under_load(
    fault: str,
    inject: Callable[[], None],
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    receiver: ReceiverClient,
    path: str,
    plan: LoadPlan,
) -> FailoverFigures:
    """Steady load on `path`'s sink (already routed), the fault `inject`ed midway; the figures.
    Raises nothing for a loss: `missing` says it (the caller asserts or reports)."""
    await receiver.track(path)
    producer = Producer(router)
    load = asyncio.create_task(producer.paced(factory, plan.rate, plan.before + plan.after, plan.batch))
    await asyncio.sleep(plan.before)
    killed_at = time.time()
    await asyncio.to_thread(inject)
    await load
    load_end = time.time()
    during = len(producer.unacknowledged)
    await producer.republish(plan.republish_within)
    figures = FailoverFigures(
        fault,
        published=len(producer.acknowledged) + len(producer.unacknowledged),
        acknowledged=len(producer.acknowledged),
        republished=during - len(producer.unacknowledged),
        call_errors=producer.call_errors,
        refused=producer.refused,
    )
    deadline = time.monotonic() + plan.deliver_within
    while True:
        arrivals = await receiver.arrivals(path)
        first = {i: ms / 1000 for i, ms in zip(arrivals["ids"], arrivals["received_ms"], strict=True)}
        if producer.acknowledged <= first.keys() or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    got = [first[i] for i in producer.acknowledged if i in first]
    figures.received = len(got)
    figures.missing = figures.acknowledged - len(got)
    figures.redelivered = (await receiver.path(path)).duplicates
    figures.delivery_gap_seconds = round(quiet_gap(list(first.values()), killed_at, load_end), 3)
    figures.publish_gap_seconds = round(quiet_gap(producer.acknowledged_at, killed_at, load_end), 3)
    if got and not figures.missing:
        figures.caught_up_seconds = round(max(got) - load_end, 3)
    return figures
