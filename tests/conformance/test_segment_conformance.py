"""Tier 2 for Segment: a stand-in for Segment's HTTP Tracking API."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conformance.harness import STALL_SECONDS, Expect
from tests.conformance.suite import SinkConformance
from tests.support.segment_receiver import SegmentReceiver


@dataclass
class SegmentHarness:
    api: SegmentReceiver
    write_key: str = field(default_factory=lambda: "wk_" + secrets.token_hex(8))
    name: str = "segment"
    sink_type: str = "segment"
    partial_failures: bool = False
    assumes_role: bool = False
    external_id: str = ""
    max_event_bytes: int = 32 * 1024  # of the Segment message made of the event
    max_call_bytes: int = 500 * 1024
    expect: dict[str, Expect] = field(
        default_factory=lambda: {
            "throttle": Expect(91302, True),
            "server": Expect(91306, True),
            "reject": Expect(91305, False),
            "timeout": Expect(91308, True),
            "refused": Expect(91307, True),
        }
    )

    async def config(self) -> dict[str, Any]:
        self.api.reset()
        self.api.add_write_key(self.write_key)
        return {"write_key": self.write_key}

    def events(self) -> list[dict[str, Any]]:
        return [
            {
                "id": m["messageId"],
                "type": m["event"],
                "data": m["properties"],
                "time": m.get("timestamp"),
                "user_id": m.get("userId"),
            }
            for m in self.api.messages(self.write_key)
        ]

    def inject(self, fault: str, count: int | None = None) -> None:
        if fault == "timeout":
            self.api.delay(STALL_SECONDS, count)
        else:
            self.api.fail({"throttle": 429, "server": 500, "reject": 400}[fault], count)

    def clear(self) -> None:
        self.api.clear_faults()

    async def down(self) -> None:
        await self.api.go_down()

    async def up(self) -> None:
        await self.api.come_up()

    def calls_within_limits(self) -> bool:
        return 400 not in self.api.statuses

    async def close(self) -> None:
        self.api.clear_faults()
        await self.api.come_up()


class TestSegment(SinkConformance):
    @pytest.fixture
    async def harness(self, segment_api: SegmentReceiver) -> AsyncIterator[SegmentHarness]:
        made = SegmentHarness(segment_api)
        yield made
        await made.close()
