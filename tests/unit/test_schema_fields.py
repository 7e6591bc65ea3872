"""A schema version's fields, read from its JSON Schema document for the console."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.schema_fields import Field, fields

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({}, []),
        ({"type": "object"}, []),
        (
            {
                "type": "object",
                "required": ["sid"],
                "properties": {
                    "sid": {"type": "string", "description": "the message", "format": "uri"},
                    "count": {"type": ["integer", "null"]},
                },
            },
            [
                Field("sid", "string", True, "the message", "uri"),
                Field("count", "integer|null", False),
            ],
        ),
        (
            {
                "properties": {
                    "to": {"type": "object", "required": ["n"], "properties": {"n": {"type": "string"}}},
                    "tags": {"type": "array", "items": {"properties": {"k": {"type": "string"}}}},
                }
            },
            [
                Field("to", "object", False),
                Field("to.n", "string", True),
                Field("tags", "array", False),
                Field("tags[].k", "string", False),
            ],
        ),
        (
            {
                "definitions": {"party": {"type": "object", "properties": {"n": {"type": "string"}}}},
                "properties": {"from": {"$ref": "#/definitions/party", "description": "who"}},
            },
            [Field("from", "object", False, "who"), Field("from.n", "string", False)],
        ),
        (
            {
                "properties": {
                    "x": {"$ref": "#/definitions/missing"},
                    "y": {"oneOf": [{"type": "string"}, {}]},
                }
            },
            [Field("x", "", False), Field("y", "string|any", False)],
        ),
    ],
)
def test_fields_of(document: dict[str, Any], expected: list[Field]) -> None:
    assert fields(document) == expected


def test_a_ref_cycle_ends() -> None:
    document = {
        "definitions": {"n": {"properties": {"next": {"$ref": "#/definitions/n"}}}},
        "$ref": "#/definitions/n",
    }
    assert len(fields(document)) == 9  # one per level, to the depth limit
