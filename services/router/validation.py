"""An event's data checked against its schema: the router's largest per-event cost.

fastjsonschema is the reference: its verdicts and its error messages are what producers
have always had. jsonschema-rs (compiled) answers the common question — is this valid? —
in about a third of the time, so it goes first where the two are known to agree: a draft-07
document without the keywords whose meaning the two implement differently. `format`
(fastjsonschema's date-time takes "+0000", RFC 3339 does not), `pattern` and
`patternProperties` (Python's `\\d` matches any Unicode digit, ECMA's only 0-9),
`multipleOf` (floating point at the extremes), `default` (fastjsonschema writes defaults
into the data, which filters and projection then see) and the `content…` annotations.
Every other document, and every event the quick check refuses, goes to fastjsonschema,
whose verdict and message stand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema_rs

Validate = Callable[[Any], Any]

DRAFT_07 = "http://json-schema.org/draft-07/schema"
# Keywords the two implementations read differently (see above): their documents are
# checked by the reference alone. Looked for anywhere in the document, property names
# included — a property called "format" sends its schema the slow way, never a wrong one.
DISAGREEING = frozenset(
    {"format", "pattern", "patternProperties", "multipleOf", "default", "contentEncoding", "contentMediaType"}
)


def compile_validator(document: dict[str, Any]) -> Validate:
    """A validator that returns the data when valid and raises
    fastjsonschema.JsonSchemaException, with fastjsonschema's message, when not."""
    reference: Validate = fastjsonschema.compile(document)
    if not quick_check_agrees(document):
        return reference
    try:
        quick = jsonschema_rs.Draft7Validator(document).is_valid
    except Exception:  # a document only the reference compiles: it alone checks it
        return reference

    def validate(data: Any) -> Any:
        if quick(data):
            return data
        return reference(data)

    return validate


def quick_check_agrees(document: dict[str, Any]) -> bool:
    """Whether jsonschema-rs and fastjsonschema give every JSON document the same verdict
    under this schema, as far as is known: draft-07 (fastjsonschema's default when
    `$schema` is absent) and none of the DISAGREEING keywords."""
    declared = document.get("$schema", DRAFT_07)
    if not isinstance(declared, str) or declared.rstrip("#") != DRAFT_07:
        return False
    return not _mentions(document, DISAGREEING)


def _mentions(node: Any, keys: frozenset[str]) -> bool:
    if isinstance(node, dict):
        return any(key in keys or _mentions(value, keys) for key, value in node.items())
    if isinstance(node, list):
        return any(_mentions(item, keys) for item in node)
    return False
