"""Schema projection: an event published at one schema version, delivered at the version a
subscription pinned. The delivered data keeps exactly the fields the target version's
schema defines (recursively through nested objects that list their properties); whether
the result is valid is the target validator's call."""

from __future__ import annotations

from typing import Any


def project(data: Any, schema: Any) -> Any:
    # A boolean schema (true/false) has no properties to keep: leave the value to validation.
    if (
        not isinstance(data, dict)
        or not isinstance(schema, dict)
        or schema.get("type") not in ("object", None)
    ):
        return data
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return data
    if schema.get("additionalProperties", True) is not False:
        # The target accepts unknown fields: keep them, but still project the known ones.
        return {k: project(v, properties[k]) if k in properties else v for k, v in data.items()}
    return {k: project(v, properties[k]) for k, v in data.items() if k in properties}
