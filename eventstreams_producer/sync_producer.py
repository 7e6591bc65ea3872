"""Producer: the blocking face of AsyncProducer, for code without an event loop.

It runs an AsyncProducer on an event loop in a daemon thread of its own and hands each call
over (`run_coroutine_threadsafe`). One implementation of batching, linger, retries and
backpressure rather than a second one on grpc's sync channel with threads and conditions;
the cost is a thread hop per call (tens of µs, small beside a Publish round trip). `send`
blocks while the buffer is full — the backpressure — and returns a concurrent Future."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from eventstreams_producer.async_producer import AsyncProducer
from eventstreams_producer.events import Event
from eventstreams_producer.grpc_transport import GrpcTransport
from eventstreams_producer.results import BatchResult, EventResult
from eventstreams_producer.transport import Transport

T = TypeVar("T")


class Producer:
    def __init__(self, transport: Transport, **options: Any) -> None:
        """`options` as AsyncProducer's (account_sid, batch_size, linger_seconds,
        max_buffered, max_in_flight, retry…)."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="eventstreams-producer", daemon=True
        )
        self._thread.start()

        async def build() -> AsyncProducer:  # its semaphores belong to the loop thread
            return AsyncProducer(transport, **options)

        self._producer = self._call(build())
        self._closed = False

    @classmethod
    def connect(cls, target: str, service_token: str = "", **options: Any) -> Producer:
        timeout = float(options.pop("timeout_seconds", 30.0))
        return cls(GrpcTransport(target, service_token, timeout), owns_transport=True, **options)

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def counts(self) -> Any:
        return self._producer.counts

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def event(self, event_type: str, data: Mapping[str, Any], **fields: Any) -> Event:
        return self._producer.event(event_type, data, **fields)

    def send(
        self,
        event_type: str,
        data: Mapping[str, Any],
        *,
        schema_version: int,
        account_sid: str | None = None,
        source: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> concurrent.futures.Future[EventResult]:
        """Queue one event (blocks while the buffer is full); the Future settles with its
        EventResult or raises its EventError."""
        built = self._producer.event(
            event_type, data, schema_version=schema_version, account_sid=account_sid,
            source=source, time=time, id=id,
        )  # fmt: skip
        return self.send_event(built)

    def send_event(self, event: Event) -> concurrent.futures.Future[EventResult]:
        outer: concurrent.futures.Future[EventResult] = concurrent.futures.Future()

        async def enqueue() -> None:
            inner = await self._producer.send_event(event)

            def copy(done: asyncio.Future[EventResult]) -> None:
                if done.cancelled():
                    outer.cancel()
                elif (error := done.exception()) is not None:
                    outer.set_exception(error)
                else:
                    outer.set_result(done.result())

            inner.add_done_callback(copy)

        self._call(enqueue())
        return outer

    def send_and_wait(self, event_type: str, data: Mapping[str, Any], **fields: Any) -> EventResult:
        return self.send(event_type, data, **fields).result()

    def publish(self, events: Sequence[Event]) -> BatchResult:
        return self._call(self._producer.publish(events))

    def flush(self, timeout: float | None = None) -> None:
        self._call(self._producer.flush(), timeout)

    def close(self) -> None:
        """Flush, close, and stop the loop thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._call(self._producer.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
