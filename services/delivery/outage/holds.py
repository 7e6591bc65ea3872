"""The hold watch: nothing waits in a worker past the hold time (a fraction of ack_wait).

A lane that is restricted — its sink down or throttled — hands back what it has held that
long (others, or it later, take it again); a healthy one tells JetStream its events are still
being worked on, so none is redelivered to another worker while this one holds it. A call in
flight that long (credentials, then the call, each with its timeout) is still being worked
on too. Idle lanes are forgotten on the same beat."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from services.delivery.intake.envelope import Envelope
from services.delivery.scheduling.lane import Lane, LaneRules


class HeldLanes(Protocol):
    """The lanes as the watch sees them (the scheduling room's Dispatcher)."""

    def lanes(self) -> list[Lane]: ...

    def hand_back(self, lane: Lane, envelopes: Sequence[Envelope]) -> None: ...

    def forget_idle_lanes(self) -> None: ...


class HoldWatch:
    def __init__(self, lanes: HeldLanes, rules: LaneRules) -> None:
        self._lanes = lanes
        self._rules = rules

    async def run(self) -> None:
        period = max(0.1, self._rules.hold_seconds / 3)
        while True:
            await asyncio.sleep(period)
            await self.check_holds()
            self._lanes.forget_idle_lanes()

    async def check_holds(self) -> None:
        limit = time.monotonic() - self._rules.hold_seconds
        for lane in self._lanes.lanes():
            for envelope in [e for batch in lane.flying for e in batch if e.held_since <= limit]:
                envelope.held_since = time.monotonic()
                await envelope.msg.in_progress()
            if not lane.queue or lane.queue[0].held_since > limit:
                continue
            if lane.failing or lane.limiter.throttled:
                stale = [e for e in lane.queue if e.held_since <= limit]
                lane.queue = deque(e for e in lane.queue if e.held_since > limit)
                self._lanes.hand_back(lane, stale)
                continue
            now = time.monotonic()
            for envelope in lane.queue:
                if envelope.held_since <= limit:
                    envelope.held_since = now
                    await envelope.msg.in_progress()
