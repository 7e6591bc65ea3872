"""EventBridge entries, pure: one event as one PutEvents entry, its size as EventBridge
counts it, the limits of one call, and what the call's answer means for each event.

- `Source` = the CloudEvent's `source`, `DetailType` = the event type, `Detail` = the whole
  CloudEvent JSON (so a rule or a target sees its id, time and data as any sink does).
  EventBridge allows 256 characters of Source and 128 of DetailType, and keeps `aws.` sources
  for AWS's own: a value outside that is replaced by a stable one (`twilio.` and its SHA-256,
  shortened), so it still matches the same rules every time.
- Size: EventBridge counts the UTF-8 bytes of Source, DetailType and Detail (and of Time and
  Resources, which we do not send)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from runtime.sinks.eventbridge import MAX_BYTES, MAX_ENTRIES_PER_CALL
from services.delivery.errors import DeliveryError, ServerError, Throttled
from services.delivery.sinks.aws.errors import REFUSED, THROTTLING, EntryRefused, TargetRefused
from services.delivery.sinks.base import Limits, Outcome, SinkEvent

LIMITS = Limits(max_events=MAX_ENTRIES_PER_CALL, max_call_bytes=MAX_BYTES, max_event_bytes=MAX_BYTES)
MAX_SOURCE = 256
MAX_DETAIL_TYPE = 128
# The entry's own failures that are this entry's fault, never worth a retry.
MALFORMED = frozenset(
    {"MalformedDetail", "InvalidArgument", "ValidationException", "InvalidEventPatternException"}
)


def bounded(value: str, limit: int) -> str:
    if 0 < len(value) <= limit and not value.startswith("aws."):
        return value
    return "twilio." + hashlib.sha256(value.encode()).hexdigest()[: min(64, limit - 7)]


def source(event: SinkEvent) -> str:
    try:
        found = orjson.loads(event.payload).get("source")
    except (orjson.JSONDecodeError, AttributeError):
        found = None
    return bounded(str(found) if found else f"twilio.{event.account_sid}", MAX_SOURCE)


def entry(event: SinkEvent, bus: str) -> dict[str, Any]:
    return {
        "Source": source(event),
        "DetailType": bounded(event.type_name, MAX_DETAIL_TYPE),
        "Detail": event.payload.decode(),
        "EventBusName": bus,
    }


def size(event: SinkEvent) -> int:
    return (
        len(source(event).encode())
        + len(bounded(event.type_name, MAX_DETAIL_TYPE).encode())
        + len(event.payload)
    )


def entries(events: Sequence[SinkEvent], bus: str) -> list[dict[str, Any]]:
    return [entry(event, bus) for event in events]


def failure(result: Mapping[str, Any]) -> DeliveryError:
    code = str(result.get("ErrorCode", ""))
    text = f"EventBridge did not take the event: {code}: {result.get('ErrorMessage', '')}".rstrip(": ")
    if code in THROTTLING:
        return Throttled(text)
    if code in REFUSED or code == "NotAuthorizedForSourceException":
        return TargetRefused(text)
    if code in MALFORMED:
        return EntryRefused(text)
    return ServerError(text)


def outcomes(response: Mapping[str, Any], count: int) -> list[Outcome]:
    """One outcome per entry: PutEvents answers entry by entry, in the order sent; an entry
    with an ErrorCode failed, the others were put."""
    results = list(response.get("Entries") or [])
    if len(results) != count:
        error = ServerError(f"PutEvents answered {len(results)} results for {count} entries")
        return [Outcome(error=error)] * count
    return [Outcome(error=failure(r)) if r.get("ErrorCode") else Outcome(status=200) for r in results]
