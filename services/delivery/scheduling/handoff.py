"""Events handed from the lanes to the settler, off the lane's path: each settle runs as a
task of its own, and the worker's room gets the events' places back once it is done."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any

from services.delivery.intake.envelope import Envelope
from services.delivery.intake.room import Room
from services.delivery.scheduling.allowance import Allowance
from services.delivery.scheduling.lane import Lane
from services.delivery.settling import decision
from services.delivery.settling.decision import SinkState
from services.delivery.settling.settle import Settler
from services.delivery.sinks.base import Outcome


class Handoff:
    def __init__(self, settler: Settler, room: Room, allowance: Allowance) -> None:
        self._settler = settler
        self._room = room
        self._allowance = allowance
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # The loop's own create_task: asyncio.create_task asks for the running loop, a
        # getpid() system call per call on Python 3.11.
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def settle_later(
        self, envelopes: Sequence[Envelope], happened: decision.Happened, lane: Lane | None = None
    ) -> None:
        """The same thing happened to every one of them (handed back, unknown sink, …)."""
        state = self._allowance.state(lane) if lane is not None else SinkState()
        self.spawn(self._settle(envelopes, [happened] * len(envelopes), state))

    async def settle_call(
        self, batch: Sequence[Envelope], outcomes: Sequence[Outcome], lane: Lane, latency_ms: int
    ) -> None:
        """A call's events, each by its own outcome, judged by the lane's state as the call
        left it (awaited: the lane sends on once they are settled)."""
        try:
            state = self._allowance.state(lane)
        except BaseException:
            self._room.give(len(batch))
            raise
        await self._settle(batch, outcomes, state, latency_ms)

    async def _settle(
        self,
        envelopes: Sequence[Envelope],
        happened: Sequence[decision.Happened],
        state: SinkState,
        latency_ms: int = 0,
    ) -> None:
        try:
            await self._settler.settle_call(envelopes, happened, state, latency_ms)
        finally:
            self._room.give(len(envelopes))

    async def finish(self, timeout: float) -> None:
        """Wait for what is in flight (calls and settles), at most `timeout`."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
