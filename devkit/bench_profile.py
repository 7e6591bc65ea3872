"""Where the pipeline's CPU goes: py-spy samples the router and the delivery worker while
webhook deliveries run flat out (one event per request, or batched), then writes a flame graph
(SVG) per process and prints the functions that cost the most — by their own time, and with
what they call.

One suite (SQLite, one worker, as `make bench`), a fast receiver, `--events` events published
as `make bench` does (batches of 250, 4 calls at once), after a warm-up.

    python -m devkit.bench_profile                          # one per request, 30,000 events
    python -m devkit.bench_profile --kind batched --events 60000
    python -m devkit.bench_profile --out docs/perf/before   # SVGs and stacks kept there

`--nats-profile` also takes Go's CPU profile of nats-server over the measured run (its pprof
endpoint) and, when the Go toolchain is installed, prints its top functions.

`--steady R` profiles steady traffic instead: one event per call, R calls a second on a
schedule for `--seconds`, through unary `Publish` (`--way unary`), the SDK's stream one event
a request (`--way stream`) or the SDK's defaults (`--way linger`), as the steady rows of
`make bench` send it. Every run prints each process's threads woken per event and its share
of CPU in the kernel; `--syscalls` adds its system calls per event (perf), `--idle S` what it
spends over S seconds with no traffic at all.

    python -m devkit.bench_profile --steady 500 --way stream --nats-profile --syscalls --idle 10
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.bench import start_receiver
from devkit.bench_load import EventFactory, measure_throughput, publish_until_routed
from devkit.bench_procs import proc_cpu_seconds, proc_system_seconds, proc_wakeups
from devkit.bench_producer import SdkEvents
from devkit.bench_setup import ReceiverClient, Rest, create_account, sqlite_suite
from devkit.bench_steady import sdk_paced, unary_paced
from devkit.suite import Suite
from eventstreams.v1 import router_pb2_grpc
from eventstreams_producer import AsyncProducer, GrpcTransport
from launcher.processes import free_port

KINDS = {
    "one_per_request": ("com.twilio.messaging.message.delivered", False),
    "batched": ("com.twilio.messaging.message.sent", True),
}
PROFILED = ("router", "delivery-0")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is missing: make setup installs it (requirements-dev.lock)")
    return found


def record(pid: int, output: Path, kind: str, rate: int) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` until interrupted; `kind`: flamegraph (SVG) or raw (collapsed
    stacks). --nonblocking: the process is never paused (its own timing stays as it is)."""
    argv = [py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--nonblocking"]
    argv += ["--format", kind, "--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(samplers: list[subprocess.Popen[bytes]]) -> None:
    for sampler in samplers:
        sampler.send_signal(signal.SIGINT)
    for sampler in samplers:
        try:
            sampler.wait(timeout=60)
        except subprocess.TimeoutExpired:
            sampler.kill()


def fetch_go_profile(port: int, seconds: int, out: Path) -> None:
    url = f"http://127.0.0.1:{port}/debug/pprof/profile?seconds={seconds}"
    with urllib.request.urlopen(url, timeout=seconds + 30) as response:
        out.write_bytes(response.read())


def go_top(profile: Path, count: int) -> str | None:
    """`go tool pprof -top` of a Go CPU profile, or None without the Go toolchain."""
    go = shutil.which("go")
    if go is None or not profile.exists():
        return None
    argv = [go, "tool", "pprof", "-top", f"-nodecount={count}", str(profile)]
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def top(collapsed: Path, count: int = 20) -> tuple[list[tuple[str, int]], list[tuple[str, int]], int]:
    """(own time, with callees, samples) per function from py-spy's collapsed stacks: each
    line `frame;frame;…;leaf count`."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        samples = int(number)
        total += samples
        frames = [_short(f) for f in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return own.most_common(count), inclusive.most_common(count), total


def _short(frame: str) -> str:
    """`function (path/to/module.py:123)` as `function (module.py)`."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


Target = tuple[int, Path, str, int]  # pid, output, py-spy format, samples per second


@dataclass(frozen=True)
class Steady:
    rate: float
    seconds: float
    way: str
    idle_seconds: float


async def drive(
    suite: Suite,
    port: int,
    kind: str,
    events: int,
    targets: list[Target],
    pids: dict[str, int],
    nats_profile: Path | None = None,
    steady: Steady | None = None,
    syscalls: bool = False,
) -> dict[str, Any]:
    type_name, batched = KINDS[kind]
    receiver = ReceiverClient(port)
    account = await create_account(suite, "profile")
    try:
        async with Rest(suite, account) as rest, suite.channel("router") as channel:
            router = router_pb2_grpc.RouterStub(channel)
            factory = EventFactory(account.sid)
            sid = await rest.webhook_sink(kind, receiver.url(f"/profile/{kind}"), batched)
            await rest.subscribe(kind, sid, [type_name])
            await publish_until_routed(router, factory, type_name, 1, timeout=20)
            path = f"/profile/{kind}"
            warm = await measure_throughput(router, factory, receiver, type_name, path, 2_000, 250, 4, 30)
            assert warm.complete, warm.report()
            idle: dict[str, float] = {}
            if steady is not None and steady.idle_seconds > 0:
                await asyncio.sleep(2.0)
                idle = await idle_cores(pids, steady.idle_seconds)
            samplers = [record(pid, out, fmt, rate) for pid, out, fmt, rate in targets]
            go_profile = None
            if nats_profile is not None:
                # As long as the measured run is likely to last (at ~4k events/s when flat out).
                seconds = int(steady.seconds) if steady else max(3, min(30, events // 4000))
                go_profile = asyncio.create_task(
                    asyncio.to_thread(fetch_go_profile, suite.nats_profile_port, seconds, nats_profile)
                )
            await asyncio.sleep(1.0)  # the samplers attached
            before = {name: proc_cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
            woken = {name: proc_wakeups(pid) or 0 for name, pid in pids.items()}
            kernel = {name: proc_system_seconds(pid) or 0.0 for name, pid in pids.items()}
            counting = count_syscalls(pids) if syscalls else None
            if steady is None:
                result = await measure_throughput(
                    router, factory, receiver, type_name, path, events, 250, 4, 30
                )
                received, per_second = result.received, result.events_per_second
            else:
                received, per_second = await steady_traffic(suite, router, factory, receiver, path, steady)
            after = {name: proc_cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
            wakeups = {name: (proc_wakeups(pid) or 0) - woken[name] for name, pid in pids.items()}
            kernel = {name: (proc_system_seconds(pid) or 0.0) - kernel[name] for name, pid in pids.items()}
            calls = finish_counting(counting) if counting else {}
            stop(samplers)
            if go_profile is not None:
                await go_profile
    finally:
        await receiver.close()
    cpu = {name: round((after[name] - before[name]) / max(1, received) * 1e6, 1) for name in after}
    woken_per_event = {name: round(count / max(1, received), 2) for name, count in wakeups.items()}
    kernel_share = {name: round(kernel[name] / max(1e-9, after[name] - before[name]), 2) for name in kernel}
    syscalls_per_event = {name: round(count / max(1, received), 2) for name, count in calls.items()}
    return {
        "received": received,
        "events_per_second": round(per_second),
        "us_per_event": cpu,
        "wakeups_per_event": woken_per_event,
        "kernel_share": kernel_share,
        "syscalls_per_event": syscalls_per_event,
        "idle_cores": idle,
    }


def count_syscalls(pids: dict[str, int]) -> dict[str, subprocess.Popen[str]]:
    """`perf stat` counting each process's system calls until interrupted (needs perf and the
    right to trace: root, or kernel.perf_event_paranoid ≤ 1)."""
    perf = shutil.which("perf")
    if perf is None:
        raise SystemExit("--syscalls needs perf (linux-perf)")
    return {
        name: subprocess.Popen(
            [perf, "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", str(pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, pid in pids.items()
    }


def finish_counting(counting: dict[str, subprocess.Popen[str]]) -> dict[str, int]:
    counts = {}
    for name, perf in counting.items():
        perf.send_signal(signal.SIGINT)
        _, err = perf.communicate(timeout=30)
        for line in err.splitlines():
            fields = line.split(",")
            if len(fields) > 2 and fields[2] == "raw_syscalls:sys_enter" and fields[0].isdigit():
                counts[name] = int(fields[0])
    return counts


async def idle_cores(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """The cores each process keeps busy with no traffic at all: its timers and heartbeats."""
    before = {name: proc_cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
    await asyncio.sleep(seconds)
    after = {name: proc_cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
    return {name: round((after[name] - before[name]) / seconds, 4) for name in after}


async def steady_traffic(
    suite: Suite,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    receiver: ReceiverClient,
    path: str,
    steady: Steady,
) -> tuple[int, float]:
    """One event per call at `steady.rate` calls a second; (events received, events/s sent)."""
    await receiver.reset()
    await receiver.track(path)
    if steady.way == "unary":
        figures = await unary_paced(router, factory, steady.rate, steady.seconds)
    else:
        # "stream": one event a request, as bench_steady's row; "linger": the SDK's defaults.
        one_a_request: dict[str, Any] = {"batch_size": 1, "max_in_flight": 256}
        options = one_a_request if steady.way == "stream" else {}
        transport = GrpcTransport(suite.target("router"), suite.credential("producer"))
        async with AsyncProducer(transport, account_sid=factory.account_sid, **options) as producer:
            figures = await sdk_paced(producer, SdkEvents(factory), steady.rate, steady.seconds)
    seen = await receiver.wait_events(path, figures.events, 30)
    return seen.events, figures.events / max(figures.seconds, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=sorted(KINDS), default="one_per_request")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--out", type=Path, default=Path("bench-results/profile"))
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--nats-profile", action="store_true", help="also Go's CPU profile of nats-server (pprof)"
    )
    parser.add_argument("--steady", type=float, help="one event per call, this many calls a second")
    parser.add_argument("--way", choices=("unary", "stream", "linger"), default="stream")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the steady traffic lasts")
    parser.add_argument("--syscalls", action="store_true", help="count each process's system calls (perf)")
    parser.add_argument("--idle", type=float, default=0.0, help="first measure this many idle seconds")
    args = parser.parse_args()
    steady = Steady(args.steady, args.seconds, args.way, args.idle) if args.steady else None
    if steady is not None:
        args.kind = "one_per_request"
    label = args.kind if steady is None else f"steady-{args.way}-{args.steady:.0f}"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="es-profile-") as tmp:
        directory = Path(tmp)
        port = free_port()
        receiver = start_receiver(port, 60.0, directory / "logs")
        suite = sqlite_suite(directory)
        nats_profile = None
        if args.nats_profile:
            suite.nats_profile_port = free_port()
            nats_profile = args.out / f"{label}-nats-server.pprof"
        targets: list[Target] = []
        pids: dict[str, int] = {}
        try:
            suite.start()
            for name in PROFILED:
                pid = suite.children[name].process.pid
                pids[name] = pid
                stem = args.out / f"{label}-{name}"
                targets.append((pid, stem.with_suffix(".svg"), "flamegraph", args.rate))
                targets.append((pid, stem.with_suffix(".txt"), "raw", args.rate))
            assert suite.nats is not None and suite.nats.child is not None
            pids["nats-server"] = suite.nats.child.process.pid
            pids["fast receiver"] = receiver.process.pid
            started = time.monotonic()
            figures = asyncio.run(
                drive(suite, port, args.kind, args.events, targets, pids, nats_profile, steady, args.syscalls)
            )
        finally:
            suite.stop()
            receiver.stop()
    print(
        f"{label}: {figures['received']:,} events received at {figures['events_per_second']:,} events/s "
        f"({time.monotonic() - started:.0f} s); core-µs per event: "
        + ", ".join(f"{n} {v:,.0f}" for n, v in figures["us_per_event"].items())
    )
    print(
        "wake-ups (voluntary context switches) per event: "
        + ", ".join(f"{n} {v:,.2f}" for n, v in figures["wakeups_per_event"].items())
    )
    print(
        "share of CPU in the kernel: " + ", ".join(f"{n} {v:.2f}" for n, v in figures["kernel_share"].items())
    )
    if figures["syscalls_per_event"]:
        print(
            "system calls per event: "
            + ", ".join(f"{n} {v:,.2f}" for n, v in figures["syscalls_per_event"].items())
        )
    if figures["idle_cores"]:
        print("idle, cores busy: " + ", ".join(f"{n} {v:.4f}" for n, v in figures["idle_cores"].items()))
    if nats_profile is not None:
        listing = go_top(nats_profile, args.top)
        print(f"\nnats-server: Go CPU profile {nats_profile}")
        print(listing if listing is not None else "  (no Go toolchain: `go tool pprof -top` it elsewhere)")
    for name in PROFILED:
        collapsed = next(t[1] for t in targets if t[0] == pids[name] and t[2] == "raw")
        if not collapsed.exists():
            print(f"\n{name}: no samples (py-spy needs ptrace rights: run as root or set ptrace_scope)")
            continue
        own, inclusive, total = top(collapsed, args.top)
        print(f"\n{name}: {total:,} samples — flame graph {collapsed.with_suffix('.svg')}")
        print(f"  {'own %':>6}  function")
        for frame, samples in own:
            print(f"  {100 * samples / total:6.1f}  {frame}")
        print(f"  {'incl %':>6}  function (with what it calls)")
        for frame, samples in inclusive:
            print(f"  {100 * samples / total:6.1f}  {frame}")


if __name__ == "__main__":
    main()
