"""Schema compatibility, in this platform's terms: pure (documents in, typed breakages out).

The question is never "are these two JSON Schemas equal" but: can every event valid under a
*writer* version, after the router projects it to a *reader* version
(`services/router/projection.py`: keep the fields the reader defines, recursively; drop unknown
fields only where the reader is closed with `additionalProperties: false`), always validate
against the reader? `readable(writer, reader)` answers with the list of reasons it cannot
(empty: it always can).

The modes (Confluent's names; every mode is transitive — checked against *all* previous
versions, because a subscriber may be pinned to any of them and a producer may publish at any):

- BACKWARD: the new version reads data written at every old one — a producer still publishing
  at v_old reaches subscribers pinned to the new version: `readable(old, new)`.
- FORWARD: every old version reads data written at the new one — subscribers pinned to v_old
  keep receiving events published at the new version: `readable(new, old)`.
- FULL: both. NONE: no check.

Modelled exactly: `type` (integer ⊂ number), `properties`, `required`, `additionalProperties`
(false, true or a schema), `items` (one schema; arrays are not projected), `enum`, `const`,
`format`, numeric bounds, `multipleOf`, string and array lengths, `uniqueItems`. A keyword not
modelled (`anyOf`, `oneOf`, `allOf`, `not`, `$ref`, `pattern`, …) that differs where it could
matter is a breakage ("cannot prove compatible"): this module never guesses in the unsafe
direction. Identical unmodelled keywords are assumed to keep holding.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

BACKWARD, FORWARD, FULL, NONE = "BACKWARD", "FORWARD", "FULL", "NONE"
MODES = (BACKWARD, FORWARD, FULL, NONE)
# Confluent's transitive names mean what every mode here means: accepted, stored plainly.
ALIASES = {f"{m}_TRANSITIVE": m for m in (BACKWARD, FORWARD, FULL)}
DIRECTIONS = {BACKWARD: (BACKWARD,), FORWARD: (FORWARD,), FULL: (BACKWARD, FORWARD), NONE: ()}

# Breakage kinds.
REQUIRED = "required"  # the reader requires a field the writer may omit
TYPE = "type"  # the writer allows a type the reader refuses
VALUES = "values"  # enum / const: the writer allows a value the reader refuses
FORMAT = "format"  # the reader checks a format the writer does not guarantee
BOUND = "bound"  # a numeric, length or item-count bound, multipleOf or uniqueItems tightened
CLOSED = "closed"  # the reader refuses fields the writer may send, where nothing projects them away
OPEN_WRITER = "open-writer"  # the reader constrains a field the open writer leaves free
NEVER = "never"  # the reader's schema is `false`
UNPROVABLE = "unprovable"  # an unmodelled keyword differs

ANNOTATIONS = frozenset(
    {"$id", "$schema", "$comment", "title", "description", "examples", "default", "readOnly",
     "writeOnly", "contentMediaType", "contentEncoding"}
)  # fmt: skip
UNMODELLED = (
    "anyOf", "oneOf", "allOf", "not", "$ref", "if", "then", "else", "dependencies",
    "patternProperties", "propertyNames", "contains", "additionalItems", "definitions",
    "pattern", "minProperties", "maxProperties",
)  # fmt: skip
# Unmodelled keywords that let the *writer* accept more than the modelled ones say (keys a
# pattern exempts from additionalProperties; draft-07 ignores a $ref's siblings).
WIDENING = frozenset({"patternProperties", "$ref"})
# A writer's enum values tried against the reader's patterns: both documents are a producer's,
# so the patterns run in Rust's regex crate (linear time), never a backtracking engine; fancy-regex,
# bounded, takes the backreferences and lookaround only documents stored before they were refused have.
PATTERNS = jsonschema_rs.FancyRegexOptions(backtrack_limit=100_000)
JSON_TYPES = ("null", "boolean", "object", "array", "number", "string")  # integer ⊂ number
_MISSING = object()


@dataclass(frozen=True)
class Breakage:
    kind: str
    path: str  # dotted, `[]` for array items, `*` for unlisted fields; "" for the root
    message: str


@dataclass(frozen=True)
class Incompatibility:
    direction: str  # BACKWARD or FORWARD
    version: int  # the previous version it is incompatible with
    breakage: Breakage


def normalize_mode(raw: str) -> str:
    """The stored name of a mode (case-insensitive, Confluent's *_TRANSITIVE accepted)."""
    mode = raw.strip().upper()
    mode = ALIASES.get(mode, mode)
    if mode not in MODES:
        raise ValueError(
            f"unknown compatibility mode {raw!r}: one of {', '.join(MODES)} "
            "(or BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE, FULL_TRANSITIVE, the same here)"
        )
    return mode


def readable(
    writer: Any, reader: Any, writer_label: str = "the writer", reader_label: str = "the reader"
) -> list[Breakage]:
    """Why data valid under `writer`, projected to `reader`, might fail `reader` (empty: never)."""
    checker = _Checker(writer_label, reader_label)
    checker.node(writer, reader, (), projected=True)
    unique: dict[tuple[str, str], Breakage] = {}
    for found in checker.found:
        unique.setdefault((found.path, found.message), found)
    return list(unique.values())


def check(mode: str, new: Any, previous: Mapping[int, Any]) -> list[Incompatibility]:
    """Every reason `new` may not follow `previous` (version → document) under `mode`."""
    found = []
    for version in sorted(previous):
        old, label = previous[version], f"v{version}"
        for direction in DIRECTIONS[normalize_mode(mode)]:
            if direction == BACKWARD:
                breakages = readable(old, new, label, "the new version")
            else:
                breakages = readable(new, old, "the new version", label)
            found += [Incompatibility(direction, version, b) for b in breakages]
    return found


WHY = {
    BACKWARD: "BACKWARD: events still published at v{v} must reach subscribers on the new version",
    FORWARD: "FORWARD: subscribers pinned to v{v} must keep receiving events published at the new version",
}


def explain(mode: str, incompatibilities: list[Incompatibility], limit: int = 3000) -> str:
    """One message naming, per previous version and direction, every change that breaks it."""
    groups: dict[tuple[int, str], list[str]] = {}
    for item in incompatibilities:
        groups.setdefault((item.version, item.direction), []).append(item.breakage.message)
    lines = [
        f"incompatible with {mode} against version {version} ({WHY[direction].format(v=version)}): "
        + "; ".join(messages)
        for (version, direction), messages in sorted(groups.items(), key=lambda g: (-g[0][0], g[0][1]))
    ]
    text = "\n".join(lines)
    if len(text) > limit:  # a gRPC status travels in trailers (8 KiB by default)
        text = text[:limit].rsplit("; ", 1)[0] + " … (the whole list: RegisterSchemaVersion with dry_run)"
    return text


def dotted(path: tuple[str, ...]) -> str:
    """`a.b`, `a[].b`, `tags.*`; "" for the root."""
    text = ""
    for part in path:
        text += part if part == "[]" or not text else f".{part}"
    return text


def show(path: tuple[str, ...]) -> str:
    return f"`{dotted(path)}`" if path else "the root"


def _types(schema: dict[str, Any]) -> set[str] | None:
    """The JSON types a schema allows (None: any), from `type`, else `const` / `enum`."""
    if "type" in schema:
        declared = schema["type"]
        return {declared} if isinstance(declared, str) else set(declared)
    values = _values(schema)
    if values is not None:
        return {_type_of(v) for v in values}
    return None


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _accepts(types: set[str] | None, kind: str) -> bool:
    return types is None or kind in types or (kind == "integer" and "number" in types)


def _may(types: set[str] | None, kind: str) -> bool:
    """Whether a schema allowing `types` may produce a value of `kind`."""
    if types is None or kind in types:
        return True
    return kind == "number" and "integer" in types


def _values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _trivial(schema: Any) -> bool:
    return schema is True or (isinstance(schema, dict) and set(schema) <= ANNOTATIONS)


def _lower(schema: dict[str, Any]) -> tuple[float, bool] | None:
    bounds = []
    if isinstance(schema.get("minimum"), (int, float)):
        bounds.append((schema["minimum"], False))
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        bounds.append((schema["exclusiveMinimum"], True))
    return max(bounds) if bounds else None  # equal values: exclusive (True) is tighter and wins


def _upper(schema: dict[str, Any]) -> tuple[float, bool] | None:
    bounds = []
    if isinstance(schema.get("maximum"), (int, float)):
        bounds.append((schema["maximum"], False))
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        bounds.append((schema["exclusiveMaximum"], True))
    return min(bounds, key=lambda b: (b[0], not b[1])) if bounds else None


def _bound_text(bound: tuple[float, bool], lower: bool) -> str:
    value, exclusive = bound
    return f"{'>' if lower else '<'}{'' if exclusive else '='} {value:g}"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class _Checker:
    def __init__(self, writer: str, reader: str) -> None:
        self.w, self.r = writer, reader
        self.found: list[Breakage] = []

    def add(self, kind: str, path: tuple[str, ...], message: str) -> None:
        self.found.append(Breakage(kind, dotted(path), message))

    def node(self, w: Any, r: Any, path: tuple[str, ...], projected: bool) -> None:
        if _trivial(r) or w is False:
            return
        if r is False:
            self.add(NEVER, path, f"{self.r} accepts no value at {show(path)}, {self.w} does")
            return
        w = {} if w is True else w
        if not isinstance(w, dict) or not isinstance(r, dict):
            return  # not a schema: the meta-schema check refuses it before this runs
        for key in UNMODELLED:
            if (key in r or (key in w and key in WIDENING)) and w.get(key, _MISSING) != r.get(key, _MISSING):
                self.add(UNPROVABLE, path, f"cannot prove compatible: `{key}` changed at {show(path)}")
        values = _values(w)
        if values is not None:
            self.finite(values, r, path)
            return
        wt, rt = _types(w), _types(r)
        refused = [t for t in (sorted(wt) if wt is not None else JSON_TYPES) if not _accepts(rt, t)]
        if refused and rt is not None:
            allowed = " or ".join(sorted(rt))
            if wt is None:
                self.add(
                    TYPE, path, f"{show(path)} may be any type in {self.w}, {self.r} accepts only {allowed}"
                )
            else:
                self.add(
                    TYPE,
                    path,
                    f"type of {show(path)}: {self.w} allows {' or '.join(refused)}, "
                    f"{self.r} accepts only {allowed}",
                )
        self.reader_values(r, path)
        if _may(wt, "string") and _may(rt, "string"):
            self.strings(w, r, path)
        if _may(wt, "number") and (_may(rt, "number")):
            self.numbers(w, r, path)
        if _may(wt, "object") and _may(rt, "object"):
            self.object(w, r, path, projected)
        if _may(wt, "array") and _may(rt, "array"):
            self.array(w, r, path)

    def finite(self, values: list[Any], r: dict[str, Any], path: tuple[str, ...]) -> None:
        """The writer allows only these values: try each against the reader, exactly."""
        try:
            validator = jsonschema_rs.Draft7Validator(r, validate_formats=True, pattern_options=PATTERNS)
            refused = [v for v in values if not validator.is_valid(v)]
        except Exception:  # e.g. an unresolvable $ref: not provable, so refused
            refused = values
        if refused:
            shown = ", ".join(_json(v) for v in refused)
            self.add(VALUES, path, f"{show(path)} may be {shown} in {self.w}, which {self.r} refuses")

    def reader_values(self, r: dict[str, Any], path: tuple[str, ...]) -> None:
        # Reached only when the writer has no enum / const of its own.
        if "const" in r:
            self.add(
                VALUES,
                path,
                f"{show(path)} must be {_json(r['const'])} in {self.r}, {self.w} allows other values",
            )
        elif "enum" in r:
            shown = ", ".join(_json(v) for v in r["enum"])
            self.add(VALUES, path, f"{show(path)} is one of [{shown}] in {self.r}, unrestricted in {self.w}")

    def strings(self, w: dict[str, Any], r: dict[str, Any], path: tuple[str, ...]) -> None:
        if "format" in r and w.get("format") != r["format"]:
            had = f"format {w['format']}" if "format" in w else "no format"
            self.add(
                FORMAT, path, f"{show(path)} must have format {r['format']} in {self.r}, {self.w} has {had}"
            )
        self.counts(w, r, path, "minLength", "maxLength", "length")

    def numbers(self, w: dict[str, Any], r: dict[str, Any], path: tuple[str, ...]) -> None:
        for lower, get in ((True, _lower), (False, _upper)):
            rb, wb = get(r), get(w)
            if rb is None:
                continue
            if wb is None:
                ok = False
            elif wb[0] != rb[0]:
                ok = wb[0] > rb[0] if lower else wb[0] < rb[0]
            else:
                ok = wb[1] or not rb[1]
            if not ok:
                had = _bound_text(wb, lower) if wb is not None else "no such bound"
                self.add(
                    BOUND,
                    path,
                    f"{show(path)} must be {_bound_text(rb, lower)} in {self.r}, {self.w} has {had}",
                )
        if "multipleOf" in r:
            wm, rm = w.get("multipleOf"), r["multipleOf"]
            if wm is None or not (wm / rm).is_integer():
                self.add(
                    BOUND,
                    path,
                    f"{show(path)} must be a multiple of {rm:g} in {self.r}, {self.w} does not ensure it",
                )

    def counts(
        self, w: dict[str, Any], r: dict[str, Any], path: tuple[str, ...], low: str, high: str, what: str
    ) -> None:
        if low in r and w.get(low, 0) < r[low]:
            self.add(
                BOUND,
                path,
                f"{show(path)}: {self.r} needs {what} >= {r[low]}, {self.w} allows {w.get(low, 0)}",
            )
        if high in r and (high not in w or w[high] > r[high]):
            had = w.get(high, "any")
            self.add(BOUND, path, f"{show(path)}: {self.r} needs {what} <= {r[high]}, {self.w} allows {had}")

    def object(self, w: dict[str, Any], r: dict[str, Any], path: tuple[str, ...], projected: bool) -> None:
        w_props = w.get("properties") if isinstance(w.get("properties"), dict) else {}
        r_props = r.get("properties") if isinstance(r.get("properties"), dict) else {}
        assert isinstance(w_props, dict) and isinstance(r_props, dict)
        # Exactly where project() works: an object (or untyped) schema listing its properties.
        r_projects = projected and r.get("type") in ("object", None) and isinstance(r.get("properties"), dict)
        r_addl = r.get("additionalProperties", True)
        w_addl = w.get("additionalProperties", True)
        r_drops = r_projects and r_addl is False
        w_closed = w_addl is False
        w_required = set(w.get("required", ()))
        for name in r.get("required", ()):
            if name in w_required:
                continue
            field = show((*path, name))
            if name in w_props:
                self.add(
                    REQUIRED, (*path, name), f"field {field} is required by {self.r} but optional in {self.w}"
                )
            elif w_closed:
                self.add(
                    REQUIRED, (*path, name), f"field {field} is required by {self.r} but absent from {self.w}"
                )
            else:
                self.add(
                    REQUIRED,
                    (*path, name),
                    f"field {field} is required by {self.r} but not defined by {self.w}",
                )
        for name, r_schema in r_props.items():
            if name in w_props:
                self.node(w_props[name], r_schema, (*path, name), r_projects)
            elif not w_closed:
                probe = _Checker(self.w, self.r)
                probe.node(w_addl, r_schema, (*path, name), False)
                if probe.found:
                    self.add(
                        OPEN_WRITER,
                        (*path, name),
                        f"field {show((*path, name))} is constrained by {self.r} but not defined by "
                        f"{self.w}, which accepts unlisted fields (additionalProperties): its data may "
                        "carry any value there",
                    )
        where = "" if projected else " (data inside arrays or under a list of types is not projected)"
        for name, w_schema in w_props.items():
            if name in r_props or r_drops:
                continue
            if r_addl is False:
                self.add(
                    CLOSED,
                    (*path, name),
                    f"field {show((*path, name))} of {self.w} is refused by {self.r}, which is closed "
                    f"(additionalProperties: false) at {show(path)}{where}",
                )
            else:
                self.node(w_schema, r_addl, (*path, name), False)
        if not w_closed and not r_drops:
            if r_addl is False:
                self.add(
                    CLOSED,
                    path,
                    f"{self.w} accepts unlisted fields at {show(path)}, {self.r} refuses them "
                    f"(additionalProperties: false){where}",
                )
            else:
                self.node(w_addl, r_addl, (*path, "*"), False)

    def array(self, w: dict[str, Any], r: dict[str, Any], path: tuple[str, ...]) -> None:
        w_items, r_items = w.get("items", True), r.get("items", True)
        if isinstance(w_items, list) or isinstance(r_items, list):
            if w_items != r_items:
                self.add(
                    UNPROVABLE, path, f"cannot prove compatible: `items` (tuple form) changed at {show(path)}"
                )
        else:
            self.node(w_items, r_items, (*path, "[]"), False)  # project() leaves arrays as they are
        self.counts(w, r, path, "minItems", "maxItems", "item count")
        if r.get("uniqueItems") is True and w.get("uniqueItems") is not True:
            self.add(BOUND, path, f"{show(path)} must hold unique items in {self.r}, {self.w} allows repeats")
