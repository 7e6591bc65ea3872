"""An event's data checked against its schema: the router's largest per-event cost.

fastjsonschema is the reference: its verdicts and its error messages are what producers
have always had. jsonschema-rs (compiled) answers the common question — is this valid? —
in about a third of the time, so it goes first where the two are known to agree: a draft-07
document without the keywords whose meaning the two implement differently. `format`
(fastjsonschema's date-time takes "+0000", RFC 3339 does not), `multipleOf` (floating point
at the extremes), `default` (fastjsonschema writes defaults into the data, which filters and
projection then see) and the `content…` annotations. Every other document, and every event
the quick check refuses, goes to fastjsonschema, whose verdict and message stand.

A schema's `pattern`s and `patternProperties` keys are a producer's regular expressions run on
every event: Python's `re` backtracks, so `^(a+)+$` against thirty characters takes minutes of
the router's event loop. Both validators run them in Rust's `regex` crate instead (through
jsonschema-rs), linear in the text's length whatever the pattern, with ECMA-262's meaning
(`\\d` is 0-9), as JSON Schema specifies: fastjsonschema's compiled patterns are swapped for
those (`_linear_patterns`), so its messages stand and the two agree on patterns too. What only
a backtracking engine runs (backreferences, lookaround) the registry refuses; a document
registered before it said so gets fancy-regex, whose steps are bounded (BACKTRACK_LIMIT).
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
DISAGREEING = frozenset({"format", "multipleOf", "default", "contentEncoding", "contentMediaType"})
# Enough for any pattern that is not an attack; beyond it fancy-regex gives up (no match).
BACKTRACK_LIMIT = 100_000
# fancy-regex hands a pattern without backreferences or lookaround to the `regex` crate whole.
PATTERNS = jsonschema_rs.FancyRegexOptions(backtrack_limit=BACKTRACK_LIMIT)


def compile_validator(document: dict[str, Any]) -> Validate:
    """A validator that returns the data when valid and raises
    fastjsonschema.JsonSchemaException, with fastjsonschema's message, when not."""
    reference: Validate = fastjsonschema.compile(document)
    _linear_patterns(reference, document)
    if not quick_check_agrees(document):
        return reference
    try:
        quick = jsonschema_rs.Draft7Validator(document, pattern_options=PATTERNS).is_valid
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


class LinearPattern:
    """One schema pattern, found the way JSON Schema means (ECMA-262, unanchored), in time
    linear in the text: what fastjsonschema's generated code asks of a compiled `re`."""

    __slots__ = ("pattern", "search")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.search: Callable[[str], bool] = jsonschema_rs.Draft7Validator(
            {"pattern": pattern}, pattern_options=PATTERNS
        ).is_valid


def _linear_patterns(reference: Validate, document: dict[str, Any]) -> None:
    """Swap the `re` patterns compiled into fastjsonschema's validator for LinearPatterns.

    fastjsonschema keeps them in its generated module's REGEX_PATTERNS, keyed by the schema's
    own pattern text (its `format` regexes sit there too, as `<format>_re_pattern`: left as
    they are). Each validator has a module of its own. A pattern neither Rust engine compiles
    (Python-only syntax, refused at registration) keeps `re`."""
    compiled = getattr(reference, "__globals__", {}).get("REGEX_PATTERNS")
    if not isinstance(compiled, dict):
        raise RuntimeError("fastjsonschema no longer keeps its compiled patterns in REGEX_PATTERNS")
    formats = {f"{name}_re_pattern" for name in _strings_under(document, "format")}
    for pattern in list(compiled):
        if pattern in formats:
            continue
        try:
            compiled[pattern] = LinearPattern(pattern)
        except ValueError:
            pass


def _strings_under(node: Any, key: str) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key and isinstance(value, str):
                found.add(value)
            found |= _strings_under(value, key)
    elif isinstance(node, list):
        for item in node:
            found |= _strings_under(item, key)
    return found
