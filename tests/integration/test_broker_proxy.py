"""The brokers' TCP fault proxy over real sockets, in front of an echo server: a one-shot fault
aimed by what the request carries is taken by that request alone, whatever other connections
send first (a keepalive answered on another sink's connection)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.support.broker_proxy import BrokerProxy

pytestmark = pytest.mark.integration

PUBLISH = b"HPUB conf.one _INBOX.1 0 5\r\n\r\nhello\r\n"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while chunk := await reader.read(65536):
        writer.write(chunk)
        await writer.drain()
    writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[BrokerProxy]:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    made = BrokerProxy("127.0.0.1", upstream.sockets[0].getsockname()[1])
    await made.start()
    yield made
    await made.stop()
    upstream.close()
    await upstream.wait_closed()


async def _connect(proxy: BrokerProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def _send(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], chunk: bytes) -> bytes:
    """What came back for `chunk`: the echo, or b"" when the proxy closed the connection."""
    reader, writer = connection
    writer.write(chunk)
    await writer.drain()
    return await asyncio.wait_for(reader.read(65536), 5)


async def test_a_cut_aimed_at_a_publish_passes_another_connections_keepalive(proxy: BrokerProxy) -> None:
    idle, publishing = await _connect(proxy), await _connect(proxy)
    proxy.cut_next_request(carrying=b"conf.one")
    assert await _send(idle, b"PONG\r\n") == b"PONG\r\n"
    assert await _send(publishing, b"PONG\r\n") == b"PONG\r\n"
    assert await _send(publishing, PUBLISH) == b""  # cut
    again = await _connect(proxy)
    assert await _send(again, PUBLISH) == PUBLISH  # once only


async def test_a_cut_aimed_at_nothing_takes_the_next_chunk(proxy: BrokerProxy) -> None:
    idle = await _connect(proxy)
    proxy.cut_next_request()
    assert await _send(idle, b"PONG\r\n") == b""


async def test_a_hook_aimed_at_a_publish_runs_around_it_alone(proxy: BrokerProxy) -> None:
    ran: list[str] = []

    async def before() -> None:
        ran.append("before")

    async def after() -> None:
        ran.append("after")

    idle, publishing = await _connect(proxy), await _connect(proxy)
    proxy.around_next_request(before, after, carrying=b"conf.one")
    assert await _send(idle, b"PONG\r\n") == b"PONG\r\n"
    assert ran == []
    assert await _send(publishing, PUBLISH) == PUBLISH
    assert ran == ["before", "after"]
    assert await _send(publishing, PUBLISH) == PUBLISH
    assert ran == ["before", "after"]
