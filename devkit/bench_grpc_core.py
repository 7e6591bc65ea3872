"""What one message on an open gRPC stream costs a grpc.aio server at a steady rate, with gRPC
core's switches as our services set them (runtime/grpc_core.py) and with grpcio's defaults:
a bidirectional echo (no code of ours), on uvloop as our services run, one message sent
every 1/R s by a client in another process. Per message: the server's CPU (core-µs, from
/proc) and its threads woken (voluntary context switches, all threads). Rounds alternate the
two servers; each figure is the median of the rounds with its min–max, and the ratio is
taken within a round.

    python -m devkit.bench_grpc_core                 # 4 rounds at 500/s, 6 s each
    python -m devkit.bench_grpc_core --rate 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from devkit.bench_procs import proc_cpu_seconds, proc_wakeups
from devkit.bench_stats import show, spread
from launcher.processes import ROOT, free_port
from runtime import grpc_core

METHOD = "/bench.Echo/Echo"
PAYLOAD = b"x" * 300  # about one event's request
WAYS = {"grpcio defaults": "", "our switches": grpc_core.SERVER_EXPERIMENTS}


async def serve(port: int) -> None:
    import grpc

    async def echo(requests: AsyncIterator[bytes], context: object) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    handler: Any = grpc.stream_stream_rpc_method_handler(echo)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", {"Echo": handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def drive(port: int, pid: int, rate: float, seconds: float) -> dict[str, float]:
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call: Any = channel.stream_stream(METHOD)()
        await call.write(PAYLOAD)
        await call.read()
        answered = 0

        async def read() -> None:
            nonlocal answered
            while await call.read() is not grpc.aio.EOF:
                answered += 1

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        cpu, woken = proc_cpu_seconds(pid) or 0.0, proc_wakeups(pid) or 0
        messages = round(rate * seconds)
        start = time.monotonic()
        for tick in range(messages):
            delay = start + tick / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await call.write(PAYLOAD)
        while answered < messages:
            await asyncio.sleep(0.005)
        cpu, woken = (proc_cpu_seconds(pid) or 0.0) - cpu, (proc_wakeups(pid) or 0) - woken
        await call.done_writing()
        await reader
    return {"us_per_message": cpu / messages * 1e6, "wakeups_per_message": woken / messages}


def one_round(experiments: str, rate: float, seconds: float) -> dict[str, float]:
    port = free_port()
    env = {
        **os.environ,
        grpc_core.VARIABLE: experiments,
        "PYTHONPATH": os.pathsep.join(map(str, (ROOT, ROOT / "gen"))),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "devkit.bench_grpc_core", "--serve", str(port)], env=env, cwd=ROOT
    )
    try:
        time.sleep(1.5)
        return asyncio.run(drive(port, server.pid, rate, seconds))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=500.0, help="messages a second")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        import uvloop

        uvloop.run(serve(args.serve))
        return
    rounds = []
    for number in range(args.rounds):
        found = {way: one_round(experiments, args.rate, args.seconds) for way, experiments in WAYS.items()}
        rounds.append(found)
        print(
            f"  round {number + 1}: "
            + ", ".join(
                f"{w} {f['us_per_message']:.0f} core-µs, {f['wakeups_per_message']:.2f} woken"
                for w, f in found.items()
            ),
            flush=True,
        )
    print(f"\n{args.rate:,.0f} messages/s on one stream, {args.seconds:g} s a round, {args.rounds} rounds\n")
    print("| server | core-µs per message | threads woken per message | × grpcio defaults (CPU) |")
    print("|---|---|---|---|")
    base = "grpcio defaults"
    for way in WAYS:
        cpu = spread([r[way]["us_per_message"] for r in rounds])
        woken = spread([r[way]["wakeups_per_message"] for r in rounds])
        ratio = spread([r[way]["us_per_message"] / r[base]["us_per_message"] for r in rounds])
        print(f"| {way} | {show(cpu, 0)} | {show(woken, 2)} | {show(ratio, 2)} |")


if __name__ == "__main__":
    main()
