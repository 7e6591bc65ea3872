"""AsyncProducer: events sent one at a time go out in batches (by size or after a short
linger), each batch published with retries under the same ids; at most `max_buffered` events
are unsettled at once — `send` waits for room (backpressure) instead of growing a queue."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from eventstreams_producer.batching import Batcher
from eventstreams_producer.errors import ProducerClosed, ProducerError, PublishUnavailable
from eventstreams_producer.events import Event, make_event
from eventstreams_producer.grpc_transport import GrpcTransport
from eventstreams_producer.publishing import log, publish_with_retries
from eventstreams_producer.results import BatchResult, EventResult
from eventstreams_producer.retry import RetryPolicy
from eventstreams_producer.transport import Transport


@dataclass
class Counts:
    accepted: int = 0
    rejected: int = 0
    unavailable: int = 0
    calls: int = 0  # Publish calls, retries included


@dataclass(frozen=True)
class _Pending:
    event: Event
    future: asyncio.Future[EventResult] = field(compare=False)


class AsyncProducer:
    """Publish events through a Transport (the router's gRPC Publish by default: `connect`).

    - `await send(type, data, schema_version=…)` → an asyncio.Future of the event's
      EventResult (raising EventRejected / PublishUnavailable when it was not accepted);
      `send` itself waits while `max_buffered` events are unsettled.
    - `await publish(events)` → BatchResult: a batch now, split at `batch_size`.
    - `await flush()` publishes what lingers and waits until everything sent is settled.
    - At most `max_in_flight` Publish calls at once. Events of one call are stored in order;
      calls in flight together, and retries, may overtake each other: `max_in_flight=1` keeps
      the publish order of batches (a retried event may still land after its batch-mates).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        account_sid: str | None = None,
        batch_size: int = 100,
        linger_seconds: float = 0.005,
        max_buffered: int = 10_000,
        max_in_flight: int = 4,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        owns_transport: bool = False,
    ) -> None:
        if max_buffered < 1 or max_in_flight < 1:
            raise ValueError("max_buffered and max_in_flight must be 1 or more")
        self.transport = transport
        self.account_sid = account_sid
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self.counts = Counts()
        self._rng = rng
        self._owns_transport = owns_transport
        self._batcher: Batcher[_Pending] = Batcher(batch_size, linger_seconds)
        self._room = asyncio.Semaphore(max_buffered)
        self._calls = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @classmethod
    def connect(cls, target: str, service_token: str = "", **options: Any) -> AsyncProducer:
        """A producer over the router's gRPC Publish at `target` (closed with the producer);
        `service_token` is the producer's own credential (`name.secret`, role producer)."""
        timeout = float(options.pop("timeout_seconds", 30.0))
        return cls(GrpcTransport(target, service_token, timeout), owns_transport=True, **options)

    async def __aenter__(self) -> AsyncProducer:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- building ---------------------------------------------------------------------

    def event(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        schema_version: int,
        account_sid: str | None = None,
        source: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> Event:
        """An Event with this producer's defaults (its account), checked (InvalidEvent)."""
        account = account_sid or self.account_sid
        return make_event(
            event_type,
            data,
            schema_version=schema_version,
            account_sid=account or "",
            source=source,
            time=time,
            id=id,
        )

    # --- one at a time ----------------------------------------------------------------

    async def send(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        schema_version: int,
        account_sid: str | None = None,
        source: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> asyncio.Future[EventResult]:
        """Queue one event (built here: InvalidEvent at once when it is malformed); waits
        while the buffer is full. The future settles when the event's batch has."""
        built = self.event(
            event_type, data, schema_version=schema_version, account_sid=account_sid,
            source=source, time=time, id=id,
        )  # fmt: skip
        return await self.send_event(built)

    async def send_event(self, event: Event) -> asyncio.Future[EventResult]:
        if self._closed:
            raise ProducerClosed("the producer is closed")
        await self._room.acquire()
        if self._closed:
            self._room.release()
            raise ProducerClosed("the producer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[EventResult] = loop.create_future()
        future.add_done_callback(self._settled)
        full = self._batcher.add(_Pending(event, future), loop.time())
        if full is not None:
            self._dispatch(full)
        elif len(self._batcher) == 1:
            self._arm_timer(loop)
        return future

    async def send_and_wait(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        schema_version: int,
        account_sid: str | None = None,
        source: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> EventResult:
        """`send`, then its result (raises the event's error)."""
        future = await self.send(
            event_type, data, schema_version=schema_version, account_sid=account_sid,
            source=source, time=time, id=id,
        )  # fmt: skip
        return await future

    # --- batches ----------------------------------------------------------------------

    async def publish(self, events: Sequence[Event]) -> BatchResult:
        """Publish these events now (in calls of at most `batch_size`), retrying with the
        same ids; every event's final result. Raises RequestFailed only for a call no retry
        can fix (a wrong token…), ProducerClosed after close."""
        if self._closed:
            raise ProducerClosed("the producer is closed")
        results: list[EventResult] = []
        attempts = 0
        for start in range(0, len(events), self.batch_size):
            chunk = list(events[start : start + self.batch_size])
            batch = await self._publish_chunk(chunk)
            results += batch.results
            attempts += batch.attempts
        return BatchResult(results, attempts)

    async def flush(self) -> None:
        """Publish what lingers; return when every event sent so far is settled."""
        self._cancel_timer()
        waiting = self._batcher.take()
        if waiting:
            self._dispatch(waiting)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Flush, then take no more events (and close the transport `connect` made)."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            if self._owns_transport and isinstance(self.transport, GrpcTransport):
                await self.transport.close()

    # --- inside -----------------------------------------------------------------------

    async def _publish_chunk(self, events: list[Event]) -> BatchResult:
        async with self._calls:
            batch = await publish_with_retries(self.transport, events, self.retry, rng=self._rng)
        self.counts.calls += batch.attempts
        self.counts.accepted += len(batch.accepted)
        self.counts.rejected += len(batch.rejected)
        self.counts.unavailable += len(batch.unavailable)
        return batch

    def _arm_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._cancel_timer()
        deadline = self._batcher.deadline()
        if deadline is not None:
            self._timer = loop.call_at(deadline, self._linger_over)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _linger_over(self) -> None:
        # The timer belongs to the batch under way (cancelled whenever a batch is taken), so
        # it is due; `take` rather than `due`: the loop may run a timer a hair early.
        self._timer = None
        waiting = self._batcher.take()
        if waiting:
            self._dispatch(waiting)

    def _dispatch(self, batch: list[_Pending]) -> None:
        self._cancel_timer()
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[_Pending]) -> None:
        try:
            outcome = await self._publish_chunk([p.event for p in batch])
        except ProducerError as exc:
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        except Exception as exc:  # a transport's bug must not leave senders waiting forever
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(
                        PublishUnavailable(pending.event.id, 2, f"transport failed: {exc!r}")
                    )
            return
        for pending, result in zip(batch, outcome.results, strict=True):
            if pending.future.done():  # cancelled by its sender
                continue
            error = result.error()
            if error is None:
                pending.future.set_result(result)
            else:
                pending.future.set_exception(error)

    def _settled(self, future: asyncio.Future[EventResult]) -> None:
        self._room.release()
        if future.cancelled():
            return
        error = future.exception()  # retrieved: a fire-and-forget send leaves no asyncio warning
        if error is not None:
            log.warning("%s", error)
