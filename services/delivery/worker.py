"""A delivery worker: pull from the shared durable consumer, deliver, then ack — or nak
with the next backoff delay, or terminate and record why."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from runtime import jetstream
from services.delivery import policy
from services.delivery.directory import SinkDirectory
from services.delivery.errors import DeliveryError, Permanent, SinkGone
from services.delivery.sinks.base import SinkDriver

log = logging.getLogger(__name__)

# A message for a sink this worker does not know yet is retried this many times (its
# routing snapshot may lag the router's) before the sink counts as gone.
UNKNOWN_SINK_ATTEMPTS = 5


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_delay_seconds: float
    max_age_seconds: float


class Worker:
    def __init__(
        self,
        subscription: JetStreamContext.PullSubscription,
        directory: SinkDirectory,
        drivers: dict[str, SinkDriver],
        retry: RetryPolicy,
        fetch_batch: int,
        max_in_flight: int,
    ) -> None:
        self._subscription = subscription
        self._directory = directory
        self._drivers = drivers
        self._retry = retry
        self._fetch_batch = fetch_batch
        self._max_in_flight = max_in_flight
        self._slots = asyncio.Semaphore(max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            want = min(self._fetch_batch, max(1, self._max_in_flight - len(self._in_flight)))
            try:
                messages = await self._subscription.fetch(want, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                continue
            except Exception as exc:
                log.warning("fetch failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for message in messages:
                await self._slots.acquire()
                task = asyncio.create_task(self._handle(message))
                self._in_flight.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slots.release()

    async def drain(self) -> None:
        """Stop fetching and let what is in flight finish (or be redelivered after ack wait)."""
        self._stopping.set()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=10)

    async def _handle(self, message: Msg) -> None:
        headers = message.headers or {}
        sink_sid = headers.get(jetstream.HDR_SINK, "")
        attempt = message.metadata.num_delivered
        target = self._directory.target(sink_sid)
        try:
            if target is None:
                if attempt < UNKNOWN_SINK_ATTEMPTS:
                    await message.nak(delay=1.0)
                    return
                raise SinkGone(f"sink {sink_sid} no longer exists")
            driver = self._drivers.get(target.sink_type)
            if driver is None:
                raise Permanent(f"no driver for sink type {target.sink_type}")
            await driver.deliver(target, [message.data])
        except DeliveryError as error:
            await self._failed(message, sink_sid, attempt, error)
            return
        await message.ack()

    async def _failed(self, message: Msg, sink_sid: str, attempt: int, error: DeliveryError) -> None:
        published = message.metadata.timestamp
        age = time.time() - published.timestamp() if published else 0.0
        if error.retryable and age < self._retry.max_age_seconds:
            delay = policy.retry_delay(
                attempt, self._retry.base_seconds, self._retry.max_delay_seconds, error.retry_after
            )
            log.info(
                "sink %s attempt %d failed (%s); retry in %.1fs", sink_sid, attempt, error.message, delay
            )
            await message.nak(delay=delay)
            return
        log.warning(
            "sink %s: giving up on %s after %d attempt(s): %s (%d)",
            sink_sid,
            (message.headers or {}).get(jetstream.HDR_EVENT_ID),
            attempt,
            error.message,
            error.code,
        )
        await message.term()
