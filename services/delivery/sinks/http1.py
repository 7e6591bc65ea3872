"""A small HTTP/1.1 client for the delivery hot path: keep-alive connections pooled per
origin, each request written in one piece, each response parsed by httptools (llhttp, the
parser Node.js and uvicorn use) — what a delivery needs and nothing else.

Why not aiohttp here: a delivery needs a status, one header (Retry-After) and at most a
prefix of the body, yet aiohttp builds a URL object, a multidict of headers, a payload
writer, a response object and a stream reader per request — 45–60 core-µs a request on this
machine (devkit/bench_http_clients.py), a third of a worker's CPU per event at one event per
request. This client is ~15 µs, the same sockets and the same parser family underneath.

What it does: HTTP and HTTPS (the default TLS context: certificates and names verified),
keep-alive with an idle limit, a connection that the server closed while idle retried once
on a fresh one (nothing was received: the request cannot have been answered), Content-Length
and chunked responses, 1xx responses skipped, a response body read up to a limit and the
connection dropped past it, one deadline over connect + send + response. Redirects are not
followed, cookies not kept, nothing decompressed — none of which a delivery wants.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

# A name and port → the addresses to try, in order; raises what refuses the destination.
Resolve = Callable[[str, int], Awaitable[list[str]]]

DEFAULT_PORTS = {"http": 80, "https": 443}
# A response's headers kept (as the parser hands them), for the delivery log: no more.
MAX_HEADERS = 32


class HttpError(Exception):
    """The request got no (complete) HTTP response."""


class ConnectError(HttpError):
    """No connection could be made (refused, unreachable, TLS handshake failed)."""


class ProtocolError(HttpError):
    """The server answered with something that is not HTTP/1.1, or closed mid-response."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Target:
    """A URL split once: where to connect, and the request line's path and query."""

    origin: Origin
    path: str

    @classmethod
    def of(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url}")
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        if not path.isascii() or any(c <= " " or c == "\x7f" for c in path):
            # Nothing unquoted goes on the request line (a CR/LF would end it).
            raise ValueError(f"the URL's path is not percent-encoded: {url}")
        return cls(Origin(parts.scheme, parts.hostname, port), path)


@dataclass(slots=True)
class Response:
    status: int
    retry_after: str | None
    body: bytes
    headers: list[tuple[bytes, bytes]]  # the first MAX_HEADERS, raw


class _Connection(asyncio.Protocol):
    """One socket; one request at a time (no pipelining)."""

    def __init__(self, body_limit: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._limit = body_limit
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        # Kept: asyncio.get_running_loop() is a getpid() system call per call on Python 3.11.
        self.loop = asyncio.get_running_loop()
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._retry_after: str | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._got = 0
        self._received = False
        self.reusable = True

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, though they are one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"not an HTTP/1.1 response: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: the server is done with this connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._status and not self._parser.should_keep_alive():
                # A response delimited by the connection's end (no length, not chunked).
                self._complete()
                return
            self._fail(_Closed(self._received, exc))

    # --- httptools callbacks ------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self._headers) < MAX_HEADERS:
            self._headers.append((name, value))
        if len(name) == 11 and name.lower() == b"retry-after":
            self._retry_after = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self._got >= self._limit:
            return
        room = self._limit - self._got
        self._body.append(body[:room])
        self._got += min(len(body), room)
        if self._got >= self._limit and len(body) > room:
            # More than we read: answer now and drop the connection rather than drain it.
            self.reusable = False
            self._complete()
            self.close()

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:
            # An interim response (100 Continue, 103 Early Hints): the final one follows.
            self._reset()
            self._received = True
            return
        self.reusable = self.reusable and self._parser.should_keep_alive()
        self._complete()

    # --- the client's side --------------------------------------------------------------

    def send(self, request: bytes, deadline: float) -> asyncio.Future[Response]:
        """The response, or TimeoutError at `deadline` (the loop's clock) — one timer
        handle, cheaper than an asyncio.timeout scope per request (3 % of a worker)."""
        assert self.transport is not None
        self._reset()
        loop = self.loop
        self._waiter = loop.create_future()
        self._timer = loop.call_at(deadline, self._expire)
        self.transport.write(request)
        return self._waiter

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._fail(TimeoutError("no response within the timeout"))

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._stop_timer()
            waiter.set_result(Response(self._status, self._retry_after, b"".join(self._body), self._headers))

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._stop_timer()
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Closed(ProtocolError):
    def __init__(self, received: bool, cause: Exception | None) -> None:
        super().__init__(f"the server closed the connection{'' if received else ' before answering'}")
        self.received = received
        self.__cause__ = cause


class Http1Client:
    """Requests to any number of origins; connections kept per origin for reuse."""

    def __init__(
        self,
        resolve: Resolve,
        timeout_seconds: float,
        max_connections: int = 512,
        idle_seconds: float = 15.0,
        body_limit: int = 4096,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._resolve = resolve
        self._timeout = timeout_seconds
        self._idle_seconds = idle_seconds
        self._body_limit = body_limit
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_connections
        self._idle: dict[Origin, deque[_Connection]] = {}
        self._idle_count = 0
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def request(self, method: str, target: Target, headers: str, body: bytes | None = None) -> Response:
        """One request, `headers` given as `Name: value\\r\\n` lines (Host, Content-Length
        and the connection's own are added). Raises TimeoutError past the deadline, or an
        HttpError."""
        head = f"{method} {target.path} HTTP/1.1\r\nHost: {target.origin.host_header}\r\n{headers}"
        if body is not None:
            request = f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body
        else:
            request = f"{head}\r\n".encode("latin-1")
        async with self._slots:
            deadline = self._running().time() + self._timeout
            return await self._exchange(target.origin, request, deadline)

    async def _exchange(self, origin: Origin, request: bytes, deadline: float) -> Response:
        connection = self._pooled(origin)
        if connection is not None:
            try:
                return await self._over(origin, connection, request, deadline)
            except _Closed as exc:
                if exc.received:
                    raise
                # Closed by the server while idle: this request was never read. Once more,
                # on a connection of its own.
        async with asyncio.timeout_at(deadline):
            connection = await self._connect(origin)
        return await self._over(origin, connection, request, deadline)

    async def _over(
        self, origin: Origin, connection: _Connection, request: bytes, deadline: float
    ) -> Response:
        try:
            response = await connection.send(request, deadline)
        except BaseException:
            connection.close()  # mid-request (a timeout, a cancel): never reused
            raise
        self._release(origin, connection)
        return response

    def _pooled(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        now = self._running().time()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be stale
            self._idle_count -= 1
            if not connection.closed and now - connection.idle_since < self._idle_seconds:
                return connection
            connection.close()
        return None

    def _release(self, origin: Origin, connection: _Connection) -> None:
        if self._closed or connection.closed or not connection.reusable or self._idle_count >= self._max_idle:
            connection.close()
            return
        connection.idle_since = self._running().time()
        self._idle.setdefault(origin, deque()).append(connection)
        self._idle_count += 1
        if self._sweeper is None:
            self._sweeper = self._running().call_later(self._idle_seconds, self._sweep)

    def _running(self) -> asyncio.AbstractEventLoop:
        """The loop, asked for once (a getpid() system call per ask on Python 3.11)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop

    def _sweep(self) -> None:
        """Close connections idle past the limit (a deleted sink's stay no longer)."""
        self._sweeper = None
        now = self._running().time()
        for origin, idle in list(self._idle.items()):
            while idle and (idle[0].closed or now - idle[0].idle_since >= self._idle_seconds):
                idle.popleft().close()
                self._idle_count -= 1
            if not idle:
                del self._idle[origin]
        if self._idle_count and not self._closed:
            self._sweeper = self._running().call_later(self._idle_seconds, self._sweep)

    async def _connect(self, origin: Origin) -> _Connection:
        addresses = await self._resolve(origin.host, origin.port)
        tls = None
        if origin.scheme == "https":
            tls = self._ssl or ssl.create_default_context()
            self._ssl = tls
        loop = self._running()
        failure: Exception | None = None
        for address in addresses:
            try:
                transport, connection = await loop.create_connection(
                    lambda: _Connection(self._body_limit),
                    address,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
                # uvloop may return before connection_made has run: the transport is here.
                connection.transport = transport
                return connection
            except (OSError, ssl.SSLError) as exc:
                failure = exc
        raise ConnectError(f"cannot connect to {origin.host}:{origin.port}: {failure}") from failure

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0
