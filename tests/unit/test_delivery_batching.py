"""Batching, table-driven: as many ready events as a sink's limits allow, never more, and
none a sink cannot take."""

from __future__ import annotations

import json
import sys
from collections import deque
from dataclasses import dataclass

import pytest

from services.delivery.errors import Misconfigured, TooLarge
from services.delivery.intake.envelope import Envelope
from services.delivery.scheduling.batching import gather_wait, next_call, take, unfit
from services.delivery.sinks.base import Framing, Limits, SinkEvent

pytestmark = pytest.mark.unit

JSON_ARRAY = Framing(call=2, separator=1)
WEBHOOK_64K = Limits(
    max_events=1000, max_call_bytes=64 * 1024, max_event_bytes=64 * 1024 - 2, framing=JSON_ARRAY
)


@pytest.mark.parametrize(
    ("sizes", "limits", "expected"),
    [
        ([], Limits(10, 100, 98, JSON_ARRAY), 0),
        ([10], Limits(10, 100, 98, JSON_ARRAY), 1),
        ([10, 10, 10], Limits(10, 100, 98, JSON_ARRAY), 3),  # 2 + 30 + 2 commas = 34
        ([40, 40, 40], Limits(10, 100, 98, JSON_ARRAY), 2),  # 2 + 80 + 1 = 83; a third would be 124
        ([48, 49], Limits(10, 100, 98, JSON_ARRAY), 2),  # exactly 100
        ([48, 50], Limits(10, 100, 98, JSON_ARRAY), 1),  # 101: one too many
        ([500, 1], Limits(10, 100, 98, JSON_ARRAY), 1),  # one always goes (sized before)
        ([1] * 5000, Limits(1000, 100_000, 100, JSON_ARRAY), 1000),  # at most max_events
        ([1] * 600, Limits(500, 5 * 2**20, 2**20), 500),  # Kinesis: 500 records
        ([2**20] * 6, Limits(500, 5 * 2**20, 2**20), 5),  # Kinesis: 5 MiB, no framing
        ([100] * 10, Limits(1, 10_000, 10_000), 1),  # one event per call
    ],
)
def test_take(sizes: list[int], limits: Limits, expected: int) -> None:
    assert take(sizes, limits) == expected
    if expected > 1:
        assert limits.framing.call_bytes(sizes[:expected]) <= limits.max_call_bytes


def test_the_real_body_never_exceeds_64_kb() -> None:
    events = [json.dumps({"id": f"EZ{i}", "data": {"pad": "x" * (i % 3000)}}).encode() for i in range(400)]
    remaining = events
    while remaining:
        count = take([len(e) for e in remaining], WEBHOOK_64K)
        body = b"[" + b",".join(remaining[:count]) + b"]"
        assert len(body) <= WEBHOOK_64K.max_call_bytes
        assert len(json.loads(body)) == count
        if count < len(remaining):
            grown = b"[" + b",".join(remaining[: count + 1]) + b"]"
            assert len(grown) > WEBHOOK_64K.max_call_bytes  # the batch was as full as it could be
        remaining = remaining[count:]


@pytest.mark.parametrize(
    ("taken", "max_events", "since_last_call", "expected"),
    [
        (1, 1000, float("inf"), 0.0),  # no call before: a lone event goes at once
        (1, 1000, 0.010, 0.0),  # the last call was longer ago than the gather time
        (1, 1000, 0.004, 0.0),  # exactly the gather time ago
        (1, 1000, 0.001, 0.003),  # a call 1 ms ago: the rest of the 4 ms
        (5, 1000, 0.0, 0.004),  # a call just left: the whole gather time
        (999, 1000, 0.001, 0.003),  # one short of full still waits
        (1000, 1000, 0.001, 0.0),  # a full call goes at once
        (1, 1, 0.001, 0.0),  # one event a call: nothing to gather
        (1, 1000, 0.0038, 0.0),  # less than the slack left: not worth a timer
        (1, 1000, -1.0, 0.004),  # a clock that went back: never more than the gather time
    ],
)
def test_gather_wait(taken: int, max_events: int, since_last_call: float, expected: float) -> None:
    assert gather_wait(taken, max_events, since_last_call, 0.004) == pytest.approx(expected)


@pytest.mark.parametrize(("sizes", "expected"), [([], 2), ([5], 7), ([5, 5], 13), ([1, 2, 3], 10)])
def test_json_array_framing(sizes: list[int], expected: int) -> None:
    assert JSON_ARRAY.call_bytes(sizes) == expected


@dataclass
class Sized:
    """A sink that counts an event's payload, and cannot read one that says so."""

    limits: Limits

    def size(self, event: SinkEvent) -> int:
        if event.payload == b"unreadable":
            raise Misconfigured("cannot read it")
        return len(event.payload)


def queued(*payloads: bytes) -> deque[Envelope]:
    return deque(
        Envelope(None, "DG1", SinkEvent(f"E{i}", "t", "AC1", p), 1, 0.0, "", 0.0, "s")  # type: ignore[arg-type]
        for i, p in enumerate(payloads)
    )


def test_unfit_sizes_once_and_says_why() -> None:
    sink = Sized(Limits(10, 100, 5))
    small, large, unreadable = queued(b"abc", b"abcdef", b"unreadable")
    assert unfit(small, sink) is None and small.size == 3  # type: ignore[arg-type]
    assert isinstance(unfit(large, sink), TooLarge)  # type: ignore[arg-type]
    assert isinstance(unfit(unreadable, sink), Misconfigured)  # type: ignore[arg-type]
    assert unreadable.size == sys.maxsize


@pytest.mark.parametrize(
    ("payloads", "limits", "taken"),
    [
        ([b"ab"] * 5, Limits(3, 100, 10), 3),  # at most max_events
        ([b"abcd"] * 5, Limits(10, 9, 10), 2),  # by bytes: 4 + 4, a third would be 12
        ([b"ab", b"ab", b"abcdefghijklmnop", b"ab"], Limits(10, 100, 10), 2),  # stops before a too large one
        ([b"ab", b"unreadable", b"ab"], Limits(10, 100, 20), 1),  # and before an unreadable one
        ([b"abcdefghijklmnop", b"ab"], Limits(10, 100, 10), 0),  # none: the head cannot go
    ],
)
def test_next_call(payloads: list[bytes], limits: Limits, taken: int) -> None:
    queue = queued(*payloads)
    call = next_call(queue, Sized(limits))  # type: ignore[arg-type]
    assert [e.event.event_id for e in call] == [f"E{i}" for i in range(taken)]
    assert len(queue) == len(payloads) - taken
