"""What the replay archive costs JetStream: events published through the router's bus and
taken and acknowledged by the shared consumer, with the events stream as it was before the
archive (limits retention: the work stream kept everything itself) and as it is (interest
retention, its archive sourcing it) — events/s published and acknowledged, and nats-server's
CPU per event until, with the archive, every event is copied and let go of by the work stream.
Trials alternate between the layouts, each on a fresh nats-server.

    python -m devkit.bench_archive [--events 20000] [--trials 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext

from devkit.bench_procs import proc_cpu_seconds
from devkit.bench_stats import show, spread
from launcher.nats_server import NatsServer
from runtime import jetstream
from runtime.jetstream import StreamSpec
from runtime.natsio import acks
from runtime.sids import AccountSid, EventId, SinkSid
from services.router.bus import JetStreamBus, OutMessage

LAYOUTS = ("before", "after")
ACCOUNT = AccountSid("AC" + "0" * 32)
SINK = SinkSid("DG" + "0" * 32)
CONSUMER = "delivery"
PAYLOAD = b'{"data":"' + b"x" * 900 + b'"}'  # ~1 kB stored with its headers, as docs/capacity.md
PUT = 100  # events per put, as a Publish call's
PRODUCERS = 4


async def consume(js: JetStreamContext, spec: StreamSpec, events: int) -> None:
    pull = await js.pull_subscribe_bind(CONSUMER, stream=spec.name)
    taken = 0
    try:
        while taken < events:
            try:
                messages = await pull.fetch(500, timeout=1.0)
            except TimeoutError:
                continue
            await acks.ack_all(messages)
            taken += len(messages)
    finally:
        await pull.unsubscribe()


async def produce(bus: JetStreamBus, start: int, stop: int) -> None:
    for first in range(start, stop, PUT):
        batch = [
            OutMessage(ACCOUNT, SINK, EventId(f"EZ{i}"), "com.example", f"EZ{i}:{SINK}", PAYLOAD)
            for i in range(first, min(stop, first + PUT))
        ]
        outcomes = await bus.put(batch)
        if any(outcome is not None for outcome in outcomes):
            raise RuntimeError(f"refused: {next(o for o in outcomes if o is not None)!r}")


async def let_go(js: JetStreamContext, spec: StreamSpec, events: int) -> None:
    """Until the archive holds every event and the work stream has let go of them all."""
    archive = spec.archive().name
    while True:
        work = (await js.stream_info(spec.name)).state.messages
        copied = (await js.stream_info(archive)).state.messages
        if work == 0 and copied >= events:
            return
        await asyncio.sleep(0.02)


async def trial(layout: str, events: int, store: Path) -> dict[str, Any]:
    nats = NatsServer.create(store, None)
    nats.start()
    assert nats.child is not None
    pid = nats.child.process.pid
    nc = await jetstream.connect(nats.url, "bench-archive")
    try:
        js = nc.jetstream()
        spec = StreamSpec()
        if layout == "before":
            spec = replace(spec, interest=False)
            await jetstream.ensure_stream(js, spec)
            await js.add_consumer(spec.name, jetstream.shared_consumer(CONSUMER))
        else:
            await jetstream.ensure_event_streams(js, spec, CONSUMER)
        bus = JetStreamBus(nc, spec, timeout_seconds=30)
        cpu_before = proc_cpu_seconds(pid) or 0.0
        began = time.monotonic()
        share = events // PRODUCERS
        await asyncio.gather(
            consume(js, spec, events),
            *(produce(bus, p * share, (p + 1) * share) for p in range(PRODUCERS)),
        )
        seconds = time.monotonic() - began
        if layout == "after":  # the archive's copying counted in the CPU, not its ack cadence in time
            await let_go(js, spec, events)
        cpu = (proc_cpu_seconds(pid) or 0.0) - cpu_before
        return {"events_per_s": events / seconds, "nats_core_us_per_event": cpu / events * 1e6}
    finally:
        await nc.close()
        nats.stop()


async def main(events: int, trials: int) -> None:
    results: dict[str, list[dict[str, Any]]] = {layout: [] for layout in LAYOUTS}
    with tempfile.TemporaryDirectory() as scratch:
        for n in range(trials):
            for layout in LAYOUTS:
                found = await trial(layout, events, Path(scratch) / f"{layout}{n}")
                results[layout].append(found)
                print(f"trial {n + 1} {layout}: {found}", flush=True)
    print(f"\n{events:,} events per trial, {trials} trials: median (min–max)")
    print("| layout | events/s | nats-server core-µs per event |\n|---|---|---|")
    for layout in LAYOUTS:
        rate = spread([r["events_per_s"] for r in results[layout]])
        cost = spread([r["nats_core_us_per_event"] for r in results[layout]])
        print(f"| {layout} | {show(rate, 0)} | {show(cost, 1)} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--trials", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.trials))
