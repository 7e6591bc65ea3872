"""SNS messages, pure: one event as one PublishBatch entry, the limits of one call, and what
the call's answer means for each event.

- The message is the CloudEvent JSON as it is; no message attributes (SNS counts those against
  the size too). A subscriber with raw message delivery gets the CloudEvent itself.
- A FIFO topic's entry carries the event's message group and deduplication ids
  (`aws/batches.py`: the ordering key's value or the account, and the event id); a standard
  topic's entry carries neither."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runtime.sinks.sns import MAX_BYTES, MAX_MESSAGES_PER_CALL
from services.delivery.sinks.aws import batches
from services.delivery.sinks.base import Limits, Outcome, SinkEvent

LIMITS = Limits(max_events=MAX_MESSAGES_PER_CALL, max_call_bytes=MAX_BYTES, max_event_bytes=MAX_BYTES)


def size(event: SinkEvent) -> int:
    return len(event.payload)


def entries(events: Sequence[SinkEvent], fifo: bool) -> list[dict[str, Any]]:
    """PublishBatch's `PublishBatchRequestEntries`, each `Id` its index in the call."""
    return batches.entries(events, fifo, body="Message")


def outcomes(response: Mapping[str, Any], count: int) -> list[Outcome]:
    return batches.outcomes(response, count, "SNS")
