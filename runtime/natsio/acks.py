"""Acknowledging JetStream messages, and reading their reply subjects.

An acknowledgement is the empty message JetStream reads as one, sent to the message's reply
subject: one PUB command written by us rather than nats-py's `publish` (7 % of a worker at
full load, every delivered event acknowledged), and a call's events acknowledged as one
write. Naks, progress and terminations stay nats-py's (`msg.nak()`, `in_progress()`,
`term()`): they are rare."""

from __future__ import annotations

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
    commands = []
    for msg in msgs:
        if not msg.reply:
            raise errors.NotJSMessageError
        if msg._ackd:
            raise errors.MsgAlreadyAckdError(msg)
        commands.append(b"PUB " + msg.reply.encode() + b" 0\r\n\r\n")
    check(nc, 0)
    nc.stats["out_msgs"] += len(msgs)
    await send(nc, b"".join(commands))
    for msg in msgs:
        msg._ackd = True


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
