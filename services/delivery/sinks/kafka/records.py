"""An event as a Kafka record, pure: its key, its headers (the CloudEvents Kafka binding's
`ce_*` names and `content-type`), and its size as the sink counts it."""

from __future__ import annotations

import orjson

from services.delivery.sinks.base import Limits, SinkEvent

CONTENT_TYPE = b"application/cloudevents+json"
ATTRIBUTES = ("id", "type", "source", "specversion", "time", "dataschema", "subject")

# A broker's default message.max.bytes is 1 MiB (1,048,588 with the batch's overhead): the
# event and room for its key and headers. A call's records go in as many requests as the
# producer makes of them, each within max_request_size.
MAX_RECORD_BYTES = 1000 * 1024
MAX_REQUEST_BYTES = 1024 * 1024
RECORD_OVERHEAD = 512  # the key and the headers, generously
LIMITS = Limits(max_events=500, max_call_bytes=4 * 1024 * 1024, max_event_bytes=MAX_RECORD_BYTES)


def key(event: SinkEvent) -> bytes:
    return (event.order_key or str(event.event_id)).encode()


def headers(event: SinkEvent) -> list[tuple[str, bytes]]:
    try:
        cloud_event = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        cloud_event = {}
    found: dict[str, bytes] = {}
    if isinstance(cloud_event, dict):
        for name in ATTRIBUTES:
            value = cloud_event.get(name)
            if value not in (None, ""):
                found["ce_" + name] = str(value).encode()
    found.setdefault("ce_id", str(event.event_id).encode())
    found.setdefault("ce_type", event.type_name.encode())
    return [*found.items(), ("content-type", CONTENT_TYPE)]


def size(event: SinkEvent) -> int:
    return len(event.payload)
