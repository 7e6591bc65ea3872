"""What JetStream's acknowledgement policy costs: the bare floor consumer (devkit/bench_floor.py:
nats-py pull → aiohttp POST, one event per request) with AckExplicit (an ack per message, the
delivery workers' way), AckAll (one ack per fetched batch, once all of it is done) and AckNone
(no acks), in core-µs per delivered event of the consumer + nats-server and in events/s.
Trials alternate between the policies, each on a fresh stream and consumer.

    python -m devkit.bench_acks [--events 30000] [--trials 3]

Why the workers stay on AckExplicit whatever this shows is in README "CPU per event".
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from devkit import bench_floor
from devkit.bench import start_receiver
from devkit.bench_procs import ProcessWatch
from devkit.bench_report import per_event_us
from devkit.bench_setup import ReceiverClient
from devkit.bench_stats import show, spread
from launcher.nats_server import NatsServer
from launcher.processes import Child, free_port

TYPE = "com.twilio.messaging.message.delivered"
ACCOUNT = "AC" + "0" * 32
POLICIES = ("explicit", "all", "none")


async def trial(
    nats: NatsServer, receiver: ReceiverClient, procs: ProcessWatch, ack: str, events: int, log_dir: Path
) -> dict[str, Any]:
    def watch(child: Child) -> None:
        procs.watch(f"floor consumer ({ack})", child.process.pid)

    floor = await bench_floor.measure_floor(
        nats.url,
        receiver,
        bench_floor.Payloads(ACCOUNT, TYPE, f"acks{ack}"),
        events,
        log_dir,
        30.0,
        bench_floor.worker_defaults()[1],
        on_start=watch,
        window=partial(procs.window, ack),
        ack=ack,
    )
    window = procs.take_windows()[ack]
    return {
        "events_per_second": floor.events_per_second,
        "complete": floor.received >= events,
        "us_per_event": per_event_us(window),
        "consumer_us": per_event_us(window, f"floor consumer ({ack})"),
        "nats_us": per_event_us(window, "nats-server"),
    }


async def run_all(
    nats: NatsServer,
    port: int,
    procs: ProcessWatch,
    events: int,
    trials: int,
    log_dir: Path,
    results: dict[str, list[dict[str, Any]]],
) -> None:
    receiver = ReceiverClient(port)
    try:
        for number in range(trials):
            for ack in POLICIES:
                found = await trial(nats, receiver, procs, ack, events, log_dir)
                results[ack].append(found)
                print(
                    f"  trial {number + 1}, Ack{ack.capitalize()}: {found['events_per_second']:,.0f} "
                    f"events/s, {found['us_per_event']} core-µs per event",
                    flush=True,
                )
    finally:
        await receiver.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {p: [] for p in POLICIES}
    with tempfile.TemporaryDirectory(prefix="es-acks-") as tmp:
        directory = Path(tmp)
        port = free_port()
        receiver_child = start_receiver(port, 60.0, directory)
        nats = NatsServer.create(directory / "jetstream", directory)
        nats.start()
        assert nats.child is not None
        procs = ProcessWatch()
        procs.watch("nats-server", nats.child.process.pid)
        procs.start()
        try:
            asyncio.run(run_all(nats, port, procs, args.events, args.trials, directory, results))
        finally:
            procs.stop()
            nats.stop()
            receiver_child.stop()
    print(f"\n{args.events:,} events a trial, {args.trials} trials, one event per request (median, min–max)")
    header = f"  {'policy':<12} {'events/s':>24} {'core-µs/event':>16} {'consumer':>12} {'nats-server':>12}"
    print(header)
    for ack in POLICIES:
        rows = results[ack]

        def figure(key: str, rows: list[dict[str, Any]] = rows) -> dict[str, Any]:
            return spread([r[key] for r in rows if r[key] is not None])

        print(
            f"  Ack{ack.capitalize():<9} {show(figure('events_per_second')):>24} "
            f"{show(figure('us_per_event'), 0):>16} {show(figure('consumer_us'), 0):>12} "
            f"{show(figure('nats_us'), 0):>12}"
        )
    base = results["explicit"]
    for ack in POLICIES[1:]:
        ratio = [e["us_per_event"] / o["us_per_event"] for e, o in zip(base, results[ack], strict=True)]
        print(f"  AckExplicit µs / Ack{ack.capitalize()} µs, within a trial: {show(spread(ratio), 2)}")


if __name__ == "__main__":
    main()
