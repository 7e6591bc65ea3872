"""Kinesis records, table-tested: partition keys, sizes, and per-record outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.kinesis import records
from services.delivery.sinks.kinesis.errors import KinesisThroughputExceeded, KinesisWriteFailed

pytestmark = pytest.mark.unit


def event(event_id: str, payload: bytes = b'{"id":"x"}') -> SinkEvent:
    return SinkEvent(event_id, "com.example", "AC" + "1" * 32, payload)


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [
        ("EZ1", "EZ1"),
        ("x" * 256, "x" * 256),
        ("x" * 257, "15eb95a462ee20bd91a415ae2d4aed341288186ddaa2b37908f7d592f0c3f85f"),  # SHA-256
        ("", "AC" + "1" * 32),  # no id: the account
    ],
)
def test_partition_key(event_id: str, expected: str) -> None:
    assert records.partition_key(event(event_id)) == expected


def test_size_counts_the_partition_key_too() -> None:
    assert records.size(event("EZ12", b"x" * 100)) == 104


def test_limits_are_kinesis_put_records_limits() -> None:
    assert (records.LIMITS.max_events, records.LIMITS.max_call_bytes, records.LIMITS.max_event_bytes) == (
        500,
        5 * 1024 * 1024,
        1024 * 1024,
    )


def test_entries_carry_the_cloudevent_as_data() -> None:
    assert records.entries([event("EZ1", b'{"a":1}')]) == [{"Data": b'{"a":1}', "PartitionKey": "EZ1"}]


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([{"SequenceNumber": "1", "ShardId": "s"}], [None]),
        (
            [
                {"SequenceNumber": "1", "ShardId": "s"},
                {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"},
                {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"},
            ],
            [None, KinesisThroughputExceeded, KinesisWriteFailed],
        ),
        ([{"ErrorCode": "KMSThrottlingException", "ErrorMessage": "k"}], [KinesisWriteFailed]),
    ],
)
def test_outcomes_are_per_record(results: list[dict[str, Any]], expected: list[type | None]) -> None:
    got = records.outcomes({"FailedRecordCount": 0, "Records": results}, len(results))
    assert [type(o.error) if o.error else None for o in got] == expected
    assert all(o.error is None or o.error.retryable for o in got)
    throttled = [o for o in got if isinstance(o.error, KinesisThroughputExceeded)]
    assert all(o.error is not None and o.error.slows_sink and o.error.code == 93101 for o in throttled)


def test_a_short_answer_fails_every_record() -> None:
    got = records.outcomes({"Records": [{"SequenceNumber": "1"}]}, 3)
    assert len(got) == 3 and all(isinstance(o.error, KinesisWriteFailed) for o in got)
