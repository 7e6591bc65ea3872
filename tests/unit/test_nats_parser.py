"""runtime/nats_parser.FastParser against nats-py's own Parser: the same protocol bytes, fed in
pieces of every size, reach the client as the same calls in the same order."""

from __future__ import annotations

import random
from typing import Any

import pytest
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from runtime.nats_parser import FastParser

pytestmark = pytest.mark.unit


class Recorder:
    """What a parser hands to its client."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: Any) -> None:
        self.calls.append(("msg", sid, bytes(subject), bytes(reply), data, headers))

    async def _process_ping(self) -> None:
        self.calls.append(("ping",))

    async def _process_pong(self) -> None:
        self.calls.append(("pong",))

    async def _process_info(self, info: dict[str, Any]) -> None:
        self.calls.append(("info", info))

    async def _process_err(self, message: str) -> None:
        self.calls.append(("err", message))


HMSG_BODY = b"NATS/1.0\r\nNats-Msg-Id: a\r\n\r\n" + b'{"x":1}'
STREAM = b"".join(
    [
        b'INFO {"server_id":"x","max_payload":1048576}\r\n',
        b"MSG events.a 1 5\r\nhello\r\n",
        b"MSG events.b 12 _INBOX.reply.1 3\r\nabc\r\n",
        b"+OK\r\n",
        b"HMSG $JS.ACK.x 3 $JS.ACK.EVENTS.c.1.2.3.4.5 %d %d\r\n%s\r\n" % (28, len(HMSG_BODY), HMSG_BODY),
        b"PING\r\n",
        b"HMSG inbox.1 4 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
        b"MSG empty 2 0\r\n\r\n",
        b"PONG\r\n",
        b"MSG  spaced\t 7  reply  2\r\nok\r\n",
        b"-ERR 'Stale Connection'\r\n",
        b"MSG after.err 9 1\r\nz\r\n",
    ]
)


async def feed(parser: Parser, data: bytes, sizes: list[int]) -> None:
    position = 0
    for size in sizes:
        await parser.parse(data[position : position + size])
        position += size
    await parser.parse(data[position:])


@pytest.mark.parametrize("seed", range(40))
async def test_the_same_calls_whatever_the_pieces(seed: int) -> None:
    rng = random.Random(seed)
    sizes = [rng.randint(1, 40) for _ in range(len(STREAM) // 10)] if seed else [len(STREAM)]
    theirs, ours = Recorder(), Recorder()
    await feed(Parser(theirs), STREAM, sizes)
    fast = FastParser(ours)
    await feed(fast, STREAM, sizes)
    assert ours.calls == theirs.calls
    assert len([c for c in ours.calls if c[0] == "msg"]) == 7
    assert not fast.buf


async def test_a_malformed_message_line_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        await FastParser(Recorder()).parse(b"MSG subject notanumber 5\r\nhello\r\n")
    with pytest.raises(ProtocolError):
        await FastParser(Recorder()).parse(b"WHAT is this\r\n")
