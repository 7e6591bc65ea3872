"""Small helpers the integration and end-to-end tests share."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from types import ModuleType
from typing import Any, NoReturn

import httpx
import pytest

from devkit.produce import publish_when_routed, sample_event

__all__ = [
    "create_webhook_sink",
    "import_or_missing",
    "missing_tool",
    "publish_when_routed",
    "sample",
    "subscribe",
]
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


async def kinesis_external_id(rest: httpx.AsyncClient) -> str:
    """The ExternalId the deployment issued to the client's account: the only one its Kinesis
    sinks may carry."""
    response = await rest.get("/v1/Sinks/Kinesis/ExternalId")
    assert response.status_code == 200, response.text
    return str(response.json()["external_id"])


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


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing_tool(reason: str) -> NoReturn:
    """A tool a test needs is not installed: skipped on a developer's machine, but a failure
    under CI (CI=true), where `make test` installs everything — a test must not pass there
    by skipping."""
    if under_ci():
        pytest.fail(f"{reason} (under CI a missing tool fails the test instead of skipping it)")
    pytest.skip(reason)


def import_or_missing(name: str, reason: str, minversion: str | None = None) -> ModuleType:
    try:
        module = importlib.import_module(name)
    except ImportError:
        missing_tool(reason)
    if minversion is not None:
        from packaging.version import Version

        if Version(getattr(module, "__version__", "0")) < Version(minversion):
            missing_tool(f"{reason} ({name} >= {minversion} needed)")
    return module


async def wait_health(
    rest: httpx.AsyncClient, sink: str, wanted: Any, timeout: float = 30.0
) -> dict[str, Any]:
    """GET the sink's health until `wanted(body)` (workers report every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await rest.get(f"/v1/Sinks/{sink}/Health")
        assert response.status_code == 200, response.text
        body = dict(response.json())
        if wanted(body):
            return body
        assert time.monotonic() < deadline, f"health never became what was wanted: {body}"
        await asyncio.sleep(0.5)
