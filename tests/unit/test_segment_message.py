"""A CloudEvent as a Segment track call: identity, dedupe id, properties, limits."""

from __future__ import annotations

import json

import orjson
import pytest

from services.delivery.errors import Rejected
from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.segment import message

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "1" * 32
CLOUD_EVENT = {
    "specversion": "1.0",
    "type": "com.twilio.messaging.message.delivered",
    "source": "/2010-04-01/Accounts/AC/Messages/SM1",
    "id": "EZ1",
    "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/7",
    "datacontenttype": "application/json",
    "time": "2026-12-01T12:00:00.000Z",
    "data": {"messageSid": "SM1", "messageStatus": "DELIVERED"},
}


def event(payload: bytes, event_id: str = "EZ1") -> SinkEvent:
    return SinkEvent(event_id, "com.twilio.messaging.message.delivered", ACCOUNT, payload)


def test_a_cloudevent_becomes_a_track_call() -> None:
    track = message.track(event(json.dumps(CLOUD_EVENT).encode()))
    assert track == {
        "type": "track",
        "messageId": "EZ1",
        "event": "com.twilio.messaging.message.delivered",
        "userId": ACCOUNT,
        "properties": {"messageSid": "SM1", "messageStatus": "DELIVERED"},
        "timestamp": "2026-12-01T12:00:00.000Z",
        "context": {
            "library": message.LIBRARY,
            "cloudevent": {k: v for k, v in CLOUD_EVENT.items() if k not in ("type", "time", "data")},
        },
    }


def test_data_that_is_not_an_object_is_kept_under_data() -> None:
    track = message.track(event(json.dumps({**CLOUD_EVENT, "data": [1, 2]}).encode()))
    assert track["properties"] == {"data": [1, 2]}


@pytest.mark.parametrize("payload", [b"{", b"[1]"])
def test_an_unreadable_event_is_refused_for_good(payload: bytes) -> None:
    with pytest.raises(Rejected):
        message.track(event(payload))


def test_the_batch_body_fits_the_declared_framing() -> None:
    encoded = [message.encode(event(json.dumps(CLOUD_EVENT).encode(), f"EZ{i}")) for i in range(3)]
    body = message.batch_body(encoded, "2026-12-01T12:00:00.123456+00:00")
    assert len(body) <= message.LIMITS.framing.call_bytes([len(e) for e in encoded])
    assert [m["messageId"] for m in orjson.loads(body)["batch"]] == ["EZ0", "EZ1", "EZ2"]


def test_limits_are_segments() -> None:
    assert (message.LIMITS.max_event_bytes, message.LIMITS.max_call_bytes) == (32 * 1024, 500 * 1024)
