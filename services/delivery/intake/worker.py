"""A delivery worker's intake: a continuous pull from the shared durable consumer of every
partition's events stream, each message handed to its sink's lane, never more held at once
than the worker's room."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg

from services.delivery.intake.envelope import Envelope
from services.delivery.intake.puller import Puller
from services.delivery.intake.room import Room
from services.delivery.scheduling.lanes import Dispatcher


def share(free: int, partitions: int) -> int:
    """One puller's part of the room: an equal share, so what all ask for together never
    exceeds it (a quiet partition's share waits in its outstanding request, at most the
    request's expiry, while the busy ones fill theirs)."""
    return free // partitions


class Worker:
    def __init__(
        self, nc: Client, stream: str | Sequence[str], consumer: str, dispatcher: Dispatcher, room: Room
    ) -> None:
        """`stream`: the events stream, or every partition's (one puller each, one room)."""
        self.dispatcher = dispatcher
        streams = [stream] if isinstance(stream, str) else list(stream)
        count = len(streams)
        self._pullers = [
            Puller(nc, name, consumer, self._offer, lambda: share(room.free, count)) for name in streams
        ]
        for puller in self._pullers:
            room.on_free(puller.wake)

    def _offer(self, msg: Msg) -> None:
        self.dispatcher.offer(Envelope.of(msg))

    async def run(self) -> None:
        await asyncio.gather(*(puller.run() for puller in self._pullers))

    async def drain(self) -> None:
        """Stop pulling; give back what is queued; finish what is in flight."""
        await asyncio.gather(*(puller.stop() for puller in self._pullers))
        await self.dispatcher.drain(timeout=10)
