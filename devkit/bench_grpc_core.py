"""What one message on an open gRPC stream costs a Python gRPC server at a steady rate: a
grpc.aio server with grpcio's defaults, the same with its EventEngine listener turned off
(`GRPC_EXPERIMENTS=-event_engine_listener`: accepted connections served by gRPC core's older
TCP server), and grpclib (HTTP/2 in pure Python on the event loop itself, no threads of its
own). A bidirectional echo (no code of ours), on uvloop as our services run, one message sent
every 1/R s by a grpcio client in another process. Per message: the server's CPU (core-µs,
from /proc) and its threads woken (voluntary context switches, all threads). Rounds alternate
the servers; each figure is the median of the rounds with its min–max, and the ratio is
taken within a round. gRPC reads GRPC_EXPERIMENTS once, when grpc is imported: each server is
a process of its own.

    python -m devkit.bench_grpc_core                 # 4 rounds at 500/s, 6 s each
    python -m devkit.bench_grpc_core --rate 2000 --rounds 3
    python -m devkit.bench_grpc_core --unary 8000 --concurrency 1000   # flat out instead

`--unary N` sends N unary calls with up to `--concurrency` in flight, as fast as the server
answers them, and gives calls/s beside the CPU and threads woken per call.
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

METHOD = "/bench.Echo/Echo"
UNARY = "/bench.Echo/Once"
PAYLOAD = b"x" * 300  # about one event's request
VARIABLE = "GRPC_EXPERIMENTS"
# A way: (server, GRPC_EXPERIMENTS).
WAYS = {
    "grpcio defaults": ("grpcio", ""),
    "no EventEngine listener": ("grpcio", "-event_engine_listener"),
    "grpclib": ("grpclib", ""),
}


async def serve(port: int) -> None:
    import grpc

    async def echo(requests: AsyncIterator[bytes], context: object) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    async def once(request: bytes, context: object) -> bytes:
        return request

    handlers: dict[str, Any] = {
        "Echo": grpc.stream_stream_rpc_method_handler(echo),
        "Once": grpc.unary_unary_rpc_method_handler(once),
    }
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Echo", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def serve_grpclib(port: int) -> None:
    from grpclib.const import Cardinality, Handler
    from grpclib.encoding.base import CodecBase
    from grpclib.server import Server, Stream

    class Raw(CodecBase):  # type: ignore[misc]
        """The messages as the bytes they are, as the grpcio echo has them."""

        __content_subtype__ = "proto"

        def encode(self, message: bytes, message_type: object) -> bytes:
            return message

        def decode(self, data: bytes, message_type: object) -> bytes:
            return data

    class Echo:
        async def echo(self, stream: Stream[bytes, bytes]) -> None:
            async for request in stream:
                await stream.send_message(request)

        async def once(self, stream: Stream[bytes, bytes]) -> None:
            request = await stream.recv_message()
            assert request is not None  # a unary call carries its message
            await stream.send_message(request)

        def __mapping__(self) -> dict[str, Handler]:
            return {
                METHOD: Handler(self.echo, Cardinality.STREAM_STREAM, bytes, bytes),
                UNARY: Handler(self.once, Cardinality.UNARY_UNARY, bytes, bytes),
            }

    server = Server([Echo()], codec=Raw())
    await server.start("127.0.0.1", port)
    await server.wait_closed()


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


async def drive_unary(port: int, pid: int, calls: int, concurrency: int) -> dict[str, float]:
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call: Any = channel.unary_unary(UNARY)
        await call(PAYLOAD)
        in_flight = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with in_flight:
                await call(PAYLOAD)

        cpu, woken, start = proc_cpu_seconds(pid) or 0.0, proc_wakeups(pid) or 0, time.monotonic()
        await asyncio.gather(*(one() for _ in range(calls)))
        seconds = time.monotonic() - start
        cpu, woken = (proc_cpu_seconds(pid) or 0.0) - cpu, (proc_wakeups(pid) or 0) - woken
    return {
        "us_per_message": cpu / calls * 1e6,
        "wakeups_per_message": woken / calls,
        "per_second": calls / seconds,
    }


def one_round(way: tuple[str, str], args: argparse.Namespace) -> dict[str, float]:
    kind, experiments = way
    port = free_port()
    env = {
        **os.environ,
        VARIABLE: experiments,
        "PYTHONPATH": os.pathsep.join(map(str, (ROOT, ROOT / "gen"))),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "devkit.bench_grpc_core", "--serve", str(port), "--server", kind],
        env=env,
        cwd=ROOT,
    )
    try:
        time.sleep(1.5)
        if args.unary:
            return asyncio.run(drive_unary(port, server.pid, args.unary, args.concurrency))
        return asyncio.run(drive(port, server.pid, args.rate, args.seconds))
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
    parser.add_argument("--unary", type=int, help="this many unary calls as fast as they go")
    parser.add_argument("--concurrency", type=int, default=1000, help="unary calls in flight at most")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server", choices=("grpcio", "grpclib"), default="grpcio", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        import uvloop

        uvloop.run((serve_grpclib if args.server == "grpclib" else serve)(args.serve))
        return
    rounds = []
    for number in range(args.rounds):
        found = {name: one_round(way, args) for name, way in WAYS.items()}
        rounds.append(found)
        print(
            f"  round {number + 1}: "
            + ", ".join(
                f"{w} {f['us_per_message']:.0f} core-µs, {f['wakeups_per_message']:.2f} woken"
                for w, f in found.items()
            ),
            flush=True,
        )
    if args.unary:
        print(f"\n{args.unary:,} unary calls, up to {args.concurrency:,} in flight, {args.rounds} rounds\n")
    else:
        print(
            f"\n{args.rate:,.0f} messages/s on one stream, {args.seconds:g} s a round, {args.rounds} rounds\n"
        )
    print("| server | core-µs per message | threads woken per message | × grpcio defaults (CPU) | calls/s |")
    print("|---|---|---|---|---|")
    base = "grpcio defaults"
    for way in WAYS:
        cpu = spread([r[way]["us_per_message"] for r in rounds])
        woken = spread([r[way]["wakeups_per_message"] for r in rounds])
        ratio = spread([r[way]["us_per_message"] / r[base]["us_per_message"] for r in rounds])
        pace = spread([r[way].get("per_second") for r in rounds])
        print(f"| {way} | {show(cpu, 0)} | {show(woken, 2)} | {show(ratio, 2)} | {show(pace, 0)} |")


if __name__ == "__main__":
    main()
