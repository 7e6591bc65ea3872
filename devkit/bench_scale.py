"""`make bench`, second part: what more workers and a clustered JetStream buy on this machine.

For each topology (1 or 3 NATS nodes — the 3-node cluster started with deploy/k8s's nats.conf
and R3 stream — times 1, 2 or 4 delivery workers; PostgreSQL for every store, one replica of
the other services) the suite is started fresh, and in --trials trials `events` events are
published to `sinks` one-event-per-request webhook sinks at the fast receiver: end-to-end
deliveries/s (first publish → last receipt of every (event, sink)), and the cores each
process used meanwhile (router, the workers together, the NATS servers together, the rest of
the machine), so the reader sees whether the box or the design is the limit. Ratios (2 and 4
workers over 1; 3 nodes over 1) are taken between medians of this one run.

On each 3-node topology the node leading the load's stream (its sink's partition's) is then
SIGKILLed under 200 events/s (devkit/failover.py), --failover-trials times: the gap (the
longest time after the kill with no delivery; likewise with no acknowledged publish), the
events delivered twice, and whether any acknowledged event went missing. The node is started
again between trials.

    python -m devkit.bench_scale                       # ≈ 9 minutes
    python -m devkit.bench_scale --quick               # ≈ 3 minutes
    python -m devkit.bench_scale --workers 1 2 --nodes 3 --trials 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from devkit import failover
from devkit.bench import RESULTS_DIR, start_receiver
from devkit.bench_load import EventFactory, publish_fixed, publish_until_routed
from devkit.bench_procs import OTHER, ProcessWatch, proc_cpu_seconds
from devkit.bench_setup import ReceiverClient, Rest, create_account
from devkit.bench_stats import show, spread
from devkit.nats_cluster import NatsCluster
from devkit.postgres import PostgresCluster
from devkit.suite import Suite
from eventstreams.v1 import router_pb2_grpc
from launcher.processes import free_port
from runtime.jetstream import StreamSpec

TYPE = "com.twilio.messaging.message.delivered"


@dataclass(frozen=True)
class ScalePlan:
    workers: tuple[int, ...]
    nodes: tuple[int, ...]
    trials: int
    events: int
    sinks: int
    batch: int
    concurrency: int
    failover_trials: int
    failover: failover.LoadPlan
    stall_seconds: float = 30.0


def parse_args() -> tuple[ScalePlan, Path]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer events, 1 trial")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts")
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 3], help="NATS node counts")
    parser.add_argument("--trials", type=int, help="trials per topology (3; quick 1)")
    parser.add_argument("--events", type=int, help="events per trial (10k; quick 2k), each to every sink")
    parser.add_argument("--sinks", type=int, default=4, help="one-event-per-request webhook sinks")
    parser.add_argument("--batch", type=int, default=250, help="events per Publish call")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent Publish calls")
    parser.add_argument("--failover-trials", type=int, help="leader kills per 3-node topology (3; quick 1)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where scale.json goes")
    args = parser.parse_args()
    quick = bool(args.quick)
    plan = ScalePlan(
        workers=tuple(args.workers),
        nodes=tuple(args.nodes),
        trials=args.trials or (1 if quick else 3),
        events=args.events or (2_000 if quick else 10_000),
        sinks=args.sinks,
        batch=args.batch,
        concurrency=args.concurrency,
        failover_trials=args.failover_trials if args.failover_trials is not None else (1 if quick else 3),
        failover=failover.LoadPlan(before=3 if quick else 4, after=8 if quick else 10),
    )
    return plan, args.out


def postgres_cpu_seconds() -> float:
    """CPU seconds used by every PostgreSQL process on the machine (the postmaster and its
    backends, one per pooled connection): the stores' share, not in any watched process."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        total += proc_cpu_seconds(int(proc.name)) or 0.0
    return total


def cores_by_role(cores: dict[str, float], postgres: float) -> dict[str, float]:
    """A window's cores per process, summed per role (the workers together, the nodes)."""
    roles: dict[str, float] = {}
    for name, used in cores.items():
        role = name.split("-")[0] if name.startswith(("delivery-", "nats-")) else name
        role = {"delivery": "workers", "nats": "nats"}.get(role, role)
        roles[role] = round(roles.get(role, 0.0) + used, 2)
    # PostgreSQL is part of the rest of the machine as the watcher sees it: shown apart.
    roles["postgres"] = round(postgres, 2)
    roles[OTHER] = round(max(0.0, roles.get(OTHER, 0.0) - postgres), 2)
    roles["total"] = round(sum(cores.values()), 2)
    return roles


def us_per_delivery(roles: dict[str, float], wall_seconds: float, deliveries: int) -> float | None:
    """The pipeline's core-µs per delivery: router, workers, NATS nodes and PostgreSQL."""
    if deliveries <= 0:
        return None
    used = sum(roles.get(role, 0.0) for role in ("router", "workers", "nats", "postgres"))
    return round(used * wall_seconds / deliveries * 1e6, 1)


async def wait_all(receiver: ReceiverClient, paths: list[str], each: int, stall: float) -> tuple[int, float]:
    """Until every path has `each` events (or nothing new for `stall` s): (received, last_at)."""
    last_total, progressed = -1, time.monotonic()
    while True:
        found = (await receiver.counters())["paths"]
        counts = [found.get(p, {}) for p in paths]
        total = sum(int(c.get("events", 0)) for c in counts)
        last_at = max((float(c.get("last_at", 0.0)) for c in counts), default=0.0)
        if total >= each * len(paths):
            return total, last_at
        if total > last_total:
            last_total, progressed = total, time.monotonic()
        elif time.monotonic() - progressed > stall:
            return total, time.time()
        await asyncio.sleep(0.1)


async def measure(suite: Suite, receiver_port: int, procs: ProcessWatch, plan: ScalePlan) -> dict[str, Any]:
    receiver = ReceiverClient(receiver_port)
    account = await create_account(suite, "scale")
    paths = [f"/scale/{i}" for i in range(plan.sinks)]
    trials: list[dict[str, Any]] = []
    failovers: list[dict[str, Any]] = []
    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            for path in paths:
                sid = await rest.webhook_sink(f"scale {path}", receiver.url(path), batch_events=False)
                await rest.subscribe(f"scale {path}", sid, [TYPE])
            router = router_pb2_grpc.RouterStub(channel)
            factory = EventFactory(account.sid)
            await publish_until_routed(router, factory, TYPE, plan.sinks, timeout=30)
            # Warm: connections open, validators compiled, the workers' lanes made.
            await publish_fixed(router, factory, TYPE, 1_000, plan.batch, plan.concurrency)
            await wait_all(receiver, paths, 1_000, plan.stall_seconds)
            for trial in range(plan.trials):
                await receiver.reset()
                postgres_before, wall_before = postgres_cpu_seconds(), time.monotonic()
                with procs.window("run"):
                    published = await publish_fixed(
                        router, factory, TYPE, plan.events, plan.batch, plan.concurrency
                    )
                    received, last_at = await wait_all(receiver, paths, published.events, plan.stall_seconds)
                seconds = max(last_at - published.started_at, 1e-9)
                postgres = (postgres_cpu_seconds() - postgres_before) / (time.monotonic() - wall_before)
                window = procs.take_windows()["run"]
                trials.append(
                    {
                        "trial": trial + 1,
                        "deliveries": received,
                        "complete": received >= published.events * plan.sinks,
                        "seconds": round(seconds, 3),
                        "deliveries_per_second": round(received / seconds, 1),
                        "cores": cores_by_role(window["cores"], postgres),
                        "cores_by_process": window["cores"],
                        "us_per_delivery": us_per_delivery(
                            cores_by_role(window["cores"], postgres), window["wall_seconds"], received
                        ),
                    }
                )
                print(f"    trial {trial + 1}: {received / seconds:,.0f} deliveries/s", flush=True)
        if suite.cluster is not None:
            for trial in range(plan.failover_trials):
                failovers.append(await leader_kill(suite, receiver, trial, plan.failover))
    finally:
        await receiver.close()
    return {"trials": trials, "leader_kill": failovers}


async def leader_kill(
    suite: Suite, receiver: ReceiverClient, trial: int, plan: failover.LoadPlan
) -> dict[str, Any]:
    cluster = suite.cluster
    assert cluster is not None
    account = await create_account(suite, "leader kill")
    path = f"/leader-kill/{trial}"
    spec = StreamSpec(
        name=suite.env.get("ES_STREAM_NAME", "EVENTS"),
        partitions=int(suite.env.get("ES_STREAM_PARTITIONS", "1")),
    )
    killed: list[str] = []

    def kill() -> None:
        cluster.kill(cluster.index_of(killed[0]))

    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            sid = await rest.webhook_sink("leader kill", receiver.url(path), batch_events=True)
            await rest.subscribe("leader kill", sid, [failover.EVENT_TYPE])
            # The leader of the stream the sink's events go to (its partition's).
            leader = cluster.stream_leader(spec.for_sink(sid).name)
            assert leader is not None
            killed.append(leader)
            router = router_pb2_grpc.RouterStub(channel)
            factory = EventFactory(account.sid)
            await failover.wait_routed([router], factory)
            figures = await failover.under_load("stream-leader", kill, router, factory, receiver, path, plan)
    finally:
        if killed:
            await asyncio.to_thread(restart_node, cluster, killed[0])
    found = figures.report()
    found["killed"] = leader
    print(
        f"    leader kill {trial + 1} ({leader}): delivery gap {figures.delivery_gap_seconds:.2f} s, "
        f"publish gap {figures.publish_gap_seconds:.2f} s, redelivered {figures.redelivered}, "
        f"missing {figures.missing}",
        flush=True,
    )
    return found


def restart_node(cluster: NatsCluster, name: str) -> None:
    cluster.start_node(cluster.index_of(name))
    cluster.wait_healthy()


def run_topology(
    nodes: int, workers: int, plan: ScalePlan, pg: PostgresCluster, data: Path
) -> dict[str, Any]:
    directory = data / f"n{nodes}-w{workers}"
    suite = Suite(
        data_dir=directory,
        catalog_db=pg.create_database("catalog"),
        control_db=pg.create_database("control"),
        delivery_db=pg.create_database("delivery"),
        nats_nodes=nodes,
        workers=workers,
        log_dir=directory / "logs",
        extra_env={"ES_ALLOW_PRIVATE_DESTINATIONS": "true", "ES_LOG_LEVEL": "WARNING"},
    )
    receiver_port = free_port()
    receiver = start_receiver(receiver_port, 60.0, directory / "logs")
    procs = ProcessWatch()
    try:
        suite.start()
        for name, child in suite.children.items():
            procs.watch(name, child.process.pid)
        for node in suite.cluster.nodes if suite.cluster is not None else []:
            assert node.child is not None
            procs.watch(node.name, node.child.process.pid)
        if suite.nats is not None and suite.nats.child is not None:
            procs.watch("nats-0", suite.nats.child.process.pid)
        procs.watch("fast receiver", receiver.process.pid)
        procs.watch("bench driver", os.getpid())
        procs.start()
        return asyncio.run(measure(suite, receiver_port, procs, plan))
    finally:
        procs.stop()
        suite.stop()
        receiver.stop()


def summarise(topologies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for topology in topologies:
        trials = topology["trials"]
        row: dict[str, Any] = {
            "nodes": topology["nodes"],
            "workers": topology["workers"],
            "deliveries_per_second": spread([t["deliveries_per_second"] for t in trials]),
            "us_per_delivery": spread([t.get("us_per_delivery") for t in trials]),
            "cores": {
                role: spread([t["cores"].get(role) for t in trials])
                for role in (
                    "router",
                    "workers",
                    "nats",
                    "postgres",
                    "fast receiver",
                    "bench driver",
                    OTHER,
                    "total",
                )
            },
            "incomplete_trials": sum(1 for t in trials if not t["complete"]),
        }
        kills = topology.get("leader_kill") or []
        if kills:
            row["leader_kill"] = {
                "delivery_gap_seconds": spread([k["delivery_gap_seconds"] for k in kills]),
                "publish_gap_seconds": spread([k["publish_gap_seconds"] for k in kills]),
                "redelivered": spread([k["redelivered"] for k in kills]),
                "missing": sum(k["missing"] for k in kills),
            }
        rows.append(row)
    return rows


def ratio(
    rows: list[dict[str, Any]], nodes: int, workers: int, base_nodes: int, base_workers: int
) -> float | None:
    def median(n: int, w: int) -> float | None:
        found = [r for r in rows if r["nodes"] == n and r["workers"] == w]
        return found[0]["deliveries_per_second"]["median"] if found else None

    top, bottom = median(nodes, workers), median(base_nodes, base_workers)
    return round(top / bottom, 2) if top and bottom else None


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| NATS nodes | workers | deliveries/s | ×(1 worker) | core-µs/delivery | cores: router | "
        "workers | nats | postgres | receiver+driver | rest of machine | total |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cores = row["cores"]
        helpers = [cores["fast receiver"]["median"] or 0.0, cores["bench driver"]["median"] or 0.0]
        lines.append(
            f"| {row['nodes']} | {row['workers']} | {show(row['deliveries_per_second'])} | "
            f"{ratio(rows, row['nodes'], row['workers'], row['nodes'], 1) or '-'} | "
            f"{show(row.get('us_per_delivery'), 0)} | {show(cores['router'])} | "
            f"{show(cores['workers'])} | {show(cores['nats'])} | "
            f"{show(cores['postgres'])} | "
            f"{sum(helpers):.2f} | {show(cores[OTHER])} | {show(cores['total'])} |"
        )
    kills = [r for r in rows if "leader_kill" in r]
    for row in kills:
        kill = row["leader_kill"]
        lines.append(
            f"\nleader kill, {row['nodes']} nodes / {row['workers']} worker(s): delivery gap "
            f"{show(kill['delivery_gap_seconds'])} s, publish gap {show(kill['publish_gap_seconds'])} s, "
            f"redelivered {show(kill['redelivered'])}, acknowledged events missing: {kill['missing']}"
        )
    for nodes in sorted({r["nodes"] for r in rows}):
        if nodes != 1:
            for workers in sorted({r["workers"] for r in rows}):
                found = ratio(rows, nodes, workers, 1, workers)
                if found is not None:
                    lines.append(f"{nodes} nodes over 1, {workers} worker(s): ×{found}")
    return "\n".join(lines)


def main() -> None:
    plan, out = parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"plan": asdict(plan), "cpus": os.cpu_count(), "topologies": []}
    print(f"bench_scale: nodes {plan.nodes} × workers {plan.workers}, {plan.trials} trial(s)", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="es-scale-") as tmp:
            pg = PostgresCluster(Path(tmp) / "postgres")
            pg.start()
            try:
                for nodes in plan.nodes:
                    for workers in plan.workers:
                        print(f"  {nodes} NATS node(s), {workers} worker(s)", flush=True)
                        measured = run_topology(nodes, workers, plan, pg, Path(tmp))
                        results["topologies"].append({"nodes": nodes, "workers": workers, **measured})
            finally:
                pg.stop()
    except BaseException as exc:
        results["error"] = f"{type(exc).__name__}: {exc}"
        print(f"\nbench_scale stopped early: {results['error'][:2000]}", file=sys.stderr)
        raise
    finally:
        results["duration_seconds"] = round(time.monotonic() - started, 1)
        results["summary"] = summarise(results["topologies"])
        out.mkdir(parents=True, exist_ok=True)
        (out / "scale.json").write_text(json.dumps(results, indent=2))
        print()
        print(table(results["summary"]))
        print(f"\nwrote {out / 'scale.json'} after {results['duration_seconds']} s")


if __name__ == "__main__":
    main()
