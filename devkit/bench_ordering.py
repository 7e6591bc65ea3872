"""`make bench`, per-key ordering's cost: end-to-end events/s to a one-event-per-request webhook
sink, unordered vs ordered by `messageSid` — over 100 keys (keys in parallel, one event of a
key out at a time) and over one key (strictly one after another: the floor of ordering).

One suite (SQLite, one worker, as `make bench`'s first part); per trial the three rows run
in turn on the same suite (each trial starting with the next row) and the ratios (a row over
unordered) are taken within the trial, then their median and min–max.

    python -m devkit.bench_ordering            # ≈ 2 minutes
    python -m devkit.bench_ordering --quick     # ≈ 40 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.bench import RESULTS_DIR, receiver_up, start_receiver, watch_all
from devkit.bench_load import EventFactory, measure_throughput, publish_until_routed
from devkit.bench_procs import ProcessWatch
from devkit.bench_report import per_event_us
from devkit.bench_setup import ReceiverClient, Rest, create_account, sqlite_suite
from devkit.bench_stats import show, spread
from devkit.suite import Suite
from eventstreams.v1 import router_pb2, router_pb2_grpc
from launcher.processes import free_port

# (row, event type, keys: 0 unordered)
ROWS = (
    ("unordered", "com.twilio.messaging.message.delivered", 0),
    ("ordered, 100 keys", "com.twilio.messaging.message.sent", 100),
    ("ordered, 1 key", "com.twilio.messaging.message.queued", 1),
)


@dataclass(frozen=True)
class Plan:
    trials: int
    events: int
    one_key_events: int
    batch: int = 250
    concurrency: int = 4
    stall_seconds: float = 30.0


class KeyedFactory(EventFactory):
    """Events whose `messageSid` cycles over `keys` values (the sample's own otherwise)."""

    def __init__(self, account_sid: str, keys: dict[str, int]) -> None:
        super().__init__(account_sid)
        self._keys = keys
        self._turn = 0

    def batch(self, type_name: str, size: int) -> list[router_pb2.Event]:
        events = super().batch(type_name, size)
        keys = self._keys.get(type_name, 0)
        if keys:
            sample = json.loads(events[0].data_json)["messageSid"]
            for event in events:
                key = f"SM{self._turn % keys:032x}"
                self._turn += 1
                event.data_json = event.data_json.replace(sample, key)
        return events


async def measure(suite: Suite, receiver_port: int, plan: Plan, procs: ProcessWatch) -> list[dict[str, Any]]:
    receiver = ReceiverClient(receiver_port)
    account = await create_account(suite, "ordering")
    trials: list[dict[str, Any]] = []
    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            router = router_pb2_grpc.RouterStub(channel)
            factory = KeyedFactory(account.sid, {t: k for _, t, k in ROWS})
            for row, type_name, keys in ROWS:
                sid = await rest.webhook_sink(row, receiver.url(f"/ordering/{keys}"), False)
                await rest.subscribe(row, sid, [type_name], "messageSid" if keys else "")
                await publish_until_routed(router, factory, type_name, 1, timeout=20)
                warm = await measure_throughput(
                    router, factory, receiver, type_name, f"/ordering/{keys}", 500, 100, 2, plan.stall_seconds
                )
                assert warm.complete, f"warm-up did not complete: {warm.report()}"
            for trial in range(plan.trials):
                record: dict[str, Any] = {"trial": trial + 1}
                # Each trial starts with another row: none always runs first (or last).
                for row, type_name, keys in ROWS[trial % len(ROWS) :] + ROWS[: trial % len(ROWS)]:
                    count = plan.one_key_events if keys == 1 else plan.events
                    with procs.window(row) as measured:
                        result = await measure_throughput(
                            router,
                            factory,
                            receiver,
                            type_name,
                            f"/ordering/{keys}",
                            count,
                            plan.batch,
                            plan.concurrency,
                            plan.stall_seconds,
                        )
                        measured.events = result.received
                    assert result.complete, f"{row} did not complete: {result.report()}"
                    record[row] = round(result.events_per_second, 1)
                    record[f"{row} µs"] = per_event_us(procs.take_windows()[row])
                    print(
                        f"  trial {trial + 1}, {row}: {result.events_per_second:,.0f} events/s, "
                        f"{record[f'{row} µs'] or 0:,.0f} core-µs per event",
                        flush=True,
                    )
                trials.append(record)
    finally:
        await receiver.close()
    return trials


def summarise(trials: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        row: {
            "events_per_second": spread([t[row] for t in trials]),
            "over_unordered": spread([t[row] / t["unordered"] for t in trials if t["unordered"]]),
            "us_per_event": spread([t.get(f"{row} µs") for t in trials]),
        }
        for row, _, _ in ROWS
    }


def table(summary: dict[str, Any]) -> str:
    lines = [
        "| one event per request | events/s | × unordered | core-µs per event (router + worker + nats) |",
        "|---|---|---|---|",
    ]
    for row, _, _ in ROWS:
        figures = summary[row]
        rate, ratio = show(figures["events_per_second"]), show(figures["over_unordered"], 2)
        lines.append(f"| {row} | {rate} | {ratio} | {show(figures['us_per_event'], 0)} |")
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
        events=2_000 if args.quick else 8_000,
        one_key_events=500 if args.quick else 1_500,
    )
    started = time.monotonic()
    print(f"bench_ordering: {plan.trials} trial(s) of {', '.join(r for r, _, _ in ROWS)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="es-ordering-") as tmp:
        directory = Path(tmp)
        receiver_port = free_port()
        receiver = start_receiver(receiver_port, 60.0, directory / "logs")
        suite = sqlite_suite(directory)
        procs = ProcessWatch()
        try:
            assert receiver_up(receiver_port)
            suite.start()
            watch_all(procs, suite, {"fast receiver": receiver})
            procs.start()
            trials = asyncio.run(measure(suite, receiver_port, plan, procs))
        finally:
            procs.stop()
            suite.stop()
            receiver.stop()
    results: dict[str, Any] = {
        "plan": plan.__dict__,
        "cpus": os.cpu_count(),
        "trials": trials,
        "summary": summarise(trials),
        "duration_seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ordering.json").write_text(json.dumps(results, indent=2))
    print()
    print(table(results["summary"]))


if __name__ == "__main__":
    main()
