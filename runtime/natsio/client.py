"""The services' NATS client: nats-py's, with a faster header parser
(`headers.parse_header_lines`), a faster protocol parser (`parser.FastParser`), quicker acks
(`acks.QuickAckMsg`) and direct subscriptions, whose messages are handed over in the read
loop."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from runtime.natsio.acks import QuickAckMsg
from runtime.natsio.headers import STATUS, parse_header_lines
from runtime.natsio.parser import FastParser

log = logging.getLogger(__name__)


# A direct subscription's handler: called in the client's read loop, so it must not block.
Handler = Callable[[Msg], None]
# A raw one's: (subject, payload, header block or None) as read, no message object built.
RawHandler = Callable[[bytes, bytes, bytes | None], None]


class HeaderParsingClient(Client):
    """The services' NATS client (this module's docstring)."""

    _parse_header_lines = staticmethod(parse_header_lines)
    msg_class = QuickAckMsg

    def __init__(self) -> None:
        super().__init__()
        self._direct: dict[int, Handler] = {}
        self._raw: dict[int, RawHandler] = {}
        self._ps = FastParser(self)

    async def subscribe_direct(self, subject: str, handler: Handler) -> Subscription:
        """A core subscription whose messages are handed to `handler` as they are read —
        not through the subscription's queue and a task per message, which nats-py's
        callbacks cost (5–8 % of a router, where every JetStream ack is one). The
        subscription is nats-py's own otherwise (resubscribed on reconnect; unsubscribe it as
        usual)."""
        subscription = await self.subscribe(subject)
        self._direct[subscription._id] = handler
        return subscription

    async def subscribe_raw(self, subject: str, handler: RawHandler) -> Subscription:
        """As `subscribe_direct`, with the message as read — subject, payload, header block —
        and no message object, no coroutine, no header parsing: for the router's JetStream
        acks, one per published message."""
        subscription = await self.subscribe(subject)
        self._raw[subscription._id] = handler
        return subscription

    def deliver_now(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> bool:
        """The parsers' hand-over, in the read loop: True when the message was handled here —
        a raw subscription's, or a direct one's without an inline status — and False for the
        coroutine path (`_process_msg`): one coroutine less per message read."""
        raw = self._raw.get(sid)
        if raw is not None:
            if sid not in self._subs:  # unsubscribed
                del self._raw[sid]
                return True
            self.stats["in_msgs"] += 1
            self.stats["in_bytes"] += len(data)
            try:
                raw(subject, data, headers)
            except Exception:  # never the read loop's end
                log.exception("nats: the handler of %r failed", subject)
            return True
        handler = self._direct.get(sid)
        if handler is None or (headers and headers[8:9] == b" "):  # an inline status (NATS/1.0 404 …)
            return False
        if sid not in self._subs:  # unsubscribed
            del self._direct[sid]
            return True
        # As _process_headers reads a block, without its coroutine per message.
        parsed = self._parse_header_lines(headers[10:]) or None if headers and len(headers) > 10 else None
        self._hand_over(handler, self._build_message(sid, subject, reply, data, parsed))
        return True

    def _hand_over(self, handler: Handler, message: Msg) -> None:
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += len(message.data)
        try:
            handler(message)
        except Exception:  # never the read loop's end
            log.exception("nats: the handler of %s failed", message.subject)

    def _build_message(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: dict[str, str] | None
    ) -> Msg:
        """nats-py's, with Msg's fields given positionally (keywords cost twice as much, one
        message per event read): _client, subject, reply, data, headers, _metadata, _ackd,
        _sid — tests/unit/test_fast_encodings.py holds it to nats-py's own."""
        return self.msg_class(self, subject.decode(), reply.decode(), data, headers, None, False, sid)

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        """What the parsers could not hand over at once (`deliver_now`) — and every message
        nats-py's own parser reads, which it does for the rest of a read after a line the
        fast parser leaves to it (PING, INFO, +OK, -ERR)."""
        if self.deliver_now(sid, subject, reply, data, headers):
            return
        handler = self._direct.get(sid)
        if handler is None:
            await super()._process_msg(sid, subject, reply, data, headers)
            return
        if sid not in self._subs:  # unsubscribed
            del self._direct[sid]
            return
        # A direct subscription's message with an inline status: nats-py's own reading.
        self._hand_over(
            handler, self._build_message(sid, subject, reply, data, await self._process_headers(headers))
        )


async def subscribe_direct(nc: Client, subject: str, handler: Handler) -> Subscription:
    """`handler` called for each message: directly by the services' client, through a
    callback by any other (a test's plain nats-py client)."""
    if isinstance(nc, HeaderParsingClient):
        return await nc.subscribe_direct(subject, handler)

    async def callback(message: Msg) -> None:
        handler(message)

    return await nc.subscribe(subject, cb=callback, pending_msgs_limit=-1)


async def subscribe_raw(nc: Client, subject: str, handler: RawHandler) -> Subscription:
    """`handler` called for each message as read: directly by the services' client, through
    a callback by any other (a test's plain nats-py client; its header block then carries
    only the status line, all a raw handler looks at)."""
    if isinstance(nc, HeaderParsingClient):
        return await nc.subscribe_raw(subject, handler)

    async def callback(message: Msg) -> None:
        status = (message.headers or {}).get(STATUS)
        block = f"NATS/1.0 {status}\r\n\r\n".encode() if status else None
        handler(message.subject.encode(), message.data, block)

    return await nc.subscribe(subject, cb=callback, pending_msgs_limit=-1)
