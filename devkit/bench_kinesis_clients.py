"""Kinesis PutRecords from asyncio, two ways, against a local moto_server:

- `threads-N`: one boto3 client (thread-safe), each call run in a ThreadPoolExecutor of N
  workers (what `asyncio.to_thread` does, with an executor of our own size);
- `aiobotocore`: the same botocore machinery with aiohttp underneath, awaited on the loop.

Each (client, concurrent callers, records per call) point runs in a fresh Python process (so
its RSS and CPU are its own) under uvloop, as the services run, for --seconds, --trials times,
interleaved. Reported: calls/s and records/s (median, min–max over trials), call latency, the
event loop's lag (a 10 ms asyncio.sleep ticker: how late it woke, at worst and at p99), the
client process's CPU per 1,000 records, its RSS at the end, and moto's CPU over the run.

moto_server is one Python process and the bottleneck on this 2-core machine, so against it
compare the clients by their own CPU and by the lag they cause, not by throughput. moto's
PutRecords also slows as a shard fills (it finds the last sequence number by listing every
record: ~0.1 s per 500-record call on an empty shard, ~0.9 s at 60k records), so each run
starts from a reset and a fresh 4-shard stream, and its records/s is an average over that. `--target
stub` (or `both`) also runs the matrix against a stub endpoint that costs next to nothing and
answers after --stub-latency-ms (a real Kinesis round trip): there the clients are the limit.
"others' CPU %" is what the rest of the machine used meanwhile (out of 200%): if it is high,
the run was shared with something else and is not to be trusted.

    python -m devkit.bench_kinesis_clients                  # against moto (~11 minutes)
    python -m devkit.bench_kinesis_clients --target both    # and against the stub (~22 minutes)
    python -m devkit.bench_kinesis_clients --seconds 2 --trials 1   # a quick look

The aiobotocore rows need aiobotocore, which is no dependency of the project (without it they
are skipped). It pins botocore to a narrow range, so install boto3 along with it to let pip
pick a matching boto3:  pip install aiobotocore 'types-aiobotocore[kinesis]' 'boto3>=1.34'
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from launcher.processes import Child, free_port, python_env, start, wait_until
from tests.support.moto_server import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    MotoServer,
    create_stream,
)

if TYPE_CHECKING:
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef as BotoEntry
    from types_aiobotocore_kinesis.type_defs import PutRecordsRequestEntryTypeDef as AioEntry

RECORD_BYTES = 600
TICK = 0.010


@dataclass(frozen=True)
class Point:
    client: str  # "threads-N" or "aiobotocore"
    concurrency: int
    batch: int

    @property
    def label(self) -> str:
        return f"{self.client} c={self.concurrency} b={self.batch}"


@dataclass
class Result:
    point: Point
    seconds: float
    calls: int
    records: int
    failed_records: int
    errors: int
    latency_p50_ms: float
    latency_p99_ms: float
    lag_max_ms: float
    lag_p99_ms: float
    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float
    server_cpu_seconds: float = 0.0  # moto's (or the stub's) CPU during the run
    others_cpu_seconds: float = 0.0  # every other process on the machine: contamination
    wall_seconds: float = 0.0  # the worker process's whole life, for the two above

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds


# --- the measured process -------------------------------------------------------------


def payload(batch: int) -> list[tuple[str, bytes]]:
    """`batch` (partition key, data) of RECORD_BYTES each, shaped like an Event Streams CloudEvent."""
    records: list[tuple[str, bytes]] = []
    for n in range(batch):
        head = json.dumps(
            {
                "specversion": "1.0",
                "type": "com.twilio.messaging.message.delivered",
                "source": f"/2010-04-01/Accounts/AC{n:032x}/Messages/SM{n:032x}.json",
                "id": f"EZ{n:032x}",
                "data": {"body": ""},
            }
        )
        body = head[:-3] + "x" * (RECORD_BYTES - len(head)) + head[-3:]
        records.append((f"SM{n:032x}", body.encode()))
    return records


def memory_mib() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    fields: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


PutCall = Callable[[], Awaitable[int]]


async def drive(point: Point, put: PutCall, seconds: float) -> Result:
    """Run `point.concurrency` callers of `put` for `seconds`, with the lag ticker beside them."""
    await put()  # connect, load the service model, warm every cache: not measured
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    latencies: list[float] = []
    counts = {"calls": 0, "records": 0, "failed": 0, "errors": 0}
    # uvloop's loop.time() ticks in whole milliseconds: measure with perf_counter.
    deadline = loop.time() + seconds

    async def ticker() -> None:
        while loop.time() < deadline:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append(time.perf_counter() - before - TICK)

    async def caller() -> None:
        while loop.time() < deadline:
            began = time.perf_counter()
            try:
                failed = await put()
            except Exception as error:  # counted, and the run goes on
                counts["errors"] += 1
                print(f"{point.label}: {error!r}", file=sys.stderr)
                continue
            latencies.append(time.perf_counter() - began)
            counts["calls"] += 1
            counts["records"] += point.batch - failed
            counts["failed"] += failed

    cpu_before = os.times()
    began = time.perf_counter()
    await asyncio.gather(ticker(), *(caller() for _ in range(point.concurrency)))
    elapsed = time.perf_counter() - began
    cpu_after = os.times()
    rss, peak = memory_mib()
    return Result(
        point=point,
        seconds=elapsed,
        calls=counts["calls"],
        records=counts["records"],
        failed_records=counts["failed"],
        errors=counts["errors"],
        latency_p50_ms=percentile(latencies, 0.50) * 1000,
        latency_p99_ms=percentile(latencies, 0.99) * 1000,
        lag_max_ms=max(lags, default=0.0) * 1000,
        lag_p99_ms=percentile(lags, 0.99) * 1000,
        cpu_seconds=(cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system),
        rss_mib=rss,
        peak_rss_mib=peak,
    )


async def run_threads(point: Point, workers: int, url: str, arn: str, seconds: float) -> Result:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        # urllib3 keeps 10 connections per host by default: more threads than that open and
        # discard a connection per call ("Connection pool is full").
        config=Config(max_pool_connections=max(10, workers), retries={"mode": "standard"}),
    )
    records: list[BotoEntry] = [{"PartitionKey": key, "Data": data} for key, data in payload(point.batch)]
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kinesis") as executor:

        async def put() -> int:
            call = partial(client.put_records, StreamARN=arn, Records=records)
            reply = await loop.run_in_executor(executor, call)
            return reply.get("FailedRecordCount", 0)

        return await drive(point, put, seconds)


async def run_aiobotocore(point: Point, url: str, arn: str, seconds: float) -> Result:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    records: list[AioEntry] = [{"PartitionKey": key, "Data": data} for key, data in payload(point.batch)]
    session = get_session()
    config = AioConfig(max_pool_connections=max(10, point.concurrency), retries={"mode": "standard"})
    async with session.create_client(
        "kinesis",
        endpoint_url=url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=config,
    ) as client:

        async def put() -> int:
            reply = await client.put_records(StreamARN=arn, Records=records)
            return int(reply.get("FailedRecordCount", 0))

        return await drive(point, put, seconds)


async def measure(point: Point, url: str, arn: str, seconds: float) -> Result:
    if point.client == "aiobotocore":
        return await run_aiobotocore(point, url, arn, seconds)
    workers = int(point.client.removeprefix("threads-"))
    return await run_threads(point, workers, url, arn, seconds)


def worker_main(args: argparse.Namespace) -> None:
    import uvloop

    point = Point(args.client, args.concurrency, args.batch)
    result = uvloop.run(measure(point, args.url, args.arn, args.seconds))
    print(json.dumps(asdict(result)))


# --- the stub: Kinesis with no work behind it ----------------------------------------


def stub_main(args: argparse.Namespace) -> None:
    """A PutRecords endpoint that only counts the records, waits --latency-ms (as a real
    Kinesis round trip would), and answers: what the clients cost when the server costs nothing."""
    import orjson
    import uvloop
    from aiohttp import web

    latency = args.latency_ms / 1000

    async def put_records(request: web.Request) -> web.Response:
        count = len(orjson.loads(await request.read()).get("Records", []))
        if latency:
            await asyncio.sleep(latency)
        reply = {
            "FailedRecordCount": 0,
            "Records": [
                {"SequenceNumber": f"{n:056d}", "ShardId": "shardId-000000000000"} for n in range(count)
            ],
            "EncryptionType": "NONE",
        }
        return web.Response(body=orjson.dumps(reply), content_type="application/x-amz-json-1.1")

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/", put_records)
    app.router.add_get("/ready", ready)
    web.run_app(
        app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=uvloop.new_event_loop()
    )


# --- the driver -----------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:13]) / os.sysconf("SC_CLK_TCK")  # utime, stime


def machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy (not idle or waiting on I/O) since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Target:
    """Where the clients send PutRecords: moto_server, or the stub."""

    name: str
    url: str
    child: Child | None

    def start(self) -> None:
        raise NotImplementedError

    def prepare(self) -> str:
        """A stream for the next run; returns its ARN."""
        raise NotImplementedError

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


class MotoTarget(Target):
    def __init__(self, log_dir: Path) -> None:
        self.server = MotoServer.create(log_dir)
        self.name = "moto"
        self.url = self.server.url
        self.child = None

    def start(self) -> None:
        self.server.start()
        self.child = self.server.child

    def prepare(self) -> str:
        self.server.reset()  # moto keeps every record in memory: start each run empty
        return create_stream(self.url, f"bench-{time.monotonic_ns():x}", shards=4)


class StubTarget(Target):
    def __init__(self, log_dir: Path, latency_ms: float) -> None:
        self.port = free_port()
        self.log_dir = log_dir
        self.latency_ms = latency_ms
        self.name = f"stub {latency_ms:g} ms"
        self.url = f"http://127.0.0.1:{self.port}"
        self.child = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "devkit.bench_kinesis_clients", "stub"]
        argv += [f"--port={self.port}", f"--latency-ms={self.latency_ms}"]
        self.child = start("kinesis-stub", argv, python_env({}), self.log_dir)
        wait_until(self._ready, self.child, "kinesis stub", timeout=20)

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/ready", timeout=1) as response:
            return bool(response.status == 200)

    def prepare(self) -> str:
        return f"arn:aws:kinesis:{DEFAULT_REGION}:{ACCOUNT_ID}:stream/stub"


def run_point(target: Target, point: Point, seconds: float) -> Result:
    arn = target.prepare()
    argv = [
        sys.executable,
        "-m",
        "devkit.bench_kinesis_clients",
        "worker",
        f"--client={point.client}",
        f"--concurrency={point.concurrency}",
        f"--batch={point.batch}",
        f"--seconds={seconds}",
        f"--url={target.url}",
        f"--arn={arn}",
    ]
    assert target.child is not None
    server_before = process_cpu_seconds(target.child.process.pid)
    busy_before, children_before, began = machine_busy_seconds(), children_cpu_seconds(), time.monotonic()
    done = subprocess.run(argv, env=python_env({}), capture_output=True, text=True, timeout=seconds + 120)
    wall = time.monotonic() - began
    worker_cpu = children_cpu_seconds() - children_before
    server_cpu = process_cpu_seconds(target.child.process.pid) - server_before
    busy = machine_busy_seconds() - busy_before
    if done.returncode != 0:
        raise RuntimeError(f"{point.label} failed:\n{done.stderr}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    data["point"] = point
    result = Result(**data)
    result.server_cpu_seconds = server_cpu
    result.others_cpu_seconds = max(0.0, busy - worker_cpu - server_cpu)
    result.wall_seconds = wall
    return result


def matrix(clients: Sequence[str], concurrencies: Sequence[int], batch: int, small_at: int) -> list[Point]:
    points = [Point(client, concurrency, batch) for concurrency in concurrencies for client in clients]
    points += [Point(client, small_at, 1) for client in clients]
    return points


def spread(values: Sequence[float], digits: int = 0) -> str:
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"


def table(target: str, results: dict[Point, list[Result]]) -> str:
    head = (
        f"| {target}: client | callers | records/call | calls/s | records/s | call p50 / p99 ms | "
        "loop lag max / p99 ms | client CPU ms per call | client RSS MiB | server CPU % | others' CPU % |"
    )
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for point, runs in results.items():
        calls = [r.calls_per_second for r in runs]
        records = [r.records_per_second for r in runs]
        cpu_per_call = [1000 * r.cpu_seconds / max(1, r.calls) for r in runs]
        server = [100 * r.server_cpu_seconds / r.wall_seconds for r in runs]
        others = [100 * r.others_cpu_seconds / r.wall_seconds for r in runs]
        line = (
            f"| {point.client} | {point.concurrency} | {point.batch} | {spread(calls, 1)} | "
            f"{spread(records)} | "
            f"{statistics.median(r.latency_p50_ms for r in runs):.1f} / "
            f"{statistics.median(r.latency_p99_ms for r in runs):.1f} | "
            f"{max(r.lag_max_ms for r in runs):.1f} / {statistics.median(r.lag_p99_ms for r in runs):.1f} | "
            f"{statistics.median(cpu_per_call):.2f} | {statistics.median(r.rss_mib for r in runs):.0f} | "
            f"{statistics.median(server):.0f} | {statistics.median(others):.0f} |"
        )
        errors, failed = sum(r.errors for r in runs), sum(r.failed_records for r in runs)
        if errors or failed:
            line += f" errors {errors}, failed records {failed}"
        lines.append(line)
    return "\n".join(lines)


def driver_main(args: argparse.Namespace) -> None:
    clients = [f"threads-{n}" for n in args.threads]
    if importlib.util.find_spec("aiobotocore") is not None:
        clients.append("aiobotocore")
    else:
        print("aiobotocore is not installed: its rows are skipped", file=sys.stderr)
    points = matrix(clients, args.concurrency, args.batch, args.small_concurrency)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-kinesis-"))
    targets: list[Target] = []
    if args.target in ("moto", "both"):
        targets.append(MotoTarget(log_dir))
    if args.target in ("stub", "both"):
        targets.append(StubTarget(log_dir, args.stub_latency_ms))
    everything: list[dict[str, Any]] = []
    for target in targets:
        results: dict[Point, list[Result]] = {point: [] for point in points}
        target.start()
        try:
            for trial in range(args.trials):
                for point in points:
                    result = run_point(target, point, args.seconds)
                    results[point].append(result)
                    print(
                        f"{target.name} trial {trial + 1}/{args.trials} {point.label}: "
                        f"{result.calls_per_second:,.1f} calls/s {result.records_per_second:,.0f} rec/s, "
                        f"lag max {result.lag_max_ms:.1f} ms, "
                        f"others {100 * result.others_cpu_seconds / result.wall_seconds:.0f}% CPU",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            target.stop()
        print(table(target.name, results), flush=True)
        print(flush=True)
        everything += [{"target": target.name, **asdict(r)} for runs in results.values() for r in runs]
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    worker = sub.add_parser("worker", help="one measured run (used by the driver)")
    worker.add_argument("--client", required=True)
    worker.add_argument("--concurrency", type=int, required=True)
    worker.add_argument("--batch", type=int, required=True)
    worker.add_argument("--seconds", type=float, required=True)
    worker.add_argument("--url", required=True)
    worker.add_argument("--arn", required=True)
    stub = sub.add_parser("stub", help="the no-cost PutRecords endpoint (used by the driver)")
    stub.add_argument("--port", type=int, required=True)
    stub.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--target", choices=["moto", "stub", "both"], default="moto")
    parser.add_argument("--stub-latency-ms", type=float, default=20.0, help="the stub's round trip")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--small-concurrency", type=int, default=16, help="callers for the 1-record runs")
    parser.add_argument("--json", help="also write every run's numbers here")
    args = parser.parse_args()
    if args.command == "worker":
        worker_main(args)
    elif args.command == "stub":
        stub_main(args)
    else:
        driver_main(args)


if __name__ == "__main__":
    main()
