"""The service token on a real gRPC server and channel: every kind of call carries it, and a
call without it (or with a wrong one) is refused while health stays open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from runtime import clients
from runtime.service_auth import RequireToken

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"


async def unary(request: bytes, context: Any) -> bytes:
    return b"one"


async def stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield b"a"
    yield b"b"


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[RequireToken(TOKEN)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Echo",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(unary),
                    "Stream": grpc.unary_stream_rpc_method_handler(stream),
                },
            )
        ]
    )
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def calls(channel: grpc.aio.Channel) -> tuple[bytes, list[bytes]]:
    one = await channel.unary_unary("/test.Echo/Unary")(b"x")
    many = [item async for item in channel.unary_stream("/test.Echo/Stream")(b"x")]
    return one, many


async def test_every_kind_of_call_carries_the_token(address: str) -> None:
    async with clients.channel(address, TOKEN) as channel:
        assert await calls(channel) == (b"one", [b"a", b"b"])


@pytest.mark.parametrize("token", ["", "wrong"])
async def test_calls_without_the_token_are_refused_health_is_not(address: str, token: str) -> None:
    async with clients.channel(address, token) as channel:
        for call in (channel.unary_unary("/test.Echo/Unary")(b"x"),):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as refused_stream:
            [item async for item in channel.unary_stream("/test.Echo/Stream")(b"x")]
        assert refused_stream.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
