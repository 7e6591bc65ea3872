"""`make bench`, third part: what metrics and tracing cost in throughput.

Three modes, each a fresh suite (SQLite, one worker, as `make bench`'s first part): `off` (no
ES_METRICS_PORT: nothing counted), `metrics` (every process counting and serving /metrics,
scraped every 5 s as Prometheus would), `metrics+tracing` (also ES_OTLP_ENDPOINT, exporting
every span to a stand-in collector, devkit/otlp_sink.py), `metrics+tracing 1%` (a 1 % sample of
Publish calls traced: ES_TRACE_SAMPLE_RATIO=0.01). Per trial the three modes run in
turn (trial 1 of each, then trial 2, …), each measuring end-to-end events/s to a batched
webhook sink and to a one-event-per-request one; ratios (a mode over `off`) are taken within
a trial, then their median and min–max. Each measurement also gives the pipeline's CPU per
delivered event: core-µs of router + delivery worker(s) + nats-server (their /proc CPU times
over the measurement, devkit/bench_procs.py) over the events the receiver got, in total and
by process; the bench process (load generator and scraper), the receiver and the stand-in
collector are not in it.

    python -m devkit.bench_observability            # ≈ 8 minutes
    python -m devkit.bench_observability --quick     # ≈ 1 minute
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from devkit.bench import RESULTS_DIR, receiver_up, start_receiver, watch_all
from devkit.bench_load import EventFactory, measure_throughput, publish_until_routed
from devkit.bench_procs import ProcessWatch
from devkit.bench_report import cpu_spreads, per_event_us
from devkit.bench_setup import ReceiverClient, Rest, create_account, sqlite_suite
from devkit.bench_stats import show, spread
from devkit.suite import Suite
from eventstreams.v1 import router_pb2_grpc
from launcher.processes import Child, free_port, python_env, start, wait_until

MODES = ("off", "metrics", "metrics+tracing", "metrics+tracing 1%")
KINDS = (
    ("batched", "com.twilio.messaging.message.sent", True),
    ("one_per_request", "com.twilio.messaging.message.delivered", False),
)
SCRAPE_SECONDS = 5.0


@dataclass(frozen=True)
class Plan:
    trials: int
    batched_events: int
    single_events: int
    batch: int = 250
    concurrency: int = 4
    stall_seconds: float = 30.0


def scrape_all(suite: Suite) -> int:
    """Read every process's /metrics once (as a Prometheus scrape would); bytes read."""
    read = 0
    for name in list(suite.metrics_ports):
        try:
            with urllib.request.urlopen(suite.metrics_url(name), timeout=2) as response:
                read += len(response.read())
        except OSError:
            pass
    return read


async def scraping(suite: Suite) -> None:
    while True:
        await asyncio.to_thread(scrape_all, suite)
        await asyncio.sleep(SCRAPE_SECONDS)


async def measure(suite: Suite, receiver_port: int, plan: Plan, procs: ProcessWatch) -> dict[str, Any]:
    receiver = ReceiverClient(receiver_port)
    account = await create_account(suite, "observability")
    scraper = asyncio.create_task(scraping(suite)) if suite.metrics else None
    figures: dict[str, Any] = {}
    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            router = router_pb2_grpc.RouterStub(channel)
            factory = EventFactory(account.sid)
            for kind, type_name, batched in KINDS:
                path = f"/observability/{kind}"
                sid = await rest.webhook_sink(kind, receiver.url(path), batched)
                await rest.subscribe(kind, sid, [type_name])
                await publish_until_routed(router, factory, type_name, 1, timeout=20)
                count = plan.batched_events if batched else plan.single_events
                throughput = partial(measure_throughput, router, factory, receiver, type_name, path)
                warm = await throughput(1_000, plan.batch, plan.concurrency, plan.stall_seconds)
                assert warm.complete, f"warm-up did not complete: {warm.report()}"
                with procs.window(kind) as measured:
                    result = await throughput(count, plan.batch, plan.concurrency, plan.stall_seconds)
                    measured.events = result.received
                window = procs.take_windows()[kind]
                figures[kind] = {
                    "events_per_second": round(result.events_per_second, 1),
                    "complete": result.complete,
                    "seconds": round(result.seconds, 2),
                    "us_per_event": per_event_us(window),
                    "cpu": window,
                }
                print(
                    f"      {kind}: {result.events_per_second:,.0f} events/s, "
                    f"{figures[kind]['us_per_event'] or 0:,.0f} core-µs per event",
                    flush=True,
                )
    finally:
        if scraper is not None:
            scraper.cancel()
        await receiver.close()
    return figures


def start_collector(port: int, log_dir: Path) -> Child:
    child = start(
        "otlp-sink", [sys.executable, "-m", "devkit.otlp_sink", "--port", str(port)], python_env({}), log_dir
    )

    def up() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=1) as response:
            return bool(response.status == 200)

    wait_until(up, child, "otlp sink")
    return child


def run_mode(
    mode: str, plan: Plan, data: Path, receiver_port: int, collector: int, helpers: dict[str, Child]
) -> dict[str, Any]:
    directory = data / f"{mode}-{time.time_ns()}"
    env: dict[str, str] = {}
    if mode.startswith("metrics+tracing"):
        env["ES_OTLP_ENDPOINT"] = f"http://127.0.0.1:{collector}"
    if mode.endswith("1%"):
        env["ES_TRACE_SAMPLE_RATIO"] = "0.01"
    suite = sqlite_suite(directory, env, metrics=mode != "off")
    procs = ProcessWatch()
    try:
        suite.start()
        watch_all(procs, suite, helpers)
        procs.start()
        return asyncio.run(measure(suite, receiver_port, plan, procs))
    finally:
        procs.stop()
        suite.stop()


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for kind, _, _ in KINDS:
        rows: dict[str, Any] = {}
        for mode in MODES:
            values = [t[mode][kind]["events_per_second"] for t in trials if mode in t]
            ratios = [
                t[mode][kind]["events_per_second"] / t["off"][kind]["events_per_second"]
                for t in trials
                if mode in t and "off" in t and t["off"][kind]["events_per_second"]
            ]
            windows = [t[mode][kind]["cpu"] for t in trials if mode in t and "cpu" in t[mode][kind]]
            rows[mode] = {
                "events_per_second": spread(values),
                "over_off": spread(ratios),
                **cpu_spreads(windows),
            }
        summary[kind] = rows
    return summary


def table(summary: dict[str, Any]) -> str:
    lines = [
        "| mode | batched events/s | × off | core-µs/event "
        "| one per request events/s | × off | core-µs/event |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        batched, single = summary["batched"][mode], summary["one_per_request"][mode]
        lines.append(
            f"| {mode} | {show(batched['events_per_second'])} | {show(batched['over_off'], 2)} | "
            f"{show(batched.get('us_per_event'), 0)} | {show(single['events_per_second'])} | "
            f"{show(single['over_off'], 2)} | {show(single.get('us_per_event'), 0)} |"
        )
    return "\n".join(lines)


def cpu_table(summary: dict[str, Any]) -> str:
    """Core-µs per delivered event by process: the pipeline's (router + delivery worker(s) +
    nats-server) and each of its processes'."""
    rows = [(mode, kind, summary[kind][mode]) for kind, _, _ in KINDS for mode in MODES]
    names = list(dict.fromkeys(n for _, _, row in rows for n in row.get("us_by_process", {})))
    lines = [
        f"| core-µs per delivered event | pipeline | {' | '.join(names)} |",
        "|---|---|" + "---|" * len(names),
    ]
    for mode, kind, row in rows:
        by_process = row.get("us_by_process", {})
        cells = [show(row.get("us_per_event"), 0), *(show(by_process.get(n), 0) for n in names)]
        lines.append(f"| {mode}, {kind.replace('_', ' ')} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    plan = Plan(
        trials=args.trials or (1 if args.quick else 3),
        batched_events=5_000 if args.quick else 30_000,
        single_events=2_000 if args.quick else 10_000,
    )
    results: dict[str, Any] = {"plan": plan.__dict__, "cpus": os.cpu_count(), "trials": []}
    started = time.monotonic()
    print(f"bench_observability: {plan.trials} trial(s) of {', '.join(MODES)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="es-observability-") as tmp:
        data = Path(tmp)
        receiver_port, collector_port = free_port(), free_port()
        receiver = start_receiver(receiver_port, 60.0, data / "logs")
        collector = start_collector(collector_port, data / "logs")
        helpers = {"fast receiver": receiver, "otlp-sink": collector}
        try:
            assert receiver_up(receiver_port)
            for trial in range(plan.trials):
                record: dict[str, Any] = {"trial": trial + 1}
                for mode in MODES:
                    print(f"  trial {trial + 1}, {mode}", flush=True)
                    record[mode] = run_mode(mode, plan, data, receiver_port, collector_port, helpers)
                results["trials"].append(record)
            with urllib.request.urlopen(f"http://127.0.0.1:{collector_port}/_stats", timeout=2) as response:
                results["collector"] = json.loads(response.read())
        finally:
            receiver.stop()
            collector.stop()
    results["duration_seconds"] = round(time.monotonic() - started, 1)
    results["summary"] = summarise(results["trials"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "observability.json").write_text(json.dumps(results, indent=2))
    print()
    print(table(results["summary"]))
    print()
    print(cpu_table(results["summary"]))
    print(f"\nspans exported to the stand-in collector: {results.get('collector')}")
    print(f"wrote {args.out / 'observability.json'} after {results['duration_seconds']} s")


if __name__ == "__main__":
    main()
