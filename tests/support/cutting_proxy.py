"""A TCP proxy in front of a server that can lose its answers: `hold()` swallows what the
server sends back from then on, `cut()` closes every connection — together, a request the
server acted on whose answer never reached the client (a connection broken mid-call). New
connections after a cut pass everything again."""

from __future__ import annotations

import asyncio
import contextlib


class CuttingProxy:
    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._holding = False
        self.connections = 0
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def hold(self) -> None:
        self._holding = True

    async def cut(self) -> None:
        self._holding = False
        writers, self._writers = self._writers, []
        for writer in writers:
            writer.transport.abort()

    async def stop(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_reader, server_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [client_writer, server_writer]
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stopped
            await asyncio.gather(
                self._pipe(client_reader, server_writer, answers=False),
                self._pipe(server_reader, client_writer, answers=True),
            )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if answers and self._holding:
                    continue
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
