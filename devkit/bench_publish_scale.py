"""The router's Publish at a small and a large tenant base: does holding routing on demand keep
Publish as fast at 1,000,000 accounts as at 1,000?

For each size, control's PostgreSQL database is seeded straight in SQL (devkit/seed_control.py)
and a suite of its own is started on it as real processes: catalog, control (on that database), one
router holding routing on demand (ES_ROUTING_ON_DEMAND=true), the gateway, and no delivery
worker — the figure is how fast events are accepted (validated, routed and stored by JetStream),
as in devkit/bench_producer.py; the work stream's shared consumer is made at start, so the
events wait there. The load is the other publish benches' (devkit/bench_load.publish_fixed:
Publish calls of --batch events, --concurrency calls at once), every event of a call from the
next of the active accounts in turn: seeded accounts with a subscription to the type published
(seed_control.TYPES[0]; by the seed's layout every account but each tenth has one), spread
evenly over the base, the same number at every size (the smallest base's subscribed accounts
cap it: 900 at 1,000 accounts) and of the same kinds (the same sinks and subscriptions each),
so every size sends the same deliveries per event. Sizes are multiples of the smallest, itself
a multiple of 10.

- first events of the active accounts: one event of each, the router reading each account's
  routing from control (GetRouting) as its first event comes — seconds, timed apart;
- then --trials timed runs of --events events: events/s, the router's CPU (core-µs per event,
  from /proc), its resident memory after the run, control's CPU meanwhile (cores), and
  nats-server's and the rest of the machine's for context.

The suites of every size run side by side (an idle suite costs next to nothing) and the
trials alternate between them — trial k of each size one after another — so a trial's ratio
(a size's events/s, and CPU per event, over the smallest's) compares the sizes on the same
machine state. Each figure is the median of the trials with their min–max; the ratios are
given both between the medians and trial by trial.

    python -m devkit.bench_publish_scale [--accounts 1000 1000000] [--trials 3] [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from devkit import seed_control
from devkit.bench import RESULTS_DIR, watch_all
from devkit.bench_load import PUBLISH_TIMEOUT, EventFactory, publish_fixed
from devkit.bench_procs import OTHER, ProcessWatch, proc_status_kib
from devkit.bench_setup import BENCH_ENV
from devkit.bench_stats import show, spread
from devkit.postgres import PostgresCluster
from devkit.produce import sample_event
from devkit.suite import Suite
from eventstreams.v1 import router_pb2, router_pb2_grpc

TYPE = seed_control.TYPES[0]
# Every seeded account's index but each tenth's has sinks, and each of its subscriptions
# takes TYPES[0] (seed_control: SINKS, and one to three types from the first).
WITHOUT_SINKS = 10


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    trials: int
    events: int
    active: int
    batch: int
    concurrency: int
    settle: int  # untimed events after the first ones, before the trials


def subscribed(accounts: int) -> int:
    """How many accounts of a seeded base of this size have a subscription to TYPE."""
    return accounts - (accounts + WITHOUT_SINKS - 1) // WITHOUT_SINKS


def active_accounts(accounts: int, smallest: int, count: int) -> list[str]:
    """`count` subscribed accounts spread evenly over a base of `accounts`, each the same kind
    as its fellow in the smallest base's: account i's sinks and subscriptions follow from
    i % 10 (seed_control), so the j-th active account is the smallest base's j-th subscribed
    one moved by a multiple of that base's size (a multiple of 10). Every size then sends the
    same deliveries per event — only the number of accounts control keeps differs."""
    assert smallest % WITHOUT_SINKS == 0 and accounts % smallest == 0
    first = [i for i in range(smallest) if i % WITHOUT_SINKS][:count]
    assert len(first) == count
    blocks = accounts // smallest
    chosen = [i + smallest * (j * blocks // count) for j, i in enumerate(first)]
    return [seed_control.account_sid(i) for i in chosen]


class SpreadFactory(EventFactory):
    """Events of the active accounts in turn (each with its own data, as the catalogue's sample
    gives it), with distinct ids across runs, stamped when built."""

    def __init__(self, accounts: list[str]) -> None:
        super().__init__(accounts[0])
        sample = {sid: sample_event(sid, TYPE) for sid in accounts}
        self._version = next(iter(sample.values())).schema_version
        self.accounts = accounts
        self._data = [(sid, sample[sid].data_json) for sid in accounts]
        self._next = itertools.cycle(self._data)

    def batch(self, type_name: str, size: int) -> list[router_pb2.Event]:
        assert type_name == TYPE
        now = Timestamp()
        now.FromNanoseconds(time.time_ns())
        events = []
        for _ in range(size):
            account, data_json = next(self._next)
            event_id = f"EZscale{self.run}{next(self._serial):010d}"
            events.append(
                router_pb2.Event(
                    id=event_id,
                    account_sid=account,
                    type=TYPE,
                    schema_version=self._version,
                    source=f"/2010-04-01/Accounts/{account}/Events/{event_id}",
                    time=now,
                    data_json=data_json,
                )
            )
        return events


async def first_events(
    router: router_pb2_grpc.RouterAsyncStub, factory: SpreadFactory, count: int, plan: Plan
) -> dict[str, Any]:
    """One event of each active account, as the load sends them: seconds, events refused and
    deliveries (events not routed anywhere would make the bench's figure a lie)."""
    sizes = [plan.batch] * (count // plan.batch) + ([count % plan.batch] if count % plan.batch else [])
    queue: asyncio.Queue[int] = asyncio.Queue()
    for size in sizes:
        queue.put_nowait(size)
    found = {"refused": 0, "deliveries": 0, "unrouted": 0}
    messages: list[str] = []

    async def caller() -> None:
        while not queue.empty():
            events = factory.batch(TYPE, queue.get_nowait())
            response = await router.Publish(router_pb2.PublishRequest(events=events), timeout=PUBLISH_TIMEOUT)
            for result in response.results:
                if result.code:
                    found["refused"] += 1
                    messages.append(result.message)
                found["deliveries"] += result.deliveries
                found["unrouted"] += result.code == 0 and result.deliveries == 0

    started = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(plan.concurrency)))
    seconds = time.monotonic() - started
    if messages:
        print(f"    refused, e.g.: {messages[0]}", flush=True)
    return {"seconds": round(seconds, 3), **found}


def us_per_event(cores: float, wall: float, events: int) -> float | None:
    return round(cores * wall / events * 1e6, 1) if events else None


@dataclass
class Size:
    """One base size: its seeded database, its suite (every process of its own) and what its
    trials found."""

    accounts: int
    seeded: dict[str, float]
    suite: Suite
    procs: ProcessWatch
    factory: SpreadFactory | None = None
    first: dict[str, Any] | None = None
    trials: list[dict[str, Any]] = field(default_factory=list)

    def router_rss_mib(self) -> float:
        return round(proc_status_kib(self.suite.children["router"].process.pid).get("VmRSS", 0) / 1024, 1)

    def report(self) -> dict[str, Any]:
        active = len(self.factory.accounts) if self.factory is not None else 0
        return {
            "accounts": self.accounts,
            "seeded": self.seeded,
            "active_accounts": active,
            "first_events": self.first,
            "trials": self.trials,
        }


def start_size(pg: PostgresCluster, accounts: int, data: Path) -> Size:
    control_db = pg.create_database("control")
    seeded = asyncio.run(seed_control.seed(control_db, accounts))
    print(f"  seeded {accounts:,} accounts in {seeded['seconds']} s: {json.dumps(seeded)}", flush=True)
    directory = data / f"accounts-{accounts}"
    suite = Suite(
        data_dir=directory,
        catalog_db=f"sqlite+aiosqlite:///{directory / 'catalog.db'}",
        control_db=control_db,
        log_dir=directory / "logs",
        workers=0,
        # The seeded tokens are stored in the clear; with a key control would seal every one
        # of them at start (seed_control's advice: none for a base this size).
        extra_env={**BENCH_ENV, "ES_TOKEN_ENCRYPTION_KEY": "", "ES_ROUTING_ON_DEMAND": "true"},
    )
    started = time.monotonic()
    suite.start()
    print(f"  its suite up in {time.monotonic() - started:.1f} s", flush=True)
    procs = ProcessWatch()
    watch_all(procs, suite, {})
    procs.start()
    return Size(accounts, seeded, suite, procs)


async def warm(size: Size, router: router_pb2_grpc.RouterAsyncStub, plan: Plan) -> None:
    """The first events of the active accounts (timed, with control's CPU meanwhile), then
    `plan.settle` events more, untimed."""
    size.factory = factory = SpreadFactory(active_accounts(size.accounts, min(plan.sizes), plan.active))
    with size.procs.window("first") as first_window:
        first = await first_events(router, factory, len(factory.accounts), plan)
    window = size.procs.take_windows()["first"]
    first["control_cpu_seconds"] = round(window["cores"].get("control", 0.0) * first_window.wall_seconds, 3)
    first["router_rss_mib"] = size.router_rss_mib()
    size.first = first
    print(
        f"  {size.accounts:,} accounts, first events of {len(factory.accounts):,} accounts: "
        f"{first['seconds']:.2f} s, {first['deliveries']:,} deliveries, {first['refused']} refused, "
        f"{first['unrouted']} unrouted",
        flush=True,
    )
    assert first["refused"] == 0 and first["unrouted"] == 0, (
        "every active account's events must be routed: the figure is Publish's, not refusals'"
    )
    await publish_fixed(router, factory, TYPE, plan.settle, plan.batch, plan.concurrency)


async def trial(size: Size, router: router_pb2_grpc.RouterAsyncStub, plan: Plan, number: int) -> None:
    assert size.factory is not None
    with size.procs.window("run") as measured:
        published = await publish_fixed(router, size.factory, TYPE, plan.events, plan.batch, plan.concurrency)
        measured.events = published.events
    window = size.procs.take_windows()["run"]
    cores, wall = window["cores"], window["wall_seconds"]
    calls = published.report()
    row = {
        "trial": number,
        "events": published.events,
        "failures": published.failures,
        "events_per_second": round(published.events / published.seconds, 1),
        "router_us_per_event": us_per_event(cores.get("router", 0.0), wall, published.events),
        "nats_us_per_event": us_per_event(cores.get("nats-server", 0.0), wall, published.events),
        "router_rss_mib": size.router_rss_mib(),
        "cores": {
            "router": cores.get("router"),
            "control": cores.get("control"),
            "nats": cores.get("nats-server"),
            "bench driver": cores.get("bench driver"),
            OTHER: cores.get(OTHER),
        },
        "call_p50_ms": calls["call_p50_ms"],
        "call_p99_ms": calls["call_p99_ms"],
    }
    size.trials.append(row)
    print(
        f"    trial {number}, {size.accounts:,} accounts: {row['events_per_second']:,.0f} events/s, "
        f"router {row['router_us_per_event']} core-µs/event, control {cores.get('control', 0.0):.3f} cores, "
        f"other processes {cores.get(OTHER, 0.0):.2f} cores",
        flush=True,
    )


async def measure(sizes: list[Size], plan: Plan) -> None:
    """Every size warmed, then the trials in turn: trial k of every size, one after another
    (alternating, so each trial's ratio compares the sizes under the same machine state)."""
    channels = [size.suite.channel("router") for size in sizes]
    try:
        routers = [router_pb2_grpc.RouterStub(channel) for channel in channels]
        for size, router in zip(sizes, routers, strict=True):
            await warm(size, router, plan)
        for number in range(1, plan.trials + 1):
            order = list(zip(sizes, routers, strict=True))
            if number % 2 == 0:
                order.reverse()  # neither size always first after the other's run
            for size, router in order:
                await trial(size, router, plan, number)
    finally:
        for channel in channels:
            await channel.close()


def summarise(size: dict[str, Any]) -> dict[str, Any]:
    trials = size["trials"]
    return {
        "accounts": size["accounts"],
        "active_accounts": size["active_accounts"],
        "first_events_seconds": size["first_events"]["seconds"],
        "first_events_control_cpu_seconds": size["first_events"]["control_cpu_seconds"],
        "events_per_second": spread([t["events_per_second"] for t in trials]),
        "router_us_per_event": spread([t["router_us_per_event"] for t in trials]),
        "nats_us_per_event": spread([t["nats_us_per_event"] for t in trials]),
        "router_rss_mib": spread([t["router_rss_mib"] for t in trials]),
        "control_cores": spread([t["cores"]["control"] for t in trials]),
        "other_cores": spread([t["cores"][OTHER] for t in trials]),
        "failures": sum(t["failures"] for t in trials),
    }


def ratios(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each size over the first (smallest), trial by trial (the sizes' runs of one trial
    minutes apart at most), then their median and min–max."""
    if not sizes:
        return []
    base = sizes[0]["trials"]
    found = []
    for size in sizes[1:]:
        pairs = list(zip(size["trials"], base, strict=True))
        found.append(
            {
                "accounts": size["accounts"],
                "over": sizes[0]["accounts"],
                "events_per_second": spread(
                    [t["events_per_second"] / b["events_per_second"] for t, b in pairs]
                ),
                "router_us_per_event": spread(
                    [
                        t["router_us_per_event"] / b["router_us_per_event"]
                        if t["router_us_per_event"] and b["router_us_per_event"]
                        else None
                        for t, b in pairs
                    ]
                ),
            }
        )
    return found


def table(rows: list[dict[str, Any]], found: list[dict[str, Any]], plan: Plan) -> str:
    lines = [
        f"router Publish, {plan.trials} trials of {plan.events:,} events (calls of {plan.batch}, "
        f"{plan.concurrency} at once): median (min–max)",
        "",
        "| accounts | active | first events of the active accounts | events/s | router core-µs/event | "
        "nats core-µs/event | router RSS MiB | control cores (timed part) | other processes' cores "
        "| refused |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['accounts']:,} | {row['active_accounts']:,} | {row['first_events_seconds']:.2f} s "
            f"(control {row['first_events_control_cpu_seconds']:.2f} CPU-s) | "
            f"{show(row['events_per_second'])} | "
            f"{show(row['router_us_per_event'], 1)} | {show(row['nats_us_per_event'], 1)} | "
            f"{show(row['router_rss_mib'], 1)} | {show(row['control_cores'], 3)} | "
            f"{show(row['other_cores'], 2)} | {row['failures']} |"
        )
    base = rows[0] if rows else None
    for row, ratio in zip(rows[1:], found, strict=True):
        assert base is not None
        rate = row["events_per_second"]["median"] / base["events_per_second"]["median"]
        cpu = row["router_us_per_event"]["median"] / base["router_us_per_event"]["median"]
        lines.append(
            f"\n{row['accounts']:,} over {base['accounts']:,} accounts: events/s × {rate:.3f} "
            f"(medians), × {show(ratio['events_per_second'], 3)} (trial by trial); router core-µs "
            f"per event × {cpu:.3f} (medians), × {show(ratio['router_us_per_event'], 3)} (trial by trial)"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, nargs="+", default=[1000, 1_000_000], help="base sizes")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000, help="events per trial")
    parser.add_argument("--active", type=int, default=1000, help="accounts sending events (at most)")
    parser.add_argument("--batch", type=int, default=100, help="events per Publish call")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent Publish calls")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where publish_scale.json goes")
    args = parser.parse_args()
    sizes = tuple(sorted(set(args.accounts)))
    if sizes[0] % WITHOUT_SINKS or any(n % sizes[0] for n in sizes):
        parser.error("--accounts: the smallest a multiple of 10, the others multiples of it")
    plan = Plan(
        sizes=sizes,
        trials=args.trials,
        events=args.events,
        active=min(args.active, subscribed(min(sizes))),
        batch=args.batch,
        concurrency=args.concurrency,
        settle=2_000,
    )
    started = time.monotonic()
    print(f"bench_publish_scale: {plan}", flush=True)
    results: dict[str, Any] = {"plan": plan.__dict__, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="es-publish-scale-") as tmp:
        pg = PostgresCluster(Path(tmp) / "postgres")
        pg.start()
        running: list[Size] = []
        try:
            for accounts in sizes:
                print(f"{accounts:,} accounts", flush=True)
                running.append(start_size(pg, accounts, Path(tmp)))
            asyncio.run(measure(running, plan))
        finally:
            for size in running:
                size.procs.stop()
                size.suite.stop()
            pg.stop()
    results["sizes"] = [size.report() for size in running]
    results["summary"] = [summarise(size) for size in results["sizes"]]
    results["ratios"] = ratios(results["sizes"])
    results["duration_seconds"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "publish_scale.json").write_text(json.dumps(results, indent=2))
    print()
    print(table(results["summary"], results["ratios"], plan))
    print(f"\nwrote {args.out / 'publish_scale.json'} after {results['duration_seconds']} s")


if __name__ == "__main__":
    main()
