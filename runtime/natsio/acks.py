"""Acknowledging JetStream messages, and reading their reply subjects.

An acknowledgement is the empty message JetStream reads as one, sent to the message's reply
subject: one PUB command written by us rather than nats-py's `publish` (7 % of a worker at
full load, every delivered event acknowledged), and a call's events acknowledged as one
write. Naks, progress and terminations stay nats-py's (`msg.nak()`, `in_progress()`,
`term()`): they are rare."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats import errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from runtime.natsio.publish import check, send


async def ack(msg: Msg) -> None:
    """`msg.ack()`, written by us."""
    await ack_many(msg._client, (msg,))


async def ack_many(nc: Client, msgs: Sequence[Msg]) -> None:
    """`ack` of each of `msgs` (all read by `nc`) as one write: one command, one check and
    one flush for the call. Nothing is sent if any of them cannot be acknowledged."""
    wire = ack_commands(nc, msgs)
    await send(nc, wire)
    for msg in msgs:
        msg._ackd = True


def ack_commands(nc: Client, msgs: Sequence[Msg]) -> bytes:
    """The PUB commands acknowledging `msgs`, checked (each a JetStream message not yet
    acknowledged, the connection open) and counted as sent."""
    commands = []
    for msg in msgs:
        if not msg.reply:
            raise errors.NotJSMessageError
        if msg._ackd:
            raise errors.MsgAlreadyAckdError(msg)
        commands.append(b"PUB " + msg.reply.encode() + b" 0\r\n\r\n")
    check(nc, 0)
    nc.stats["out_msgs"] += len(msgs)
    return b"".join(commands)


class QuickAckMsg(Msg):
    """nats-py's message whose `ack` is one PUB command written by us."""

    async def ack(self) -> None:
        await ack(self)


async def ack_all(msgs: Sequence[Msg]) -> None:
    """Acknowledge `msgs`, in order: as one write when the services' client read them all
    (QuickAckMsg), else one by one."""
    if not msgs:
        return
    if all(type(msg) is QuickAckMsg for msg in msgs):
        nc = msgs[0]._client
        if all(msg._client is nc for msg in msgs):
            await ack_many(nc, msgs)
            return
    for msg in msgs:
        await msg.ack()


def ack_fields(reply: str) -> tuple[int, int, float] | None:
    """(times delivered, stream sequence, stored at — epoch seconds) of a JetStream message,
    read from its reply subject without building nats-py's Metadata (two datetimes and a few
    objects per message, 7 % of a worker at full load). `$JS.ACK.<stream>.<consumer>.
    <delivered>.<stream seq>.<consumer seq>.<ns>.<pending>`, or the newer form with a domain
    and an account hash after `$JS.ACK` (and a random token at the end); None for anything
    else."""
    tokens = reply.split(".")
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        offset = 4
    elif len(tokens) >= 12 and tokens[0] == "$JS" and tokens[1] == "ACK":
        offset = 6
    else:
        return None
    try:
        return int(tokens[offset]), int(tokens[offset + 1]), int(tokens[offset + 3]) / 1e9
    except ValueError:
        return None


class GatheredAcks:
    """Acknowledgements that wait up to `linger_seconds` for others and go out in one write.

    An acknowledgement is on nobody's latency path: the event has reached its sink, and only a
    redelivery after `ack_wait` (30 s) would notice it late. At steady rates a call carries
    one or two events, and writing each call's acknowledgements at once woke nats-server for
    every call; gathered, the acknowledgements of the calls of `linger_seconds` share one
    write (and go sooner when anything else is written to the connection: they wait in the
    client's pending buffer, which every write empties). A worker that stops closes its
    connection, and closing writes what is pending; one killed outright loses at most
    `linger_seconds` of acknowledgements, whose events JetStream delivers again (at least
    once, as any crash between a delivery and its acknowledgement)."""

    def __init__(self, linger_seconds: float) -> None:
        self._linger = linger_seconds
        self._due: dict[Client, asyncio.TimerHandle] = {}

    async def ack_all(self, msgs: Sequence[Msg]) -> None:
        """As `ack_all`, the write left for later when `msgs` were all read by the services'
        client on one connection (else at once)."""
        if not msgs:
            return
        nc = msgs[0]._client
        if self._linger <= 0 or not all(type(m) is QuickAckMsg and m._client is nc for m in msgs):
            await ack_all(msgs)
            return
        await nc._send_command(ack_commands(nc, msgs))
        for msg in msgs:
            msg._ackd = True
        if nc not in self._due:
            self._due[nc] = asyncio.get_running_loop().call_later(self._linger, self._flush, nc)

    def _flush(self, nc: Client) -> None:
        del self._due[nc]
        flushes = nc._flush_queue
        if nc._pending_data_size > 0 and nc.is_connected and flushes is not None and flushes.empty():
            flushes.put_nowait(asyncio.get_running_loop().create_future())

    def cancel(self) -> None:
        """Forget the timers (the connection's close writes what they were for)."""
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
