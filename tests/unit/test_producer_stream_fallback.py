"""Against a router that predates PublishStream (a gRPC server whose Router serves Publish
alone: the stream answers UNIMPLEMENTED), the SDK's default transport publishes through unary
Publish — the request that found out included — and stays there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from eventstreams.v1 import router_pb2, router_pb2_grpc
from eventstreams_producer import GrpcTransport, make_event

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "0" * 32
TYPE = "com.twilio.messaging.message.delivered"


class UnaryOnly(router_pb2_grpc.RouterServicer):
    """Publish answered OK per event; PublishStream left to the base class (UNIMPLEMENTED)."""

    def __init__(self) -> None:
        self.calls = 0

    async def Publish(self, request: router_pb2.PublishRequest, context: Any) -> router_pb2.PublishResponse:
        self.calls += 1
        return router_pb2.PublishResponse(results=[router_pb2.EventResult(id=e.id) for e in request.events])


@pytest.fixture
async def older_router() -> AsyncIterator[tuple[str, UnaryOnly]]:
    server = grpc.aio.server()
    servicer = UnaryOnly()  # type: ignore[abstract]  # an older router: no PublishStream
    router_pb2_grpc.add_RouterServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", servicer
    await server.stop(None)


async def test_a_router_without_the_stream_is_published_to_by_unary_calls(
    older_router: tuple[str, UnaryOnly],
) -> None:
    target, servicer = older_router
    transport = GrpcTransport(target)
    events = [make_event(TYPE, {"a": i}, schema_version=1, account_sid=ACCOUNT) for i in range(3)]
    try:
        first = await transport.publish(events[:1])
        assert not transport.streaming and servicer.calls == 1
        rest = await transport.publish(events[1:])
    finally:
        await transport.close()
    assert [r.id for r in first + rest] == [e.id for e in events]
    assert all(r.code == 0 for r in first + rest) and servicer.calls == 2
