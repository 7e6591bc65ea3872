"""Unit tests for services.router.cloudevents: the CloudEvents 1.0 structured JSON envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.router.cloudevents import encode, envelope

pytestmark = pytest.mark.unit

FIELDS: dict[str, Any] = {
    "event_id": "EZ0123456789abcdef0123456789abcdef",
    "type_name": "com.twilio.messaging.message.sent",
    "source": "/2010-04-01/Accounts/AC123/Messages/SM456.json",
    "time": "2024-05-01T12:00:00.000Z",
    "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/7",
    "data": {"to": "+15005550006", "status": "sent"},
}

KEY_ORDER = ["specversion", "type", "source", "id", "dataschema", "datacontenttype", "time", "data"]


def test_envelope_fields() -> None:
    assert envelope(**FIELDS) == {
        "specversion": "1.0",
        "type": "com.twilio.messaging.message.sent",
        "source": "/2010-04-01/Accounts/AC123/Messages/SM456.json",
        "id": "EZ0123456789abcdef0123456789abcdef",
        "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/7",
        "datacontenttype": "application/json",
        "time": "2024-05-01T12:00:00.000Z",
        "data": {"to": "+15005550006", "status": "sent"},
    }


def test_envelope_key_order() -> None:
    assert list(envelope(**FIELDS)) == KEY_ORDER


def test_envelope_keeps_data_object() -> None:
    data = {"nested": {"list": [1, 2]}}
    assert envelope(**{**FIELDS, "data": data})["data"] is data


@pytest.mark.parametrize("data", [None, [], [1, "a"], "text", 0, {"a": None}])
def test_envelope_any_data(data: Any) -> None:
    assert envelope(**{**FIELDS, "data": data})["data"] == data


def test_envelope_requires_keywords() -> None:
    with pytest.raises(TypeError):
        envelope(*FIELDS.values())  # type: ignore[misc]


def test_encode_is_compact_and_ordered() -> None:
    event = envelope(**{**FIELDS, "data": {"a": 1, "b": [1, 2]}})
    assert encode(event) == (
        b'{"specversion":"1.0","type":"com.twilio.messaging.message.sent",'
        b'"source":"/2010-04-01/Accounts/AC123/Messages/SM456.json",'
        b'"id":"EZ0123456789abcdef0123456789abcdef",'
        b'"dataschema":"https://events-schemas.twilio.com/Messaging.MessageStatus/7",'
        b'"datacontenttype":"application/json","time":"2024-05-01T12:00:00.000Z",'
        b'"data":{"a":1,"b":[1,2]}}'
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"body": "héllo"}, '{"body":"héllo"}'),
        ({"body": "你好 🎉"}, '{"body":"你好 🎉"}'),
        ({"ключ": "значение"}, '{"ключ":"значение"}'),
        ({"q": 'say "hi"\n'}, '{"q":"say \\"hi\\"\\n"}'),
        ([1, 2.5, True, None], "[1,2.5,true,null]"),
    ],
)
def test_encode_keeps_non_ascii_as_utf8(data: Any, expected: str) -> None:
    encoded = encode({"data": data})
    assert encoded == ('{"data":' + expected + "}").encode("utf-8")
    assert b"\\u" not in encoded


def test_encode_round_trips() -> None:
    event = envelope(**{**FIELDS, "data": {"body": "ünïcødé ✓", "n": 3}})
    encoded = encode(event)
    assert isinstance(encoded, bytes)
    assert json.loads(encoded.decode("utf-8")) == event
    assert b", " not in encoded
    assert b": " not in encoded
    assert "ünïcødé ✓".encode() in encoded
