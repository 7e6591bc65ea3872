"""Publishing with headers encoded once, by us: nats-py's `publish` encodes a message's
headers on every call (a regex match, strip and translate per header) — 12 % of the router's
CPU at full load. The router's header blocks come from `stream_codec.header_block`, and its
HPUB commands go out through the client's own send path, a call's as one write (`Frames`).

This uses nats-py's internal `_send_command` / `_flush_pending` (nats-py is pinned in the
locks; tests/integration/test_jetstream_bus.py exercises it), and keeps the checks `publish`
makes: a closed or draining connection, the reconnect buffer's limit, the broker's
max_payload (counted with the headers, as the server counts it)."""

from __future__ import annotations

from typing import Any

import orjson
from nats import errors
from nats.aio.client import Client
from nats.js.errors import APIError, NoStreamResponseError
from nats.protocol import command

from runtime.natsio.headers import status_code

# The status of a publish no stream takes (no responders to its subject).
NO_RESPONDERS = 503


class Frames:
    """HPUB commands joined for one write, and what the client counts of them."""

    __slots__ = ("parts", "payload_bytes", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []  # four per message: command line, headers, payload, CRLF
        self.size = 0  # headers and payloads, as max_payload counts them
        self.payload_bytes = 0

    def add(self, subject: str, reply: str, header_block: bytes, payload: bytes) -> None:
        """One message; its size against max_payload is the caller's to check."""
        header_size = len(header_block)
        payload_size = len(payload)
        total = header_size + payload_size
        self.parts += (
            f"HPUB {subject} {reply} {header_size} {total}\r\n".encode(),
            header_block,
            payload,
            b"\r\n",
        )
        self.size += total
        self.payload_bytes += payload_size

    @property
    def count(self) -> int:
        return len(self.parts) // 4

    def wire(self) -> bytes:
        return b"".join(self.parts)


async def publish(nc: Client, subject: str, reply: str, header_block: bytes, payload: bytes) -> None:
    check(nc, len(payload) + len(header_block))
    nc.stats["out_msgs"] += 1
    nc.stats["out_bytes"] += len(payload)
    await send(nc, command.hpub_cmd(subject, reply, header_block, payload))


async def send_frames(nc: Client, frames: Frames) -> None:
    """Several messages (each checked against max_payload by the caller) in one write: the
    same checks as `publish` for the connection and the reconnect buffer, the client's
    counters kept."""
    check_connection(nc, frames.size)
    nc.stats["out_msgs"] += frames.count
    nc.stats["out_bytes"] += frames.payload_bytes
    await send(nc, frames.wire())


def answer(data: bytes, header_block: bytes | None) -> BaseException | None:
    """JetStream's answer to a publish, read: None when stored, else the failure — no stream
    takes the subject, an unreadable answer, or the error JetStream names (as nats-py raises
    it: the class matching its code, a full stream's 503 among them)."""
    if status_code(header_block) == NO_RESPONDERS:
        return NoStreamResponseError()
    try:
        reply: dict[str, Any] = orjson.loads(data)
    except ValueError as exc:
        return exc
    if "error" not in reply:
        return None
    try:
        raise APIError.from_error(reply["error"])
    except APIError as refused:
        return refused


def check(nc: Client, size: int) -> None:
    """What nats-py's `publish` refuses: a closed or draining connection, a reconnect buffer
    that is full, a message over the broker's max_payload."""
    check_connection(nc, size)
    if size > nc.max_payload:
        raise errors.MaxPayloadError


def check_connection(nc: Client, size: int) -> None:
    if nc.is_closed:
        raise errors.ConnectionClosedError
    if nc.is_draining_pubs:
        raise errors.ConnectionDrainingError
    if not nc.is_connected:
        pending_limit = nc._max_pending_size
        if pending_limit <= 0 or size + nc._pending_data_size > pending_limit:
            raise errors.OutboundBufferLimitError


async def send(nc: Client, wire: bytes) -> None:
    """Protocol bytes through the client's own send path (its pending buffer and flusher)."""
    await nc._send_command(wire)
    flushes = nc._flush_queue
    if flushes is not None and flushes.empty():
        await nc._flush_pending()
