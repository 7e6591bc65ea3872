"""`make bench`: the suite as real processes (SQLite), a fast receiver in its own process, load
through the router's gRPC Publish; prints figures (never asserts them) and writes
bench-results/results.json and bench-results/latency.png.

Every measurement is repeated in --trials trials (3 by default) inside one suite run, the
phases interleaved (trial 1 of every phase, then trial 2, ...) so that a slow stretch of
this shared machine does not land on one phase only. Each figure is printed as the median of
its trials with their min–max; a ratio is taken within one trial (both sides measured
minutes apart at most), then its median and min–max are. Before each measurement the bench
waits for the suite to go idle (a previous one's retries and dead letters would skew it).

  1. throughput: end-to-end events/s, first publish → last receipt, to a batched webhook sink
     and to a one-event-per-request sink;
  2. latency: first-attempt latency (producer send time → receiver) at a paced offered load;
  3. floor: bare nats-py publish → pull fetch → aiohttp POST (at the worker's per-sink
     concurrency, and at 256 in flight), and our one-per-request ratio to it;
  4. slow: a healthy sink's throughput alone, beside a second healthy sink (the cost of
     fanning out by itself) and beside a sink whose destination always times out;
  5. kinesis: a Kinesis sink into a real moto_server (fresh stream of 4 shards per trial;
     created, tested, validated through REST), end to end, beside moto's own ceiling (a
     direct boto3 PutRecords loop of the same records); moto runs with its Kinesis calls
     serialised (tests/support/moto_server.py: concurrent PutRecords lose records in moto 5);
  6. segment: a Segment sink into tests/support/segment_receiver.py (own process), end to end;
  6b. aws: an SQS, an SNS, an EventBridge and an S3 sink into moto, end to end, a row each
     (devkit/bench_aws.py: 2,000 events each; quick 200);
  6c. brokers: a RabbitMQ, a NATS (JetStream) and a Kafka sink into their real servers, end to
     end, a row each, with the broker's own CPU beside ours (devkit/bench_brokers.py: 20,000
     events each; quick 200);
  7. outage: 500 events/s to a webhook sink (batched, and one per request) whose receiver
     answers 500 for 20 s: how long after recovery the backlog arrives, and what went missing;
  8. the CPU each process used during each measurement (and the rest of the machine: other
     work on a shared machine skews everything), and the highest resident memory of every
     process through the whole bench.

    python -m devkit.bench                  # the full run, 3 trials, ≈ 25 minutes
    python -m devkit.bench --quick          # a smoke run, 2 short trials, ≈ 5–6 minutes
    python -m devkit.bench --only latency outage --trials 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from devkit import (
    bench_aws,
    bench_brokers,
    bench_floor,
    bench_kinesis,
    bench_outage,
    bench_report,
    bench_segment,
)
from devkit.bench_load import (
    LATENCY_BATCH,
    LATENCY_RATE,
    EventFactory,
    first_attempt_latency,
    measure_throughput,
    publish_paced,
    publish_until_routed,
)
from devkit.bench_outage import OutagePlan
from devkit.bench_procs import ProcessWatch
from devkit.bench_setup import Account, ReceiverClient, Rest, create_account
from devkit.produce import publish_when_routed
from devkit.suite import Suite
from eventstreams.v1 import router_pb2_grpc
from launcher.processes import ROOT, Child, free_port, python_env, start, wait_until
from tests.support.moto_server import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, MotoServer

TYPE_BATCHED = "com.twilio.messaging.message.sent"
TYPE_SINGLE = "com.twilio.messaging.message.delivered"
# The timing-out sink's own traffic in the isolation run, at a steady rate.
TYPE_SLOW_OWN = "com.twilio.messaging.message.failed"
SLOW_OWN_RATE = 200.0
PATH_BATCHED = "/batched"
PATH_SINGLE = "/single"
PATH_TWIN = "/twin"
PATH_SLOW = "/slow"
PHASES = ("throughput", "latency", "floor", "slow", "kinesis", "segment", "aws", "brokers", "outage")
# Where each phase's figures go in a trial's record (and in the summary).
SECTIONS = {
    "throughput": "throughput",
    "latency": "latency",
    "floor": "floor",
    "slow": "slow_sink",
    "kinesis": "kinesis",
    "segment": "segment",
    "aws": "aws",
    "brokers": "brokers",
    "outage": "outage",
}
RESULTS_DIR = ROOT / "bench-results"
# The suite counts as idle below this many cores busy (all its processes together).
IDLE_CORES = 0.3


@dataclass(frozen=True)
class Plan:
    quick: bool
    workers: int
    trials: int
    events: int
    batch: int
    concurrency: int
    rate: float
    latency_seconds: float
    latency_batch: int
    floor_events: int
    floor_in_flight: tuple[int, ...]
    slow_events: int
    slow_deadline: float
    stall_seconds: float
    slow_receiver_seconds: float
    kinesis_events: int
    segment_events: int
    aws_events: int
    broker_events: int
    outage: OutagePlan
    settle_seconds: float
    phases: tuple[str, ...]

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = bool(args.quick)

        def pick(value: Any, full: Any, smoke: Any) -> Any:
            return value if value is not None else (smoke if quick else full)

        events = pick(args.events, 50_000, 5_000)
        return cls(
            quick=quick,
            workers=args.workers,
            trials=max(1, pick(args.trials, 3, 2)),
            events=events,
            batch=args.batch,
            concurrency=args.concurrency,
            rate=args.rate,
            latency_seconds=pick(args.latency_seconds, 20.0, 8.0),
            latency_batch=args.latency_batch,
            floor_events=pick(args.floor_events, events, events),
            floor_in_flight=tuple(
                dict.fromkeys(args.floor_in_flight or [bench_floor.worker_defaults()[1], 256])
            ),
            slow_events=pick(args.slow_events, 20_000, 3_000),
            slow_deadline=pick(args.slow_deadline, 40.0, 12.0),
            stall_seconds=args.stall_seconds,
            slow_receiver_seconds=args.slow_receiver_seconds,
            kinesis_events=pick(args.kinesis_events, 20_000, 5_000),
            segment_events=pick(args.segment_events, 20_000, 5_000),
            aws_events=pick(args.aws_events, 2_000, 200),
            broker_events=pick(args.broker_events, 20_000, 200),
            outage=OutagePlan(
                rate=args.outage_rate,
                steady=pick(args.outage_steady, 5.0, 2.0),
                outage=pick(args.outage_seconds, 20.0, 5.0),
                after=pick(args.outage_after, 60.0, 10.0),
                give_up=pick(args.outage_give_up, 180.0, 30.0),
            ),
            settle_seconds=args.settle_seconds,
            phases=tuple(p for p in PHASES if p in (args.only or PHASES)),
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run (smaller counts, 2 trials)")
    parser.add_argument("--trials", type=int, help="trials of every measurement (3; quick 2)")
    parser.add_argument("--workers", type=int, default=1, help="delivery workers")
    parser.add_argument("--events", type=int, help="events per throughput run (50k; quick 5k)")
    parser.add_argument("--batch", type=int, default=250, help="events per Publish call")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent Publish calls")
    parser.add_argument("--rate", type=float, default=LATENCY_RATE, help="offered events/s, latency run")
    parser.add_argument("--latency-seconds", type=float, help="length of the latency run (20; quick 8)")
    parser.add_argument(
        "--latency-batch",
        type=int,
        default=LATENCY_BATCH,
        help="events per paced Publish call (a call every 10 ms at 1,000/s)",
    )
    parser.add_argument("--floor-events", type=int, help="events through the floor (as --events)")
    parser.add_argument(
        "--floor-in-flight",
        type=int,
        nargs="+",
        help="floor concurrencies; the first is compared (default: the worker's per-sink one, and 256)",
    )
    parser.add_argument("--slow-events", type=int, help="events per timing-out-sink run (20k; quick 3k)")
    parser.add_argument(
        "--slow-deadline", type=float, help="time cap of each timing-out-sink run, s (40; quick 12)"
    )
    parser.add_argument(
        "--stall-seconds", type=float, default=30.0, help="give up waiting after this long with no receipt"
    )
    parser.add_argument(
        "--slow-receiver-seconds", type=float, default=60.0, help="how long /slow keeps a request waiting"
    )
    parser.add_argument("--kinesis-events", type=int, help="events per Kinesis run (20k; quick 5k)")
    parser.add_argument("--segment-events", type=int, help="events per Segment run (20k; quick 5k)")
    parser.add_argument(
        "--aws-events", type=int, help="events per SQS, SNS, EventBridge and S3 run (2k; quick 200)"
    )
    parser.add_argument(
        "--broker-events", type=int, help="events per RabbitMQ, NATS and Kafka run (20k; quick 200)"
    )
    parser.add_argument("--outage-rate", type=float, default=500.0, help="events/s through the outage run")
    parser.add_argument("--outage-steady", type=float, help="steady seconds before the outage (5; quick 2)")
    parser.add_argument(
        "--outage-seconds", type=float, help="how long the receiver answers 500 (20; quick 5)"
    )
    parser.add_argument(
        "--outage-after", type=float, help="publishing goes on after recovery, s (60; quick 10)"
    )
    parser.add_argument(
        "--outage-give-up", type=float, help="stop waiting this long after recovery, s (180; quick 30)"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=120.0,
        help="longest wait for the suite to go idle before a measurement (a deleted sink's "
        "backlog becomes dead letters meanwhile)",
    )
    parser.add_argument("--only", nargs="+", choices=PHASES, help="run only these phases")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go")
    return parser.parse_args()


def worker_settings() -> Any:
    from services.delivery.settings import Settings

    return Settings()


# --- phases ----------------------------------------------------------------------------


class DeliveryBroken(RuntimeError):
    """Events were published and routed but never reached the receiver."""


@dataclass
class Context:
    plan: Plan
    suite: Suite
    receiver: ReceiverClient
    router: router_pb2_grpc.RouterAsyncStub
    factory: EventFactory
    account: Account
    rest: Rest
    sinks: dict[str, str]
    log_dir: Path
    procs: ProcessWatch
    trial: int = 0
    moto_url: str = ""
    segment: bench_segment.SegmentClient | None = None
    segment_write_key: str = ""
    kinesis_world: bench_kinesis.KinesisWorld | None = None
    segment_sink: bench_segment.SegmentSink | None = None
    aws_sinks: dict[str, bench_aws.AwsSink] = field(default_factory=dict)
    brokers: bench_brokers.Brokers | None = None
    broker_sinks: dict[str, bench_brokers.BrokerSink] = field(default_factory=dict)
    settled: dict[str, float] = field(default_factory=dict)


async def settle(ctx: Context, label: str) -> float:
    """Wait (up to settle_seconds) until the suite's processes are near idle: what a
    measurement leaves behind (retries, dead letters of a deleted sink) must not be measured
    with the next one. Returns the seconds waited."""
    started = time.monotonic()
    before = ctx.procs.cpu_now()
    while time.monotonic() - started < ctx.plan.settle_seconds:
        await asyncio.sleep(1.0)
        after = ctx.procs.cpu_now()
        busy = sum(after[n] - before[n] for n in after if n in before and n != "bench driver")
        before = after
        if busy < IDLE_CORES:
            break
    else:
        print(f"  (the suite was still busy after {ctx.plan.settle_seconds:.0f} s; measuring anyway)")
    waited = round(time.monotonic() - started, 1)
    ctx.settled[label] = waited
    return waited


async def warm(ctx: Context, type_name: str, path: str) -> None:
    """Wait until routing to `path`'s sink is live and one event has arrived there."""
    await ctx.receiver.reset()
    await publish_when_routed(ctx.router, ctx.factory.batch(type_name, 1), timeout=15)
    seen = await ctx.receiver.wait_events(path, 1, ctx.plan.stall_seconds)
    if seen.events < 1:
        raise DeliveryBroken(
            f"a routed {type_name} event never reached {path} in {ctx.plan.stall_seconds:.0f} s\n"
            + ctx.suite.logs()
        )


async def timed_throughput(
    ctx: Context, window: str, type_name: str, path: str, count: int, deadline: float = 3600.0
) -> dict[str, Any]:
    """One fixed-count throughput measurement, with the CPU each process used meanwhile."""
    plan = ctx.plan
    with ctx.procs.window(window) as measured:
        result = await measure_throughput(
            ctx.router,
            ctx.factory,
            ctx.receiver,
            type_name,
            path,
            count,
            plan.batch,
            plan.concurrency,
            plan.stall_seconds,
            deadline_seconds=deadline,
        )
        measured.events = result.received
    return result.report()


async def throughput_phase(ctx: Context) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, type_name, path in (
        ("batched", TYPE_BATCHED, PATH_BATCHED),
        ("one_per_request", TYPE_SINGLE, PATH_SINGLE),
    ):
        if figures:
            await settle(ctx, f"throughput_{name}")
        await warm(ctx, type_name, path)
        print(f"  throughput: {name}, {ctx.plan.events:,} events", flush=True)
        figures[name] = await timed_throughput(ctx, name, type_name, path, ctx.plan.events)
    return figures


async def latency_phase(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    await warm(ctx, TYPE_SINGLE, PATH_SINGLE)
    print(f"  latency: {plan.rate:,.0f} events/s for {plan.latency_seconds:.0f} s", flush=True)
    await ctx.receiver.reset()
    await ctx.receiver.track(PATH_SINGLE)
    with ctx.procs.window("latency") as measured:
        published = await publish_paced(
            ctx.router,
            ctx.factory,
            TYPE_SINGLE,
            plan.rate,
            plan.latency_seconds,
            plan.latency_batch,
            keep_ids=True,
        )
        seen = await ctx.receiver.wait_events(PATH_SINGLE, published.events, plan.stall_seconds)
        measured.events = seen.events
    assert published.sent is not None
    latency = first_attempt_latency(published.sent, await ctx.receiver.arrivals(PATH_SINGLE))
    # The receiver's own reading, in whole milliseconds (the CloudEvent time's resolution):
    # the figure earlier runs reported, kept beside the finer one.
    whole_ms = await ctx.receiver.latency(PATH_SINGLE)
    return {
        "rate": plan.rate,
        "seconds": plan.latency_seconds,
        "batch": plan.latency_batch,
        "publish": published.report(),
        "received": seen.events,
        "duplicates": seen.duplicates,
        "overall": latency["overall"],
        "warm_up": latency.get("warm_up", {}),
        "steady": latency.get("steady", {}),
        "per_second": latency["per_second"],
        "whole_ms": {"overall": whole_ms["overall"], "steady": whole_ms.get("steady", {})},
    }


async def floor_phase(ctx: Context) -> list[dict[str, Any]]:
    """One floor run per concurrency; the first is the worker's own (requests in flight to
    one sink), the one our ratio is taken against."""
    plan = ctx.plan
    assert ctx.suite.nats is not None
    payloads = bench_floor.Payloads(ctx.account.sid, TYPE_SINGLE, ctx.factory.run)
    runs: list[dict[str, Any]] = []
    for in_flight in plan.floor_in_flight:
        if runs:
            await settle(ctx, f"floor_{in_flight}")
        print(f"  floor: {plan.floor_events:,} events, {in_flight} in flight", flush=True)

        def watch(child: Child, in_flight: int = in_flight) -> None:
            ctx.procs.watch(f"floor consumer ({in_flight} in flight)", child.process.pid)

        floor = await bench_floor.measure_floor(
            ctx.suite.nats.url,
            ctx.receiver,
            payloads,
            plan.floor_events,
            ctx.log_dir,
            plan.stall_seconds,
            in_flight,
            on_start=watch,
            window=partial(ctx.procs.window, f"floor_{in_flight}"),
        )
        runs.append(floor.report())
    return runs


async def route_single_to(ctx: Context, deliveries: int) -> None:
    """Wait until a TYPE_SINGLE event is routed to exactly `deliveries` sinks and the healthy
    sink has received one, so that a measurement starts on the new routing."""
    await ctx.receiver.reset()
    await publish_until_routed(ctx.router, ctx.factory, TYPE_SINGLE, deliveries, timeout=15)
    await ctx.receiver.wait_events(PATH_SINGLE, 1, ctx.plan.stall_seconds)


async def slow_phase(ctx: Context) -> dict[str, Any]:
    """The healthy sink alone; beside a second healthy sink on the same type (what fanning
    out to two sinks costs by itself); beside a sink that always times out. The timing-out
    sink is made afresh each trial and deleted after it (its backlog, retried with backoff,
    would otherwise load every later measurement)."""
    plan, rest = ctx.plan, ctx.rest

    async def run(window: str, label: str, quiet_first: bool = True) -> dict[str, Any]:
        if quiet_first:
            await settle(ctx, window)
        print(f"  timing-out sink: {plan.slow_events:,} events, healthy sink {label}", flush=True)
        return await timed_throughput(
            ctx, window, TYPE_SINGLE, PATH_SINGLE, plan.slow_events, plan.slow_deadline
        )

    slow_sink = await rest.webhook_sink("bench timing out", ctx.receiver.url(PATH_SLOW), False)
    live: list[str] = []

    async def subscribe(description: str, sink: str, type_name: str) -> str:
        sid = await rest.subscribe(description, sink, [type_name])
        live.append(sid)
        return sid

    async def unsubscribe(sid: str) -> None:
        live.remove(sid)
        await rest.unsubscribe(sid)

    try:
        await warm(ctx, TYPE_SINGLE, PATH_SINGLE)
        without = await run("alone", "alone")
        twin = await subscribe("bench second healthy", ctx.sinks["twin"], TYPE_SINGLE)
        await route_single_to(ctx, 2)
        beside_twin = await run("with_second_healthy", "beside a second healthy sink")
        twin_seen = await ctx.receiver.path(PATH_TWIN)
        await unsubscribe(twin)
        await route_single_to(ctx, 1)
        slow_same_type = await subscribe("bench timing out", slow_sink, TYPE_SINGLE)
        await route_single_to(ctx, 2)
        beside_slow = await run("with_timing_out", "beside a timing-out sink")
        slow_seen = await ctx.receiver.path(PATH_SLOW)

        # Isolation proper: the timing-out sink has its own events (another type, a steady
        # SLOW_OWN_RATE per second) while the healthy sink takes the load; no fan-out cost.
        await unsubscribe(slow_same_type)
        await route_single_to(ctx, 1)
        await subscribe("bench timing out, own type", slow_sink, TYPE_SLOW_OWN)
        await publish_until_routed(ctx.router, ctx.factory, TYPE_SLOW_OWN, 1, timeout=15)
        background = asyncio.create_task(
            publish_paced(ctx.router, ctx.factory, TYPE_SLOW_OWN, SLOW_OWN_RATE, plan.slow_deadline, 20)
        )
        try:
            # No waiting for quiet here: the timing-out sink's backlog (retried for hours)
            # is part of this scenario, as it would be for a customer.
            beside_slow_own = await run(
                "with_timing_out_own", f"beside a timing-out sink fed {SLOW_OWN_RATE:.0f}/s", False
            )
        finally:
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await background
    finally:
        for sid in list(live):
            await unsubscribe(sid)
        await rest.delete_sink(slow_sink)
    return {
        "without": without,
        "with_healthy": {**beside_twin, "second_sink_received": twin_seen.events},
        "with": beside_slow,
        "with_own_traffic": {**beside_slow_own, "timing_out_rate": SLOW_OWN_RATE},
        "slow_requests": slow_seen.requests,
    }


async def kinesis_phase(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    if ctx.kinesis_world is None:
        external_id = await ctx.rest.kinesis_external_id()
        ctx.kinesis_world = await bench_kinesis.KinesisWorld.create(ctx.moto_url, external_id)
    world = ctx.kinesis_world
    print(f"  kinesis: {plan.kinesis_events:,} events into moto ({bench_kinesis.SHARDS} shards)", flush=True)
    sink, sample = await bench_kinesis.measure_sink(
        world,
        ctx.rest,
        ctx.router,
        ctx.factory,
        plan.kinesis_events,
        plan.batch,
        plan.concurrency,
        plan.stall_seconds,
        ctx.procs.window,
    )
    await settle(ctx, "moto_ceiling")
    callers = worker_settings().sink_batch_concurrency
    print(f"  kinesis: moto's ceiling, boto3 PutRecords of 500, {callers} callers", flush=True)
    with ctx.procs.window("moto_ceiling") as measured:
        ceiling = await asyncio.to_thread(
            bench_kinesis.put_ceiling, world.url, plan.kinesis_events, sample or b"x" * 1000, callers
        )
        measured.events = plan.kinesis_events
    return {"sink": sink, "moto_ceiling": ceiling}


async def segment_phase(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    assert ctx.segment is not None
    if ctx.segment_sink is None:
        ctx.segment_sink = await bench_segment.create_sink(
            ctx.rest, ctx.segment, ctx.router, ctx.factory, ctx.segment_write_key, plan.stall_seconds
        )
    print(f"  segment: {plan.segment_events:,} events into the Segment stand-in", flush=True)
    found = await bench_segment.measure(
        ctx.segment,
        ctx.router,
        ctx.factory,
        plan.segment_events,
        plan.batch,
        plan.concurrency,
        plan.stall_seconds,
        ctx.procs.window,
    )
    return {
        **found,
        "setup_seconds": ctx.segment_sink.setup_seconds,
        "status_after_validate": ctx.segment_sink.status,
    }


async def aws_phase(ctx: Context) -> dict[str, Any]:
    """One row per AWS sink type beyond Kinesis, each into moto."""
    plan = ctx.plan
    found: dict[str, Any] = {}
    for kind in bench_aws.TYPES:
        sink = ctx.aws_sinks.get(kind)
        if sink is None:
            sink = ctx.aws_sinks[kind] = await bench_aws.create_sink(
                ctx.rest, ctx.router, ctx.factory, ctx.moto_url, kind, plan.stall_seconds
            )
        print(f"  aws: {plan.aws_events:,} events into moto's {kind}", flush=True)
        with ctx.procs.window(f"aws_{kind}") as measured:
            found[kind] = await bench_aws.measure(
                sink,
                ctx.router,
                ctx.factory,
                plan.aws_events,
                plan.batch,
                plan.concurrency,
                plan.stall_seconds,
            )
            measured.events = found[kind]["received"]
    return found


async def brokers_phase(ctx: Context) -> dict[str, Any]:
    """One row per broker sink type, each into its real server; the broker's CPU beside ours."""
    plan = ctx.plan
    assert ctx.brokers is not None
    found: dict[str, Any] = {}
    for kind in bench_brokers.TYPES:
        sink = ctx.broker_sinks.get(kind)
        if sink is None:
            sink = ctx.broker_sinks[kind] = await bench_brokers.create_sink(
                ctx.rest, ctx.router, ctx.factory, ctx.brokers, kind, plan.stall_seconds
            )
        print(f"  brokers: {plan.broker_events:,} events into {bench_brokers.TITLES[kind]}", flush=True)
        with ctx.procs.window(f"brokers_{kind}") as measured:
            found[kind] = await bench_brokers.measure(
                sink,
                ctx.router,
                ctx.factory,
                plan.broker_events,
                plan.batch,
                plan.concurrency,
                plan.stall_seconds,
            )
            measured.events = found[kind]["received"]
        await bench_brokers.read_back(sink, found[kind])
    return found


async def outage_phase(ctx: Context) -> dict[str, Any]:
    outage = ctx.plan.outage
    found: dict[str, Any] = {}
    for mode, batched in bench_outage.MODES:
        if found:
            await settle(ctx, f"outage_{mode}")
        print(
            f"  outage: {mode}, {outage.rate:,.0f} events/s; HTTP {outage.status} for {outage.outage:.0f} s "
            f"after {outage.steady:.0f} s, then {outage.after:.0f} s more (up to {outage.give_up:.0f} s "
            "after recovery)",
            flush=True,
        )
        found[mode] = await bench_outage.run(
            ctx.rest,
            ctx.router,
            ctx.factory,
            ctx.receiver,
            outage,
            mode,
            batched,
            ctx.trial,
            ctx.plan.stall_seconds,
            ctx.procs.window,
        )
        figures = found[mode]
        print(
            f"    backlog drained {figures['backlog_drained_seconds']} s after recovery, "
            f"missing {figures['missing']:,}/{figures['published']:,}",
            flush=True,
        )
    return found


RUNNERS: dict[str, Callable[[Context], Awaitable[Any]]] = {
    "throughput": throughput_phase,
    "latency": latency_phase,
    "floor": floor_phase,
    "slow": slow_phase,
    "kinesis": kinesis_phase,
    "segment": segment_phase,
    "aws": aws_phase,
    "brokers": brokers_phase,
    "outage": outage_phase,
}


async def create_sinks(rest: Rest, receiver: ReceiverClient) -> dict[str, str]:
    sinks = {
        "batched": await rest.webhook_sink("bench batched", receiver.url(PATH_BATCHED), True),
        "single": await rest.webhook_sink("bench one per request", receiver.url(PATH_SINGLE), False),
        "twin": await rest.webhook_sink("bench second healthy", receiver.url(PATH_TWIN), False),
    }
    await rest.subscribe("bench batched", sinks["batched"], [TYPE_BATCHED])
    await rest.subscribe("bench one per request", sinks["single"], [TYPE_SINGLE])
    return sinks


async def run_trial(ctx: Context, record: dict[str, Any]) -> None:
    """Every phase once; a phase that fails is recorded and the others still run."""
    errors: dict[str, str] = {}
    for phase in ctx.plan.phases:
        ctx.settled = {}
        waited = await settle(ctx, phase)
        try:
            record[SECTIONS[phase]] = await RUNNERS[phase](ctx)
        except Exception as exc:
            errors[phase] = f"{type(exc).__name__}: {exc}"
            print(f"  {phase} failed: {errors[phase][:2000]}", file=sys.stderr, flush=True)
        record.setdefault("settle_seconds", {})[phase] = {**ctx.settled, phase: waited}
    if errors:
        record["errors"] = errors


async def run_phases(
    plan: Plan,
    suite: Suite,
    receiver_port: int,
    procs: ProcessWatch,
    log_dir: Path,
    results: dict[str, Any],
    moto_url: str,
    segment: tuple[int, str] | None,
    brokers: bench_brokers.Brokers | None = None,
) -> None:
    """Fills `results` trial by trial, phase by phase, so that a failure keeps what was
    measured before it."""
    account = await create_account(suite)
    receiver = ReceiverClient(receiver_port)
    segment_client = bench_segment.SegmentClient(segment[0]) if segment else None
    try:
        async with (
            Rest(suite, account) as rest,
            suite.channel("router") as channel,
        ):
            sinks = await create_sinks(rest, receiver)
            ctx = Context(
                plan,
                suite,
                receiver,
                router_pb2_grpc.RouterStub(channel),
                EventFactory(account.sid),
                account,
                rest,
                sinks,
                log_dir,
                procs,
                moto_url=moto_url,
                segment=segment_client,
                segment_write_key=segment[1] if segment else "",
                brokers=brokers,
            )
            try:
                for trial in range(1, plan.trials + 1):
                    print(f"trial {trial}/{plan.trials}", flush=True)
                    ctx.trial = trial
                    record: dict[str, Any] = {"trial": trial, "started": round(time.time(), 1)}
                    results["trials"].append(record)
                    try:
                        await run_trial(ctx, record)
                    finally:
                        record["cpu"] = procs.take_windows()
                        record["ratios"] = bench_report.ratios(record)
            finally:
                for broker_sink in ctx.broker_sinks.values():
                    await broker_sink.target.close()
    finally:
        await receiver.close()
        if segment_client is not None:
            await segment_client.close()


# --- processes -------------------------------------------------------------------------


def receiver_up(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=1) as response:
        return bool(response.status == 200)


def start_receiver(port: int, slow_seconds: float, log_dir: Path) -> Child:
    argv = [sys.executable, "-m", "devkit.fast_receiver", "--port", str(port)]
    argv += ["--slow-seconds", str(slow_seconds)]
    child = start("fast-receiver", argv, python_env({}), log_dir)
    wait_until(lambda: receiver_up(port), child, "fast receiver")
    return child


def make_suite(plan: Plan, data: Path, extra_env: dict[str, str]) -> Suite:
    return Suite(
        data_dir=data,
        catalog_db=f"sqlite+aiosqlite:///{data / 'catalog.db'}",
        control_db=f"sqlite+aiosqlite:///{data / 'control.db'}",
        workers=plan.workers,
        log_dir=data / "logs",
        extra_env={"ES_ALLOW_PRIVATE_DESTINATIONS": "true", "ES_LOG_LEVEL": "WARNING", **extra_env},
    )


def watch_all(procs: ProcessWatch, suite: Suite, helpers: dict[str, Child]) -> None:
    if suite.nats is not None and suite.nats.child is not None:
        procs.watch("nats-server", suite.nats.child.process.pid)
    for name, child in suite.children.items():
        procs.watch(name, child.process.pid)
    for name, child in helpers.items():
        procs.watch(name, child.process.pid)
    procs.watch("bench driver", os.getpid())


def run(plan: Plan, data: Path, results: dict[str, Any]) -> None:
    """Everything that needs the processes up; they are stopped whatever happens."""
    log_dir = data / "logs"
    helpers: dict[str, Child] = {}
    extra_env: dict[str, str] = {}
    moto: MotoServer | None = None
    segment: tuple[int, str] | None = None
    suite: Suite | None = None
    brokers: bench_brokers.Brokers | None = None
    procs = ProcessWatch()
    try:
        receiver_port = free_port()
        helpers["fast receiver"] = start_receiver(receiver_port, plan.slow_receiver_seconds, log_dir)
        if "kinesis" in plan.phases or "aws" in plan.phases:
            moto = MotoServer.create(log_dir)
            moto.start()
            assert moto.child is not None
            helpers["moto_server"] = moto.child
            extra_env.update(
                {
                    "ES_AWS_ENDPOINT_URL": moto.url,
                    "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
                    "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
                }
            )
        if "brokers" in plan.phases:
            brokers = bench_brokers.Brokers(data / "brokers")
            brokers.start()
        if "segment" in plan.phases:
            segment = (free_port(), bench_segment.new_write_key())
            helpers["segment receiver"] = bench_segment.start_receiver(segment[0], segment[1], log_dir)
            extra_env["ES_SEGMENT_API_URL"] = f"http://127.0.0.1:{segment[0]}"
        suite = make_suite(plan, data, extra_env)
        suite.start()
        watch_all(procs, suite, helpers)
        for name, pid in (brokers.pids() if brokers else {}).items():
            procs.watch(name, pid)
        procs.start()
        moto_url = moto.url if moto else ""
        asyncio.run(
            run_phases(plan, suite, receiver_port, procs, log_dir, results, moto_url, segment, brokers)
        )
    finally:
        results["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
        results["memory"] = procs.stop()
        if suite is not None:
            suite.stop()
        for child in helpers.values():
            child.stop()
        if brokers is not None:
            brokers.stop()


def config(plan: Plan) -> dict[str, Any]:
    fetch_batch, in_flight = bench_floor.worker_defaults()
    settings = worker_settings()
    return {
        **asdict(plan),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": [round(v, 2) for v in os.getloadavg()],
        "worker_fetch_batch": fetch_batch,
        "worker_sink_concurrency": in_flight,
        "worker_sink_batch_concurrency": settings.sink_batch_concurrency,
        "throttle": {
            "initial_cap": settings.throttle_initial_cap,
            "cut_factor": settings.throttle_cut_factor,
            "quiet_seconds": settings.throttle_quiet_seconds,
        },
        "types": {
            "batched": TYPE_BATCHED,
            "one_per_request": TYPE_SINGLE,
            "kinesis": bench_kinesis.TYPE_KINESIS,
            "segment": bench_segment.TYPE_SEGMENT,
            **{f"aws_{kind}": type_name for kind, type_name in bench_aws.TYPES.items()},
            **{f"brokers_{kind}": type_name for kind, type_name in bench_brokers.TYPES.items()},
            "outage": bench_outage.TYPE_OUTAGE,
        },
    }


def report(results: dict[str, Any], out: Path) -> None:
    """results.json first (the raw trials are worth keeping whatever happens next), then
    the summary, the chart and the table."""
    written = [bench_report.write_json(results, out)]
    results["summary"] = bench_report.summary(results)
    written = [bench_report.write_json(results, out)]
    latency = bench_report.median_latency_trial(results)
    if latency is not None:
        chart = bench_report.write_chart(latency, out)
        written += [chart] if chart else []
    print()
    print(bench_report.table(results))
    print()
    print("wrote " + ", ".join(str(p) for p in written))


def main() -> None:
    args = parse_args()
    plan = Plan.from_args(args)
    started = time.monotonic()
    results: dict[str, Any] = {"config": config(plan), "trials": []}
    print(
        f"bench: {'quick' if plan.quick else 'full'} run, {plan.trials} trial(s), "
        f"phases {', '.join(plan.phases)}",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="es-bench-") as tmp:
            run(plan, Path(tmp), results)
    except BaseException as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        print(f"\nbench stopped early: {results['error'][:2000]}", file=sys.stderr)
        raise
    finally:
        results["duration_seconds"] = round(time.monotonic() - started, 1)
        report(results, args.out)


if __name__ == "__main__":
    main()
