"""Routing at scale: what a change costs and what starting cold costs, at a small and a large
tenant base seeded straight in PostgreSQL (devkit/seed_control.py).

Control's own stores make the changes (SinkStore: what the REST API calls), control's routing
feed sends them, and a router's RoutingTable and a worker's SinkDirectory (its webhook driver)
follow it — in one process, over the feed's async iterator rather than gRPC, so the figures
are the routing work itself without the network. For each size, trials of:

- cold start, holding on demand (the default): the feed's cold start, then 1,000 accounts that
  send events each read as its first event would read it — seconds to ready, each read's p99,
  and the memory held (traced by tracemalloc: allocated during it and still held);
- cold start holding everything (ES_ROUTING_ON_DEMAND=false; sizes up to --whole-up-to):
  every account in pages → a router's table / a worker's directory: seconds and memory;
- a change → the router's and the worker's table: latency p99 over the trial's changes;
- control CPU per change (process time of sending one changed account to one watcher);
- a tenant making 1,000 changes in a burst while another makes its own: the accounts the
  message after it carries (coalesced: 2, the two tenants, whatever the burst's length) and
  the other tenant's change latency p99 meanwhile (the burst runs in this same process);
- routing lookups per second (RoutingTable.targets over the accounts held: the part of
  Publish that depends on the number of accounts).

The changes are followed by the on-demand holders, holding the changed accounts.

    python -m devkit.bench_control_scale [--accounts 1000 100000] [--trials 3] [--whole-up-to 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from devkit import seed_control
from devkit.postgres import PostgresCluster
from runtime import db
from runtime.change_signal import ChangeSignal
from runtime.routing_demand import AccountsOnDemand
from services.control.routing_feed import RoutingFeed
from services.control.sinks import SinkStore
from services.delivery.directory import SinkDirectory
from services.delivery.sinks.webhook import WebhookDriver
from services.router.routing_table import RoutingTable

CHANGES = 50
BURST = 1000
ACTIVE = 1000  # accounts that send events during a trial
CONFIG = json.dumps({"destination": "https://example.com/hook", "method": "POST", "batch_events": False})
TYPE = seed_control.TYPES[0]


class NoTests:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("the bench sends no sink test")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def spread(values: list[float], unit: str, digits: int = 3) -> str:
    return (
        f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f}) {unit}"
    )


async def follow(feed: RoutingFeed, apply: Callable[..., None], tokens: bool, held: list[int]) -> None:
    async for message in feed.watch(held[0], tokens, on_demand=True):
        apply(message)
        if message.revision:
            held[0] = message.revision


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.001)


async def whole(feed: RoutingFeed, figures: dict[str, float]) -> None:
    """Starting cold holding every account (ES_ROUTING_ON_DEMAND=false)."""
    gc.collect()
    before, started = rss_mib(), time.monotonic()
    table = RoutingTable()
    async for page in feed.changes(0, with_auth_tokens=False):
        table.apply(page)
    figures["whole_router_cold_s"] = time.monotonic() - started
    gc.collect()
    figures["whole_router_mib"] = rss_mib() - before
    del table
    gc.collect()
    before, started = rss_mib(), time.monotonic()
    directory = SinkDirectory({"webhook": WebhookDriver(5.0, True, "bench")})
    async for page in feed.changes(0, with_auth_tokens=True):
        directory.apply(page)
    figures["whole_worker_cold_s"] = time.monotonic() - started
    gc.collect()
    figures["whole_worker_mib"] = rss_mib() - before
    await directory.close()


async def on_demand(
    feed: RoutingFeed, holder: RoutingTable | SinkDirectory, tokens: bool, active: list[str]
) -> tuple[AccountsOnDemand, float, float, list[float]]:
    """The feed's cold start, then each active account read as its first event reads it:
    (the holder's feed, seconds to ready, MiB held, each read's seconds). The memory is what
    Python's allocator holds for it at the end (tracemalloc): a process's RSS, after the
    trials before, has room to spare that hides a few MiB."""
    gc.collect()
    tracemalloc.start()
    started = time.monotonic()
    held = AccountsOnDemand(holder, lambda sids: feed.fetch(sids, tokens))
    async for page in feed.changes(0, with_auth_tokens=tokens, on_demand=True):
        held.apply(page)
    ready = time.monotonic() - started
    reads = []
    for sid in active:
        began = time.monotonic()
        assert await held.ensure([sid])
        reads.append(time.monotonic() - began)
    gc.collect()
    # What the holder and its feed keep (the feed's reads let go of theirs by now).
    kept = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    return held, ready, kept, reads


async def trial(url: str, accounts: int, whole_up_to: int) -> dict[str, float]:
    engine = db.create_engine(url)
    sessions = db.sessionmaker(engine)
    signal = ChangeSignal()
    feed = RoutingFeed(sessions, signal, poll_seconds=1.0)
    figures: dict[str, float] = {}
    quiet, busy = seed_control.account_sid(1), seed_control.account_sid(2)
    active = [quiet, busy, *(seed_control.account_sid(random.randrange(accounts)) for _ in range(ACTIVE - 2))]

    table = RoutingTable()
    held_table, figures["router_cold_s"], figures["router_mib"], reads = await on_demand(
        feed, table, False, active
    )
    directory = SinkDirectory({"webhook": WebhookDriver(5.0, True, "bench")})
    held_directory, figures["worker_cold_s"], figures["worker_mib"], more = await on_demand(
        feed, directory, True, active
    )
    figures["first_event_read_p99_s"] = p99(reads + more)
    if accounts <= whole_up_to:
        await whole(feed, figures)

    held_router, held_worker = [table.revision], [directory.revision]
    watchers = [
        asyncio.create_task(follow(feed, held_table.apply, False, held_router)),
        asyncio.create_task(follow(feed, held_directory.apply, True, held_worker)),
    ]
    sinks = SinkStore(sessions, 100, NoTests(), allow_private_destinations=True)

    async def change(account: str) -> float:
        """A sink created and deleted (two changes); seconds until both followers hold them."""
        started = time.monotonic()
        row = await sinks.create(account, "bench", "webhook", CONFIG)
        signal.notify()
        await until(lambda: directory.route(row.sid) is not None and table.sink(row.sid) is not None)
        await sinks.delete(account, row.sid)
        signal.notify()
        await until(lambda: directory.route(row.sid) is None and table.sink(row.sid) is None)
        return (time.monotonic() - started) / 2

    figures["change_p99_s"] = p99([await change(quiet) for _ in range(CHANGES)])

    # Control's CPU for one changed account sent to one watcher.
    costs = []
    for _ in range(CHANGES):
        at = held_router[0]
        row = await sinks.create(quiet, "bench", "webhook", CONFIG)
        started_cpu = time.process_time()
        sent = [m async for m in feed.changes(at, with_auth_tokens=False)]
        costs.append(time.process_time() - started_cpu)
        assert len(sent) == 1 and len(sent[0].accounts) == 1
        await sinks.delete(quiet, row.sid)
        signal.notify()
        gone = row.sid
        await until(lambda: table.sink(gone) is None)  # noqa: B023 - awaited in the iteration
    figures["control_cpu_ms_per_change"] = statistics.median(costs) * 1000

    # One tenant's burst; another tenant's changes meanwhile.
    at = held_router[0]

    async def burst() -> None:
        for _ in range(BURST // 2):
            row = await sinks.create(busy, "burst", "webhook", CONFIG)
            await sinks.delete(busy, row.sid)
            signal.notify()

    bursting = asyncio.create_task(burst())
    during = []
    while not bursting.done():
        during.append(await change(quiet))
    await bursting
    figures["change_p99_during_burst_s"] = p99(during) if during else 0.0
    coalesced = [m async for m in feed.changes(at, with_auth_tokens=False)]
    figures["burst_accounts_sent"] = float(sum(len(m.accounts) for m in coalesced))

    for task in watchers:
        task.cancel()

    sample = [random.choice(active) for _ in range(20_000)]
    started = time.perf_counter()
    for sid in sample:
        table.targets(sid, TYPE)
    figures["lookups_per_s"] = len(sample) / (time.perf_counter() - started)
    await directory.close()
    await engine.dispose()
    return figures


async def measure(
    cluster: PostgresCluster, accounts: int, trials: int, whole_up_to: int
) -> dict[str, list[float]]:
    url = cluster.create_database("scale")
    seeded = await seed_control.seed(url, accounts)
    print(f"seeded {json.dumps(seeded)}")
    results: dict[str, list[float]] = {}
    for _ in range(trials):
        for name, value in (await trial(url, accounts, whole_up_to)).items():
            results.setdefault(name, []).append(value)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--whole-up-to", type=int, default=100_000, help="measure holding every account up to this size"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-control-scale-") as root:
        cluster = PostgresCluster(Path(root))
        cluster.start()
        try:
            by_size = {
                n: asyncio.run(measure(cluster, n, args.trials, args.whole_up_to)) for n in args.accounts
            }
        finally:
            cluster.stop()
    units = {"_per_s": "/s", "_s": "s", "_mib": "MiB", "_ms_per_change": "ms", "_sent": "accounts"}
    print(f"\nrouting at scale, {args.trials} trials each: median (min–max)")
    for name in dict.fromkeys(name for v in by_size.values() for name in v):
        unit = next((u for suffix, u in units.items() if name.endswith(suffix)), "")
        row = "; ".join(
            f"{n:,} accounts {spread(v[name], unit) if name in v else 'not measured'}"
            for n, v in by_size.items()
        )
        print(f"  {name}: {row}")


if __name__ == "__main__":
    main()
