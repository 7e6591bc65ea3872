"""The per-event encodings, made cheaper, must say exactly what the slow ones said: event
times (runtime/times.py), NATS header blocks (runtime/natsio, runtime/stream_codec.py),
and the worker's attempt times and usage days (runtime/times.py, services/delivery/settling/journal.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import MsgAlreadyAckdError, NotJSMessageError
from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

from runtime.natsio.acks import QuickAckMsg, ack, ack_all, ack_fields
from runtime.natsio.client import HeaderParsingClient
from runtime.natsio.headers import clean, parse_header_lines
from runtime.stream_codec import StreamEvent, decode, header_block, headers
from runtime.times import iso, iso_of, sqlite_timestamp, utc_day
from services.delivery.settling.journal import ROWS_PER_INSERT, Attempt, AttemptRows, rows_per_insert

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 2, 6, 59, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 2, 6, 59, 1, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 6, 59, 1, 999999, tzinfo=UTC),
        datetime(1969, 7, 20, 20, 17, 40, 500000, tzinfo=UTC),  # before the epoch
        datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    ],
)
def test_an_event_time_reads_as_iso_did(moment: datetime) -> None:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    assert iso_of(stamp.seconds, stamp.nanos) == iso(stamp.ToDatetime(tzinfo=UTC))


def test_a_time_past_year_9999_is_refused() -> None:
    with pytest.raises(OverflowError):
        iso_of(253402300800, 0)


async def _nats_py_block(headers: dict[str, str]) -> bytes:
    """What nats-py itself sends for these headers (its HPUB command, captured)."""
    sent: list[bytes] = []
    client = Client()

    async def capture(command: bytes, priority: bool = False) -> None:
        sent.append(command)

    client._send_command = capture  # type: ignore[method-assign]
    await client._send_publish("s", "r", b"x", 1, headers)
    line, _, rest = sent[0].partition(b"\r\n")
    header_length = int(line.split()[3])
    return rest[:header_length]


@pytest.mark.parametrize(
    "event",
    [
        StreamEvent("EZ1", "com.twilio.messaging.message.sent"),
        StreamEvent("EZ1", "com.twilio.messaging.message.sent", revision=42),
        StreamEvent(" EZ\r\n1 ", "t", failure="cannot be projected\nto v2", revision=3, order_key=""),
        StreamEvent(
            "EZ2",
            "t",
            replay_sid="RP1",
            stored_at=1764657789.123456,
            delivered=4,
            trace="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            order_key="SM1",
        ),
        StreamEvent("EZ3", "t", trigger="resend"),
    ],
)
async def test_a_stream_message_header_block_is_its_headers_as_nats_py_sends_them(event: StreamEvent) -> None:
    expected = await _nats_py_block(headers(event, "AC1:EZ1:DG1"))
    assert header_block(event, "AC1:EZ1:DG1") == expected
    # … and a worker reads back what the router wrote (values as `clean` leaves them).
    read = decode(parse_header_lines(expected[len(b"NATS/1.0\r\n") :]))
    assert read == replace(
        event,
        event_id=clean(event.event_id),
        failure=clean(event.failure),
        order_key=clean(event.order_key) if event.order_key is not None else None,
    )


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.EVENTS.delivery.3.1042.977.1764657789123456789.12",
        "$JS.ACK.hub.ACCHASH.EVENTS.delivery.3.1042.977.1764657789123456789.12.abcdef",
    ],
)
def test_ack_fields_read_as_nats_py_reads_the_reply(reply: str) -> None:
    metadata = Msg(Client(), subject="events.AC.DG", reply=reply).metadata
    assert metadata.timestamp is not None
    assert ack_fields(reply) == (
        metadata.num_delivered,
        metadata.sequence.stream,
        pytest.approx(metadata.timestamp.timestamp(), abs=1e-6),
    )


@pytest.mark.parametrize("reply", ["", "_INBOX.x", "$JS.ACK.a.b.c", "$JS.ACK.EVENTS.d.x.1.1.1.1"])
def test_ack_fields_of_anything_else_is_none(reply: str) -> None:
    assert ack_fields(reply) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"Nats-Msg-Id: AC1:EZ1:DG1\r\nEs-Event-Type: com.twilio.x\r\nEs-Revision: 7\r\n\r\n",
        b"Name:Value\r\nName2:\tValue2\r\n",  # no space after the colon, a tab
        b"Bad Name: x\r\nGood: y\r\n",  # whitespace inside a name: skipped
        b"Tab\tName: x\r\nFeed\x0cName: y\r\nSep\x1fName: z\r\n",  # every kind isspace names
        b"NoColon\r\n: empty name\r\n",
        b"Caf\xc3\xa9: x\r\nKey: caf\xc3\xa9 \xff\r\n",  # a non-ASCII name, a bad UTF-8 value
        b"Es-Order-Key:   padded   \r\n",
        b"Sep: \x1cvalue\x1f\r\nVt:\x0bvalue\x0c\r\n",  # separators are no bytes whitespace
        b"Lone: line\nfeed\r\nCr: carriage\rreturn \r\n",  # only CRLF ends a line
        b"Colons: a:b:c\r\n:\r\n",
        b"",
    ],
)
def test_header_blocks_parse_as_nats_py_parses_them(raw: bytes) -> None:
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)


class _Capturing(Client):
    """A client that only records the commands it would send (connected, not flushing)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self._status = Client.CONNECTED
        self._max_payload = 1024 * 1024

    async def _send_command(self, cmd: bytes, priority: bool = False) -> None:
        self.sent.append(cmd)


async def test_an_ack_is_the_command_nats_py_sends_and_only_once() -> None:
    reply = "$JS.ACK.EVENTS.delivery.1.42.42.1764657789123456789.0"
    theirs, ours = _Capturing(), _Capturing()
    await Msg(_client=theirs, subject="events.x", reply=reply).ack()
    message = Msg(_client=ours, subject="events.x", reply=reply)
    await ack(message)
    assert ours.sent == [f"PUB {reply} 0\r\n\r\n".encode()]
    # nats-py writes an empty reply field as a second space: the same command to the server.
    assert [c.split() for c in ours.sent] == [c.split() for c in theirs.sent]
    with pytest.raises(MsgAlreadyAckdError):
        await ack(message)
    with pytest.raises(NotJSMessageError):
        await ack(Msg(_client=ours, subject="core.x", reply=""))


async def test_a_calls_acks_are_one_write_of_the_commands_sent_one_by_one() -> None:
    replies = [f"$JS.ACK.EVENTS.delivery.1.{n}.{n}.1764657789123456789.0" for n in (42, 43, 44)]
    one_by_one, together = _Capturing(), _Capturing()
    for reply in replies:
        await ack(QuickAckMsg(_client=one_by_one, subject="events.x", reply=reply))
    messages = [QuickAckMsg(_client=together, subject="events.x", reply=reply) for reply in replies]
    await ack_all(messages)
    assert together.sent == [b"".join(one_by_one.sent)]
    assert all(message._ackd for message in messages)
    with pytest.raises(MsgAlreadyAckdError):
        await ack_all(messages[:1])
    assert len(together.sent) == 1  # nothing more sent
    # Messages of any other client (a test's plain nats-py one): acknowledged one by one.
    theirs = _Capturing()
    await ack_all([Msg(_client=theirs, subject="events.x", reply=reply) for reply in replies])
    assert [c.split() for c in theirs.sent] == [c.split() for c in one_by_one.sent]


EPOCH_TIMES = [
    1_796_238_625.535263,
    1_796_238_625.0,
    1_796_238_625.9999996,  # rounds up into the next second
    1_796_169_599.9999999,  # … and into the next day
    -0.5,  # before the epoch
    0.0,
    253_402_300_799.999,  # the last second of year 9999
]


@pytest.mark.parametrize("epoch", EPOCH_TIMES)
def test_an_attempt_time_is_stored_as_sqlalchemy_stores_it_in_sqlite(epoch: float) -> None:
    dialect = SQLiteDialect_aiosqlite()
    processor = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    assert sqlite_timestamp(epoch) == processor(datetime.fromtimestamp(epoch, UTC))


@pytest.mark.parametrize("epoch", EPOCH_TIMES)
def test_a_delivery_counts_on_its_utc_day(epoch: float) -> None:
    assert utc_day(epoch) == datetime.fromtimestamp(epoch, UTC).date().isoformat()


def test_attempt_rows_give_sqlite_its_text_and_other_databases_a_datetime() -> None:
    epoch = 1_796_238_625.535263
    attempt = Attempt("AC1", "DG1", "EZ1", "com.example", 2, "retrying", 503, 40, 91301, "no", epoch)
    sqlite_row = AttemptRows(SQLiteDialect_aiosqlite()).row(attempt)
    postgres_row = AttemptRows(PGDialect_asyncpg()).row(attempt)
    assert sqlite_row[10] == "2026-12-02 19:10:25.535263"
    assert postgres_row[10] == datetime(2026, 12, 2, 19, 10, 25, 535263, tzinfo=UTC)
    assert (
        sqlite_row[:10]
        == postgres_row[:10]
        == ("AC1", "DG1", "EZ1", "com.example", 2, "retrying", 503, 40, 91301, "no")
    )


@pytest.mark.parametrize("dialect", [SQLiteDialect_aiosqlite, PGDialect_asyncpg])
def test_attempt_rows_in_any_order_of_times_each_carry_their_own_time(dialect: Any) -> None:
    # A call's records share their time, formatted once: rows of other times in between
    # must still each read their own.
    times = [EPOCH_TIMES[0], EPOCH_TIMES[0], EPOCH_TIMES[1], EPOCH_TIMES[0], 0.0, 0.0, EPOCH_TIMES[2]]
    rows = AttemptRows(dialect())
    fresh = [
        AttemptRows(dialect()).row(Attempt("AC1", "DG1", "EZ1", "t", 1, "delivered", 200, 1, None, None, t))
        for t in times
    ]
    shared = [
        rows.row(Attempt("AC1", "DG1", "EZ1", "t", 1, "delivered", 200, 1, None, None, t)) for t in times
    ]
    assert shared == fresh
    assert len({row[10] for row in shared}) == 4


@pytest.mark.parametrize(
    "block",
    [
        b"NATS/1.0\r\nNats-Msg-Id: AC1:EZ1:DG1\r\nEs-Event-Type: com.twilio.x\r\nEs-Revision: 7\r\n\r\n",
        b"NATS/1.0 503\r\n\r\n",
        b"NATS/1.0 404 No Messages\r\n\r\n",
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 1016\r\nNats-Last-Stream: 1024\r\n\r\n",
        b"NATS/1.0\r\n\r\n",
        b"NATS/1.0\r\n",
        b"NATS/1.0\r\nBad Name: x\r\nKey: caf\xc3\xa9 \xff\r\n\r\n",
    ],
)
async def test_a_direct_subscriptions_message_has_the_headers_nats_py_reads(block: bytes) -> None:
    received: list[Msg] = []
    ours = HeaderParsingClient()
    ours._subs[1] = None  # type: ignore[assignment]  # only looked up: still subscribed?
    ours._direct[1] = received.append
    await ours._process_msg(1, b"events.x", b"$JS.ACK.x", b"{}", block)
    assert received[0].headers == await Client()._process_headers(block)


def test_a_message_is_built_as_nats_py_builds_it() -> None:
    ours = HeaderParsingClient()
    theirs = Client._build_message(ours, 7, b"events.a.b", b"$JS.ACK.x", b"{}", {"K": "v"})
    built = ours._build_message(7, b"events.a.b", b"$JS.ACK.x", b"{}", {"K": "v"})
    assert type(built) is type(theirs) and vars(built) == vars(theirs)


@pytest.mark.parametrize(
    ("version", "rows"), [((3, 40, 1), ROWS_PER_INSERT), ((3, 32, 0), ROWS_PER_INSERT), ((3, 31, 1), 66)]
)
def test_an_sqlite_insert_of_attempts_stays_within_the_librarys_parameters(
    version: tuple[int, int, int], rows: int
) -> None:
    assert rows_per_insert(version) == rows
    assert rows * len(vars(Attempt("A", "D", "E", "t", 1, "delivered", 200, 1, None, None, 0.0))) <= (
        32_766 if version >= (3, 32, 0) else 999
    )
