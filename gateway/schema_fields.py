"""A JSON Schema document read as a list of fields — what a person looking at a schema
version wants to know: each field's path, type, whether it must be there, and what it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Deep enough for every schema in the catalogue; a cycle through $ref stops here.
MAX_DEPTH = 8


@dataclass(frozen=True)
class Field:
    path: str  # dotted, `[]` for an array's items: data.tags[].name
    type: str  # JSON Schema's type(s), `|`-joined; "" when the schema says none
    required: bool
    description: str = ""
    format: str = ""


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """A local `$ref` (`#/definitions/x`) followed; anything else is taken as written."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    found: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(found, dict) or part not in found:
            return node
        found = found[part]
    return {**found, **{k: v for k, v in node.items() if k != "$ref"}} if isinstance(found, dict) else node


def _type(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if isinstance(kind, str):
        return kind
    for combinator in ("oneOf", "anyOf"):
        options = node.get(combinator)
        if isinstance(options, list):
            return "|".join(_type(o) or "any" for o in options if isinstance(o, dict))
    return "object" if "properties" in node else ""


def fields(document: dict[str, Any]) -> list[Field]:
    """Every property of the document, depth first, in the order the schema names them."""
    found: list[Field] = []

    def walk(node: dict[str, Any], prefix: str, depth: int) -> None:
        node = _resolve(node, document)
        if depth > MAX_DEPTH:
            return
        required = node.get("required")
        wanted = set(required) if isinstance(required, list) else set()
        properties = node.get("properties")
        if not isinstance(properties, dict):
            return
        for name, raw in properties.items():
            if not isinstance(raw, dict):
                continue
            child = _resolve(raw, document)
            path = f"{prefix}{name}"
            found.append(
                Field(
                    path=path,
                    type=_type(child),
                    required=name in wanted,
                    description=str(child.get("description", "")),
                    format=str(child.get("format", "")),
                )
            )
            walk(child, f"{path}.", depth + 1)
            items = child.get("items")
            if isinstance(items, dict):
                walk(items, f"{path}[].", depth + 1)

    walk(document, "", 0)
    return found
