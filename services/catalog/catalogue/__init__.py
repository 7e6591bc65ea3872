"""Twilio Event Streams catalogue: event types, schema ids and versioned JSON Schemas.

Pure data plus pure builder functions (no I/O). The catalogue service seeds its store from
:func:`event_types` and :func:`schema_versions`; the producer CLI publishes
:func:`sample_data` payloads.

Layout: ``_core`` (seed dataclasses + field-table DSL), ``_schemas`` (one field table per
schema id, covering all of its versions), ``_types`` (the event type families).
"""

from __future__ import annotations

from typing import Any

from ._core import (
    SCHEMA_BASE_URL,
    STATUSES,
    EventTypeSeed,
    SchemaVersionSeed,
    build_sample,
)
from ._schemas import SCHEMAS
from ._types import GROUPS

__all__ = [
    "SCHEMA_BASE_URL",
    "STATUSES",
    "EventTypeSeed",
    "SchemaVersionSeed",
    "event_types",
    "latest_version",
    "sample_data",
    "schema_url",
    "schema_versions",
]


def event_types() -> list[EventTypeSeed]:
    """Every event type Twilio exposes via ``GET /v1/Types`` (incl. deprecated/restricted/
    discontinued ones), in catalogue order."""
    return [seed for group in GROUPS for seed in group.seeds()]


def schema_versions() -> list[SchemaVersionSeed]:
    """Versions 1..latest of every schema id, each with a fresh JSON Schema document."""
    return [
        SchemaVersionSeed(schema_id, version, definition.document(schema_id, version))
        for schema_id, definition in SCHEMAS.items()
        for version in range(1, definition.latest + 1)
    ]


def latest_version(schema_id: str) -> int:
    """Latest published version of ``schema_id``; KeyError if unknown."""
    return SCHEMAS[schema_id].latest


def schema_url(schema_id: str, version: int) -> str:
    """The CloudEvents ``dataschema`` URL of a schema version.

    ``EventStreams.TestSink`` keeps Twilio's ``.json`` suffix (``.../1.json``).
    """
    _check(schema_id, version)
    return SCHEMAS[schema_id].url(schema_id, version)


def sample_data(schema_id: str, version: int) -> dict[str, Any]:
    """A realistic example payload valid against that schema version (used by a producer CLI
    to publish sample events). KeyError for an unknown schema/version."""
    _check(schema_id, version)
    sample: dict[str, Any] = build_sample(SCHEMAS[schema_id].fields, version)
    return sample


def _check(schema_id: str, version: int) -> None:
    definition = SCHEMAS.get(schema_id)
    if definition is None:
        raise KeyError(f"unknown schema id {schema_id!r}")
    if not 1 <= version <= definition.latest:
        raise KeyError(f"{schema_id} has no version {version} (latest is {definition.latest})")
