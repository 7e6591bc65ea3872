"""`make bench`: one events stream against three partitions on the 3-node topology.

For 1 and 3 partitions (ES_STREAM_PARTITIONS; the 3-node JetStream cluster started with
deploy/k8s's nats.conf and R3 streams, PostgreSQL stores, one replica of each other service
and `--workers` workers) the suite is started fresh; `--sinks` one-event-per-request webhook
sinks at the fast receiver, their SIDs spread over the partitions by the partition hash, take
`--events` events each trial: delivered events/s (first publish → last receipt), the cores
each NATS node used and its core-µs per delivery, and where every partition's stream leader
sits (at the start, and after the trials: the workers spread bunched leaders).

With 3 partitions the leader of one sink's partition is then SIGKILLed under 200 events/s
(devkit/failover.py), --kills times: the gap (longest time after the kill with no delivery;
likewise with no acknowledged publish), events delivered twice, acknowledged events missing.
The node is started again between kills.

    python -m devkit.bench_partitions                 # ≈ 4 minutes
    python -m devkit.bench_partitions --rounds 2 --trials 2 --events 1500 --kills 3

Each count runs `--rounds` fresh suites of `--trials` trials, the counts' order alternating
round by round: on this machine the first suite of a run is the slowest whatever it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from devkit import failover
from devkit.bench import RESULTS_DIR, start_receiver
from devkit.bench_load import EventFactory, publish_fixed, publish_until_routed
from devkit.bench_procs import ProcessWatch
from devkit.bench_scale import restart_node, wait_all
from devkit.bench_setup import ReceiverClient, Rest, create_account
from devkit.bench_stats import show, spread
from devkit.postgres import PostgresCluster
from devkit.suite import Suite
from eventstreams.v1 import router_pb2_grpc
from launcher.processes import free_port
from runtime.jetstream import StreamSpec, partition_of

TYPE = "com.twilio.messaging.message.delivered"
NODES = ("nats-0", "nats-1", "nats-2")


@dataclass(frozen=True)
class Plan:
    partitions: tuple[int, ...]
    rounds: int
    trials: int
    events: int
    sinks: int
    workers: int
    kills: int
    batch: int = 50
    concurrency: int = 4
    stall_seconds: float = 30.0
    failover: failover.LoadPlan = field(default_factory=lambda: failover.LoadPlan(before=3, after=8))


def parse_args() -> tuple[Plan, Path]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 3])
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="fresh suites per partition count, the counts' order alternating round by round "
        "(the first suite of a run is the slowest on this machine, whatever it runs)",
    )
    parser.add_argument("--trials", type=int, default=2, help="trials per suite")
    parser.add_argument("--events", type=int, default=1500, help="events per trial, each to every sink")
    parser.add_argument("--sinks", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--kills", type=int, default=3, help="partition leader kills with the most partitions"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    plan = Plan(
        tuple(args.partitions), args.rounds, args.trials, args.events, args.sinks, args.workers, args.kills
    )
    return plan, args.out


def leaders(suite: Suite, spec: StreamSpec) -> dict[str, str | None]:
    """Where each partition's events stream and archive are led."""
    assert suite.cluster is not None
    return suite.cluster.stream_leaders([s for p in spec.split() for s in (p.name, p.archive().name)])


async def measure(
    suite: Suite, spec: StreamSpec, receiver_port: int, procs: ProcessWatch, plan: Plan, kills: int
) -> dict[str, Any]:
    receiver = ReceiverClient(receiver_port)
    account = await create_account(suite, "partitions")
    paths = [f"/partitions/{i}" for i in range(plan.sinks)]
    trials: list[dict[str, Any]] = []
    killed: list[dict[str, Any]] = []
    placed: dict[str, int] = {}
    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            for path in paths:
                sid = await rest.webhook_sink(f"partitions {path}", receiver.url(path), batch_events=False)
                await rest.subscribe(f"partitions {path}", sid, [TYPE])
                name = spec.for_sink(sid).name
                placed[name] = placed.get(name, 0) + 1
            router = router_pb2_grpc.RouterStub(channel)
            factory = EventFactory(account.sid)
            await publish_until_routed(router, factory, TYPE, plan.sinks, timeout=30)
            await publish_fixed(router, factory, TYPE, 300, plan.batch, plan.concurrency)  # warm
            await wait_all(receiver, paths, 300, plan.stall_seconds)
            for trial in range(plan.trials):
                await receiver.reset()
                with procs.window("run"):
                    published = await publish_fixed(
                        router, factory, TYPE, plan.events, plan.batch, plan.concurrency
                    )
                    received, last_at = await wait_all(receiver, paths, published.events, plan.stall_seconds)
                seconds = max(last_at - published.started_at, 1e-9)
                window = procs.take_windows()["run"]
                cores = window["cores"]
                node_us = {
                    node: round(cores.get(node, 0.0) * window["wall_seconds"] / max(received, 1) * 1e6, 1)
                    for node in NODES
                }
                trials.append(
                    {
                        "trial": trial + 1,
                        "deliveries": received,
                        "complete": received >= published.events * plan.sinks,
                        "deliveries_per_second": round(received / seconds, 1),
                        "node_cores": {node: round(cores.get(node, 0.0), 3) for node in NODES},
                        "node_us_per_delivery": node_us,
                        "cores_by_process": cores,
                    }
                )
                print(
                    f"    trial {trial + 1}: {received / seconds:,.0f} deliveries/s, core-µs per delivery "
                    f"by node {node_us}",
                    flush=True,
                )
        after = leaders(suite, spec)
        for trial in range(kills):
            killed.append(await partition_leader_kill(suite, spec, receiver, trial, plan.failover))
    finally:
        await receiver.close()
    return {"sinks_by_stream": placed, "trials": trials, "leaders_after_trials": after, "leader_kill": killed}


async def partition_leader_kill(
    suite: Suite, spec: StreamSpec, receiver: ReceiverClient, trial: int, plan: failover.LoadPlan
) -> dict[str, Any]:
    """SIGKILL the node leading the load's sink's partition, under load."""
    cluster = suite.cluster
    assert cluster is not None
    account = await create_account(suite, "partition leader kill")
    path = f"/partition-leader-kill/{trial}"
    killed: dict[str, str] = {}

    def kill() -> None:
        cluster.kill(cluster.index_of(killed["node"]))

    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            sid = await rest.webhook_sink("partition leader kill", receiver.url(path), batch_events=True)
            await rest.subscribe("partition leader kill", sid, [failover.EVENT_TYPE])
            stream = spec.for_sink(sid).name
            leader = cluster.stream_leader(stream)
            assert leader is not None
            killed.update(node=leader, stream=stream)
            router = router_pb2_grpc.RouterStub(channel)
            factory = EventFactory(account.sid)
            await failover.wait_routed([router], factory)
            figures = await failover.under_load(
                "partition-leader", kill, router, factory, receiver, path, plan
            )
    finally:
        if killed:
            await asyncio.to_thread(restart_node, cluster, killed["node"])
    found = figures.report()
    found.update(killed=killed["node"], stream=killed["stream"], partition=partition_of(sid, spec.partitions))
    print(
        f"    partition leader kill {trial + 1} ({killed['stream']} on {killed['node']}): delivery gap "
        f"{figures.delivery_gap_seconds:.2f} s, publish gap {figures.publish_gap_seconds:.2f} s, "
        f"redelivered {figures.redelivered}, missing {figures.missing}",
        flush=True,
    )
    return found


def run_topology(
    partitions: int, plan: Plan, pg: PostgresCluster, data: Path, round_: int, kills: int
) -> dict[str, Any]:
    directory = data / f"p{partitions}-r{round_}"
    suite = Suite(
        data_dir=directory,
        catalog_db=pg.create_database(f"catalog_p{partitions}_r{round_}"),
        control_db=pg.create_database(f"control_p{partitions}_r{round_}"),
        delivery_db=pg.create_database(f"delivery_p{partitions}_r{round_}"),
        nats_nodes=3,
        workers=plan.workers,
        log_dir=directory / "logs",
        extra_env={
            "ES_ALLOW_PRIVATE_DESTINATIONS": "true",
            "ES_LOG_LEVEL": "WARNING",
            "ES_STREAM_PARTITIONS": str(partitions),
        },
    )
    spec = StreamSpec(partitions=partitions)
    receiver_port = free_port()
    receiver = start_receiver(receiver_port, 60.0, directory / "logs")
    procs = ProcessWatch()
    try:
        suite.start()
        start_leaders = leaders(suite, spec)
        print(f"    leaders at start: {start_leaders}", flush=True)
        for name, child in suite.children.items():
            procs.watch(name, child.process.pid)
        assert suite.cluster is not None
        for node in suite.cluster.nodes:
            assert node.child is not None
            procs.watch(node.name, node.child.process.pid)
        procs.watch("fast receiver", receiver.process.pid)
        procs.watch("bench driver", os.getpid())
        procs.start()
        measured = asyncio.run(measure(suite, spec, receiver_port, procs, plan, kills))
        return {"partitions": partitions, "round": round_, "leaders_at_start": start_leaders, **measured}
    finally:
        procs.stop()
        suite.stop()
        receiver.stop()


def summarise(partitions: int, topologies: list[dict[str, Any]]) -> dict[str, Any]:
    """Every suite's trials of one partition count together."""
    trials = [t for topology in topologies for t in topology["trials"]]
    kills = [k for topology in topologies for k in topology["leader_kill"]]
    summary: dict[str, Any] = {
        "partitions": partitions,
        "trials": len(trials),
        "deliveries_per_second": spread([t["deliveries_per_second"] for t in trials]),
        "node_us_per_delivery": {n: spread([t["node_us_per_delivery"][n] for t in trials]) for n in NODES},
        "leaders_at_start": [t["leaders_at_start"] for t in topologies],
        "leaders_after_trials": [t["leaders_after_trials"] for t in topologies],
        "incomplete_trials": sum(1 for t in trials if not t["complete"]),
    }
    if kills:
        summary["kill_delivery_gap_seconds"] = spread([k["delivery_gap_seconds"] for k in kills])
        summary["kill_publish_gap_seconds"] = spread([k["publish_gap_seconds"] for k in kills])
        summary["kill_missing"] = sum(k["missing"] for k in kills)
        summary["kill_redelivered"] = spread([k["redelivered"] for k in kills])
    return summary


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| partitions | delivered events/s | core-µs per delivery: "
        + " / ".join(NODES)
        + " | leaders (start → after) |",
        "|---|---|---|---|",
    ]
    for row in rows:
        per_node = " / ".join(show(row["node_us_per_delivery"][n], 1) for n in NODES)
        where = "; ".join(
            f"{start} → {after}"
            for start, after in zip(row["leaders_at_start"], row["leaders_after_trials"], strict=True)
        )
        lines.append(
            f"| {row['partitions']} | {show(row['deliveries_per_second'], 0)} | {per_node} | {where} |"
        )
    for row in rows:
        if "kill_delivery_gap_seconds" in row:
            lines.append(
                f"\npartition leader kill, {row['partitions']} partitions: delivery gap "
                f"{show(row['kill_delivery_gap_seconds'], 2)} s, publish gap "
                f"{show(row['kill_publish_gap_seconds'], 2)} s, "
                f"redelivered {show(row['kill_redelivered'], 0)}, missing {row['kill_missing']}"
            )
    return "\n".join(lines)


def main() -> None:
    plan, out = parse_args()
    started = time.monotonic()
    results: dict[str, Any] = {"plan": asdict(plan), "cpus": os.cpu_count(), "topologies": []}
    print(
        f"bench_partitions: partitions {plan.partitions} on 3 NATS nodes, {plan.trials} trial(s)", flush=True
    )
    try:
        with tempfile.TemporaryDirectory(prefix="es-partitions-") as tmp:
            pg = PostgresCluster(Path(tmp) / "postgres")
            pg.start()
            try:
                kills_left = plan.kills
                for round_ in range(plan.rounds):
                    order = plan.partitions if round_ % 2 == 0 else tuple(reversed(plan.partitions))
                    for partitions in order:
                        kills = kills_left if partitions > 1 else 0  # all in the first partitioned suite
                        kills_left -= kills
                        print(f"  round {round_ + 1}: {partitions} partition(s)", flush=True)
                        results["topologies"].append(
                            run_topology(partitions, plan, pg, Path(tmp), round_, kills)
                        )
            finally:
                pg.stop()
    finally:
        results["duration_seconds"] = round(time.monotonic() - started, 1)
        results["summary"] = [
            summarise(count, [t for t in results["topologies"] if t["partitions"] == count])
            for count in plan.partitions
        ]
        out.mkdir(parents=True, exist_ok=True)
        (out / "partitions.json").write_text(json.dumps(results, indent=2, default=str))
        print()
        print(table(results["summary"]))
        print(f"\nwrote {out / 'partitions.json'} after {results['duration_seconds']} s")


if __name__ == "__main__":
    main()
