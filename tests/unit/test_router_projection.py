"""Unit tests for services.router.projection: delivering data at a pinned schema version."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import fastjsonschema
import pytest

from services.catalog import catalogue
from services.router.projection import project

pytestmark = pytest.mark.unit

CLOSED = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "a": {"type": "string"},
        "b": {"type": "integer"},
        "nested": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"x": {"type": "string"}, "deep": {"type": "object", "properties": {"k": {}}}},
        },
    },
}

OPEN = {
    "type": "object",
    "properties": {
        "a": {"type": "string"},
        "nested": {"type": "object", "additionalProperties": False, "properties": {"x": {"type": "string"}}},
    },
}


@pytest.mark.parametrize(
    ("data", "schema", "expected"),
    [
        pytest.param(
            {"a": "1", "b": 2, "extra": True}, CLOSED, {"a": "1", "b": 2}, id="closed-drops-unknown"
        ),
        pytest.param({"extra": 1}, CLOSED, {}, id="closed-only-unknown"),
        pytest.param({"a": "1"}, CLOSED, {"a": "1"}, id="closed-missing-fields-not-added"),
        pytest.param(
            {"a": "1", "nested": {"x": "y", "z": 1}},
            CLOSED,
            {"a": "1", "nested": {"x": "y"}},
            id="closed-recurses",
        ),
        pytest.param(
            {"nested": {"x": "y", "deep": {"k": 1, "other": 2}}},
            CLOSED,
            {"nested": {"x": "y", "deep": {"k": 1, "other": 2}}},
            id="open-deep-keeps-unknown",
        ),
        pytest.param({"a": "1", "extra": [1, 2]}, OPEN, {"a": "1", "extra": [1, 2]}, id="open-absent-keeps"),
        pytest.param(
            {"a": "1", "extra": 3},
            {**OPEN, "additionalProperties": True},
            {"a": "1", "extra": 3},
            id="open-true-keeps",
        ),
        pytest.param(
            {"a": "1", "extra": "s"},
            {**OPEN, "additionalProperties": {"type": "string"}},
            {"a": "1", "extra": "s"},
            id="open-schema-keeps",
        ),
        pytest.param(
            {"a": "1", "extra": 3, "nested": {"x": "y", "z": 1}},
            OPEN,
            {"a": "1", "extra": 3, "nested": {"x": "y"}},
            id="open-still-projects-known",
        ),
        pytest.param(
            {"a": "1", "nested": "not-a-dict"},
            CLOSED,
            {"a": "1", "nested": "not-a-dict"},
            id="nested-non-dict-kept",
        ),
        pytest.param(
            {"a": "1", "nested": None},
            CLOSED,
            {"a": "1", "nested": None},
            id="nested-null-kept",
        ),
        pytest.param(
            {"a": 1, "b": 2},
            {"type": "object", "additionalProperties": False},
            {"a": 1, "b": 2},
            id="no-properties-left-alone",
        ),
        pytest.param(
            {"a": 1, "b": 2},
            {"additionalProperties": False, "properties": {"a": {}}},
            {"a": 1},
            id="untyped-schema-projected",
        ),
        pytest.param(
            {"a": 1, "b": 2},
            {"type": "string", "additionalProperties": False, "properties": {"a": {}}},
            {"a": 1, "b": 2},
            id="non-object-type-left-alone",
        ),
        pytest.param([{"a": "1", "extra": 1}], CLOSED, [{"a": "1", "extra": 1}], id="list-left-alone"),
        pytest.param("text", CLOSED, "text", id="string-left-alone"),
        pytest.param(42, CLOSED, 42, id="int-left-alone"),
        pytest.param(None, CLOSED, None, id="none-left-alone"),
    ],
)
def test_project(data: Any, schema: dict[str, Any], expected: Any) -> None:
    assert project(data, schema) == expected


def test_project_does_not_mutate_input() -> None:
    data = {"a": "1", "extra": 1, "nested": {"x": "y", "z": 2}}
    before = copy.deepcopy(data)
    result = project(data, CLOSED)
    assert data == before
    assert result is not data
    assert result["nested"] is not data["nested"]


def test_project_keeps_key_order() -> None:
    data = {"b": 2, "extra": 0, "a": "1"}
    assert list(project(data, CLOSED)) == ["b", "a"]


# --- real catalogue schemas ------------------------------------------------------------

DOCS: dict[tuple[str, int], dict[str, Any]] = {
    (v.schema_id, v.version): v.document for v in catalogue.schema_versions()
}


@cache
def _validator(schema_id: str, version: int) -> Any:
    return fastjsonschema.compile(DOCS[(schema_id, version)])


def _valid(schema_id: str, version: int, data: Any) -> bool:
    try:
        _validator(schema_id, version)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def test_wds_event_v4_projected_to_v1_validates() -> None:
    sample = catalogue.sample_data("TaskRouter.WDSEvent", 4)
    v1 = DOCS[("TaskRouter.WDSEvent", 1)]
    assert not _valid("TaskRouter.WDSEvent", 1, sample)
    projected = project(sample, v1)
    assert _valid("TaskRouter.WDSEvent", 1, projected)
    assert "worker_time_in_previous_activity_ms" in sample["payload"]
    assert "worker_time_in_previous_activity_ms" not in projected["payload"]
    assert set(projected) == set(sample)  # top level unchanged for this pair
    assert _valid("TaskRouter.WDSEvent", 4, sample)


def _cross_version_cases() -> list[Any]:
    """Every (schema, from, to) pair where the raw sample fails the target version."""
    cases = []
    for schema_id, version in DOCS:
        for target in range(1, catalogue.latest_version(schema_id) + 1):
            if target != version and not _valid(schema_id, target, catalogue.sample_data(schema_id, version)):
                cases.append(
                    pytest.param(schema_id, version, target, id=f"{schema_id}-v{version}-to-v{target}")
                )
    return cases


CROSS = _cross_version_cases()


def test_catalogue_has_cross_version_cases() -> None:
    assert len(CROSS) >= 5


@pytest.mark.parametrize(("schema_id", "source", "target"), CROSS)
def test_catalogue_samples_project_to_every_version(schema_id: str, source: int, target: int) -> None:
    sample = catalogue.sample_data(schema_id, source)
    assert _valid(schema_id, target, project(sample, DOCS[(schema_id, target)]))
