"""`make bench`, producer part: what the producer SDK costs against raw gRPC Publish.

One suite (SQLite) with NO delivery worker: the figure is how fast events are accepted —
validated, routed to one subscribed webhook sink and acknowledged by JetStream — not how fast
they are delivered (that is `make bench`'s first part); without a worker nothing else
competes for this 2-core machine's CPU. Five modes, in turn within each trial:

- raw: `RouterStub.Publish` with batches of --batch events, --concurrency calls at once
  (devkit/bench_load.publish_fixed, as the other benches publish);
- raw, twice the calls: the same with 2 × --concurrency calls at once — with few calls in
  flight each call's round trip, not the router, bounds events/s;
- raw, requests built beforehand: the same calls with every request built and serialised
  before the measured window and sent as bytes — the router's Publish path with the least of
  the load generator sharing the 2 cores (its gRPC calls and reading the answers remain);
- sdk publish: the same events (same template, ids, batch size, concurrency) through
  `AsyncProducer.publish` (SDK events → protobuf, retry bookkeeping, per-event results);
- sdk send: one `await producer.send(type, data_dict, …)` per event, the SDK batching them
  (batch_size = --batch, max_in_flight = --concurrency, 5 ms linger) and serialising each
  event's data itself; then `flush`.

Each trial's ratios (an SDK mode over raw) are taken within the trial; the report is the
median of the trials with their min–max. Each mode also gives CPU per accepted event (core-µs,
from /proc CPU times over the mode's run, devkit/bench_procs.py): the pipeline's — router +
nats-server, with each by itself — and, apart and not in the pipeline's, the client's: this
process, the load generator (protobuf or SDK events, the gRPC client).

    python -m devkit.bench_producer            # ≈ 2 minutes
    python -m devkit.bench_producer --quick    # ≈ 40 s
    python -m devkit.bench_producer --router-replicas 2   # two router processes, the
                                               # client's channel balancing over them
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devkit.bench import RESULTS_DIR, watch_all
from devkit.bench_load import (
    LATENCY_BATCH,
    LATENCY_RATE,
    PUBLISH_TIMEOUT,
    EventFactory,
    publish_fixed,
    publish_paced,
    publish_until_routed,
)
from devkit.bench_procs import ProcessWatch
from devkit.bench_report import cpu_spreads, per_event_us
from devkit.bench_setup import Rest, create_account
from devkit.bench_stats import show, spread
from devkit.suite import Suite
from eventstreams.v1 import router_pb2, router_pb2_grpc
from eventstreams_producer import AsyncProducer, Event
from eventstreams_producer.grpc_transport import GrpcTransport
from launcher.processes import free_port, python_env, start

TYPE = "com.twilio.messaging.message.delivered"
RAW_TWICE = "raw, twice the calls"
RAW_PREBUILT = "raw, requests built beforehand"
MODES = ("raw", RAW_TWICE, RAW_PREBUILT, "sdk publish", "sdk send")
PUBLISH = "/eventstreams.v1.Router/Publish"
CLIENT = "bench driver"  # this process: the load generator, reported apart from the pipeline
GRPC_FLOOR = "grpc floor"  # devkit.grpc_floor: grpc.aio and grpc.health, none of our code
LATENCY_SPACING = LATENCY_BATCH / LATENCY_RATE  # seconds between the latency run's calls


@dataclass(frozen=True)
class Plan:
    trials: int
    events: int
    batch: int = 100
    concurrency: int = 4
    warmup: int = 1_000


class SdkEvents:
    """Events as the raw mode's factory makes them (its template, an id per event, one time
    stamp per batch), built as SDK events directly."""

    def __init__(self, factory: EventFactory) -> None:
        template = factory.batch(TYPE, 1)[0]
        self.account_sid = factory.account_sid
        self.version = template.schema_version
        self.data_json = template.data_json
        self.run = factory.run
        self.serial = itertools.count()

    def batch(self, size: int) -> list[Event]:
        now = datetime.now(UTC)
        events = []
        for _ in range(size):
            event_id = f"EZsdk{self.run}{next(self.serial):010d}"
            source = f"/2010-04-01/Accounts/{self.account_sid}/Events/{event_id}"
            events.append(Event(event_id, self.account_sid, TYPE, self.version, source, now, self.data_json))
        return events


async def run_raw(
    router: router_pb2_grpc.RouterAsyncStub, factory: EventFactory, plan: Plan, count: int
) -> dict[str, Any]:
    figures = await publish_fixed(router, factory, TYPE, count, plan.batch, plan.concurrency)
    return {"events": figures.events, "failures": figures.failures, "seconds": figures.seconds}


class Prebuilt:
    """Raw Publish with the load generator's work done before the measured window: every
    request built and serialised beforehand, sent as bytes — the figure is the router's
    Publish path with as little of the client in the same 2 cores as a gRPC client can be
    (the client's CPU is still its gRPC calls and reading the answers)."""

    def __init__(self, channel: grpc.aio.Channel, factory: EventFactory, plan: Plan) -> None:
        self._publish: grpc.aio.UnaryUnaryMultiCallable[bytes, router_pb2.PublishResponse] = (
            channel.unary_unary(
                PUBLISH, request_serializer=None, response_deserializer=router_pb2.PublishResponse.FromString
            )
        )
        self._factory = factory
        self._plan = plan
        self._requests: list[tuple[int, bytes]] = []

    def build(self, count: int) -> None:
        batch = self._plan.batch
        sizes = [batch] * (count // batch) + ([count % batch] if count % batch else [])
        self._requests = [
            (size, router_pb2.PublishRequest(events=self._factory.batch(TYPE, size)).SerializeToString())
            for size in sizes
        ]

    async def run(self, count: int) -> dict[str, Any]:
        if sum(size for size, _ in self._requests) != count:
            self.build(count)  # the warm-up's (not measured)
        requests = iter(self._requests)
        accepted = failures = 0

        async def caller() -> None:
            nonlocal accepted, failures
            for size, request in requests:
                response = await self._publish(request, timeout=PUBLISH_TIMEOUT)
                refused = sum(1 for result in response.results if result.code != 0)
                accepted += size - refused
                failures += refused

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(self._plan.concurrency)))
        self._requests = []
        return {"events": accepted, "failures": failures, "seconds": time.perf_counter() - started}


async def run_sdk_publish(
    producer: AsyncProducer, events: SdkEvents, plan: Plan, count: int
) -> dict[str, Any]:
    sizes = [plan.batch] * (count // plan.batch) + ([count % plan.batch] if count % plan.batch else [])
    queue: asyncio.Queue[int] = asyncio.Queue()
    for size in sizes:
        queue.put_nowait(size)
    accepted = failures = 0

    async def caller() -> None:
        nonlocal accepted, failures
        while not queue.empty():
            result = await producer.publish(events.batch(queue.get_nowait()))
            accepted += len(result.accepted)
            failures += len(result.results) - len(result.accepted)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(plan.concurrency)))
    return {"events": accepted, "failures": failures, "seconds": time.perf_counter() - started}


async def run_sdk_send(
    producer: AsyncProducer, data: dict[str, Any], version: int, count: int
) -> dict[str, Any]:
    before = producer.counts.accepted, producer.counts.rejected + producer.counts.unavailable
    started = time.perf_counter()
    for _ in range(count):
        await producer.send(TYPE, data, schema_version=version)
    await producer.flush()
    seconds = time.perf_counter() - started
    accepted = producer.counts.accepted - before[0]
    failures = producer.counts.rejected + producer.counts.unavailable - before[1]
    return {"events": accepted, "failures": failures, "seconds": seconds}


async def measure(suite: Suite, plan: Plan, procs: ProcessWatch) -> dict[str, Any]:
    account = await create_account(suite, "producer")
    trials: list[dict[str, Any]] = []
    async with Rest(suite, account) as rest, suite.channel("router") as channel:
        router = router_pb2_grpc.RouterStub(channel)
        factory = EventFactory(account.sid)
        # Never delivered (no worker): the router still routes to it and JetStream stores.
        sid = await rest.webhook_sink("producer", "http://127.0.0.1:9/unreachable", True)
        await rest.subscribe("producer", sid, [TYPE])
        await publish_until_routed(router, factory, TYPE, 1, timeout=20)
        sdk_events = SdkEvents(factory)
        data, version = json.loads(sdk_events.data_json), sdk_events.version
        transport = GrpcTransport(suite.target("router"), suite.credential("producer"))
        async with AsyncProducer(
            transport,
            account_sid=account.sid,
            batch_size=plan.batch,
            max_in_flight=plan.concurrency,
            linger_seconds=0.005,
        ) as producer:
            twice = replace(plan, concurrency=2 * plan.concurrency)
            prebuilt = Prebuilt(channel, factory, plan)
            modes: dict[str, Callable[[int], Awaitable[dict[str, Any]]]] = {
                "raw": lambda n: run_raw(router, factory, plan, n),
                RAW_TWICE: lambda n: run_raw(router, factory, twice, n),
                RAW_PREBUILT: prebuilt.run,
                "sdk publish": lambda n: run_sdk_publish(producer, sdk_events, plan, n),
                "sdk send": lambda n: run_sdk_send(producer, data, version, n),
            }
            for mode in MODES:  # warm every path (connections, validators, JIT-less caches)
                await modes[mode](plan.warmup)
            for trial in range(plan.trials):
                record: dict[str, Any] = {"trial": trial + 1}
                for mode in MODES:
                    if mode == RAW_PREBUILT:
                        prebuilt.build(plan.events)  # outside the measured window
                    with procs.window(mode) as measured:
                        done = await modes[mode](plan.events)
                        measured.events = done["events"]
                    window = procs.take_windows()[mode]
                    done["events_per_second"] = round(done["events"] / max(done["seconds"], 1e-9), 1)
                    done["seconds"] = round(done["seconds"], 3)
                    done["us_per_event"] = per_event_us(window)
                    done["client_us_per_event"] = per_event_us(window, CLIENT)
                    done["cpu"] = window
                    record[mode] = done
                    print(
                        f"  trial {trial + 1}, {mode}: {done['events_per_second']:,.0f} events/s, "
                        f"{done['us_per_event'] or 0:,.0f} core-µs per event (router + nats), "
                        f"client {done['client_us_per_event'] or 0:,.0f}",
                        flush=True,
                    )
                trials.append(record)
        await transport.close()
        costs = await call_costs(channel, router, factory, plan, procs)
    return {"trials": trials, "call_costs": costs}


CALL_SIZES = (1, 10, 100)


def server_us(window: dict[str, Any], server: str = "router") -> float | None:
    """The called server's core-µs per event, summed over its processes (--router-replicas:
    calls balance over them): the router's, or `server`'s (the bare gRPC floor)."""
    shares = [per_event_us(window, name) for name in window["cores"] if name.startswith(server)]
    return round(sum(u for u in shares if u is not None), 1) if shares else None


def quantiles_ms(call_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(call_ms)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]


async def paced(spacing: float, tick: int, start: float) -> None:
    """Wait for call `tick`'s turn on a `spacing`-second schedule from `start` (0: none)."""
    if spacing > 0:
        delay = start + tick * spacing - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def health_check_cost(
    channel: grpc.aio.Channel, procs: ProcessWatch, count: int, server: str = "router", spacing: float = 0.0
) -> dict[str, Any]:
    """The cheapest call a server answers (grpc.health's Check, no work of ours behind it),
    one at a time: what any call costs in CPU and in time before a Publish does anything.
    `server`: the watched process(es) whose CPU counts (names starting so); `spacing`: a call
    every so many seconds (the latency run's pace) rather than back to back."""
    health = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest()
    for _ in range(100):
        await health.Check(request)
    call_ms: list[float] = []
    started = time.perf_counter()
    with procs.window(f"health checks of {server}") as measured:
        for tick in range(count):
            await paced(spacing, tick, started)
            began = time.perf_counter()
            await health.Check(request)
            call_ms.append((time.perf_counter() - began) * 1000)
        measured.events = count
    seconds = time.perf_counter() - started
    router_us = server_us(procs.take_windows()[f"health checks of {server}"], server)
    p50, p99 = quantiles_ms(call_ms)
    return {
        "server": server,
        "spacing_ms": round(spacing * 1000, 1),
        "events_per_call": 0,
        "events": count,
        "calls_per_second": round(count / seconds, 1),
        "events_per_second": None,
        "router_us_per_event": None,
        "router_us_per_call": router_us,
        "nats_us_per_event": None,
        "call_p50_ms": round(p50, 2),
        "call_p99_ms": round(p99, 2),
    }


async def grpc_floor_cost(procs: ProcessWatch, count: int, paced_count: int) -> list[dict[str, Any]]:
    """health_check_cost against devkit.grpc_floor, a grpc.aio server with none of our code:
    back to back, then `paced_count` calls at the latency run's pace."""
    port = free_port()
    child = start(GRPC_FLOOR, [sys.executable, "-m", "devkit.grpc_floor", str(port)], python_env({}), None)
    try:
        procs.watch(GRPC_FLOOR, child.process.pid)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await asyncio.wait_for(channel.channel_ready(), 30)
            return [
                await health_check_cost(channel, procs, count, GRPC_FLOOR),
                await health_check_cost(channel, procs, paced_count, GRPC_FLOOR, LATENCY_SPACING),
            ]
    finally:
        child.stop()


async def call_costs(
    channel: grpc.aio.Channel,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    plan: Plan,
    procs: ProcessWatch,
) -> list[dict[str, Any]]:
    """What a Publish call costs the router besides its events: a health check (no events),
    then raw Publish, one call at a time, with 1, 10 and 100 events a call — core-µs per
    event and per call, and each call's time (p50, p99)."""
    checks = max(1_000, plan.events // 10)
    paced_calls = max(200, checks // 4)
    rows = await grpc_floor_cost(procs, checks, paced_calls)
    rows.append(await health_check_cost(channel, procs, checks))
    rows.append(await health_check_cost(channel, procs, paced_calls, spacing=LATENCY_SPACING))
    shapes = [(size, 0.0) for size in CALL_SIZES] + [(LATENCY_BATCH, LATENCY_SPACING)]
    for size, spacing in shapes:
        if spacing:
            count = paced_calls * size
        else:
            count = max(1_000, plan.events * size // 100) if size > 1 else max(1_000, plan.events // 10)
        await publish_fixed(router, factory, TYPE, min(count, 1_000), size, 1)  # warm
        with procs.window(f"calls of {size}") as measured:
            if spacing:
                rate, seconds = size / spacing, count * spacing / size
                figures = await publish_paced(router, factory, TYPE, rate, seconds, size)
            else:
                figures = await publish_fixed(router, factory, TYPE, count, size, 1)
            measured.events = figures.events
        window = procs.take_windows()[f"calls of {size}"]
        router_us = server_us(window)
        p50, p99 = quantiles_ms(figures.call_ms)
        rows.append(
            {
                "spacing_ms": round(spacing * 1000, 1),
                "events_per_call": size,
                "events": figures.events,
                "events_per_second": round(figures.events / max(figures.seconds, 1e-9), 1),
                "router_us_per_event": router_us,
                "router_us_per_call": round(router_us * size, 1) if router_us is not None else None,
                "nats_us_per_event": per_event_us(window, "nats-server"),
                "call_p50_ms": round(p50, 2),
                "call_p99_ms": round(p99, 2),
            }
        )
    return rows


def call_cost_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| one call at a time | events/s | router core-µs/event "
        "| server core-µs/call (the router's, or the bare one's) "
        "| nats-server core-µs/event | call p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    for row in rows:
        if row.get("server") == GRPC_FLOOR:
            head = f"a health check of a bare grpc.aio server, none of our code ({row['events']:,} calls)"
        elif row["events_per_call"] == 0:
            head = f"a health check of the router, no events ({row['events']:,} calls)"
        else:
            head = f"raw Publish, {row['events_per_call']} event(s) a call ({row['events']:,} events)"
        if row.get("spacing_ms"):
            head += f", a call every {row['spacing_ms']:g} ms (the latency run's pace)"
        lines.append(
            f"| {head} | {number(row['events_per_second'])} | {number(row['router_us_per_event'])} "
            f"| {number(row['router_us_per_call'])} | {number(row['nats_us_per_event'])} "
            f"| {row['call_p50_ms']:.2f} / {row['call_p99_ms']:.2f} |"
        )
    return "\n".join(lines)


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for mode in MODES:
        summary[mode] = {
            "events_per_second": spread([t[mode]["events_per_second"] for t in trials]),
            "over_raw": spread(
                [t[mode]["events_per_second"] / t["raw"]["events_per_second"] for t in trials]
            ),
            "failures": sum(t[mode]["failures"] for t in trials),
            **cpu_spreads([t[mode]["cpu"] for t in trials if "cpu" in t[mode]], apart=(CLIENT,)),
        }
    return summary


def table(summary: dict[str, Any], plan: Plan) -> str:
    names = list(dict.fromkeys(n for row in summary.values() for n in row.get("us_by_process", {})))
    heads = [f"client ({n}, not in the pipeline)" if n == CLIENT else n for n in names]
    lines = [
        f"| mode ({plan.events:,} events, batches of {plan.batch}, {plan.concurrency} calls at once) "
        f"| events/s | × raw | failures | core-µs/event: router + nats-server | {' | '.join(heads)} |",
        "|---|---|---|---|---|" + "---|" * len(names),
    ]
    for mode in MODES:
        row = summary[mode]
        by_process = row.get("us_by_process", {})
        cpu = [show(row.get("us_per_event"), 0), *(show(by_process.get(n), 0) for n in names)]
        lines.append(
            f"| {mode} | {show(row['events_per_second'])} | {show(row['over_raw'], 2)} | {row['failures']} | "
            f"{' | '.join(cpu)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--events", type=int)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--router-replicas", type=int, default=1, help="router processes (and gateway, control)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    plan = Plan(
        trials=args.trials or 3,
        events=args.events or (5_000 if args.quick else 20_000),
        batch=args.batch,
        concurrency=args.concurrency,
        warmup=500 if args.quick else 1_000,
    )
    results: dict[str, Any] = {"plan": plan.__dict__, "cpus": os.cpu_count(), "routers": args.router_replicas}
    started = time.monotonic()
    print(f"bench_producer: {plan.trials} trial(s) of {', '.join(MODES)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="es-producer-") as tmp:
        directory = Path(tmp)
        suite = Suite(
            data_dir=directory,
            catalog_db=f"sqlite+aiosqlite:///{directory / 'catalog.db'}",
            control_db=f"sqlite+aiosqlite:///{directory / 'control.db'}",
            log_dir=directory / "logs",
            workers=0,
            extra_env={"ES_ALLOW_PRIVATE_DESTINATIONS": "true", "ES_LOG_LEVEL": "WARNING"},
            replicas=args.router_replicas,
        )
        procs = ProcessWatch()
        try:
            suite.start()
            watch_all(procs, suite, {})
            procs.start()
            results.update(asyncio.run(measure(suite, plan, procs)))
        finally:
            procs.stop()
            suite.stop()
    results["duration_seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = summarise(results["trials"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "producer.json").write_text(json.dumps(results, indent=2))
    print()
    print(table(results["summary"], plan))
    print()
    print(call_cost_table(results["call_costs"]))
    print(f"\nwrote {args.out / 'producer.json'} after {results['duration_seconds']} s")


if __name__ == "__main__":
    main()
