"""`make bench`, steady part: what an event costs at the rates producers really send, one event
per Publish — through raw unary gRPC calls and through the SDK's default path (one
PublishStream, a request per event) — beside the saturated batched figure of the same run.

One suite (SQLite, one delivery worker), a fast receiver in its own process and one batching
webhook sink subscribed to the type. In each trial, in turn:

- unary, R/s: `RouterStub.Publish` with one event a call, R calls a second on an absolute
  schedule (open model: a slow call does not delay the next; devkit/bench_load.publish_paced);
- sdk stream, R/s: the same schedule through `AsyncProducer.send` (batch_size 1: one event a
  request, on the SDK's PublishStream; max_in_flight 256, so the schedule, not the SDK, sets
  the pace);
- sdk linger, R/s: the same schedule through an `AsyncProducer` with its defaults (batches of
  up to 100, 5 ms linger, 4 requests in flight): what a producer sending one event at a time
  gets when it lets the SDK gather them — several events a request at these rates;
- batched, saturated: calls of 100 events, 4 at once, as fast as they go.

for R in --rates (500 and 2,000 by default), --seconds (10) each. Each measurement runs from
the first send to the last receipt, and gives the CPU per delivered event of every process
(core-µs, from /proc: devkit/bench_procs.py) and the first-attempt latency: the receiver's
first receipt of each event minus the time it was sent (p50/p95/p99, the first second of
receipts apart: devkit/bench_load.first_attempt_latency). Every figure is the median of
--trials (3) trials with its min–max; the ratios to the batched figure are taken within each
trial first.

    python -m devkit.bench_steady                  # ≈ 6 minutes
    python -m devkit.bench_steady --quick          # 1 trial, 5 s a rate
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from devkit.bench import RESULTS_DIR, start_receiver, watch_all
from devkit.bench_load import (
    EventFactory,
    PublishFigures,
    first_attempt_latency,
    publish_batch,
    publish_fixed,
    publish_paced,
    publish_until_routed,
)
from devkit.bench_procs import OTHER, ProcessWatch
from devkit.bench_producer import SdkEvents
from devkit.bench_report import per_event_us
from devkit.bench_setup import ReceiverClient, Rest, create_account, sqlite_suite
from devkit.bench_stats import show, spread
from eventstreams.v1 import router_pb2_grpc
from eventstreams_producer import AsyncProducer, GrpcTransport
from launcher.processes import Child, free_port

TYPE = "com.twilio.messaging.message.delivered"
PATH = "/steady"
BATCHED = "batched, saturated"
CLIENT = "bench driver"
# Our processes, whose CPU per event is the figure: the router, the worker, nats-server,
# control (catalog and gateway are printed beside them).
OURS = ("router", "delivery-0", "nats-server", "control")
WAYS = ("unary", "sdk stream", "sdk linger")
# The suite counts as idle below this many cores busy (all its processes together).
IDLE_CORES = 0.3


@dataclass(frozen=True)
class Plan:
    trials: int
    rates: tuple[float, ...]
    seconds: float
    batched_events: int
    stall_seconds: float = 20.0
    settle_seconds: float = 20.0

    def modes(self) -> list[str]:
        names = [f"{way}, {rate:,.0f}/s" for rate in self.rates for way in WAYS]
        return [*names, BATCHED]


async def unary_paced(
    router: router_pb2_grpc.RouterAsyncStub, factory: EventFactory, rate: float, seconds: float
) -> PublishFigures:
    """`rate` unary Publish calls a second of one event each, on an absolute schedule, as
    bench_load.publish_paced; a call that fails as a whole (a router that falls behind gathers
    calls in flight, and grpc gives up on some: CANCELLED) counts its event as a failure."""
    interval = 1.0 / rate
    figures = PublishFigures(started_at=time.time(), sent=[])
    start = time.monotonic()

    async def call() -> None:
        events = factory.batch(TYPE, 1)
        try:
            await publish_batch(router, events, figures)
        except grpc.aio.AioRpcError:
            figures.failures += len(events)

    calls = []
    for tick in range(max(1, round(seconds * rate))):
        delay = start + tick * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        calls.append(asyncio.create_task(call()))
    await asyncio.gather(*calls)
    figures.finished_at = time.time()
    return figures


async def sdk_paced(
    producer: AsyncProducer, events: SdkEvents, rate: float, seconds: float
) -> PublishFigures:
    """`rate` events/s for `seconds` through `producer.send_event`, one event a request, on an
    absolute schedule; every event's send time kept (`sent`) for the latency."""
    interval = 1.0 / rate
    figures = PublishFigures(started_at=time.time(), sent=[])
    assert figures.sent is not None
    futures = []
    start = time.monotonic()
    for tick in range(max(1, round(seconds * rate))):
        delay = start + tick * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        [event] = events.batch(1)
        figures.sent.append((event.time.timestamp(), [event.id]))
        futures.append(await producer.send_event(event))
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    refused = {
        sent[1][0]
        for sent, outcome in zip(figures.sent, outcomes, strict=True)
        if isinstance(outcome, Exception)
    }
    figures.events = len(outcomes) - len(refused)
    figures.failures = len(refused)
    figures.sent = [(stamp, ids) for stamp, ids in figures.sent if ids[0] not in refused]
    figures.finished_at = time.time()
    return figures


async def settle(procs: ProcessWatch, seconds: float) -> None:
    """Until the suite is near idle (up to `seconds`): one measurement's tail is not the next's."""
    started = time.monotonic()
    before = procs.cpu_now()
    while time.monotonic() - started < seconds:
        await asyncio.sleep(1.0)
        after = procs.cpu_now()
        busy = sum(after[n] - before[n] for n in after if n in before and n != CLIENT)
        before = after
        if busy < IDLE_CORES:
            return


async def measure_one(
    name: str,
    send: Callable[[], Awaitable[PublishFigures]],
    receiver: ReceiverClient,
    procs: ProcessWatch,
    plan: Plan,
) -> dict[str, Any]:
    await receiver.reset()
    await receiver.track(PATH)
    with procs.window(name) as measured:
        published = await send()
        seen = await receiver.wait_events(PATH, published.events, plan.stall_seconds)
        measured.events = seen.events
    window = procs.take_windows()[name]
    assert published.sent is not None
    latency = first_attempt_latency(published.sent, await receiver.arrivals(PATH))
    seconds = max(published.seconds, 1e-9)
    return {
        "events": published.events,
        "failures": published.failures,
        "received": seen.events,
        "duplicates": seen.duplicates,
        "offered_per_second": round(published.events / seconds, 1),
        "us_per_event": {n: per_event_us(window, n) for n in window["cores"] if n != OTHER},
        "ours_us_per_event": ours_us(window),
        "other_cores": window["cores"].get(OTHER),
        "latency": latency["steady"],
        "cpu": window,
    }


def ours_us(window: dict[str, Any]) -> float | None:
    shares = [per_event_us(window, n) for n in OURS]
    return None if any(s is None for s in shares) else round(sum(s for s in shares if s is not None), 1)


async def measure(suite: Any, receiver_port: int, plan: Plan, procs: ProcessWatch) -> list[dict[str, Any]]:
    account = await create_account(suite, "steady")
    receiver = ReceiverClient(receiver_port)
    trials: list[dict[str, Any]] = []
    async with Rest(suite, account) as rest, suite.channel("router", as_caller="producer") as channel:
        router = router_pb2_grpc.RouterStub(channel)
        factory = EventFactory(account.sid)
        sink = await rest.webhook_sink("steady", receiver.url(PATH), True)
        await rest.subscribe("steady", sink, [TYPE])
        await publish_until_routed(router, factory, TYPE, 1, timeout=20)
        sdk_events = SdkEvents(factory)
        transport = GrpcTransport(suite.target("router"), suite.credential("producer"))
        async with (
            AsyncProducer(transport, account_sid=account.sid, batch_size=1, max_in_flight=256) as producer,
            AsyncProducer(transport, account_sid=account.sid) as lingering,
        ):
            sends: dict[str, Callable[[], Awaitable[PublishFigures]]] = {}
            for rate in plan.rates:

                def unary(rate: float = rate) -> Awaitable[PublishFigures]:
                    return unary_paced(router, factory, rate, plan.seconds)

                def stream(rate: float = rate) -> Awaitable[PublishFigures]:
                    return sdk_paced(producer, sdk_events, rate, plan.seconds)

                def linger(rate: float = rate) -> Awaitable[PublishFigures]:
                    return sdk_paced(lingering, sdk_events, rate, plan.seconds)

                sends[f"unary, {rate:,.0f}/s"] = unary
                sends[f"sdk stream, {rate:,.0f}/s"] = stream
                sends[f"sdk linger, {rate:,.0f}/s"] = linger
            sends[BATCHED] = lambda: publish_fixed(
                router, factory, TYPE, plan.batched_events, 100, 4, keep_ids=True
            )
            # Warm every path: connections, the stream, validators.
            await publish_paced(router, factory, TYPE, 200, 1, 1)
            await sdk_paced(producer, sdk_events, 200, 1)
            await sdk_paced(lingering, sdk_events, 200, 1)
            await publish_fixed(router, factory, TYPE, 2_000, 100, 4)
            for trial in range(plan.trials):
                record: dict[str, Any] = {"trial": trial + 1}
                for name in plan.modes():
                    await settle(procs, plan.settle_seconds)
                    record[name] = done = await measure_one(name, sends[name], receiver, procs, plan)
                    print(
                        f"  trial {trial + 1}, {name}: {done['offered_per_second']:,.0f} events/s sent, "
                        f"{done['received']:,} received, "
                        f"ours {done['ours_us_per_event'] or 0:,.0f} core-µs/event "
                        f"(router {done['us_per_event'].get('router') or 0:,.0f}), "
                        f"p50/p99 {done['latency'].get('p50_ms')}/{done['latency'].get('p99_ms')} ms",
                        flush=True,
                    )
                trials.append(record)
    await receiver.close()
    return trials


def summarise(trials: list[dict[str, Any]], plan: Plan) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    names = list(dict.fromkeys(n for t in trials for m in plan.modes() for n in t[m]["us_per_event"]))
    for mode in plan.modes():
        rows = [t[mode] for t in trials]
        summary[mode] = {
            "offered_per_second": spread([r["offered_per_second"] for r in rows]),
            "received": sum(r["received"] for r in rows),
            "events": sum(r["events"] for r in rows),
            "failures": sum(r["failures"] for r in rows),
            "duplicates": sum(r["duplicates"] for r in rows),
            "ours_us_per_event": spread([r["ours_us_per_event"] for r in rows]),
            "us_per_event": {n: spread([r["us_per_event"].get(n) for r in rows]) for n in names},
            "over_batched": spread(
                [ratio(t[mode]["ours_us_per_event"], t[BATCHED]["ours_us_per_event"]) for t in trials]
            ),
            "router_over_batched": spread(
                [
                    ratio(t[mode]["us_per_event"].get("router"), t[BATCHED]["us_per_event"].get("router"))
                    for t in trials
                ]
            ),
            "other_cores": spread([r["other_cores"] for r in rows]),
            **{q: spread([r["latency"].get(f"{q}_ms") for r in rows]) for q in ("p50", "p95", "p99")},
        }
    return summary


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def table(summary: dict[str, Any], plan: Plan) -> str:
    names = list(dict.fromkeys(n for row in summary.values() for n in row["us_per_event"]))
    shown = [n for n in OURS if n in names] + [n for n in names if n not in OURS]
    lines = [
        f"| {plan.seconds:g} s a rate, one event per call | events/s stored (first send → last answer) "
        "| core-µs/event: ours "
        f"({' + '.join(OURS)}) | × batched | router × batched | {' | '.join(shown)} "
        "| first attempt p50 / p95 / p99 ms | received / stored (calls failed) | other load (cores) |",
        "|---|---|---|---|---|" + "---|" * len(shown) + "---|---|---|",
    ]
    for mode, row in summary.items():
        per = [show(row["us_per_event"][n], 0) for n in shown]
        latency = " / ".join(show(row[q], 1) for q in ("p50", "p95", "p99"))
        lines.append(
            f"| {mode} | {show(row['offered_per_second'])} | {show(row['ours_us_per_event'], 0)} "
            f"| {show(row['over_batched'], 2)} | {show(row['router_over_batched'], 2)} | {' | '.join(per)} "
            f"| {latency} | {row['received']:,} / {row['events']:,} ({row['failures']:,}) "
            f"| {show(row['other_cores'], 2)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 trial, 5 s a rate")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--rates", type=float, nargs="+", default=[500.0, 2000.0])
    parser.add_argument("--batched-events", type=int, default=30_000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs here")
    args = parser.parse_args()
    plan = Plan(
        trials=args.trials or (1 if args.quick else 3),
        rates=tuple(args.rates),
        seconds=args.seconds or (5.0 if args.quick else 10.0),
        batched_events=args.batched_events,
    )
    results: dict[str, Any] = {
        "plan": plan.__dict__,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    started = time.monotonic()
    print(f"bench_steady: {plan.trials} trial(s) of {', '.join(plan.modes())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="es-steady-") as tmp:
        directory = Path(tmp)
        suite = sqlite_suite(directory)
        logs = args.log_dir or directory / "logs"
        suite.log_dir = logs
        procs = ProcessWatch()
        helpers: dict[str, Child] = {}
        try:
            port = free_port()
            helpers["fast receiver"] = start_receiver(port, 0.0, logs)
            suite.start()
            watch_all(procs, suite, helpers)
            procs.start()
            results["trials"] = asyncio.run(measure(suite, port, plan, procs))
        finally:
            results["loadavg_end"] = os.getloadavg()
            procs.stop()
            suite.stop()
            for child in helpers.values():
                child.stop()
    results["duration_seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = summarise(results["trials"], plan)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "steady.json").write_text(json.dumps(results, indent=2))
    print()
    print(table(results["summary"], plan))
    print(f"\nwrote {args.out / 'steady.json'} after {results['duration_seconds']} s")


if __name__ == "__main__":
    main()
