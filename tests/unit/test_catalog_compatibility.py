"""The schema registry's compatibility checker, table-tested per mode: each kind of change as
an old → new evolution, what BACKWARD and FORWARD find (FULL: both; NONE: nothing) — in this
platform's terms, where the router projects an event to the subscriber's version first."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from services.catalog import catalogue
from services.catalog import compatibility as c
from services.catalog.documents import DocumentError, parse

STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
NUM: dict[str, Any] = {"type": "number"}


def obj(
    props: dict[str, Any], required: tuple[str, ...] = (), closed: bool = True, **more: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {"type": "object", "properties": props, "required": list(required), **more}
    if closed:
        doc["additionalProperties"] = False
    return doc


BASE = obj({"sid": STR, "price": INT}, ("sid",))


def changed(**props: Any) -> dict[str, Any]:
    """BASE with properties replaced (None: removed)."""
    doc = copy.deepcopy(BASE)
    for name, schema in props.items():
        if schema is None:
            doc["properties"].pop(name)
        else:
            doc["properties"][name] = schema
    return doc


def arr(items: Any, **more: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **more}


# (name, old, new, kinds BACKWARD finds, kinds FORWARD finds)
EVOLUTIONS: list[tuple[str, Any, Any, set[str], set[str]]] = [
    # Closed model: projection drops what a version does not define, so optional fields come
    # and go freely in both directions.
    ("add optional field, closed", BASE, changed(note=STR), set(), set()),
    ("remove optional field, closed", BASE, changed(price=None), set(), set()),
    # Open model: an old writer may have sent `note` with any value.
    ("add optional field, open", obj({"sid": STR}, closed=False),
     obj({"sid": STR, "note": STR}, closed=False),
     {c.OPEN_WRITER}, set()),
    ("add unconstrained field, open", obj({"sid": STR}, closed=False),
     obj({"sid": STR, "any": {}}, closed=False),
     set(), set()),
    ("add required field", BASE, obj({"sid": STR, "price": INT, "qty": INT}, ("sid", "qty")), {c.REQUIRED},
     set()),
    ("remove required field", BASE, obj({"price": INT}), set(), {c.REQUIRED}),
    ("make optional required", BASE, obj({"sid": STR, "price": INT}, ("sid", "price")), {c.REQUIRED}, set()),
    ("make required optional", BASE, obj({"sid": STR, "price": INT}), set(), {c.REQUIRED}),
    ("widen integer to number", BASE, changed(price=NUM), set(), {c.TYPE}),
    ("narrow number to integer", changed(price=NUM), BASE, {c.TYPE}, set()),
    ("change string to integer", BASE, changed(sid=INT), {c.TYPE}, {c.TYPE}),
    ("allow null", BASE, changed(sid={"type": ["string", "null"]}), set(), {c.TYPE}),
    ("add enum value", changed(sid={"enum": ["a", "b"]}), changed(sid={"enum": ["a", "b", "c"]}),
     set(), {c.VALUES}),
    ("remove enum value", changed(sid={"enum": ["a", "b"]}), changed(sid={"enum": ["a"]}), {c.VALUES}, set()),
    ("restrict to an enum", BASE, changed(sid={"type": "string", "enum": ["a"]}), {c.VALUES}, set()),
    ("restrict to a const", BASE, changed(sid={"const": "a"}), {c.VALUES}, set()),
    ("enum within a wider type", changed(sid={"enum": ["a"]}),
     changed(sid={"type": "string", "maxLength": 3}),
     set(), {c.VALUES}),
    # Opening the root: old subscribers' projection drops what they do not know.
    ("open a closed root", BASE, {**BASE, "additionalProperties": True}, set(), set()),
    ("close an open root", {**BASE, "additionalProperties": True}, BASE, set(), set()),
    # Arrays are not projected: a closed item refuses a field its writer adds.
    ("add field to closed array item", obj({"lines": arr(obj({"sku": STR}))}),
     obj({"lines": arr(obj({"sku": STR, "qty": INT}))}), set(), {c.CLOSED}),
    ("change item type", obj({"tags": arr(STR)}), obj({"tags": arr(INT)}), {c.TYPE}, {c.TYPE}),
    ("unique items", obj({"tags": arr(STR)}), obj({"tags": arr(STR, uniqueItems=True)}), {c.BOUND}, set()),
    ("fewer items allowed", obj({"tags": arr(STR, maxItems=5)}), obj({"tags": arr(STR, maxItems=3)}),
     {c.BOUND}, set()),
    # A type list stops projection: the nested closed object refuses a new field.
    ("nullable nested object gains a field",
     obj({"to": {"type": ["object", "null"], "properties": {"a": STR}, "additionalProperties": False}}),
     obj({"to": {"type": ["object", "null"], "properties": {"a": STR, "b": STR},
                 "additionalProperties": False}}),
     set(), {c.CLOSED}),
    ("nested closed object gains a field (projected)", obj({"to": obj({"a": STR})}),
     obj({"to": obj({"a": STR, "b": STR})}),
     set(), set()),
    ("nested required added", obj({"to": obj({"a": STR})}), obj({"to": obj({"a": STR}, ("a",))}),
     {c.REQUIRED}, set()),
    ("minimum added", BASE, changed(price={"type": "integer", "minimum": 0}), {c.BOUND}, set()),
    ("minimum loosened", changed(price={"type": "integer", "minimum": 1}),
     changed(price={"type": "integer", "minimum": 0}), set(), {c.BOUND}),
    ("exclusive maximum tightens", changed(price={"type": "integer", "maximum": 10}),
     changed(price={"type": "integer", "exclusiveMaximum": 10}), {c.BOUND}, set()),
    ("maxLength tightened", changed(sid={"type": "string", "maxLength": 34}),
     changed(sid={"type": "string", "maxLength": 10}), {c.BOUND}, set()),
    ("multipleOf added", BASE, changed(price={"type": "integer", "multipleOf": 5}), {c.BOUND}, set()),
    ("multipleOf refined", changed(price={"type": "integer", "multipleOf": 10}),
     changed(price={"type": "integer", "multipleOf": 5}), set(), {c.BOUND}),
    ("format added", BASE, changed(sid={"type": "string", "format": "uri"}), {c.FORMAT}, set()),
    ("format changed", changed(sid={"type": "string", "format": "uri"}),
     changed(sid={"type": "string", "format": "email"}), {c.FORMAT}, {c.FORMAT}),
    ("string map's values change", obj({"tags": {"type": "object", "additionalProperties": STR}}),
     obj({"tags": {"type": "object", "additionalProperties": INT}}), {c.TYPE}, {c.TYPE}),
    ("field becomes false", BASE, changed(price=False), {c.NEVER}, set()),
    # Not modelled: refused unless identical, in the direction where it could matter.
    ("anyOf changed", changed(sid={"anyOf": [STR, INT]}), changed(sid={"anyOf": [STR]}), {c.UNPROVABLE},
     {c.UNPROVABLE}),
    ("anyOf identical", changed(sid={"anyOf": [STR, INT]}), changed(sid={"anyOf": [STR, INT]}), set(), set()),
    ("pattern added", BASE, changed(sid={"type": "string", "pattern": "^SM"}), {c.UNPROVABLE}, set()),
    ("$ref changed", {**changed(sid={"$ref": "#/definitions/a"}), "definitions": {"a": STR, "b": INT}},
     {**changed(sid={"$ref": "#/definitions/b"}),
      "definitions": {"a": STR, "b": INT}}, {c.UNPROVABLE}, {c.UNPROVABLE}),
    ("identical", BASE, copy.deepcopy(BASE), set(), set()),
]  # fmt: skip

MODES: dict[str, Callable[[set[str], set[str]], set[str]]] = {
    c.BACKWARD: lambda b, f: b,
    c.FORWARD: lambda b, f: f,
    c.FULL: lambda b, f: b | f,
    c.NONE: lambda b, f: set(),
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"), [e[1:] for e in EVOLUTIONS], ids=[e[0] for e in EVOLUTIONS]
)
def test_each_change_under_each_mode(
    mode: str, old: Any, new: Any, backward: set[str], forward: set[str]
) -> None:
    found = c.check(mode, new, {1: old})
    assert {i.breakage.kind for i in found} == MODES[mode](backward, forward), [i.breakage for i in found]
    assert all(i.version == 1 for i in found)
    assert {i.direction for i in found} <= set(c.DIRECTIONS[mode])


def test_messages_name_the_field_the_versions_and_the_direction() -> None:
    old = obj({"messageSid": STR, "messageStatus": STR}, ("messageSid", "messageStatus"))
    new = obj({"messageSid": STR}, ("messageSid",))
    [found] = c.check(c.FORWARD, new, {3: old})
    assert found.breakage.path == "messageStatus"
    assert found.breakage.message == "field `messageStatus` is required by v3 but absent from the new version"
    text = c.explain(c.FORWARD, [found])
    assert text.startswith("incompatible with FORWARD against version 3 (FORWARD: subscribers pinned to v3")
    assert text.endswith("field `messageStatus` is required by v3 but absent from the new version")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (BASE, changed(price=NUM), "type of `price`: the new version allows number, v1 accepts only integer"),
        (changed(sid={"enum": ["a"]}), changed(sid={"enum": ["a", "b"]}),
         '`sid` may be "b" in the new version, which v1 refuses'),
        (obj({"l": arr(obj({"a": STR}))}), obj({"l": arr(obj({"a": STR, "b": STR}))}),
         "field `l[].b` of the new version is refused by v1, which is closed "
         "(additionalProperties: false) at "
         "`l[]` (data inside arrays or under a list of types is not projected)"),
        (changed(sid={"anyOf": [STR]}), changed(sid={"anyOf": [STR, INT]}),
         "cannot prove compatible: `anyOf` changed at `sid`"),
    ],
)  # fmt: skip
def test_forward_messages(old: Any, new: Any, message: str) -> None:
    assert [i.breakage.message for i in c.check(c.FORWARD, new, {1: old})] == [message]


def test_backward_message_for_an_added_required_field() -> None:
    new = obj({"sid": STR, "price": INT, "qty": INT}, ("sid", "qty"))
    [found] = c.check(c.BACKWARD, new, {1: BASE})
    assert found.breakage.message == "field `qty` is required by the new version but absent from v1"
    assert "BACKWARD: events still published at v1 must reach subscribers on the new version" in c.explain(
        c.BACKWARD, [found]
    )


def test_checked_against_every_previous_version() -> None:
    """Transitive: v3 may follow v2 and still break v1, whose subscribers are still there."""
    v1 = obj({"sid": STR, "a": STR}, ("sid", "a"))
    v2 = obj({"sid": STR, "a": STR}, ("sid",))  # `a` optional: FORWARD-breaks v1
    v3 = obj({"sid": STR}, ("sid",))
    found = c.check(c.FORWARD, v3, {1: v1, 2: v2})
    assert {(i.version, i.breakage.kind, i.breakage.path) for i in found} == {(1, c.REQUIRED, "a")}
    text = c.explain(c.FULL, c.check(c.FULL, v3, {1: v1, 2: v2}))
    assert "against version 1" in text and "against version 2" not in text


def test_explain_is_bounded() -> None:
    old = obj({f"f{i}": STR for i in range(500)}, tuple(f"f{i}" for i in range(500)))
    found = c.check(c.FORWARD, obj({}), {1: old})
    assert len(found) == 500
    text = c.explain(c.FORWARD, found)
    assert len(text) < 3100 and text.endswith("(the whole list: RegisterSchemaVersion with dry_run)")


@pytest.mark.parametrize(
    ("raw", "mode"),
    [("FULL", "FULL"), ("backward", "BACKWARD"), (" forward ", "FORWARD"), ("NONE", "NONE"),
     ("FULL_TRANSITIVE", "FULL"), ("backward_transitive", "BACKWARD")],
)  # fmt: skip
def test_modes(raw: str, mode: str) -> None:
    assert c.normalize_mode(raw) == mode


@pytest.mark.parametrize("raw", ["", "STRICT", "FULLY"])
def test_unknown_mode(raw: str) -> None:
    with pytest.raises(ValueError, match="unknown compatibility mode"):
        c.normalize_mode(raw)


def test_every_seeded_evolution_is_fully_compatible() -> None:
    """Twilio's own catalogue (Messaging.MessageStatus v1…v7 and the rest) evolved the way FULL
    allows: optional fields added to closed objects."""
    by_schema: dict[str, dict[int, Any]] = defaultdict(dict)
    for seed in catalogue.schema_versions():
        by_schema[seed.schema_id][seed.version] = seed.document
    for versions in by_schema.values():
        for number in sorted(versions)[1:]:
            previous = {v: d for v, d in versions.items() if v < number}
            assert c.check(c.FULL, versions[number], previous) == []


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ('{"type": "object",', "the document is not JSON: Expecting property name"),
        ("[1, 2]", "the document's root is a JSON array, not an object"),
        ('"x"', "the document's root is a JSON string, not an object"),
        ('{"type": "object", "properties": {"a": {"type": "strin"}}}',
         "not a valid draft-07 JSON Schema at `properties/a/type`"),
        ('{"type": "object", "required": "a"}',
         "not a valid draft-07 JSON Schema at `required`: 'a' is not of type 'array'"),
        ('{"type": "object", "properties": {"a": {"pattern": "("}}}',
         "at `properties/a/pattern`: '(' is not a 'regex'"),
        ('{"type": "string"}', 'the root must describe an object ("type": "object")'),
        ('{"properties": {}}', 'the root must describe an object ("type": "object")'),
        ('{"type": "object", "$schema": "https://json-schema.org/draft/2020-12/schema"}',
         "only JSON Schema draft-07"),
        ('{"type": "object", "$id": "https://example.com/x"}',
         "`$id` is 'https://example.com/x', but version 2 of Acme.Order is "
         "'https://events-schemas.twilio.com/Acme.Order/2'"),
        ('{"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}',
         "`$ref` to https://example.com/a.json: only references inside the document"),
        # Patterns run on every event: only what a linear-time engine runs.
        ('{"type": "object", "properties": {"a": {"pattern": "^(a+)\\\\1$"}}}',
         "the pattern '^(a+)\\\\1$' at `properties/a/pattern` is not one a linear-time regular "
         "expression engine runs"),
        ('{"type": "object", "patternProperties": {"^(?!x)": {}}}',
         "the pattern '^(?!x)' at `patternProperties/^(?!x)` is not one a linear-time"),
        ('{"type": "object", "properties": {"p": {"items": {"pattern": "(?<=a)b"}}}}',
         "the pattern '(?<=a)b' at `properties/p/items/pattern` is not one a linear-time"),
        ('{"type": "object", "properties": {"a": {"pattern": "a\\\\Z"}}}',  # Python's, not ECMA-262's
         "the pattern 'a\\\\Z' at `properties/a/pattern` is not one a linear-time"),
    ],
)  # fmt: skip
def test_malformed_documents(document: str, error: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse(document, "Acme.Order", 2)
    assert error in str(raised.value)


def test_a_nested_quantifier_is_a_pattern_a_linear_time_engine_runs() -> None:
    document = '{"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}}'
    assert parse(document, "Acme.Order", 2)["properties"]["a"]["pattern"] == "^(a+)+$"


@pytest.mark.timeout(20)  # a backtracking engine takes minutes: this fails, never hangs
def test_a_writers_values_meet_a_readers_backtracking_pattern_in_linear_time() -> None:
    evil = "a" * 32 + "!"
    writer = changed(sid={"type": "string", "enum": ["aaa", evil]})
    reader = changed(sid={"type": "string", "pattern": "^(a+)+$"})
    [found] = [b for b in c.readable(writer, reader) if b.kind == c.VALUES]
    assert f'"{evil}"' in found.message and '"aaa"' not in found.message


def test_a_document_gets_its_id_and_draft() -> None:
    assert parse('{"type": "object"}', "Acme.Order", 2) == {
        "type": "object",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://events-schemas.twilio.com/Acme.Order/2",
    }
    given = '{"type": "object", "$id": "https://events-schemas.twilio.com/Acme.Order/2"}'
    assert parse(given, "Acme.Order", 2)["$id"] == "https://events-schemas.twilio.com/Acme.Order/2"
