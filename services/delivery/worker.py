"""A delivery worker's intake: a continuous pull from the shared durable consumer, each
message handed to its sink's lane, never more held at once than the worker allows."""

from __future__ import annotations

from nats.aio.client import Client
from nats.aio.msg import Msg

from services.delivery.lanes import Dispatcher, Envelope
from services.delivery.puller import Puller


class Worker:
    def __init__(
        self, nc: Client, stream: str, consumer: str, dispatcher: Dispatcher, max_buffered: int
    ) -> None:
        self._dispatcher = dispatcher
        self._max_buffered = max_buffered
        self._puller = Puller(nc, stream, consumer, self._offer, self._room)
        dispatcher.on_room = self._puller.wake

    def _offer(self, msg: Msg) -> None:
        self._dispatcher.offer(Envelope.of(msg))

    def _room(self) -> int:
        return max(0, self._max_buffered - self._dispatcher.buffered)

    async def run(self) -> None:
        await self._puller.run()

    async def drain(self) -> None:
        """Stop pulling; give back what is queued; finish what is in flight."""
        await self._puller.stop()
        await self._dispatcher.drain(timeout=10)
