"""Publishing with headers encoded once, by us: nats-py's `publish` encodes a message's
headers on every call (a regex match, strip and translate per header) — 12 % of the router's
CPU at full load. The router's headers come from `stream_codec` (names ours, values ours or
checked), so they are encoded here in one pass and the HPUB command goes out through the
client's own send path.

This uses nats-py's internal `_send_command` / `_flush_pending` (nats-py is pinned in the
locks; tests/integration/test_jetstream_bus.py exercises it), and keeps the checks `publish`
makes: a closed or draining connection, the reconnect buffer's limit, the broker's
max_payload (counted with the headers, as the server counts it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.protocol import command

HEADER_LINE = b"NATS/1.0\r\n"


def clean(value: str) -> str:
    """A value may not break the header block: stripped, CR and LF made spaces, as nats-py
    does (replace after a membership test, not str.translate: translate looks up every
    character in a dict, and nearly no value has anything to translate)."""
    value = value.strip()
    if "\r" in value or "\n" in value:
        value = value.replace("\r", " ").replace("\n", " ")
    return value


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """The NATS header block: `NATS/1.0`, then `Name: value` lines, then a blank line."""
    lines = "".join([f"{name}: {clean(value)}\r\n" for name, value in headers.items()])
    return HEADER_LINE + lines.encode() + b"\r\n"


async def publish(nc: Client, subject: str, reply: str, header_block: bytes, payload: bytes) -> None:
    _check(nc, len(payload) + len(header_block))
    nc.stats["out_msgs"] += 1
    nc.stats["out_bytes"] += len(payload)
    await _send(nc, command.hpub_cmd(subject, reply, header_block, payload))


async def send_many(nc: Client, commands: bytes, size: int, count: int, payload_bytes: int) -> None:
    """Several HPUB commands already joined (`size`: their messages' headers and payloads, each
    checked against max_payload by the caller) in one write: the same checks as `publish`
    for the connection and the reconnect buffer, the client's counters kept."""
    _check_connection(nc, size)
    nc.stats["out_msgs"] += count
    nc.stats["out_bytes"] += payload_bytes
    await _send(nc, commands)


async def ack(msg: Msg) -> None:
    """`msg.ack()`: the empty message JetStream reads as an acknowledgement, to the message's
    reply subject — one PUB command written by us rather than nats-py's `publish` (7 % of a
    worker at full load, every delivered event acknowledged)."""
    await ack_many(msg._client, (msg,))


async def ack_many(nc: Client, msgs: Sequence[Msg]) -> None:
    """`ack` of each of `msgs` (all read by `nc`) as one write: a delivery call's events are
    acknowledged together, one command, one check and one flush for the call. Nothing is
    sent if any of them cannot be acknowledged."""
    commands = []
    for msg in msgs:
        if not msg.reply:
            raise errors.NotJSMessageError
        if msg._ackd:
            raise errors.MsgAlreadyAckdError(msg)
        commands.append(b"PUB " + msg.reply.encode() + b" 0\r\n\r\n")
    _check(nc, 0)
    nc.stats["out_msgs"] += len(msgs)
    await _send(nc, b"".join(commands))
    for msg in msgs:
        msg._ackd = True


def _check(nc: Client, size: int) -> None:
    """What nats-py's `publish` refuses: a closed or draining connection, a reconnect buffer
    that is full, a message over the broker's max_payload."""
    _check_connection(nc, size)
    if size > nc.max_payload:
        raise errors.MaxPayloadError


def _check_connection(nc: Client, size: int) -> None:
    if nc.is_closed:
        raise errors.ConnectionClosedError
    if nc.is_draining_pubs:
        raise errors.ConnectionDrainingError
    if not nc.is_connected:
        pending_limit = nc._max_pending_size
        if pending_limit <= 0 or size + nc._pending_data_size > pending_limit:
            raise errors.OutboundBufferLimitError


async def _send(nc: Client, wire: bytes) -> None:
    await nc._send_command(wire)
    flushes = nc._flush_queue
    if flushes is not None and flushes.empty():
        await nc._flush_pending()
