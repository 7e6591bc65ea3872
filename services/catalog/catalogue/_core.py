"""Seed dataclasses and the tiny field-table DSL the catalogue is written in.

A *field table* is a ``dict`` mapping a decorated field name to an example value::

    {"messageSid*": sid("SM"), "errorCode~": 30003, "tags@6": strmap({"k": "v"})}

Key decorations (after the name, in this order):

* ``*``  required field
* ``!``  the value is an object that rejects unknown keys (``additionalProperties: false``)
* ``~``  schema-only: kept out of :func:`build_sample` (a field that is "absent when not
  applicable", e.g. ``errorCode`` on a delivered message)
* ``@N`` the field first appears in schema version ``N`` (default 1)

The JSON type is inferred from the example: ``bool`` -> boolean, ``int`` -> integer,
``float`` -> number, ``str`` -> string, ``list`` -> array (items from the first element),
``dict`` -> nested field table (an object that allows additional properties unless ``!``).
:class:`Leaf` covers everything else (string maps, free-form objects, formats).
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SCHEMA_BASE_URL = "https://events-schemas.twilio.com"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DOCS_BASE_URL = "https://www.twilio.com/docs/events/event-types/"


@dataclass(frozen=True)
class SchemaVersionSeed:
    schema_id: str  # e.g. "Messaging.MessageStatus"
    version: int  # 1..N
    document: dict[str, Any]  # JSON Schema draft-07 document


@dataclass(frozen=True)
class EventTypeSeed:
    type: str  # e.g. "com.twilio.messaging.message.delivered"
    schema_id: str
    status: str  # "available" | "deprecated" | "restricted" | "discontinued"
    description: str  # Twilio style, e.g. "Messaging- delivered message"
    documentation_url: str


STATUSES = ("available", "deprecated", "restricted", "discontinued")


# --------------------------------------------------------------------------- values


def sid(prefix: str, seed: str = "") -> str:
    """A realistic, deterministic Twilio SID: two-letter prefix + 32 lowercase hex chars."""
    return prefix + hashlib.sha256(f"{prefix}:{seed}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Leaf:
    """A value whose schema is given explicitly instead of inferred."""

    schema: dict[str, Any]
    example: Any


def strmap(example: dict[str, str]) -> Leaf:
    """``object<string, string>`` (e.g. message tags, webhook parameters)."""
    return Leaf({"type": "object", "additionalProperties": {"type": "string"}}, example)


def anyobj(example: dict[str, Any]) -> Leaf:
    """A free-form object (shape varies by event, e.g. a Studio execution context)."""
    return Leaf({"type": "object"}, example)


def uuid(example: str) -> Leaf:
    return Leaf({"type": "string", "format": "uuid"}, example)


# --------------------------------------------------------------------------- tables

_KEY = re.compile(r"^(?P<name>[^*!~@]+)(?P<flags>[*!~]*)(?:@(?P<since>\d+))?$")


@dataclass(frozen=True)
class _Key:
    name: str
    required: bool
    closed: bool
    omit: bool
    since: int


@cache
def _parse(key: str) -> _Key:
    m = _KEY.match(key)
    if m is None:
        raise ValueError(f"bad field key {key!r}")
    flags = m["flags"]
    return _Key(
        name=m["name"],
        required="*" in flags,
        closed="!" in flags,
        omit="~" in flags,
        since=int(m["since"] or 1),
    )


def _schema_of(value: Any, version: int) -> dict[str, Any]:
    if isinstance(value, Leaf):
        return copy.deepcopy(value.schema)
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {
            "type": "array",
            "items": _schema_of(value[0], version) if value else {},
        }
    if isinstance(value, dict):
        return object_schema(value, version, closed=False)
    raise TypeError(f"unsupported example value {value!r}")


def object_schema(
    table: dict[str, Any], version: int, *, closed: bool, always_required: bool = False
) -> dict[str, Any]:
    """JSON Schema of a field table as it stood in ``version``."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for key, value in table.items():
        k = _parse(key)
        if k.since > version:
            continue
        schema = _schema_of(value, version)
        if k.closed:
            schema["additionalProperties"] = False
        properties[k.name] = schema
        if k.required:
            required.append(k.name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required or always_required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def build_sample(value: Any, version: int) -> Any:
    """The example payload of a field table (or value) as it stood in ``version``."""
    if isinstance(value, Leaf):
        return copy.deepcopy(value.example)
    if isinstance(value, list):
        return [build_sample(v, version) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            k = _parse(key)
            if k.omit or k.since > version:
                continue
            out[k.name] = build_sample(sub, version)
        return out
    return value


def field_paths(table: dict[str, Any], version: int, prefix: str = "") -> set[str]:
    """Dotted paths of every field present in ``version`` (used for version notes)."""
    paths: set[str] = set()
    for key, value in table.items():
        k = _parse(key)
        if k.since > version:
            continue
        path = prefix + k.name
        paths.add(path)
        if isinstance(value, dict):
            paths |= field_paths(value, version, path + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            paths |= field_paths(value[0], version, path + "[].")
    return paths


# --------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class SchemaDef:
    """One schema id: its latest version and the field table (covering all versions)."""

    latest: int
    description: str
    fields: dict[str, Any] = field(repr=False)
    json_suffix: bool = False  # only EventStreams.TestSink publishes ``.../1.json``

    def url(self, schema_id: str, version: int) -> str:
        suffix = ".json" if self.json_suffix else ""
        return f"{SCHEMA_BASE_URL}/{schema_id}/{version}{suffix}"

    def document(self, schema_id: str, version: int) -> dict[str, Any]:
        body = object_schema(self.fields, version, closed=True, always_required=True)
        doc: dict[str, Any] = {
            "$schema": DRAFT_07,
            "$id": self.url(schema_id, version),
            "title": schema_id,
            "description": self.description,
        }
        if version > 1:
            doc["$comment"] = self._version_note(version)
        doc.update(body)
        return doc

    def _version_note(self, version: int) -> str:
        before = field_paths(self.fields, version - 1)
        now = field_paths(self.fields, version)
        added = sorted(now - before)
        if not added:
            return f"v{version} only contains metadata changes; no new fields since v{version - 1}."
        return f"v{version} adds: {', '.join(added)}."


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class TypeGroup:
    """A family of event types sharing a prefix, docs page, status and (usually) schema.

    ``items`` are type-name suffixes, or ``(suffix, schema_id)`` when each type has its own
    schema (Conversations, TollFree, A2P).
    """

    prefix: str
    label: str
    doc: str
    items: tuple[str | tuple[str, str], ...]
    schema_id: str = ""
    status: str = "available"
    noun: str = ""  # appended to the description phrase: "delivered" + "message"

    def seeds(self) -> list[EventTypeSeed]:
        url = self.doc if self.doc.startswith("http") else DOCS_BASE_URL + self.doc
        out: list[EventTypeSeed] = []
        for item in self.items:
            suffix, schema_id = item if isinstance(item, tuple) else (item, self.schema_id)
            if not schema_id:
                raise ValueError(f"no schema id for {self.prefix}.{suffix}")
            out.append(
                EventTypeSeed(
                    type=f"{self.prefix}.{suffix}",
                    schema_id=schema_id,
                    status=self.status,
                    description=f"{self.label}- {_phrase(suffix, self.noun)}",
                    documentation_url=url,
                )
            )
        return out


def _phrase(suffix: str, noun: str = "") -> str:
    """``message.delivered`` -> ``delivered message`` (Twilio's description style)."""
    parts = suffix.split(".")
    if len(parts) > 1:
        parts = [parts[-1], *parts[:-1]]
    words = " ".join(parts).replace("-", " ").replace("_", " ")
    return f"{words} {noun}" if noun else words
