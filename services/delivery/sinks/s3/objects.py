"""S3 archive objects, pure: an event as one line of a newline-delimited object, the key an
object of one event type goes under, and the limits of one call.

Keys: `<prefix>type=<event type>/date=<YYYY-MM-DD>/<HHMMSS>-<sink>-<nonce>.ndjson` — by type
and date (UTC, when the object is written), Hive-style, so Athena, Glue or Spark read the
partitions as columns; the nonce keeps two workers' objects of one second apart. Each line is
one CloudEvent, JSON without a newline inside."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

import orjson

from runtime.sinks.s3 import MAX_CALL_BYTES, MAX_EVENT_BYTES, MAX_EVENTS_PER_CALL
from services.delivery.sinks.base import Limits, SinkEvent

LIMITS = Limits(
    max_events=MAX_EVENTS_PER_CALL, max_call_bytes=MAX_CALL_BYTES, max_event_bytes=MAX_EVENT_BYTES
)
TYPE_CHARS = re.compile(r"[A-Za-z0-9._-]{1,200}")
CONTENT_TYPE = "application/x-ndjson"


def line(event: SinkEvent) -> bytes:
    """The CloudEvent as one line (a pretty-printed one is made compact)."""
    if b"\n" not in event.payload:
        return event.payload
    return orjson.dumps(orjson.loads(event.payload))


def size(event: SinkEvent) -> int:
    return len(line(event)) + 1


def type_segment(type_name: str) -> str:
    if TYPE_CHARS.fullmatch(type_name):
        return type_name
    return "other-" + hashlib.sha256(type_name.encode()).hexdigest()[:16]


def key(prefix: str, type_name: str, at: datetime, sink_sid: str, nonce: str) -> str:
    return f"{prefix}type={type_segment(type_name)}/date={at:%Y-%m-%d}/{at:%H%M%S}-{sink_sid}-{nonce}.ndjson"


def by_type(events: Sequence[SinkEvent]) -> dict[str, list[int]]:
    """The events' positions, by event type, in order."""
    groups: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        groups.setdefault(event.type_name, []).append(index)
    return groups


def body(events: Sequence[SinkEvent]) -> bytes:
    return b"".join(line(event) + b"\n" for event in events)
