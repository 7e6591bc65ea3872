"""What one webhook request costs the client: aiohttp (configured as the worker configured it)
against services/delivery/sinks/http1.py, in core-µs of the client process per request.

Each client runs in a process of its own under uvloop (as the services run), POSTing a 1 KB
CloudEvent-like body with the worker's headers, `--concurrency` requests at a time, to
devkit/fast_receiver.py; trials alternate between the clients so drift hits both alike.

    python -m devkit.bench_http_clients [--requests 20000] [--concurrency 64] [--trials 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from devkit.bench import start_receiver
from devkit.bench_stats import show, spread
from launcher.processes import free_port, python_env

CLIENTS = ("aiohttp", "http1")
BODY = json.dumps({"specversion": "1.0", "type": "bench", "id": "x", "data": {"pad": "x" * 900}}).encode()
HEADERS = {
    "User-Agent": "twilio-event-streams/1.0",
    "Content-Type": "application/json",
    "X-Twilio-Signature": "sWBgl5hEbZ7DbpIdcx38sT0ANdM=",
}


async def run_aiohttp(url: str, requests: int, concurrency: int) -> None:
    import aiohttp
    from yarl import URL

    from services.delivery.sinks import http

    # As the webhook sink had it before http1 (Segment's sink still does).
    connector = aiohttp.TCPConnector(limit=512, limit_per_host=0, ttl_dns_cache=60)
    session = http.session(connector, 5.0)
    target = URL(url, encoded=True)

    async def one() -> None:
        await http.send(session, "POST", target, BODY, dict(HEADERS))

    await drive(one, requests, concurrency)
    await session.close()


async def run_http1(url: str, requests: int, concurrency: int) -> None:
    from services.delivery.sinks.http1 import Http1Client, Target

    async def resolve(host: str, port: int) -> list[str]:
        return [host]

    client = Http1Client(resolve, 5.0)
    target = Target.of(url)
    lines = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())

    async def one() -> None:
        response = await client.request("POST", target, lines, BODY)
        assert response.status == 200, response

    await drive(one, requests, concurrency)
    await client.close()


async def drive(one: Any, requests: int, concurrency: int) -> None:
    for _ in range(200):  # warm: connections open, code paths taken
        await one()
    remaining = requests

    async def loop() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await one()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"seconds": wall, "cpu_seconds": used, "requests": requests}))


def child_main(args: argparse.Namespace) -> None:
    import uvloop

    runner = {"aiohttp": run_aiohttp, "http1": run_http1}[args.client]
    uvloop.run(runner(args.url, args.requests, args.concurrency))


def measure(client: str, url: str, requests: int, concurrency: int) -> dict[str, float]:
    argv = [sys.executable, "-m", "devkit.bench_http_clients", "--child", client, "--url", url]
    argv += ["--requests", str(requests), "--concurrency", str(concurrency)]
    out = subprocess.run(argv, env=python_env({}), capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    return {
        "requests_per_second": figures["requests"] / figures["seconds"],
        "us_per_request": figures["cpu_seconds"] / figures["requests"] * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.client = args.child
        child_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="es-http-") as tmp:
        port = free_port()
        receiver = start_receiver(port, 60.0, Path(tmp))
        url = f"http://127.0.0.1:{port}/clients?x=1"
        results: dict[str, list[dict[str, float]]] = {c: [] for c in CLIENTS}
        try:
            for _ in range(args.trials):
                for client in CLIENTS:
                    results[client].append(measure(client, url, args.requests, args.concurrency))
        finally:
            receiver.stop()
    print(
        f"{args.requests:,} POSTs of {len(BODY):,} bytes, {args.concurrency} at a time, {args.trials} trials"
    )
    print(f"  {'client':<10} {'requests/s':>24} {'client core-µs/request':>26}")
    for client in CLIENTS:
        rps = spread([r["requests_per_second"] for r in results[client]])
        us = spread([r["us_per_request"] for r in results[client]])
        print(f"  {client:<10} {show(rps):>24} {show(us):>26}")
    ratios = [
        a["us_per_request"] / b["us_per_request"]
        for a, b in zip(results["aiohttp"], results["http1"], strict=True)
    ]
    print(f"  aiohttp µs / http1 µs, within a trial: {show(spread(ratios), 2)}")


if __name__ == "__main__":
    main()
