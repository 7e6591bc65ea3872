"""Small helpers the integration and end-to-end tests share."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from devkit.produce import sample_event
from eventstreams.v1 import router_pb2, router_pb2_grpc


async def create_webhook_sink(
    rest: httpx.AsyncClient, url: str, batch: bool = False, method: str = "POST"
) -> dict:
    response = await rest.post(
        "/v1/Sinks",
        data={
            "Description": "test webhook",
            "SinkType": "webhook",
            "SinkConfiguration": json.dumps({"destination": url, "method": method, "batch_events": batch}),
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def subscribe(rest: httpx.AsyncClient, sink_sid: str, *types: str, version: int | None = None) -> dict:
    items = []
    for type_name in types:
        item: dict[str, object] = {"type": type_name}
        if version is not None:
            item["schema_version"] = version
        items.append(json.dumps(item))
    response = await rest.post(
        "/v1/Subscriptions", data={"Description": "test subscription", "SinkSid": sink_sid, "Types": items}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def publish_when_routed(
    router: router_pb2_grpc.RouterAsyncStub, events: list[router_pb2.Event], timeout: float = 5.0
) -> router_pb2.PublishResponse:
    """Publish until every event is routed to at least one sink: a new subscription reaches
    the router within a second (the freshness promise), so a test retries until it has."""
    deadline = time.monotonic() + timeout
    while True:
        response = await router.Publish(router_pb2.PublishRequest(events=events), timeout=10)
        if all(r.code == 0 and r.deliveries > 0 for r in response.results):
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"events not routed: {response}")
        await asyncio.sleep(0.1)


def sample(
    account_sid: str, type_name: str = "com.twilio.messaging.message.delivered", version: int = 0
) -> router_pb2.Event:
    return sample_event(account_sid, type_name, version)
