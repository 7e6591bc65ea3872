"""Kinesis records, pure: the partition key of an event, its size as Kinesis counts it, the
limits of one PutRecords call, and what PutRecords' per-record answer means for each event.

Partition key: the event's id (the CloudEvent `id`). It is stable across retries and
redrives — a retried record lands on the shard the first try would have — and spreads an
account's events evenly over the stream's shards (keying by account would pile a busy account
onto one shard, whose 1 MB/s write limit would then throttle it). Kinesis allows 256
characters; a longer id is replaced by its SHA-256 (hex, 64 characters), still stable."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from services.delivery.sinks.base import Limits, Outcome, SinkEvent
from services.delivery.sinks.exchange import BODY_RECORDS, Exchange
from services.delivery.sinks.kinesis.errors import KinesisThroughputExceeded, KinesisWriteFailed

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024  # data and partition keys of all records
MAX_BYTES_PER_RECORD = 1024 * 1024  # data and partition key
MAX_PARTITION_KEY = 256

LIMITS = Limits(
    max_events=MAX_RECORDS_PER_CALL,
    max_call_bytes=MAX_BYTES_PER_CALL,
    max_event_bytes=MAX_BYTES_PER_RECORD,
)

THROUGHPUT_EXCEEDED = "ProvisionedThroughputExceededException"


def partition_key(event: SinkEvent) -> str:
    key = event.event_id or event.account_sid
    if 0 < len(key) <= MAX_PARTITION_KEY:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def size(event: SinkEvent) -> int:
    return len(event.payload) + len(partition_key(event).encode())


def entries(events: Sequence[SinkEvent]) -> list[dict[str, Any]]:
    """PutRecords' `Records`: the CloudEvent JSON as each record's data."""
    return [{"Data": event.payload, "PartitionKey": partition_key(event)} for event in events]


def outcomes(response: Mapping[str, Any], count: int, call: Exchange | None = None) -> list[Outcome]:
    """One outcome per record of a PutRecords answer: a record with an ErrorCode failed, the
    others were written (Kinesis answers record by record, in the order sent). `call`, the
    call as the delivery log keeps it, rides on each."""
    results = list(response.get("Records") or [])
    if len(results) != count:
        error = KinesisWriteFailed(f"PutRecords answered {len(results)} results for {count} records")
        return [Outcome(error=error, exchange=call)] * count
    out: list[Outcome] = []
    for result in results:
        code = result.get("ErrorCode")
        if not code:
            out.append(Outcome(status=200, exchange=call))
            continue
        message = f"Kinesis did not write the record: {code}: {result.get('ErrorMessage', '')}".strip()
        throughput = code == THROUGHPUT_EXCEEDED
        refused = (KinesisThroughputExceeded if throughput else KinesisWriteFailed)(message)
        out.append(Outcome(error=refused, exchange=call))
    return out


def call_of(stream_arn: str, events: Sequence[SinkEvent], response: Mapping[str, Any]) -> Exchange:
    """A PutRecords call as the delivery log keeps it: the API call and stream, the records'
    count and bytes (not their data: the events), the answer's failed count, and each
    record's result — its shard and sequence number, or its error code."""
    results = list(response.get("Records") or [])
    by_event: dict[str, str] = {}
    for event, result in zip(events, results, strict=False):
        code = result.get("ErrorCode")
        by_event[event.event_id] = (
            f"{code}: {result.get('ErrorMessage', '')}".strip()
            if code
            else f"{result.get('ShardId', '')}/{result.get('SequenceNumber', '')}"
        )
    call = Exchange(
        "PutRecords",
        stream_arn,
        [],
        BODY_RECORDS,
        sum(size(event) for event in events),
        len(events),
        status=200,
        results=by_event,
    )
    call.response_body = f'{{"FailedRecordCount":{int(response.get("FailedRecordCount") or 0)}}}'.encode()
    return call
