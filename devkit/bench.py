"""`make bench`: the suite as real processes (SQLite), a fast receiver in its own process, load
through the router's gRPC Publish; prints figures (never asserts them) and writes
bench-results/results.json and bench-results/latency.png.

  1. end-to-end events/s, first publish → last receipt, to a batched webhook sink and to a
     one-event-per-request sink;
  2. first-attempt latency (producer send time → receiver) at a paced offered load;
  3. the floor: bare nats-py publish → pull fetch → aiohttp POST (at the worker's per-sink
     concurrency, and at 256 in flight), and our one-per-request ratio to it;
  4. a healthy sink's throughput alone, beside a second healthy sink (the cost of fanning
     out by itself) and beside a sink whose destination always times out;
  5. the CPU each process used during each measurement (and the rest of the machine: other
     work on a shared machine skews everything), and the highest resident memory of every
     process through the whole bench.

    python -m devkit.bench            # the full run, ≈ 2–3 minutes
    python -m devkit.bench --quick    # a smoke run, under a minute
    python -m devkit.bench --only latency --latency-seconds 60
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
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import grpc

from devkit import bench_floor, bench_report
from devkit.bench_load import (
    EventFactory,
    measure_throughput,
    publish_paced,
    publish_until_routed,
)
from devkit.bench_procs import ProcessWatch
from devkit.bench_setup import Account, ReceiverClient, Rest, create_account
from devkit.processes import ROOT, Child, free_port, python_env, start, wait_until
from devkit.produce import publish_when_routed
from devkit.suite import Suite
from eventstreams.v1 import router_pb2_grpc

TYPE_BATCHED = "com.twilio.messaging.message.sent"
TYPE_SINGLE = "com.twilio.messaging.message.delivered"
# The timing-out sink's own traffic in the isolation run, at a steady rate.
TYPE_SLOW_OWN = "com.twilio.messaging.message.failed"
SLOW_OWN_RATE = 200.0
PATH_BATCHED = "/batched"
PATH_SINGLE = "/single"
PATH_TWIN = "/twin"
PATH_SLOW = "/slow"
PHASES = ("throughput", "latency", "floor", "slow")
RESULTS_DIR = ROOT / "bench-results"


@dataclass(frozen=True)
class Plan:
    quick: bool
    workers: int
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
            phases=tuple(args.only or PHASES),
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run (smaller counts)")
    parser.add_argument("--workers", type=int, default=1, help="delivery workers")
    parser.add_argument("--events", type=int, help="events per throughput run (50k; quick 5k)")
    parser.add_argument("--batch", type=int, default=250, help="events per Publish call")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent Publish calls")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered events/s, latency run")
    parser.add_argument("--latency-seconds", type=float, help="length of the latency run (20; quick 8)")
    parser.add_argument(
        "--latency-batch",
        type=int,
        default=10,
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
    parser.add_argument("--only", nargs="+", choices=PHASES, help="run only these phases")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results go")
    return parser.parse_args()


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
    sinks: dict[str, str]
    log_dir: Path
    procs: ProcessWatch


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
    with ctx.procs.window(window):
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
    return result.report()


async def throughput_phase(ctx: Context) -> dict[str, Any]:
    figures = {}
    for name, type_name, path in (
        ("batched", TYPE_BATCHED, PATH_BATCHED),
        ("one_per_request", TYPE_SINGLE, PATH_SINGLE),
    ):
        await warm(ctx, type_name, path)
        print(f"  throughput: {name}, {ctx.plan.events:,} events", flush=True)
        figures[name] = await timed_throughput(ctx, name, type_name, path, ctx.plan.events)
    return figures


async def latency_phase(ctx: Context) -> dict[str, Any]:
    plan = ctx.plan
    await warm(ctx, TYPE_SINGLE, PATH_SINGLE)
    print(f"  latency: {plan.rate:,.0f} events/s for {plan.latency_seconds:.0f} s", flush=True)
    await ctx.receiver.reset()
    with ctx.procs.window("latency"):
        published = await publish_paced(
            ctx.router, ctx.factory, TYPE_SINGLE, plan.rate, plan.latency_seconds, plan.latency_batch
        )
        seen = await ctx.receiver.wait_events(PATH_SINGLE, published.events, plan.stall_seconds)
    latency = await ctx.receiver.latency(PATH_SINGLE)
    return {
        "rate": plan.rate,
        "seconds": plan.latency_seconds,
        "batch": plan.latency_batch,
        "publish": published.report(),
        "received": seen.events,
        "duplicates": seen.duplicates,
        "overall": latency["overall"],
        "per_second": latency["per_second"],
    }


async def floor_phase(ctx: Context) -> list[dict[str, Any]]:
    """One floor run per concurrency; the first is the worker's own (requests in flight to
    one sink), the one our ratio is taken against."""
    plan = ctx.plan
    assert ctx.suite.nats is not None
    payloads = bench_floor.Payloads(ctx.account.sid, TYPE_SINGLE, ctx.factory.run)
    runs = []
    for in_flight in plan.floor_in_flight:
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


async def slow_phase(ctx: Context, rest: Rest) -> dict[str, Any]:
    """The healthy sink alone; beside a second healthy sink on the same type (what fanning
    out to two sinks costs by itself); beside a sink that always times out. Last: the
    timing-out sink's backlog stays behind, retried with backoff."""
    plan = ctx.plan

    async def run(window: str, label: str) -> dict[str, Any]:
        print(f"  timing-out sink: {plan.slow_events:,} events, healthy sink {label}", flush=True)
        return await timed_throughput(
            ctx, window, TYPE_SINGLE, PATH_SINGLE, plan.slow_events, plan.slow_deadline
        )

    await warm(ctx, TYPE_SINGLE, PATH_SINGLE)
    without = await run("alone", "alone")
    twin = await rest.subscribe("bench second healthy", ctx.sinks["twin"], [TYPE_SINGLE])
    await route_single_to(ctx, 2)
    beside_twin = await run("with_second_healthy", "beside a second healthy sink")
    twin_seen = await ctx.receiver.path(PATH_TWIN)
    await rest.unsubscribe(twin)
    await route_single_to(ctx, 1)
    slow_same_type = await rest.subscribe("bench timing out", ctx.sinks["slow"], [TYPE_SINGLE])
    await route_single_to(ctx, 2)
    beside_slow = await run("with_timing_out", "beside a timing-out sink")
    slow_seen = await ctx.receiver.path(PATH_SLOW)

    # Isolation proper: the timing-out sink has its own events (another type, a steady
    # SLOW_OWN_RATE per second) while the healthy sink takes the load; no fan-out cost.
    await rest.unsubscribe(slow_same_type)
    await route_single_to(ctx, 1)
    await rest.subscribe("bench timing out, own type", ctx.sinks["slow"], [TYPE_SLOW_OWN])
    await publish_until_routed(ctx.router, ctx.factory, TYPE_SLOW_OWN, 1, timeout=15)
    background = asyncio.create_task(
        publish_paced(ctx.router, ctx.factory, TYPE_SLOW_OWN, SLOW_OWN_RATE, plan.slow_deadline, 20)
    )
    try:
        beside_slow_own = await run(
            "with_timing_out_own", f"beside a timing-out sink fed {SLOW_OWN_RATE:.0f}/s"
        )
    finally:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await background
    return {
        "without": without,
        "with_healthy": {**beside_twin, "second_sink_received": twin_seen.events},
        "with": beside_slow,
        "with_own_traffic": {**beside_slow_own, "timing_out_rate": SLOW_OWN_RATE},
        "slow_requests": slow_seen.requests,
    }


async def create_sinks(rest: Rest, receiver: ReceiverClient) -> dict[str, str]:
    sinks = {
        "batched": await rest.webhook_sink("bench batched", receiver.url(PATH_BATCHED), True),
        "single": await rest.webhook_sink("bench one per request", receiver.url(PATH_SINGLE), False),
        "twin": await rest.webhook_sink("bench second healthy", receiver.url(PATH_TWIN), False),
        "slow": await rest.webhook_sink("bench timing out", receiver.url(PATH_SLOW), False),
    }
    await rest.subscribe("bench batched", sinks["batched"], [TYPE_BATCHED])
    await rest.subscribe("bench one per request", sinks["single"], [TYPE_SINGLE])
    return sinks


async def run_phases(
    plan: Plan,
    suite: Suite,
    receiver_port: int,
    procs: ProcessWatch,
    log_dir: Path,
    results: dict[str, Any],
) -> None:
    """Fills `results` phase by phase, so that a failure keeps what was measured before it."""
    account = await create_account(suite)
    receiver = ReceiverClient(receiver_port)
    try:
        async with (
            Rest(suite, account) as rest,
            grpc.aio.insecure_channel(suite.address("router")) as channel,
        ):
            sinks = await create_sinks(rest, receiver)
            ctx = Context(
                plan,
                suite,
                receiver,
                router_pb2_grpc.RouterStub(channel),
                EventFactory(account.sid),
                account,
                sinks,
                log_dir,
                procs,
            )
            if "throughput" in plan.phases:
                results["throughput"] = await throughput_phase(ctx)
            if "latency" in plan.phases:
                results["latency"] = await latency_phase(ctx)
            if "floor" in plan.phases:
                results["floor"] = await floor_phase(ctx)
            if "slow" in plan.phases:
                results["slow_sink"] = await slow_phase(ctx, rest)
    finally:
        await receiver.close()


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


def make_suite(plan: Plan, data: Path) -> Suite:
    return Suite(
        data_dir=data,
        catalog_db=f"sqlite+aiosqlite:///{data / 'catalog.db'}",
        control_db=f"sqlite+aiosqlite:///{data / 'control.db'}",
        workers=plan.workers,
        log_dir=data / "logs",
        extra_env={"ES_ALLOW_PRIVATE_DESTINATIONS": "true", "ES_LOG_LEVEL": "WARNING"},
    )


def watch_all(procs: ProcessWatch, suite: Suite, receiver: Child) -> None:
    if suite.nats is not None and suite.nats.child is not None:
        procs.watch("nats-server", suite.nats.child.process.pid)
    for name, child in suite.children.items():
        procs.watch(name, child.process.pid)
    procs.watch("fast receiver", receiver.process.pid)
    procs.watch("bench driver", os.getpid())


def run(plan: Plan, data: Path, results: dict[str, Any]) -> None:
    """Everything that needs the processes up; they are stopped whatever happens."""
    log_dir = data / "logs"
    suite = make_suite(plan, data)
    receiver_port = free_port()
    receiver = start_receiver(receiver_port, plan.slow_receiver_seconds, log_dir)
    procs = ProcessWatch()
    try:
        suite.start()
        watch_all(procs, suite, receiver)
        procs.start()
        asyncio.run(run_phases(plan, suite, receiver_port, procs, log_dir, results))
    finally:
        results["loadavg_end"] = [round(v, 2) for v in os.getloadavg()]
        results["memory"] = procs.stop()
        results["cpu"] = {
            name: {"wall_seconds": round(w.wall_seconds, 2), "cores": w.cores}
            for name, w in procs.windows.items()
        }
        suite.stop()
        receiver.stop()


def config(plan: Plan) -> dict[str, Any]:
    fetch_batch, in_flight = bench_floor.worker_defaults()
    return {
        **asdict(plan),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg_start": [round(v, 2) for v in os.getloadavg()],
        "worker_fetch_batch": fetch_batch,
        "worker_sink_concurrency": in_flight,
        "types": {"batched": TYPE_BATCHED, "one_per_request": TYPE_SINGLE},
    }


def report(results: dict[str, Any], out: Path) -> None:
    results["ratios"] = bench_report.ratios(results)
    written = [bench_report.write_json(results, out)]
    if "latency" in results:
        chart = bench_report.write_chart(results["latency"], out)
        written += [chart] if chart else []
    print()
    print(bench_report.table(results))
    print()
    print("wrote " + ", ".join(str(p) for p in written))


def main() -> None:
    args = parse_args()
    plan = Plan.from_args(args)
    started = time.monotonic()
    results: dict[str, Any] = {"config": config(plan)}
    print(f"bench: {'quick' if plan.quick else 'full'} run, phases {', '.join(plan.phases)}", flush=True)
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
