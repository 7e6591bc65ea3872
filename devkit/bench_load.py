"""Load through the router's gRPC Publish: events stamped with their send time, published as
fast as possible (a fixed count) or paced (a fixed rate), and the throughput figures that
come of it as the fast receiver sees them."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from devkit.bench_setup import ReceiverClient
from devkit.fast_receiver import summary
from devkit.produce import sample_event
from eventstreams.v1 import router_pb2, router_pb2_grpc

PUBLISH_TIMEOUT = 60.0
RETRIES = 3


@dataclass(frozen=True)
class Template:
    schema_version: int
    data_json: str


class EventFactory:
    """Distinct event ids across runs and phases (the router deduplicates on id:sink for two
    minutes); each batch is stamped with the time it is built, right before it is sent."""

    def __init__(self, account_sid: str) -> None:
        self.account_sid = account_sid
        self.run = secrets.token_hex(4)
        self._templates: dict[str, Template] = {}
        self._serial: Iterator[int] = itertools.count()

    def _template(self, type_name: str) -> Template:
        found = self._templates.get(type_name)
        if found is None:
            sample = sample_event(self.account_sid, type_name)
            found = self._templates[type_name] = Template(sample.schema_version, sample.data_json)
        return found

    def batch(self, type_name: str, size: int) -> list[router_pb2.Event]:
        template = self._template(type_name)
        now = Timestamp()
        now.FromNanoseconds(time.time_ns())
        events = []
        for _ in range(size):
            event_id = f"EZbench{self.run}{next(self._serial):010d}"
            events.append(
                router_pb2.Event(
                    id=event_id,
                    account_sid=self.account_sid,
                    type=type_name,
                    schema_version=template.schema_version,
                    source=f"/2010-04-01/Accounts/{self.account_sid}/Events/{event_id}",
                    time=now,
                    data_json=template.data_json,
                )
            )
        return events


# The latency run's load (make bench): 1,000 events/s offered, a Publish call of 10 events
# every 10 ms.
LATENCY_RATE = 1000.0
LATENCY_BATCH = 10


@dataclass
class PublishFigures:
    events: int = 0
    failures: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0
    call_ms: list[float] = field(default_factory=list)
    # When kept (not None): every published batch as (its events' time stamp, epoch seconds;
    # the ids JetStream took).
    sent: list[tuple[float, list[str]]] | None = None

    @property
    def seconds(self) -> float:
        return max(self.finished_at - self.started_at, 1e-9)

    def report(self) -> dict[str, Any]:
        calls = summary([round(ms, 2) for ms in self.call_ms])
        return {
            "events": self.events,
            "failures": self.failures,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds, 1),
            "calls": calls["count"],
            "call_p50_ms": calls["p50_ms"],
            "call_p99_ms": calls["p99_ms"],
        }


async def publish_batch(
    router: router_pb2_grpc.RouterAsyncStub, events: list[router_pb2.Event], figures: PublishFigures
) -> None:
    """One Publish call; events JetStream did not take are published again (same ids: safe)."""
    started = time.perf_counter()
    pending = events
    for _ in range(RETRIES):
        response = await router.Publish(router_pb2.PublishRequest(events=pending), timeout=PUBLISH_TIMEOUT)
        failed = {r.id for r in response.results if r.code != 0}
        pending = [e for e in pending if e.id in failed]
        if not pending:
            break
    figures.call_ms.append((time.perf_counter() - started) * 1000)
    figures.events += len(events) - len(pending)
    figures.failures += len(pending)
    if figures.sent is not None and events:
        refused = {e.id for e in pending}
        stamp = events[0].time.ToNanoseconds() / 1e9
        figures.sent.append((stamp, [e.id for e in events if e.id not in refused]))


async def publish_fixed(
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    type_name: str,
    count: int,
    batch: int,
    concurrency: int,
    keep_ids: bool = False,
) -> PublishFigures:
    """`count` events as fast as `concurrency` concurrent calls of `batch` events go."""
    sizes = [batch] * (count // batch) + ([count % batch] if count % batch else [])
    queue: asyncio.Queue[int] = asyncio.Queue()
    for size in sizes:
        queue.put_nowait(size)
    figures = PublishFigures(started_at=time.time(), sent=[] if keep_ids else None)

    async def caller() -> None:
        while not queue.empty():
            size = queue.get_nowait()
            await publish_batch(router, factory.batch(type_name, size), figures)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    figures.finished_at = time.time()
    return figures


async def publish_paced(
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    type_name: str,
    rate: float,
    seconds: float,
    batch: int,
    keep_ids: bool = False,
) -> PublishFigures:
    """`rate` events/s for `seconds`: a call of `batch` events every batch/rate seconds, on
    an absolute schedule (a slow call does not delay the next one). `keep_ids`: the
    figures keep every published id with its time stamp (`sent`)."""
    interval = batch / rate
    ticks = max(1, round(seconds / interval))
    figures = PublishFigures(started_at=time.time(), sent=[] if keep_ids else None)
    start = time.monotonic()
    calls: list[asyncio.Task[None]] = []
    for tick in range(ticks):
        delay = start + tick * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        calls.append(asyncio.create_task(publish_batch(router, factory.batch(type_name, batch), figures)))
    await asyncio.gather(*calls)
    figures.finished_at = time.time()
    return figures


async def publish_until_routed(
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    type_name: str,
    deliveries: int,
    timeout: float = 10.0,
) -> None:
    """Publish probe events until the router routes one to exactly `deliveries` sinks (a
    subscription change reaches the router within a second or so)."""
    deadline = time.monotonic() + timeout
    while True:
        probe = factory.batch(type_name, 1)
        response = await router.Publish(router_pb2.PublishRequest(events=probe), timeout=10)
        result = response.results[0]
        if result.code == 0 and result.deliveries == deliveries:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"probe not routed to {deliveries} sink(s): {result}")
        await asyncio.sleep(0.1)


def first_attempt_latency(
    sent: list[tuple[float, list[str]]], arrivals: dict[str, Any], warm_up_seconds: int = 1
) -> dict[str, Any]:
    """Send → first receipt of each event (ms, to the hundredth), from the driver's own send
    time stamps (`publish_paced(keep_ids=True)`) and the receiver's tracked receipts: finer
    than the receiver's own figure, whose event `time` has Twilio's millisecond resolution (a
    p50 near 5 ms read as whole milliseconds is 4 or 5 by chance). Overall, the first
    `warm_up_seconds` of receipt apart, the rest (steady), and per receipt second."""
    received = dict(zip(arrivals["ids"], arrivals["received_ms"], strict=True))
    by_second: dict[int, list[float]] = {}
    for stamp, ids in sent:
        for event_id in ids:
            at = received.get(event_id)
            if at is not None:
                by_second.setdefault(int(at // 1000), []).append(round(at - stamp * 1000, 2))
    seconds = sorted(by_second)
    everything = [v for second in seconds for v in by_second[second]]
    warm = [v for second in seconds[:warm_up_seconds] for v in by_second[second]]
    steady = [v for second in seconds[warm_up_seconds:] for v in by_second[second]]
    return {
        "overall": summary(everything),
        "warm_up": summary(warm),
        "steady": summary(steady),
        "per_second": [{"second": second, **summary(by_second[second])} for second in seconds],
    }


def arrival_timeline(start: float, arrivals: list[float], step: float = 0.5) -> list[int]:
    """How many arrived in each `step` seconds from `start` (for results.json: where a run
    spent its time)."""
    if not arrivals:
        return []
    counts = [0] * (int((max(arrivals) - start) / step) + 1)
    for at in arrivals:
        counts[max(0, int((at - start) / step))] += 1
    return counts


@dataclass
class Throughput:
    target: int
    received: int
    duplicates: int
    requests: int
    publish: dict[str, Any]
    seconds: float
    complete: bool
    # Send → receipt of each event (ms) over the run, and events received per second from
    # the first publish: where the run spent its time (a tail of late events shows here).
    latency: dict[str, Any] = field(default_factory=dict)
    timeline: list[int] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    def report(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "events_per_request": round(self.received / self.requests, 2) if self.requests else None,
        }


async def measure_throughput(
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    receiver: ReceiverClient,
    type_name: str,
    path: str,
    count: int,
    batch: int,
    concurrency: int,
    stall_seconds: float,
    deadline_seconds: float = 3600.0,
) -> Throughput:
    """`count` events, first publish → last receipt at `path` (or the last receipt seen
    when delivery stalls or the deadline passes: then `complete` is false)."""
    await receiver.reset()
    published = await publish_fixed(router, factory, type_name, count, batch, concurrency)
    remaining = deadline_seconds - (time.time() - published.started_at)
    seen = await receiver.wait_events(path, published.events, stall_seconds, max(remaining, 0.0))
    ended = seen.last_at if seen.events >= published.events else time.time()
    latency = await receiver.latency(path)
    first_second = int(published.started_at)
    timeline = [0] * (max([int(ended) - first_second + 1, 1]))
    for row in latency["per_second"]:
        index = int(row["second"]) - first_second
        if 0 <= index < len(timeline):
            timeline[index] += int(row["count"])
    return Throughput(
        target=count,
        received=seen.events,
        duplicates=seen.duplicates,
        requests=seen.requests,
        publish=published.report(),
        seconds=max(ended - published.started_at, 1e-9),
        complete=seen.events >= count,
        latency=latency["overall"],
        timeline=timeline,
    )
