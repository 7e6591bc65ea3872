"""Small helpers the integration and end-to-end tests share."""

from __future__ import annotations

import json

import httpx

from devkit.produce import publish_when_routed, sample_event

__all__ = ["create_webhook_sink", "publish_when_routed", "sample", "subscribe"]
from eventstreams.v1 import router_pb2


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


def sample(
    account_sid: str, type_name: str = "com.twilio.messaging.message.delivered", version: int = 0
) -> router_pb2.Event:
    return sample_event(account_sid, type_name, version)
