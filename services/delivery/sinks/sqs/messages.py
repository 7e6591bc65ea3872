"""SQS messages, pure: one event as one SendMessageBatch entry, the limits of one call, and
what the call's answer means for each event.

- The body is the CloudEvent JSON as it is; no message attributes (SQS counts those against
  the size too, and the CloudEvent already carries its type and source).
- A FIFO queue's entry carries the event's message group and deduplication ids
  (`aws/batches.py`: the ordering key's value or the account, and the event id); a standard
  queue's entry carries neither."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.sinks.sqs import MAX_BYTES, MAX_MESSAGES_PER_CALL
from services.delivery.sinks.aws import batches
from services.delivery.sinks.base import Limits, Outcome, SinkEvent

LIMITS = Limits(max_events=MAX_MESSAGES_PER_CALL, max_call_bytes=MAX_BYTES, max_event_bytes=MAX_BYTES)


def size(event: SinkEvent) -> int:
    return len(event.payload)


def entries(events: Sequence[SinkEvent], fifo: bool) -> list[dict[str, Any]]:
    """SendMessageBatch's `Entries`, each `Id` its index in the call."""
    return batches.entries(events, fifo, body="MessageBody")


def outcomes(response: Mapping[str, Any], count: int) -> list[Outcome]:
    return batches.outcomes(response, count, "SQS")
