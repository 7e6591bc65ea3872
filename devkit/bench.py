"""`make bench`: the suite as real processes, a counting receiver in its own process, load
through the router's gRPC Publish; prints figures (never asserts them).

First cut (issue 2): end-to-end events/s to one webhook sink, one event per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
import httpx

from devkit.processes import free_port, python_env, start, wait_until
from devkit.produce import publish_when_routed, sample_event
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2, router_pb2_grpc

TYPE = "com.twilio.messaging.message.delivered"


def receiver_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=2) as response:
        return dict(json.loads(response.read()))


async def run_load(
    suite: Suite, receiver_port: int, events: int, batch: int, concurrency: int
) -> dict[str, float]:
    async with grpc.aio.insecure_channel(suite.address("control")) as control_channel:
        control = control_pb2_grpc.ControlStub(control_channel)
        account = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="bench"))
    async with httpx.AsyncClient(base_url=suite.gateway_url, auth=(account.sid, account.auth_token)) as rest:
        sink = (
            (
                await rest.post(
                    "/v1/Sinks",
                    data={
                        "Description": "bench",
                        "SinkType": "webhook",
                        "SinkConfiguration": json.dumps(
                            {
                                "destination": f"http://127.0.0.1:{receiver_port}/events",
                                "method": "POST",
                                "batch_events": False,
                            }
                        ),
                    },
                )
            )
            .raise_for_status()
            .json()
        )
        (
            await rest.post(
                "/v1/Subscriptions",
                data={"Description": "bench", "SinkSid": sink["sid"], "Types": [json.dumps({"type": TYPE})]},
            )
        ).raise_for_status()
    async with grpc.aio.insecure_channel(suite.address("router")) as channel:
        router = router_pb2_grpc.RouterStub(channel)
        await publish_when_routed(router, [sample_event(account.sid, TYPE)])
        baseline = receiver_stats(receiver_port)["events"]
        while receiver_stats(receiver_port)["events"] < baseline + 1:
            await asyncio.sleep(0.05)
        template = sample_event(account.sid, TYPE)
        batches = [
            [
                router_pb2.Event(
                    id=f"EZbench{b:06d}{i:04d}",
                    account_sid=account.sid,
                    type=TYPE,
                    schema_version=template.schema_version,
                    source=template.source,
                    time=template.time,
                    data_json=template.data_json,
                )
                for i in range(batch)
            ]
            for b in range(events // batch)
        ]
        queue: asyncio.Queue[list[router_pb2.Event]] = asyncio.Queue()
        for item in batches:
            queue.put_nowait(item)

        async def producer() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                response = await router.Publish(router_pb2.PublishRequest(events=item), timeout=60)
                assert all(r.code == 0 for r in response.results), response.results[0]

        started = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(concurrency)))
        published = time.perf_counter()
        target = baseline + 1 + len(batches) * batch
        while receiver_stats(receiver_port)["events"] < target:
            await asyncio.sleep(0.02)
        finished = time.perf_counter()
    total = len(batches) * batch
    return {
        "events": total,
        "publish_seconds": published - started,
        "publish_per_second": total / (published - started),
        "end_to_end_seconds": finished - started,
        "end_to_end_per_second": total / (finished - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="es-bench-") as tmp:
        data = Path(tmp)
        suite = Suite(
            data_dir=data,
            catalog_db=f"sqlite+aiosqlite:///{data / 'catalog.db'}",
            control_db=f"sqlite+aiosqlite:///{data / 'control.db'}",
            workers=args.workers,
            log_dir=data / "logs",
            extra_env={"ES_ALLOW_PRIVATE_DESTINATIONS": "true", "ES_LOG_LEVEL": "WARNING"},
        )
        receiver_port = free_port()
        receiver = start(
            "receiver",
            [sys.executable, "-m", "devkit.receiver", "--count-only", "--port", str(receiver_port)],
            python_env({}),
            data / "logs",
        )
        try:
            wait_until(lambda: bool(receiver_stats(receiver_port) is not None), receiver, "receiver")
            suite.start()
            figures = asyncio.run(run_load(suite, receiver_port, args.events, args.batch, args.concurrency))
        finally:
            suite.stop()
            receiver.stop()
    print(f"\nend-to-end, one webhook sink, one event per request, {args.workers} worker(s):")
    for key, value in figures.items():
        print(f"  {key:24s} {value:12.1f}")


if __name__ == "__main__":
    main()
