"""A delivery worker's intake: a continuous pull from the shared durable consumer, each
message handed to its sink's lane, never more held at once than the worker's room."""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.msg import Msg

from services.delivery.lanes import Dispatcher
from services.delivery.puller import Puller
from services.delivery.room import Room
from services.delivery.settle import Envelope


class Worker:
    def __init__(self, nc: Client, stream: str, consumer: str, dispatcher: Dispatcher, room: Room) -> None:
        self.dispatcher = dispatcher
        self._puller = Puller(nc, stream, consumer, self._offer, lambda: room.free)
        room.on_free(self._puller.wake)

    def _offer(self, msg: Msg) -> None:
        self.dispatcher.offer(Envelope.of(msg))

    async def run(self) -> None:
        await self._puller.run()

    async def drain(self) -> None:
        """Stop pulling; give back what is queued; finish what is in flight."""
        await self._puller.stop()
        await self.dispatcher.drain(timeout=10)
