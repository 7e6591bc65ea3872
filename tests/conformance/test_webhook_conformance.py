"""Tier 2 for webhooks, one event per request and batched: a real HTTP receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from devkit.receiver import Received, Receiver
from tests.conformance.harness import STALL_SECONDS, STREAM_LIMIT, Expect
from tests.conformance.suite import SinkConformance


@dataclass
class WebhookHarness:
    batch: bool
    receiver: Receiver = field(default_factory=Receiver)
    accepted: list[Received] = field(default_factory=list)  # answered 2xx
    fault: str | None = None
    fault_count: int | None = None
    sink_type: str = "webhook"
    partial_failures: bool = False
    assumes_role: bool = False
    external_id: str = ""
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    @property
    def name(self) -> str:
        return "webhook-batch" if self.batch else "webhook"

    @property
    def max_event_bytes(self) -> int:
        return 64 * 1024 - 2 if self.batch else STREAM_LIMIT

    @property
    def max_call_bytes(self) -> int:
        return 64 * 1024 if self.batch else STREAM_LIMIT

    async def config(self) -> dict[str, Any]:
        self.receiver.responder = self._respond
        url = await self.receiver.start()
        return {"destination": f"{url}/hook", "method": "POST", "batch_events": self.batch}

    async def _respond(self, record: Received) -> web.StreamResponse:
        fault = self._take()
        if fault == "timeout":
            await asyncio.sleep(STALL_SECONDS)
        status = {"throttle": 429, "server": 500, "reject": 400}.get(fault or "", 200)
        if status == 200:
            self.accepted.append(record)
        return web.Response(status=status)

    def _take(self) -> str | None:
        fault = self.fault
        if fault is not None and self.fault_count is not None:
            self.fault_count -= 1
            if self.fault_count <= 0:
                self.fault = None
        return fault

    def events(self) -> list[dict[str, Any]]:
        return [e for r in list(self.accepted) if r.method == "POST" and r.body for e in r.events()]

    def inject(self, fault: str, count: int | None = None) -> None:
        self.fault, self.fault_count = fault, count

    def clear(self) -> None:
        self.fault = None

    async def down(self) -> None:
        await self.receiver.stop()

    async def up(self) -> None:
        await self.receiver.start(port=self.receiver.port)

    def calls_within_limits(self) -> bool:
        if not self.batch:
            return all(not r.body.startswith(b"[") for r in self.receiver.received)
        return all(len(r.body) <= 64 * 1024 and r.body.startswith(b"[") for r in self.receiver.received)

    async def close(self) -> None:
        await self.receiver.stop()


class TestWebhook(SinkConformance):
    @pytest.fixture(params=[False, True], ids=["webhook", "webhook-batch"])
    async def harness(self, request: pytest.FixtureRequest) -> AsyncIterator[WebhookHarness]:
        made = WebhookHarness(batch=request.param)
        yield made
        await made.close()
