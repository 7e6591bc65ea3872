"""An event as an AMQP 0-9-1 message, pure.

The body is the CloudEvent itself (structured content mode, `application/cloudevents+json`);
its attributes are repeated as `cloudEvents_*` headers (the AMQP binding's application
properties) so a headers exchange or a consumer can route on them without parsing the body.
`message_id` is the event id — delivery is at least once, and a consumer dedupes on it —,
`type` the event type, the message persistent (delivery mode 2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from aio_pika import DeliveryMode, Message

from services.delivery.sinks.base import Limits, SinkEvent

CONTENT_TYPE = "application/cloudevents+json"
APP_ID = "twilio-event-streams"
HEADER_PREFIX = "cloudEvents_"
ATTRIBUTES = ("id", "type", "source", "specversion", "time", "dataschema", "subject")

# Ours: RabbitMQ takes up to 128 MiB (max_message_size), but a message of events is small
# and one call's publishes share a channel.
MAX_MESSAGE_BYTES = 1024 * 1024
MAX_CALL_MESSAGES = 100
MAX_CALL_BYTES = 4 * 1024 * 1024
LIMITS = Limits(
    max_events=MAX_CALL_MESSAGES, max_call_bytes=MAX_CALL_BYTES, max_event_bytes=MAX_MESSAGE_BYTES
)


def headers(event: SinkEvent) -> dict[str, Any]:
    try:
        cloud_event = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        cloud_event = {}
    found: dict[str, Any] = {}
    if isinstance(cloud_event, dict):
        found = {
            HEADER_PREFIX + key: str(cloud_event[key])
            for key in ATTRIBUTES
            if cloud_event.get(key) not in (None, "")
        }
    found.setdefault(HEADER_PREFIX + "id", str(event.event_id))
    found.setdefault(HEADER_PREFIX + "type", event.type_name)
    return found


def timestamp(found: dict[str, Any]) -> datetime | None:
    text = found.get(HEADER_PREFIX + "time")
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def message(event: SinkEvent) -> Message:
    found = headers(event)
    return Message(
        event.payload,
        content_type=CONTENT_TYPE,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=str(event.event_id),
        type=event.type_name,
        app_id=APP_ID,
        timestamp=timestamp(found),
        headers=found,
    )
