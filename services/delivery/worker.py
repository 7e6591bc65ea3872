"""A delivery worker's intake: pull from the shared durable consumer and hand each message
to its sink's lane, holding no more than a bounded number at once."""

from __future__ import annotations

import asyncio
import logging

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from services.delivery.lanes import Dispatcher, Envelope

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        subscription: JetStreamContext.PullSubscription,
        dispatcher: Dispatcher,
        fetch_batch: int,
        max_buffered: int,
    ) -> None:
        self._subscription = subscription
        self._dispatcher = dispatcher
        self._fetch_batch = fetch_batch
        self._max_buffered = max_buffered
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            await self._dispatcher.wait_for_room(self._max_buffered)
            want = min(self._fetch_batch, self._max_buffered - self._dispatcher.buffered)
            try:
                messages = await self._subscription.fetch(max(1, want), timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:
                if self._stopping.is_set():
                    return
                log.warning("fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if self._stopping.is_set():
                # Fetched while draining: give it straight back for another worker.
                for message in messages:
                    await message.nak()
                return
            for message in messages:
                self._dispatcher.offer(Envelope.of(message))

    async def drain(self) -> None:
        """Stop fetching; give back what is queued; finish what is in flight."""
        self._stopping.set()
        await self._dispatcher.drain(timeout=10)
