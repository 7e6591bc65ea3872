"""`make demo`: against a running `make run`, a webhook sink pointing at a local receiver, a
subscription, three published events — each printed as it arrives, its signature checked
with twilio-python's RequestValidator. Cleans up the sink and subscription afterwards."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx

from devkit.produce import publish_when_routed, sample_event
from devkit.receiver import Receiver, signature_valid
from eventstreams.v1 import router_pb2_grpc
from launcher import service_token
from runtime import clients

TYPE = "com.twilio.messaging.message.delivered"


async def demo(gateway: str, router: str) -> int:
    account = Path("data") / "dev-account.json"  # make run's, where it was started
    if not account.exists():
        raise SystemExit(f"no {account}: start the suite first (make run), then make demo beside it")
    saved = json.loads(account.read_text())
    sid, token = saved["account_sid"], saved["auth_token"]
    receiver = Receiver()
    await receiver.start()
    destination = f"http://127.0.0.1:{receiver.port}/events"
    async with httpx.AsyncClient(base_url=gateway, auth=(sid, token), timeout=30) as rest:
        sink = (
            (
                await rest.post(
                    "/v1/Sinks",
                    data={
                        "Description": "make demo",
                        "SinkType": "webhook",
                        "SinkConfiguration": json.dumps(
                            {"destination": destination, "method": "POST", "batch_events": False}
                        ),
                    },
                )
            )
            .raise_for_status()
            .json()
        )
        print(f"sink {sink['sid']} ({sink['status']}) → {destination}")
        subscription = (
            (
                await rest.post(
                    "/v1/Subscriptions",
                    data={
                        "Description": "make demo",
                        "SinkSid": sink["sid"],
                        "Types": [json.dumps({"type": TYPE, "schema_version": 7})],
                    },
                )
            )
            .raise_for_status()
            .json()
        )
        print(f"subscription {subscription['sid']} to {TYPE} v7")
        try:
            async with clients.channel(router, service_token.find()) as channel:
                events = [sample_event(sid, TYPE) for _ in range(3)]
                await publish_when_routed(router_pb2_grpc.RouterStub(channel), events)
            print("published 3 events through the router's gRPC Publish")
            await receiver.wait_for(lambda r: len(r.events()) >= 3)
            valid = 0
            for record in receiver.received:
                ok = signature_valid(token, record)
                valid += ok
                for event in record.events():
                    print(
                        f"  received {event['type']} {event['id']} signature {'valid' if ok else 'INVALID'}"
                    )
            return 0 if valid == len(receiver.received) else 1
        finally:
            await rest.delete(f"/v1/Subscriptions/{subscription['sid']}")
            await rest.delete(f"/v1/Sinks/{sink['sid']}")
            await receiver.stop()


def main() -> None:
    gateway = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    router = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:50053"
    sys.exit(asyncio.run(demo(gateway, router)))


if __name__ == "__main__":
    main()
