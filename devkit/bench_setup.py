"""What the bench sets up and watches: an account (control's gRPC CreateAccount), its sinks and
subscriptions (through the REST gateway, as a customer would), and the fast receiver's stats."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc


@dataclass(frozen=True)
class Account:
    sid: str
    auth_token: str


BENCH_ENV = {"ES_ALLOW_PRIVATE_DESTINATIONS": "true", "ES_LOG_LEVEL": "WARNING"}


def sqlite_suite(directory: Path, extra_env: dict[str, str] | None = None, metrics: bool = True) -> Suite:
    """A bench's suite: SQLite stores in `directory`, one worker, private destinations
    allowed (the receiver is local), warnings only."""
    return Suite(
        data_dir=directory,
        catalog_db=f"sqlite+aiosqlite:///{directory / 'catalog.db'}",
        control_db=f"sqlite+aiosqlite:///{directory / 'control.db'}",
        log_dir=directory / "logs",
        extra_env={**BENCH_ENV, **(extra_env or {})},
        metrics=metrics,
    )


async def create_account(suite: Suite, name: str = "bench") -> Account:
    async with suite.channel("control") as channel:
        control = control_pb2_grpc.ControlStub(channel)
        account = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name=name))
    return Account(account.sid, account.auth_token)


class Rest:
    """The gateway, authenticated as the account."""

    def __init__(self, suite: Suite, account: Account) -> None:
        self._client = httpx.AsyncClient(
            base_url=suite.gateway_url, auth=(account.sid, account.auth_token), timeout=30
        )

    async def __aenter__(self) -> Rest:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._client.aclose()

    async def webhook_sink(self, description: str, destination: str, batch_events: bool) -> str:
        config = {"destination": destination, "method": "POST", "batch_events": batch_events}
        return await self.create_sink(description, "webhook", config)

    async def create_sink(self, description: str, sink_type: str, config: dict[str, Any]) -> str:
        response = await self._client.post(
            "/v1/Sinks",
            data={
                "Description": description,
                "SinkType": sink_type,
                "SinkConfiguration": json.dumps(config),
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"creating a {sink_type} sink: {response.status_code} {response.text}")
        return str(response.json()["sid"])

    async def kinesis_external_id(self) -> str:
        """The ExternalId issued to the account: the only one its Kinesis sinks may carry."""
        response = await self._client.get("/v1/Sinks/Kinesis/ExternalId")
        return str(response.raise_for_status().json()["external_id"])

    async def sink_status(self, sink_sid: str) -> str:
        response = await self._client.get(f"/v1/Sinks/{sink_sid}")
        return str(response.raise_for_status().json()["status"])

    async def test_sink(self, sink_sid: str) -> None:
        """Twilio's Test: a test event through the delivery pipeline; the sink is validating."""
        response = await self._client.post(f"/v1/Sinks/{sink_sid}/Test")
        if response.status_code != 201:
            raise RuntimeError(f"Test of {sink_sid}: {response.status_code} {response.text}")

    async def validate_sink(self, sink_sid: str, test_id: str) -> None:
        """Twilio's Validate with the test event's test_id: the sink becomes active."""
        response = await self._client.post(f"/v1/Sinks/{sink_sid}/Validate", data={"TestId": test_id})
        if response.status_code != 201 or response.json().get("result") != "valid":
            raise RuntimeError(f"Validate of {sink_sid}: {response.status_code} {response.text}")

    async def delete_sink(self, sink_sid: str) -> None:
        (await self._client.delete(f"/v1/Sinks/{sink_sid}")).raise_for_status()

    async def deliveries(self, sink_sid: str, event_id: str, page_size: int = 50) -> list[dict[str, Any]]:
        """The delivery log's attempts for one event, oldest first."""
        response = await self._client.get(
            f"/v1/Sinks/{sink_sid}/Deliveries", params={"EventId": event_id, "PageSize": page_size}
        )
        found = list(response.raise_for_status().json().get("deliveries", []))
        return sorted(found, key=lambda a: (a.get("attempt", 0), a.get("date_created", "")))

    async def subscribe(
        self, description: str, sink_sid: str, types: list[str], ordering_key: str = ""
    ) -> str:
        data: dict[str, Any] = {
            "Description": description,
            "SinkSid": sink_sid,
            "Types": [json.dumps({"type": t}) for t in types],
        }
        if ordering_key:
            data["OrderingKey"] = ordering_key
        response = await self._client.post("/v1/Subscriptions", data=data)
        return str(response.raise_for_status().json()["sid"])

    async def unsubscribe(self, subscription_sid: str) -> None:
        (await self._client.delete(f"/v1/Subscriptions/{subscription_sid}")).raise_for_status()


@dataclass(frozen=True)
class PathCount:
    requests: int
    events: int
    duplicates: int
    first_at: float
    last_at: float


class ReceiverClient:
    """The fast receiver's control endpoints."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._client = httpx.AsyncClient(base_url=self.base, timeout=10)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    async def close(self) -> None:
        await self._client.aclose()

    async def reset(self) -> None:
        (await self._client.post("/_reset")).raise_for_status()

    async def counters(self) -> dict[str, Any]:
        return dict((await self._client.get("/_stats")).raise_for_status().json())

    async def path(self, path: str) -> PathCount:
        found = (await self.counters())["paths"].get(path, {})
        return PathCount(
            requests=int(found.get("requests", 0)),
            events=int(found.get("events", 0)),
            duplicates=int(found.get("duplicates", 0)),
            first_at=float(found.get("first_at", 0.0)),
            last_at=float(found.get("last_at", 0.0)),
        )

    async def track(self, path: str) -> None:
        """Record each event's first receipt time and every request on `path` from now on."""
        (await self._client.post("/_track", params={"path": path})).raise_for_status()

    async def fail(self, path: str, seconds: float, status: int = 500) -> dict[str, Any]:
        """An outage of `path` for `seconds` from now: {"from", "until", ...} (epoch s)."""
        response = await self._client.post(
            "/_fail", params={"path": path, "seconds": str(seconds), "status": str(status)}
        )
        return dict(response.raise_for_status().json())

    async def arrivals(self, path: str) -> dict[str, Any]:
        response = await self._client.get("/_arrivals", params={"path": path}, timeout=60)
        return dict(response.raise_for_status().json())

    async def latency(self, path: str) -> dict[str, Any]:
        response = await self._client.get("/_latency", params={"path": path})
        return dict(response.raise_for_status().json())

    async def wait_events(
        self, path: str, target: int, stall_seconds: float, deadline_seconds: float = 3600.0
    ) -> PathCount:
        """Poll until `path` has `target` events, or nothing new arrived for `stall_seconds`,
        or `deadline_seconds` passed; returns the last count either way."""
        started = time.monotonic()
        last = await self.path(path)
        progressed = time.monotonic()
        while last.events < target:
            now = time.monotonic()
            if now - progressed > stall_seconds or now - started > deadline_seconds:
                break
            await asyncio.sleep(0.05)
            current = await self.path(path)
            if current.events > last.events:
                progressed = time.monotonic()
            last = current
        return last
