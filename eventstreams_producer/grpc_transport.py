"""The default transport: the router's gRPC Publish, over a channel carrying the producer's
credential (`name.secret`, role producer: runtime/service_auth.py). Each publish is a request
on one long-lived PublishStream (publish_stream.py) — a gRPC call per publish costs the router
about a millisecond of CPU, the events in it aside — or, with `streaming=False` or against a
router without PublishStream, a unary Publish call.

The channel is made on first use, on the event loop that uses it (grpc.aio binds a channel to
its loop; the sync Producer runs its AsyncProducer on a loop thread of its own)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from eventstreams.v1 import router_pb2, router_pb2_grpc
from eventstreams_producer.codes import Code
from eventstreams_producer.errors import RequestFailed
from eventstreams_producer.events import Event
from eventstreams_producer.publish_stream import PublishStream, StreamUnsupported
from eventstreams_producer.results import EventResult
from runtime import clients

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_proto(event: Event) -> router_pb2.Event:
    # Exact, and twice as fast as Timestamp.FromDatetime (measured: 3.5 vs 6.8 µs an event).
    since = event.time - EPOCH
    stamp = Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)
    return router_pb2.Event(
        id=event.id,
        account_sid=event.account_sid,
        type=event.type,
        schema_version=event.schema_version,
        source=event.source,
        time=stamp,
        data_json=event.data_json,
    )


@contextmanager
def map_exceptions() -> Iterator[None]:
    """gRPC's errors as the SDK's: a failed call becomes RequestFailed with its code."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        raise RequestFailed(exc.code().value[0], exc.details() or "") from exc


class GrpcTransport:
    def __init__(
        self,
        target: str,
        service_token: str = "",
        timeout_seconds: float = 30.0,
        *,
        streaming: bool = True,
    ) -> None:
        self.target = target
        self.streaming = streaming
        self._token = service_token
        self._timeout = timeout_seconds
        self._channel: grpc.aio.Channel | None = None
        self._stub: router_pb2_grpc.RouterAsyncStub | None = None
        self._stream: PublishStream | None = None

    def _router(self) -> router_pb2_grpc.RouterAsyncStub:
        if self._stub is None:
            self._channel = clients.channel(self.target, self._token)
            self._stub = router_pb2_grpc.RouterStub(self._channel)
        assert self._stub is not None
        return self._stub

    def _publish_stream(self) -> PublishStream:
        if self._stream is None:
            router = self._router()
            self._stream = PublishStream(lambda: router.PublishStream())
        return self._stream

    async def publish(self, events: Sequence[Event]) -> list[EventResult]:
        request = router_pb2.PublishRequest(events=[to_proto(e) for e in events])
        response: router_pb2.PublishResponse | None = None
        if self.streaming:
            try:
                response = await self._publish_stream().publish(request, self._timeout)
            except StreamUnsupported:
                self.streaming = False  # an older router: unary calls from now on
        if response is None:
            with map_exceptions():
                response = await self._router().Publish(request, timeout=self._timeout)
        if response.code:  # the stream's answer to a request Publish would have failed
            raise RequestFailed(response.code, response.message)
        if len(response.results) != len(events):
            raise RequestFailed(Code.INTERNAL, f"{len(response.results)} results for {len(events)} events")
        return [EventResult(r.id, r.code, r.message, r.deliveries, r.dead_letters) for r in response.results]

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
            self._stream = None
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None
