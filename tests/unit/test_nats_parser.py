"""runtime/natsio/parser.FastParser against nats-py's own Parser: the same protocol bytes, fed in
pieces of every size, reach the client as the same calls in the same order."""

from __future__ import annotations

import random
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.errors import ProtocolError
from nats.protocol.parser import Parser

from runtime.natsio.client import HeaderParsingClient
from runtime.natsio.parser import FastParser

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


class _Replying(HeaderParsingClient):
    """The services' client, connected as far as a PING's answer needs: what it sends, kept."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self._status = HeaderParsingClient.CONNECTED

    async def _send_command(self, cmd: bytes, priority: bool = False) -> None:
        self.sent.append(cmd)

    async def _flush_pending(self, force_flush: bool = False) -> None:
        return None


async def test_messages_after_a_line_left_to_nats_py_reach_their_raw_and_direct_handlers() -> None:
    # A PING goes to nats-py's parser, which reads the rest of that read itself: the acks and
    # events behind it must still reach the services' raw and direct handlers.
    client = _Replying()
    raws: list[tuple[bytes, bytes]] = []
    directs: list[Msg] = []
    client._subs[1] = client._subs[2] = None  # type: ignore[assignment]  # only looked up
    client._raw[1] = lambda subject, data, headers: raws.append((subject, data))
    client._direct[2] = directs.append
    block = b"NATS/1.0\r\nEs-Event-Id: EZ1\r\n\r\n"
    for lead in (b"", b"PING\r\n"):
        await client._ps.parse(
            lead
            + b'MSG _INBOX.a.1 1 11\r\n{"seq":1:1}\r\n'
            + b"HMSG events.x 2 $JS.ACK.x %d %d\r\n%s{}\r\n" % (len(block), len(block) + 2, block)
        )
    assert raws == [(b"_INBOX.a.1", b'{"seq":1:1}')] * 2
    assert [(m.subject, m.reply, m.data, m.headers) for m in directs] == [
        ("events.x", "$JS.ACK.x", b"{}", {"Es-Event-Id": "EZ1"})
    ] * 2
    assert client.sent == [b"PONG\r\n"]
