"""A CloudEvent as a Segment `track` call, pure.

- `messageId` = the event id: Segment dedupes on it, so a retried delivery counts once.
- `event` = the event type; `properties` = the CloudEvent's `data`; `timestamp` = its `time`.
- Identity: `userId` = the account SID. Segment drops a track call without userId or
  anonymousId; every event of an account is about that account (its messages, its calls),
  so the account is the one identity all its events share, and a stable, known one.
- `context` carries the rest of the CloudEvent (source, dataschema, specversion) and names
  the sender, so nothing of the original is lost.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.delivery.errors import Rejected
from services.delivery.sinks.base import Framing, Limits, SinkEvent

# Segment's documented limits of the HTTP Tracking API.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 1000  # ours: Segment sets none; keeps one call's work bounded
LIBRARY = {"name": "eventstreams", "version": "0.1"}
# `{"batch":[` … `],"sentAt":"2026-12-01T00:00:00.000000+00:00"}`: 10 + 48, rounded up.
ENVELOPE_BYTES = 64

LIMITS = Limits(
    max_events=MAX_BATCH_MESSAGES,
    max_call_bytes=MAX_BATCH_BYTES,
    max_event_bytes=MAX_MESSAGE_BYTES,
    framing=Framing(call=ENVELOPE_BYTES, separator=1),
)


def track(event: SinkEvent) -> dict[str, Any]:
    try:
        cloud_event = orjson.loads(event.payload)
    except orjson.JSONDecodeError as exc:
        raise Rejected(f"the event is not JSON: {exc}") from exc
    if not isinstance(cloud_event, dict):
        raise Rejected("the event is not a JSON object")
    data = cloud_event.get("data")
    message: dict[str, Any] = {
        "type": "track",
        "messageId": event.event_id or str(cloud_event.get("id", "")),
        "event": event.type_name or str(cloud_event.get("type", "")),
        "userId": event.account_sid,
        "properties": data if isinstance(data, dict) else {"data": data},
        "context": {
            "library": LIBRARY,
            "cloudevent": {
                key: cloud_event[key]
                for key in ("id", "source", "specversion", "dataschema", "datacontenttype")
                if key in cloud_event
            },
        },
    }
    if cloud_event.get("time"):
        message["timestamp"] = cloud_event["time"]
    return message


def encode(event: SinkEvent) -> bytes:
    return orjson.dumps(track(event))


def batch_body(messages: list[bytes], sent_at: str) -> bytes:
    return b'{"batch":[' + b",".join(messages) + b'],"sentAt":' + orjson.dumps(sent_at) + b"}"
