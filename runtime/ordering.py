"""Per-key ordering keys: a subscription names a field path in the event data (`messageSid`,
`payload.task_sid`); events with the same value there reach its sink in publish order.

Control checks a path against the subscribed schemas (`path_in_schema`); the router reads
each event's key (`key_of`). Pure functions, table-tested."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_PATH = 200
MAX_KEY = 256
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-$@]+$")


class OrderingKeyError(ValueError):
    pass


def parse_path(text: str) -> tuple[str, ...]:
    """A dot-separated path of field names; raises OrderingKeyError for a malformed one."""
    if not text or len(text) > MAX_PATH:
        raise OrderingKeyError(f"ordering key must be a field path of 1 to {MAX_PATH} characters")
    segments = tuple(text.split("."))
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise OrderingKeyError(
                f"ordering key {text!r}: {segment!r} is not a field name (letters, digits, _ - $ @)"
            )
    return segments


def path_in_schema(document: Any, path: tuple[str, ...]) -> bool:
    """Whether the JSON Schema defines the path down to a scalar (string, integer, number,
    boolean): an object or array has no single value to order by."""
    node = document
    for segment in path:
        if not isinstance(node, dict):
            return False
        properties = node.get("properties")
        if not isinstance(properties, dict) or segment not in properties:
            return False
        node = properties[segment]
    if not isinstance(node, dict):
        return False
    kinds = node.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    return bool(kinds) and kinds <= {"string", "integer", "number", "boolean", "null"}


def key_of(data: Any, path: tuple[str, ...]) -> str:
    """The event's ordering key: the value at `path` as text (a string as it is, anything
    else as JSON); "" when the event has none there — such events are ordered among
    themselves, as one key."""
    node = data
    for segment in path:
        if not isinstance(node, dict) or segment not in node:
            return ""
        node = node[segment]
    if node is None or isinstance(node, (dict, list)):
        return ""
    text = node if isinstance(node, str) else json.dumps(node)
    return text[:MAX_KEY]
