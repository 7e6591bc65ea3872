"""The router's validator gives fastjsonschema's verdict and message for every event: the
compiled quick check only ever answers where the two implementations agree."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import fastjsonschema
import jsonschema_rs
import orjson
import pytest

from services.catalog import catalogue
from services.router.validation import PATTERNS, compile_validator, quick_check_agrees

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
REPLACEMENTS: list[Any] = [None, 0, -1, 2**62, 1.5, "", "x" * 300, True, [], {}, [1], {"a": 1}]


def verdict(validate: Any, data: Any) -> tuple[bool, str]:
    try:
        validate(data)
    except fastjsonschema.JsonSchemaException as exc:
        return False, exc.message
    return True, ""


def mutations(data: Any) -> Iterator[Any]:
    """The data with one value replaced, removed or added, at every depth."""
    if isinstance(data, dict):
        yield {**data, "zz_unexpected": 1}
        for key, value in data.items():
            yield {k: v for k, v in data.items() if k != key}
            for other in REPLACEMENTS:
                yield {**data, key: other}
            for changed in mutations(value):
                yield {**data, key: changed}
    elif isinstance(data, list):
        yield []
        yield data + data
        for index, value in enumerate(data):
            for changed in mutations(value):
                yield [*data[:index], changed, *data[index + 1 :]]


def test_every_catalogue_schema_gets_the_references_verdict_and_message() -> None:
    versions = list(catalogue.schema_versions())
    quick = 0
    checked = 0
    for schema in versions:
        document = copy.deepcopy(schema.document)
        reference = fastjsonschema.compile(copy.deepcopy(document))
        ours = compile_validator(document)
        quick += quick_check_agrees(document)
        sample = catalogue.sample_data(schema.schema_id, schema.version)
        assert verdict(ours, sample) == (True, ""), schema.schema_id
        for data in mutations(sample):
            raw = orjson.dumps(data)  # each validator gets its own copy: the reference writes defaults
            assert verdict(ours, orjson.loads(raw)) == verdict(reference, orjson.loads(raw)), (
                schema.schema_id,
                schema.version,
                data,
            )
            checked += 1
    assert quick >= len(versions) - 5  # the catalogue is checked the quick way, nearly all of it
    assert checked > 20_000


# Documents where jsonschema-rs and fastjsonschema disagree on the data beside them.
DISAGREEMENTS = [
    ({"type": "string", "format": "date-time"}, "2026-03-29T04:00:56+0000"),
    ({"multipleOf": 0.01}, 1e308),
]


@pytest.mark.parametrize(("schema", "data"), DISAGREEMENTS)
def test_where_the_two_disagree_the_reference_alone_decides(schema: dict[str, Any], data: Any) -> None:
    document = {"$schema": DRAFT_07, "type": "object", "properties": {"v": schema}}
    reference = fastjsonschema.compile(document)
    assert jsonschema_rs.Draft7Validator(document).is_valid({"v": data}) != verdict(reference, {"v": data})[0]
    assert not quick_check_agrees(document)
    assert verdict(compile_validator(document), {"v": data}) == verdict(reference, {"v": data})


def test_defaults_are_written_into_the_data_as_the_reference_does() -> None:
    document = {"type": "object", "properties": {"channel": {"type": "string", "default": "sms"}}}
    data: dict[str, Any] = {}
    compile_validator(document)(data)
    assert data == {"channel": "sms"}  # filters and projection see it, as they always have


@pytest.mark.parametrize(
    ("document", "agrees"),
    [
        ({"type": "object"}, True),  # no $schema: draft-07 for fastjsonschema, and so for both
        ({"$schema": DRAFT_07, "type": "object"}, True),
        ({"$schema": "http://json-schema.org/draft-07/schema", "type": "object"}, True),
        ({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object"}, False),
        ({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}, False),
        ({"properties": {"format": {"type": "string"}}}, False),  # a property's name: slow, never wrong
        ({"anyOf": [{"type": "string", "pattern": "^a"}]}, True),  # one regex engine runs both
        ({"items": [{"contentEncoding": "base64"}]}, False),
    ],
)
def test_which_documents_take_the_quick_check(document: dict[str, Any], agrees: bool) -> None:
    assert quick_check_agrees(document) is agrees


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        ({"n": 1, "tags": ["a"]}, True),
        ({"n": 1.0, "tags": ["a"]}, True),
        ({"n": True, "tags": ["a"]}, False),  # a boolean is not an integer
        ({"n": 2**80, "tags": ["a"]}, False),  # beyond the maximum, beyond 64 bits
        ({"n": 1, "tags": ["a", "a"]}, False),
        ({"n": 1, "tags": []}, False),
        ({"n": 1}, False),
        ({"n": 1, "tags": ["a"], "extra": None}, False),
    ],
)
def test_the_quick_check_refuses_what_the_reference_refuses(data: dict[str, Any], valid: bool) -> None:
    document = {
        "type": "object",
        "required": ["n", "tags"],
        "additionalProperties": False,
        "properties": {
            "n": {"type": "integer", "maximum": 2**64},
            "tags": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": ["a", "b"]}},
        },
    }
    assert quick_check_agrees(document)
    ours = verdict(compile_validator(document), data)
    assert ours == verdict(fastjsonschema.compile(document), data)
    assert ours[0] is valid


# Python's re backtracks through every way of splitting the a's: ~1.5 s at 25, ×2 per one more.
EVIL = "^(a+)+$"
EVIL_TEXT = "a" * 32 + "!"


@pytest.mark.timeout(20)  # the backtracking engine takes minutes: this fails, never hangs
def test_a_backtracking_pattern_costs_an_event_microseconds_not_minutes() -> None:
    document = {
        "type": "object",
        "properties": {"name": {"type": "string", "pattern": EVIL}},
        "patternProperties": {"^(b+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    validate = compile_validator(document)
    for data, message in [
        ({"name": EVIL_TEXT}, f"data.name must match pattern {EVIL}"),
        ({"b" * 32 + "!": 1}, "data must not contain {'" + "b" * 32 + "!'} properties"),
    ]:
        started = time.perf_counter()
        assert verdict(validate, data) == (False, message)
        assert time.perf_counter() - started < 0.05
    assert verdict(validate, {"name": "aaa", "bbb": 1}) == (True, "")


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^a\\d$", "a1", True),
        ("^a\\d$", "a\u0661", False),  # ECMA-262's \\d is 0-9; Python's took any Unicode digit
        ("b$", "ab\n", False),  # `$` is the end of the text, as fastjsonschema made it (\\Z)
        ("(a)\\1", "aa", True),  # backreferences: fancy-regex, bounded, for older documents
        ("(?=a)a", "a", True),
    ],
)
def test_patterns_mean_what_json_schema_says_in_both_validators(
    pattern: str, text: str, matches: bool
) -> None:
    document = {"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}}
    assert quick_check_agrees(document)
    expected = (True, "") if matches else (False, f"data.v must match pattern {pattern}")
    assert verdict(compile_validator(document), {"v": text}) == expected
    assert jsonschema_rs.Draft7Validator(document, pattern_options=PATTERNS).is_valid({"v": text}) is matches


def test_formats_keep_fastjsonschemas_own_checks_beside_patterns() -> None:
    document = {
        "type": "object",
        "properties": {"when": {"type": "string", "format": "date-time", "pattern": "^2"}},
    }
    validate = compile_validator(document)
    assert verdict(validate, {"when": "2026-03-29T04:00:56+0000"}) == (True, "")
    assert verdict(validate, {"when": "2026-13-29"}) == (False, "data.when must be date-time")
    assert verdict(validate, {"when": "1026-03-29T04:00:56Z"}) == (False, "data.when must match pattern ^2")
