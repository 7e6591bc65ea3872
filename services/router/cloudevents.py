"""The CloudEvents 1.0 envelope Twilio delivers (structured mode, JSON)."""

from __future__ import annotations

import json
from typing import Any


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
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
