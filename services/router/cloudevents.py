"""The CloudEvents 1.0 envelope Twilio delivers (structured mode, JSON).

orjson rather than the standard library: encoding the envelope is per event and per sink on
the router's hot path, and orjson is several times faster; a `Fragment` embeds the
producer's already-validated data bytes without decoding and re-encoding them.
"""

from __future__ import annotations

from typing import Any

import orjson

Fragment = orjson.Fragment


def envelope(
    *, event_id: str, type_name: str, source: str, time: str, dataschema: str, data: Any
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": type_name,
        "source": source,
        "id": event_id,
        "dataschema": dataschema,
        "datacontenttype": "application/json",
        "time": time,
        "data": data,
    }


def encode(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def decode(raw: str | bytes) -> Any:
    """JSON → Python; ValueError (orjson.JSONDecodeError) on anything that is not JSON."""
    return orjson.loads(raw)
