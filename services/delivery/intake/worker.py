"""A delivery worker's intake: a continuous pull from the shared durable consumer of every
partition's events stream, each message handed to its sink's lane, never more held at once
than the worker's room."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg

from services.delivery.intake.envelope import Envelope
from services.delivery.intake.puller import Puller
from services.delivery.intake.room import Room


class Lanes(Protocol):
    """Where each message read goes (the scheduling room's Dispatcher)."""

    def offer(self, envelope: Envelope) -> None: ...

    async def drain(self, timeout: float) -> None:
        """Give back what is only queued; finish what is in flight."""


def bells(streams: str | Sequence[str]) -> list[asyncio.Event]:
    """One wake-up per puller (per stream), for the room to ring and the puller to wait on."""
    return [asyncio.Event() for _ in ([streams] if isinstance(streams, str) else streams)]


def share(free: int, partitions: int) -> int:
    """One puller's part of the room: an equal share, so what all ask for together never
    exceeds it (a quiet partition's share waits in its outstanding request, at most the
    request's expiry, while the busy ones fill theirs)."""
    return free // partitions


class Worker:
    def __init__(
        self,
        nc: Client,
        stream: str | Sequence[str],
        consumer: str,
        lanes: Lanes,
        room: Room,
        wakes: Sequence[asyncio.Event],
    ) -> None:
        """`stream`: the events stream, or every partition's (one puller each, one room).
        `wakes`: one per stream (`bells`), the same the room rings as it frees."""
        self.lanes = lanes
        streams = [stream] if isinstance(stream, str) else list(stream)
        if len(wakes) != len(streams):
            raise ValueError(f"{len(wakes)} wake-ups for {len(streams)} streams")
        count = len(streams)
        self._pullers = [
            Puller(nc, name, consumer, self._offer, lambda: share(room.free, count), wake=wake)
            for name, wake in zip(streams, wakes, strict=True)
        ]

    def _offer(self, msg: Msg) -> None:
        self.lanes.offer(Envelope.of(msg))

    async def run(self) -> None:
        await asyncio.gather(*(puller.run() for puller in self._pullers))

    async def drain(self) -> None:
        """Stop pulling; give back what is queued; finish what is in flight."""
        await asyncio.gather(*(puller.stop() for puller in self._pullers))
        await self.lanes.drain(timeout=10)
