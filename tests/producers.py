"""What the producer SDK's and the outbox's end-to-end tests share: a subscribed sink, sample
data, and waiting for ids at the receiver."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from devkit.receiver import Receiver
from eventstreams.v1 import router_pb2_grpc
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

TYPE = "com.twilio.messaging.message.delivered"


def data(account_sid: str) -> tuple[dict[str, Any], int]:
    event = sample(account_sid, TYPE)
    return json.loads(event.data_json), event.schema_version


async def subscribed(
    rest: httpx.AsyncClient, router: router_pb2_grpc.RouterAsyncStub, receiver: Receiver, account_sid: str
) -> str:
    """A batching webhook sink subscribed to TYPE, routed by the router (one warm-up event)."""
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/sdk", batch=True)
    await subscribe(rest, sink["sid"], TYPE)
    warm = sample(account_sid, TYPE)
    await publish_when_routed(router, [warm], timeout=20)
    return warm.id


def received(receiver: Receiver) -> Counter[str]:
    return Counter(str(e["id"]) for e in receiver.events())


async def all_arrived(receiver: Receiver, ids: Sequence[str], settle: float = 1.0) -> Counter[str]:
    """Wait until every id arrived, then a little longer for any copy that might follow."""
    await receiver.wait_for(lambda r: set(ids) <= set(received(r)), timeout=30)
    await asyncio.sleep(settle)
    return received(receiver)
