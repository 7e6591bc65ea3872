"""The webhook sinks' HTTP/1.1 client (services/delivery/sinks/http1.py) against a real
local server that answers as it is told: raw bytes on a real socket, so every framing,
keep-alive and failure case is exactly what a receiver on the internet could send."""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.delivery.errors import ConnectFailed, Rejected, ServerError, Throttled, TimedOut
from services.delivery.sinks import http
from services.delivery.sinks.http1 import ConnectError, Http1Client, ProtocolError, Target
from tests.support.certificates import self_signed

pytestmark = pytest.mark.integration

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
Answer = Callable[[bytes], bytes | None]  # the request's head + body → raw response (None: close)


@dataclass
class Server:
    """Answers each request with `answer(request)`; counts connections and requests."""

    answer: Answer = lambda request: OK
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    close_after_each: bool = False
    delay: float = 0.0
    port: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if self.delay:
                    await asyncio.sleep(self.delay)
                response = self.answer(request)
                if response is None:
                    break
                writer.write(response)
                await writer.drain()
                if self.close_after_each:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield state
        for writer in state.writers:
            writer.close()


async def local(host: str, port: int) -> list[str]:
    return [host]


def client(timeout: float = 2.0, **options: object) -> Http1Client:
    return Http1Client(local, timeout, **options)  # type: ignore[arg-type]


def target(server: Server, path: str = "/hook?a=1") -> Target:
    return Target.of(f"http://127.0.0.1:{server.port}{path}")


async def test_a_post_goes_out_as_one_well_formed_request(server: Server) -> None:
    http1 = client()
    response = await http1.request("POST", target(server), "X-Twilio-Signature: abc\r\n", b'{"a":1}')
    assert (response.status, response.body) == (200, b"ok")
    head, body = server.requests[0].split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hook?a=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"X-Twilio-Signature: abc" in lines and b"Content-Length: 7" in lines
    assert body == b'{"a":1}'
    await http1.close()


async def test_connections_are_kept_alive_and_reused(server: Server) -> None:
    http1 = client()
    for _ in range(5):
        assert (await http1.request("POST", target(server), "", b"x")).status == 200
    assert server.connections == 1
    await asyncio.gather(*(http1.request("POST", target(server), "", b"x") for _ in range(4)))
    assert server.connections == 4  # one busy connection carries one request at a time
    await http1.close()


async def test_a_connection_the_server_closes_while_idle_is_replaced_without_a_failure(
    server: Server,
) -> None:
    http1 = client()
    server.answer = lambda request: OK
    assert (await http1.request("POST", target(server), "", b"1")).status == 200
    for writer in server.writers:  # the server's keep-alive timeout
        writer.close()
    await asyncio.sleep(0.05)
    assert (await http1.request("POST", target(server), "", b"2")).status == 200
    assert server.connections == 2
    await http1.close()


async def test_a_kept_connection_hung_up_without_an_answer_is_tried_once_more_on_a_new_one(
    server: Server,
) -> None:
    # Nothing came back: the request may or may not have been read (a server's idle close
    # races with it). At least once: one more try on a fresh connection, then a failure.
    http1 = client()
    assert (await http1.request("POST", target(server), "", b"1")).status == 200
    server.answer = lambda request: None  # reads the request, then hangs up
    with pytest.raises(ProtocolError):
        await http1.request("POST", target(server), "", b"2")
    # Once on the kept connection; the fresh one it retried on was hung up on too.
    assert len(server.requests) == 3
    await http1.close()


@pytest.mark.parametrize(
    ("response", "closes", "body", "connections"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", False, b"ok", 1),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False, b"ok", 1),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False, b"ok", 1),
        # Neither length nor chunks: the body ends with the connection, which is not reused.
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", True, b"all of it", 2),
    ],
    ids=["chunked", "interim 100 first", "content-length", "ended by closing"],
)
async def test_response_framings(
    server: Server, response: bytes, closes: bool, body: bytes, connections: int
) -> None:
    server.answer = lambda request: response
    server.close_after_each = closes
    http1 = client()
    for _ in range(2):
        answered = await http1.request("POST", target(server), "", b"x")
        assert (answered.status, answered.body) == (200, body)
    assert server.connections == connections
    await http1.close()


async def test_a_long_body_is_read_to_the_limit_and_its_connection_dropped(server: Server) -> None:
    server.answer = lambda request: b"HTTP/1.1 500 Oops\r\nContent-Length: 100000\r\n\r\n" + b"z" * 100_000
    http1 = client(body_limit=4096)
    answered = await http1.request("POST", target(server), "", b"x")
    assert answered.status == 500 and answered.body == b"z" * 4096
    await http1.request("POST", target(server), "", b"x")
    assert server.connections == 2
    await http1.close()


async def test_statuses_and_retry_after_become_the_delivery_taxonomy(server: Server) -> None:
    http1 = client()
    cases: list[tuple[bytes, type[Exception] | None]] = [
        (b"HTTP/1.1 204 No Content\r\n\r\n", None),
        (b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n", Rejected),
        (b"HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n", ServerError),
        (b"HTTP/1.1 429 Slow\r\nretry-after: 3\r\nContent-Length: 0\r\n\r\n", Throttled),
        (b"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", Rejected),
    ]
    for raw, expected in cases:
        server.answer = lambda request, raw=raw: raw  # type: ignore[misc]
        if expected is None:
            assert await http.exchange(http1, "POST", target(server), "", b"x") == 204
            continue
        with pytest.raises(expected) as failed:
            await http.exchange(http1, "POST", target(server), "", b"x")
        if expected is Throttled:
            assert failed.value.retry_after == 3.0  # type: ignore[attr-defined]
        if expected is ServerError:
            assert failed.value.retry_after == 7.0  # type: ignore[attr-defined]
    await http1.close()


async def test_no_answer_within_the_timeout(server: Server) -> None:
    server.delay = 1.0
    http1 = client(timeout=0.2)
    with pytest.raises(TimedOut):
        await http.exchange(http1, "POST", target(server), "", b"x")
    await http1.close()


async def test_nothing_listening_and_garbage_answers() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    http1 = client()
    with pytest.raises(ConnectError):
        await http1.request("POST", Target.of(f"http://127.0.0.1:{port}/"), "", b"x")
    with pytest.raises(ConnectFailed):
        await http.exchange(http1, "POST", Target.of(f"http://127.0.0.1:{port}/"), "", b"x")
    await http1.close()


async def test_not_http_is_a_protocol_error(server: Server) -> None:
    server.answer = lambda request: b"SSH-2.0-OpenSSH_9.6\r\n\r\n"
    http1 = client()
    with pytest.raises(ProtocolError):
        await http1.request("POST", target(server), "", b"x")
    await http1.close()


async def test_idle_connections_are_closed_after_the_idle_limit(server: Server) -> None:
    http1 = client(idle_seconds=0.1)
    await http1.request("POST", target(server), "", b"x")
    await asyncio.sleep(0.35)
    await http1.request("POST", target(server), "", b"x")
    assert server.connections == 2
    await http1.close()


async def test_https_is_verified_against_the_trusted_certificates() -> None:
    state = Server()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        serving.load_cert_chain(cert, key)
        listener = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=serving)
        port = listener.sockets[0].getsockname()[1]
        async with listener:
            url = Target.of(f"https://localhost:{port}/secure")
            trusting = ssl.create_default_context(cafile=str(cert))
            http1 = client(ssl_context=trusting)
            assert (await http1.request("POST", url, "", b"x")).status == 200
            assert f"Host: localhost:{port}".encode() in state.requests[0]
            await http1.close()
            untrusting = client()  # the system's roots: a self-signed certificate is refused
            with pytest.raises(ConnectError):
                await untrusting.request("POST", url, "", b"x")
            await untrusting.close()
            for writer in state.writers:
                writer.close()
