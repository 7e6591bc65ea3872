"""A TCP proxy in front of a message broker (RabbitMQ, NATS, Kafka) that makes its faults on
demand, whatever the protocol:

- `cut()`: every connection closed at once (a broker restarting, a network cut); new
  connections pass.
- `cut_next_request(carrying)`: the connection the next chunk a client sends that carries
  `carrying` (any chunk when empty) comes on is closed instead of passing it (a connection
  lost with a publish in flight).
- `stall()`: what the broker sends on the connections open now is swallowed (a broker that
  took a message and never confirmed it); new connections pass.
- `stall_all(seconds)`: what the broker sends on any connection, open now or opened in the
  next `seconds`, is swallowed for that long (a broker gone quiet that a client's own
  retries on new connections cannot get round).
- `down()` / `up()`: the broker unreachable (connections refused) and back on the same port.
- `around_next_request(before, after, carrying)`: the next chunk a client sends that carries
  `carrying` (any when empty) waits for `before()` (say, delete the exchange) and, once the
  broker has answered it, `after()` runs (put the exchange back) — a refusal of exactly one
  call, however the client frames it.

A proxy shared by many sinks carries more than the one publish a test means: a broker's
keepalives answered on other connections (NATS's PONG, AMQP's heartbeats), another sink's
retry. `carrying` — the bytes only the meant request holds, as its subject, exchange or topic
name — aims a one-shot fault at that request; such a name is short and sent at once, so it is
not split across the chunks the proxy reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Hook = Callable[[], Awaitable[None]]


@dataclass
class _Connection:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    stalled: bool = False
    after: Hook | None = None  # runs once the broker has answered the hooked request


@dataclass
class BrokerProxy:
    upstream_host: str
    upstream_port: int
    port: int = 0
    connections: int = 0  # accepted so far
    _server: asyncio.Server | None = None
    _open: list[_Connection] = field(default_factory=list)
    _hook: tuple[bytes, Hook, Hook] | None = None  # what the hooked chunk carries, the hook
    _cut_next: bytes | None = None  # what the chunk to cut carries (b"": any chunk)
    _quiet_until: float = 0.0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def cut(self) -> None:
        opened, self._open = self._open, []
        for connection in opened:
            connection.client.transport.abort()
            connection.server.transport.abort()

    def stall(self) -> None:
        for connection in self._open:
            connection.stalled = True

    def stall_all(self, seconds: float) -> None:
        self._quiet_until = asyncio.get_running_loop().time() + seconds

    def cut_next_request(self, carrying: bytes = b"") -> None:
        self._cut_next = carrying

    def around_next_request(self, before: Hook, after: Hook, carrying: bytes = b"") -> None:
        self._hook = (carrying, before, after)

    def clear(self) -> None:
        self._hook = None
        self._cut_next = None
        self._quiet_until = 0.0

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.cut()

    async def up(self) -> None:
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        self.clear()
        await self.down()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        self.connections += 1
        connection = _Connection(client_writer, server_writer)
        self._open.append(connection)
        await asyncio.gather(
            self._requests(client_reader, connection),
            self._answers(server_reader, connection),
            return_exceptions=True,
        )
        with contextlib.suppress(ValueError):
            self._open.remove(connection)
        after, connection.after = connection.after, None
        if after is not None:  # closed before the broker answered the hooked request
            await after()
        client_writer.transport.abort()
        server_writer.transport.abort()

    async def _requests(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        while chunk := await reader.read(65536):
            if self._cut_next is not None and self._cut_next in chunk:
                self._cut_next = None
                break
            hook = self._hook
            if hook is not None and hook[0] in chunk:
                self._hook = None
                _, before, connection.after = hook
                await before()
            connection.server.write(chunk)
            await connection.server.drain()
        connection.server.transport.abort()

    async def _answers(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        while chunk := await reader.read(65536):
            if connection.stalled or asyncio.get_running_loop().time() < self._quiet_until:
                continue
            connection.client.write(chunk)
            await connection.client.drain()
            after, connection.after = connection.after, None
            if after is not None:
                await after()
        connection.client.transport.abort()
