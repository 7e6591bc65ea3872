"""Publish sample events of a chosen type for an account, through the router's gRPC Publish.

python -m devkit.produce --type com.twilio.messaging.message.delivered --count 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from eventstreams.v1 import router_pb2, router_pb2_grpc
from launcher import service_token
from runtime import clients
from services.catalog import catalogue


def sample_event(account_sid: str, type_name: str, version: int = 0) -> router_pb2.Event:
    seed = next((t for t in catalogue.event_types() if t.type == type_name), None)
    if seed is None:
        raise SystemExit(f"unknown event type {type_name}")
    version = version or catalogue.latest_version(seed.schema_id)
    data = catalogue.sample_data(seed.schema_id, version)
    for key in ("accountSid", "account_sid", "AccountSid"):
        if key in data:
            data[key] = account_sid
    now = Timestamp()
    now.GetCurrentTime()
    event_id = "EZ" + secrets.token_hex(16)
    return router_pb2.Event(
        id=event_id,
        account_sid=account_sid,
        type=type_name,
        schema_version=version,
        source=f"/2010-04-01/Accounts/{account_sid}/Events/{event_id}",
        time=now,
        data_json=json.dumps(data),
    )


async def publish_when_routed(
    router: router_pb2_grpc.RouterAsyncStub, events: list[router_pb2.Event], timeout: float = 5.0
) -> router_pb2.PublishResponse:
    """Publish until every event is routed to at least one sink. A new subscription reaches
    the router within a second (the freshness promise); a caller that has just subscribed
    retries until it has. Safe: a repeated event id is deduplicated by JetStream."""
    deadline = time.monotonic() + timeout
    while True:
        response = await router.Publish(router_pb2.PublishRequest(events=events), timeout=10)
        if all(r.code == 0 and r.deliveries > 0 for r in response.results):
            return response
        if time.monotonic() > deadline:
            raise TimeoutError(f"events not routed: {response}")
        await asyncio.sleep(0.1)


async def produce(router: str, account_sid: str, type_name: str, count: int, version: int) -> int:
    async with clients.channel(router, service_token.find()) as channel:
        stub = router_pb2_grpc.RouterStub(channel)
        events = [sample_event(account_sid, type_name, version) for _ in range(count)]
        response = await stub.Publish(router_pb2.PublishRequest(events=events), timeout=30)
    failures = 0
    for result in response.results:
        status = grpc.StatusCode.OK if result.code == 0 else f"code {result.code}"
        print(f"{result.id}: {status} deliveries={result.deliveries} {result.message}")
        failures += result.code != 0
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--type", default="com.twilio.messaging.message.delivered")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--schema-version", type=int, default=0, help="default: the latest")
    parser.add_argument("--account", help="Account SID (default: the dev account in data/)")
    parser.add_argument("--router", default="127.0.0.1:50053")
    args = parser.parse_args()
    account = args.account
    if account is None:
        path = Path("data/dev-account.json")
        if not path.exists():
            raise SystemExit("no --account given and no data/dev-account.json (is `make run` up?)")
        account = json.loads(path.read_text())["account_sid"]
    sys.exit(
        1 if asyncio.run(produce(args.router, account, args.type, args.count, args.schema_version)) else 0
    )


if __name__ == "__main__":
    main()
