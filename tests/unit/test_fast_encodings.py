"""The router's per-event encodings, made cheaper, must say exactly what the slow ones said:
event times (runtime/times.py) and NATS header blocks (runtime/nats_publish.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client

from runtime.nats_publish import encode_headers
from runtime.times import iso, iso_of

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
    "headers",
    [
        {"Nats-Msg-Id": "AC1:EZ1:DG1", "Es-Event-Type": "com.twilio.messaging.message.sent"},
        {"Es-Event-Id": " padded ", "Es-Order-Key": "line\r\nbreak"},  # stripped; CR/LF become spaces
        {},
    ],
)
async def test_header_blocks_are_what_nats_py_sends(headers: dict[str, str]) -> None:
    assert encode_headers(headers) == await _nats_py_block(headers)
