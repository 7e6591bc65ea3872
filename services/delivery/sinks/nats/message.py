"""An event as a NATS message, pure: the CloudEvent itself as the body (structured content
mode), its attributes repeated as `ce-*` headers (the CloudEvents NATS binding's names), and
`Nats-Msg-Id` = the event id, which a JetStream stream deduplicates on within its duplicate
window — delivery is at least once, and a retried publish is stored once."""

from __future__ import annotations

import orjson

from services.delivery.sinks.base import Limits, SinkEvent

CONTENT_TYPE = "application/cloudevents+json"
MSG_ID = "Nats-Msg-Id"
ATTRIBUTES = ("id", "type", "source", "specversion", "time", "dataschema", "subject")

# A NATS server's default max_payload is 1 MiB, headers included: the event and room for them.
MAX_MESSAGE_BYTES = 1000 * 1024
MAX_CALL_MESSAGES = 100
MAX_CALL_BYTES = 4 * 1024 * 1024
LIMITS = Limits(
    max_events=MAX_CALL_MESSAGES, max_call_bytes=MAX_CALL_BYTES, max_event_bytes=MAX_MESSAGE_BYTES
)


def headers(event: SinkEvent) -> dict[str, str]:
    try:
        cloud_event = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        cloud_event = {}
    found = {MSG_ID: str(event.event_id), "Content-Type": CONTENT_TYPE}
    if isinstance(cloud_event, dict):
        for key in ATTRIBUTES:
            value = cloud_event.get(key)
            if value not in (None, ""):
                # A header value is one line: nothing an event carries may break the framing.
                found["ce-" + key] = " ".join(str(value).split())
    found.setdefault("ce-id", str(event.event_id))
    found.setdefault("ce-type", event.type_name)
    return found
