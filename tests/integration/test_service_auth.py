"""Callers' credentials on a real gRPC server and channel: every kind of call carries one, a
call without a known one is refused (UNAUTHENTICATED), a call the caller's role may not make
is refused (PERMISSION_DENIED), health stays open, and a servicer learns its verified caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from runtime import clients, service_auth
from runtime.service_auth import Caller, Callers, RequireCaller

pytestmark = pytest.mark.integration

PRODUCER = service_auth.new_credential("producer-billing")
DELIVERY = service_auth.new_credential("delivery")
GATEWAY = service_auth.new_credential("gateway")
ADMIN = service_auth.new_credential("admin")
CALLERS = Callers.parse(
    ",".join(
        [
            service_auth.caller_entry(PRODUCER, "producer"),
            service_auth.caller_entry(DELIVERY, "delivery"),
            service_auth.caller_entry(GATEWAY, "gateway"),
            service_auth.caller_entry(ADMIN, "admin"),
        ]
    )
)
# Methods the table knows: Publish is the producer's, WatchRouting delivery's.
UNARY = "/eventstreams.v1.Router/Publish"
STREAM = "/eventstreams.v1.Control/WatchRouting"
BIDI = "/eventstreams.v1.Router/PublishStream"


def publish(channel: grpc.aio.Channel) -> Any:
    return channel.unary_unary(UNARY)


def watch(channel: grpc.aio.Channel) -> Any:
    return channel.unary_stream(STREAM)


def publish_stream(channel: grpc.aio.Channel) -> Any:
    return channel.stream_stream(BIDI)


async def unary(request: bytes, context: Any) -> bytes:
    who = service_auth.caller(context)
    await asyncio.sleep(0.05)  # another call in between must not change who this one is
    assert service_auth.caller(context) == who
    return who.name.encode()


async def stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield service_auth.caller(context).name.encode()
    yield service_auth.caller(context).role.encode()


async def bidirectional(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for _request in requests:
        yield service_auth.caller(context).name.encode()


@pytest.fixture
async def address() -> AsyncIterator[str]:
    server = grpc.aio.server(interceptors=[RequireCaller(CALLERS)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "eventstreams.v1.Router",
                {
                    "Publish": grpc.unary_unary_rpc_method_handler(unary),
                    "PublishStream": grpc.stream_stream_rpc_method_handler(bidirectional),
                },
            ),
            grpc.method_handlers_generic_handler(
                "eventstreams.v1.Control", {"WatchRouting": grpc.unary_stream_rpc_method_handler(stream)}
            ),
        ]
    )
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


async def test_every_kind_of_call_carries_the_credential_and_the_servicer_learns_its_caller(
    address: str,
) -> None:
    async with clients.channel(address, PRODUCER) as producer, clients.channel(address, DELIVERY) as delivery:
        assert await publish(producer)(b"x") == b"producer-billing"
        items = [item async for item in watch(delivery)(b"x")]
        assert items == [b"delivery", b"delivery"]


async def test_a_bidirectional_stream_s_servicer_learns_its_caller(address: str) -> None:
    """As on PublishStream, where the router holds a caller's role to the types it may publish."""

    async def two() -> AsyncIterator[bytes]:
        yield b"x"
        yield b"y"

    async with clients.channel(address, PRODUCER) as producer, clients.channel(address, DELIVERY) as delivery:
        assert [item async for item in publish_stream(producer)(two())] == [b"producer-billing"] * 2
        assert [item async for item in publish_stream(delivery)(two())] == [b"delivery"] * 2


async def test_concurrent_calls_each_see_their_own_caller(address: str) -> None:
    assert CALLERS.verify(ADMIN) == Caller("admin", "admin")
    async with clients.channel(address, PRODUCER) as producer, clients.channel(address, ADMIN) as admin:
        names = await asyncio.gather(*(publish(channel)(b"x") for channel in [producer, admin] * 5))
    assert names == [b"producer-billing", b"admin"] * 5


@pytest.mark.parametrize(
    "token", ["", "wrong", "producer-billing.wrong-secret", f"someone-else.{PRODUCER.split('.', 1)[1]}"]
)
async def test_calls_without_a_known_credential_are_refused_health_is_not(address: str, token: str) -> None:
    async with clients.channel(address, token) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await publish(channel)(b"x")
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as refused_stream:
            [item async for item in watch(channel)(b"x")]
        assert refused_stream.value.code() == grpc.StatusCode.UNAUTHENTICATED
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_known_caller_is_refused_what_its_role_may_not_call(address: str) -> None:
    async with clients.channel(address, PRODUCER) as producer, clients.channel(address, GATEWAY) as gateway:
        with pytest.raises(grpc.aio.AioRpcError) as refused_stream:
            [item async for item in watch(producer)(b"x")]
        assert refused_stream.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await publish(gateway)(b"x")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
