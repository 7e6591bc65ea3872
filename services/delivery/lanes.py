"""Per-sink lanes: the isolation between sinks.

Messages from the shared consumer are dispatched to one lane per sink. A lane has its own
queue, its own concurrency, its own throttle and its own batching, so a sink that times
out, fails or is throttled only ever slows itself: its excess is handed back to JetStream
with a delay (nak) instead of sitting in memory, and a failing sink is probed by a single
request at a time until it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg

from runtime import jetstream
from runtime.times import utcnow
from services.delivery import batching, policy, throttle
from services.delivery.directory import SinkDirectory
from services.delivery.errors import (
    DeliveryError,
    Permanent,
    Retryable,
    SchemaMismatch,
    ServerError,
    SinkGone,
    Throttled,
)
from services.delivery.journal import Attempt, DeadLetter, Journal
from services.delivery.sinks.base import SinkDriver, SinkTarget

log = logging.getLogger(__name__)

# A message for a sink this worker does not know yet is retried this many times (its
# routing snapshot may lag the router's) before the sink counts as gone.
UNKNOWN_SINK_ATTEMPTS = 5


@dataclass(frozen=True)
class Envelope:
    """One message from the stream, read once."""

    msg: Msg
    sink_sid: str
    account_sid: str
    event_id: str
    type_name: str
    payload: bytes
    delivered: int  # JetStream's delivery count for this message
    stored_at: float  # when the stream stored it (epoch seconds): the retry window's start
    failure: str  # set by the router: the event cannot go to this sink, only be recorded

    @classmethod
    def of(cls, msg: Msg) -> Envelope:
        headers = msg.headers or {}
        metadata = msg.metadata
        account_sid, sink_sid = jetstream.StreamSpec.addressee(msg.subject)
        return cls(
            msg=msg,
            sink_sid=sink_sid,
            account_sid=account_sid,
            event_id=headers.get(jetstream.HDR_EVENT_ID, ""),
            type_name=headers.get(jetstream.HDR_TYPE, ""),
            payload=msg.data,
            delivered=metadata.num_delivered,
            stored_at=metadata.timestamp.timestamp() if metadata.timestamp else time.time(),
            failure=headers.get(jetstream.HDR_FAILURE, ""),
        )


@dataclass(frozen=True)
class LaneRules:
    concurrency: int = 32  # requests in flight to one healthy sink
    # For a batching sink: fewer requests at once, so that under load ready events gather
    # into full batches instead of leaving one by one.
    batch_concurrency: int = 4
    probe_concurrency: int = 1  # to a sink whose last request failed
    # A healthy sink may queue as much as the worker holds: it drains fast, and handing its
    # excess back to JetStream would only churn. A failing, throttled or slow one keeps a
    # few; the rest waits in JetStream, so it cannot take the worker's room from others.
    failing_buffer: int = 16
    slow_seconds: float = 1.0  # a sink answering slower than this on average counts as slow
    retry_base_seconds: float = 1.0
    retry_max_delay_seconds: float = 300.0
    max_retry_age_seconds: float = 4 * 3600.0
    throttle: throttle.ThrottleRules = field(default_factory=throttle.ThrottleRules)


@dataclass
class Lane:
    sink_sid: str
    queue: deque[Envelope] = field(default_factory=deque)
    in_flight: int = 0
    failures: int = 0  # consecutive retryable failures
    limiter: throttle.Throttle = field(default_factory=throttle.Throttle)
    timer: asyncio.TimerHandle | None = None
    latency: float = 0.0  # moving average of request time, seconds

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def observe(self, seconds: float) -> None:
        self.latency = seconds if self.latency == 0.0 else 0.8 * self.latency + 0.2 * seconds


class Dispatcher:
    def __init__(
        self,
        directory: SinkDirectory,
        drivers: dict[str, SinkDriver],
        journal: Journal,
        rules: LaneRules,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._drivers = drivers
        self._journal = journal
        self._rules = rules
        self._clock = clock
        self._lanes: dict[str, Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.buffered = 0  # envelopes this worker holds: queued or being delivered
        # Told when buffered drops: the intake may take more.
        self.on_room: Callable[[], None] = lambda: None

    # Intake

    def offer(self, envelope: Envelope) -> None:
        if envelope.failure:
            self._spawn(self._undeliverable(envelope))
            return
        lane = self._lanes.get(envelope.sink_sid)
        if lane is None:
            lane = self._lanes[envelope.sink_sid] = Lane(envelope.sink_sid)
        if len(lane.queue) >= self._capacity(lane):
            self._spawn(self._defer(lane, envelope))
            return
        lane.queue.append(envelope)
        self._hold(1)
        self._pump(lane)

    def _hold(self, count: int) -> None:
        self.buffered += count

    def _release(self, count: int) -> None:
        self.buffered -= count
        self.on_room()

    def _capacity(self, lane: Lane) -> int:
        if self._restricted(lane):
            return self._rules.failing_buffer
        return sys.maxsize  # bounded by the worker's own room

    def _restricted(self, lane: Lane) -> bool:
        return lane.failing or lane.limiter.throttled or lane.latency > self._rules.slow_seconds

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Sending

    def _pump(self, lane: Lane) -> None:
        target = self._directory.target(lane.sink_sid)
        if target is None or target.sink_type not in self._drivers:
            envelopes = list(lane.queue)
            lane.queue.clear()
            for envelope in envelopes:
                self._spawn(self._unroutable(envelope, target))
            self._forget_if_idle(lane)
            return
        driver = self._drivers[target.sink_type]
        limit_bytes = driver.batch_bytes(target)
        if lane.failing:
            limit = self._rules.probe_concurrency
        else:
            limit = self._rules.batch_concurrency if limit_bytes else self._rules.concurrency
        while lane.queue and lane.in_flight < limit and lane.timer is None:
            wanted = 1
            if limit_bytes:
                sizes = [len(e.payload) for e in list(lane.queue)[:1000]]
                wanted = batching.take(sizes, limit_bytes)
            now = self._clock()
            lane.limiter = throttle.relax(lane.limiter, now, self._rules.throttle)
            lane.limiter, granted, wait = throttle.acquire(lane.limiter, wanted, now)
            if granted == 0:
                lane.timer = asyncio.get_running_loop().call_later(wait, self._wake, lane)
                return
            batch = [lane.queue.popleft() for _ in range(granted)]
            lane.in_flight += 1
            self._spawn(self._deliver(lane, target, driver, batch))
        self._forget_if_idle(lane)

    def _wake(self, lane: Lane) -> None:
        lane.timer = None
        self._pump(lane)

    def _forget_if_idle(self, lane: Lane) -> None:
        # Idle lanes with nothing to remember go, so many sinks do not mean much memory.
        if not lane.queue and not lane.in_flight and not lane.failing and not lane.limiter.throttled:
            if lane.timer is None:
                self._lanes.pop(lane.sink_sid, None)

    async def _deliver(
        self, lane: Lane, target: SinkTarget, driver: SinkDriver, batch: list[Envelope]
    ) -> None:
        started = time.monotonic()
        error: DeliveryError | None = None
        status = 0
        try:
            status = await driver.deliver(target, [e.payload for e in batch])
        except DeliveryError as exc:
            error = exc
        except Exception as exc:
            log.exception("sink %s: internal error while delivering", lane.sink_sid)
            error = Retryable(f"internal error: {exc}")
            error.code = 91304
        elapsed = time.monotonic() - started
        latency_ms = int(elapsed * 1000)
        lane.observe(elapsed)
        lane.in_flight -= 1
        try:
            if error is None:
                lane.failures = 0
                for envelope in batch:
                    await envelope.msg.ack()
                    self._record(envelope, "delivered", latency_ms, None, status)
            else:
                await self._failed(lane, batch, error, latency_ms)
        finally:
            self._release(len(batch))
            if self._restricted(lane):
                self._shed(lane)
            self._pump(lane)

    async def _failed(self, lane: Lane, batch: list[Envelope], error: DeliveryError, latency_ms: int) -> None:
        now = self._clock()
        if isinstance(error, (Throttled, ServerError)):
            lane.limiter = throttle.on_error(lane.limiter, now, self._rules.throttle)
        if error.retryable:
            lane.failures += 1
        for envelope in batch:
            if error.retryable and now - envelope.stored_at < self._rules.max_retry_age_seconds:
                delay = policy.retry_delay(
                    envelope.delivered,
                    self._rules.retry_base_seconds,
                    self._rules.retry_max_delay_seconds,
                    error.retry_after,
                )
                await envelope.msg.nak(delay=delay)
                self._record(envelope, "retrying", latency_ms, error)
            else:
                reason = error.message if not error.retryable else f"retry window exceeded: {error.message}"
                await self._dead_letter(envelope, reason, error)
                self._record(envelope, "failed", latency_ms, error)

    def _shed(self, lane: Lane) -> None:
        """A failing, throttled or slow lane keeps only a few events; the rest wait in JetStream."""
        while len(lane.queue) > self._rules.failing_buffer:
            envelope = lane.queue.pop()
            self._release(1)
            self._spawn(self._defer(lane, envelope))

    async def _defer(self, lane: Lane, envelope: Envelope) -> None:
        """Hand an event back to JetStream for later: not an attempt, so not recorded as one."""
        now = self._clock()
        if now - envelope.stored_at >= self._rules.max_retry_age_seconds:
            error = Permanent("retry window exceeded while the sink was failing or throttled")
            await self._dead_letter(envelope, error.message, error)
            return
        if lane.failing:
            delay = policy.retry_delay(
                lane.failures, self._rules.retry_base_seconds, self._rules.retry_max_delay_seconds
            )
        elif lane.limiter.cap is not None:
            delay = max(0.5, len(lane.queue) / lane.limiter.cap)
        else:
            # Slow: back when what it has queued should be through.
            concurrency = max(1, self._rules.concurrency)
            delay = max(0.5, lane.latency * len(lane.queue) / concurrency)
        await envelope.msg.nak(delay=min(delay, self._rules.retry_max_delay_seconds))

    async def _undeliverable(self, envelope: Envelope) -> None:
        error = SchemaMismatch(f"event {envelope.failure}")
        await self._dead_letter(envelope, error.message, error)
        self._record(envelope, "failed", 0, error)

    async def _unroutable(self, envelope: Envelope, target: SinkTarget | None) -> None:
        try:
            if target is None and envelope.delivered < UNKNOWN_SINK_ATTEMPTS:
                await envelope.msg.nak(delay=1.0)
                return
            error: DeliveryError = (
                SinkGone(f"sink {envelope.sink_sid} no longer exists")
                if target is None
                else SinkGone(f"sink type {target.sink_type} cannot be delivered to yet")
            )
            await self._dead_letter(envelope, error.message, error)
            self._record(envelope, "failed", 0, error)
        finally:
            self._release(1)

    async def _dead_letter(self, envelope: Envelope, reason: str, error: DeliveryError) -> None:
        await self._journal.dead_letter(
            DeadLetter(
                account_sid=envelope.account_sid,
                sink_sid=envelope.sink_sid,
                event_id=envelope.event_id,
                type=envelope.type_name,
                subject=envelope.msg.subject,
                payload=envelope.payload,
                attempts=envelope.delivered,
                reason=reason,
                error_code=error.code,
                status_code=error.status,
            )
        )
        await envelope.msg.term()

    def _record(
        self, envelope: Envelope, outcome: str, latency_ms: int, error: DeliveryError | None, status: int = 0
    ) -> None:
        self._journal.attempt(
            Attempt(
                account_sid=envelope.account_sid,
                sink_sid=envelope.sink_sid,
                event_id=envelope.event_id,
                type=envelope.type_name,
                attempt=envelope.delivered,
                outcome=outcome,
                status_code=error.status if error else (status or None),
                latency_ms=latency_ms,
                error_code=error.code if error else None,
                error=error.message[:500] if error else None,
                date_created=utcnow(),
            )
        )

    # Shutdown

    async def drain(self, timeout: float) -> None:
        """Give back what is only queued (others take it at once), finish what is in flight."""
        for lane in list(self._lanes.values()):
            if lane.timer is not None:
                lane.timer.cancel()
                lane.timer = None
            while lane.queue:
                envelope = lane.queue.popleft()
                self._release(1)
                await envelope.msg.nak()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
