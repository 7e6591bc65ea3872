"""A registered schema version's document: checked the way the router will use it, and given
the `$id` the router sends as the CloudEvent `dataschema`. Pure (no I/O).

Its `pattern`s and `patternProperties` keys run on every event the router validates, so each
must be one a linear-time engine runs (Rust's `regex` crate, which the router uses): no
backreferences, no lookaround. A backtracking engine can take minutes on a short string."""

from __future__ import annotations

import json
from typing import Any

import fastjsonschema
import jsonschema
import jsonschema_rs

from services.catalog.catalogue import SCHEMA_BASE_URL

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
MAX_DOCUMENT_BYTES = 256 * 1024


_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class DocumentError(ValueError):
    """Why a document cannot be a schema version (the message says where)."""


def version_url(schema_id: str, version: int) -> str:
    return f"{SCHEMA_BASE_URL}/{schema_id}/{version}"


def parse(document_json: str, schema_id: str, version: int) -> dict[str, Any]:
    """The document as stored (with `$schema` and `$id` set), or DocumentError."""
    if len(document_json.encode()) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"the document is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
    try:
        document = json.loads(document_json)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"the document is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(document, dict):
        raise DocumentError(
            f"the document's root is a JSON {_JSON_NAMES.get(type(document), 'value')}, not an object: "
            "a JSON Schema describing the event's data is expected"
        )
    declared = document.setdefault("$schema", DRAFT_07)
    if not isinstance(declared, str) or declared.rstrip("#") != DRAFT_07.rstrip("#"):
        raise DocumentError(f"`$schema` is {declared!r}: only JSON Schema draft-07 ({DRAFT_07}) is supported")
    try:
        jsonschema.Draft7Validator.check_schema(document)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise DocumentError(f"not a valid draft-07 JSON Schema at `{where}`: {exc.message}") from exc
    if document.get("type") != "object":
        raise DocumentError(
            'the root must describe an object ("type": "object"): event data is a JSON object'
        )
    remote = sorted(_remote_refs(document))
    if remote:
        raise DocumentError(
            f"`$ref` to {', '.join(remote)}: only references inside the document (#…) are supported, "
            "the router compiles schemas offline"
        )
    wanted = version_url(schema_id, version)
    given = document.setdefault("$id", wanted)
    if given != wanted:
        raise DocumentError(
            f"`$id` is {given!r}, but version {version} of {schema_id} is {wanted!r} (the router sends "
            "it as the event's dataschema): leave `$id` out or give that"
        )
    try:
        fastjsonschema.compile(document)
    except Exception as exc:  # what the router will do with it; any failure is the document's
        raise DocumentError(f"the router cannot compile it: {exc}") from exc
    _check_patterns(document)
    return document


def _check_patterns(document: dict[str, Any]) -> None:
    try:
        jsonschema_rs.Draft7Validator(document, pattern_options=jsonschema_rs.RegexOptions())
    except jsonschema_rs.ValidationError as exc:
        kind = exc.kind
        if not (isinstance(kind, jsonschema_rs.ValidationErrorKind.Format) and kind.format == "regex"):
            return  # not about a pattern: the router's reference validator alone will check it
        where = "/".join(str(p) for p in exc.instance_path) or "(root)"
        raise DocumentError(
            f"the pattern {exc.instance!r} at `{where}` is not one a linear-time regular expression "
            "engine runs: patterns run on every event, so only ECMA-262 syntax without backreferences "
            "or lookaround (what Rust's regex crate runs) is accepted"
        ) from exc


def encode(document: dict[str, Any]) -> str:
    """The stored form, as the catalogue seeds it."""
    return json.dumps(document, sort_keys=True)


def _remote_refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            found.add(ref)
        for value in node.values():
            found |= _remote_refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _remote_refs(value)
    return found
