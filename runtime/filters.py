"""Subscription filters: a small expression language over an event's data, as Twilio's own
request examples write it — `messageStatus == 'FAILED' AND errorCode == 30004`.

    expression := or
    or         := and ("OR" and)*
    and        := unary ("AND" unary)*
    unary      := "NOT" unary | "(" expression ")" | comparison
    comparison := path ("==" | "!=" | ">" | ">=" | "<" | "<=") literal
                | path "IN" "(" literal ("," literal)* ")"
    path       := name ("." name)*          (a field of `data`, nested with dots)
    literal    := 'text' | "text" | number | true | false | null

Keywords are case-insensitive. A missing field is null. Order comparisons between values of
different kinds (or with null) are false. Parsing is done once, at subscribe time; the result
is a plain function of the data. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]

MAX_LENGTH = 1024
# Parentheses and `not`s nest at most this deep: the parser (and the predicate it builds)
# recurse per level, and a few hundred levels fit in 1,024 characters.
MAX_DEPTH = 32

TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<op>==|!=|>=|<=|>|<|\(|\)|,)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
MISSING = object()


class FilterError(ValueError):
    """The expression is not a valid filter; the message says where."""


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(
                f"unexpected character at position {position}: {text[position : position + 10]!r}"
            )
        position = match.end()
        kind = match.lastgroup
        value = match.group(kind or "")
        if kind == "string":
            tokens.append(("literal", re.sub(r"\\(.)", r"\1", value[1:-1])))
        elif kind == "number":
            tokens.append(("literal", float(value) if any(c in value for c in ".eE") else int(value)))
        elif kind == "word" and value.lower() in KEYWORDS:
            word = value.lower()
            constants = {"true": True, "false": False, "null": None}
            tokens.append(("literal", constants[word]) if word in constants else (word, word))
        else:
            tokens.append((kind or "", value))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self._tokens = tokens
        self._at = 0
        self._depth = 0

    def _deeper(self) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterError(f"a filter nests parentheses and not at most {MAX_DEPTH} deep")

    def _peek(self) -> tuple[str, Any]:
        return self._tokens[self._at] if self._at < len(self._tokens) else ("end", None)

    def _take(self, kind: str, value: Any = None) -> Any:
        found = self._peek()
        if found[0] != kind or (value is not None and found[1] != value):
            wanted = value if value is not None else kind
            raise FilterError(
                f"expected {wanted} but found {found[1] if found[1] is not None else 'the end'}"
            )
        self._at += 1
        return found[1]

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek()[0] != "end":
            raise FilterError(f"unexpected {self._peek()[1]!r} after a complete expression")
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._peek()[0] == "or":
            self._take("or")
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda data: any(p(data) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while self._peek()[0] == "and":
            self._take("and")
            parts.append(self._unary())
        return parts[0] if len(parts) == 1 else (lambda data: all(p(data) for p in parts))

    def _unary(self) -> Predicate:
        kind, value = self._peek()
        if kind == "not":
            self._take("not")
            self._deeper()
            inner = self._unary()
            self._depth -= 1
            return lambda data: not inner(data)
        if kind == "op" and value == "(":
            self._take("op", "(")
            self._deeper()
            inner = self._or()
            self._depth -= 1
            self._take("op", ")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        path = self._take("word").split(".")
        kind, value = self._peek()
        if kind == "in":
            self._take("in")
            self._take("op", "(")
            options = [self._take("literal")]
            while self._peek() == ("op", ","):
                self._take("op", ",")
                options.append(self._take("literal"))
            self._take("op", ")")
            return lambda data: any(_equal(_lookup(data, path), option) for option in options)
        if kind != "op" or value not in COMPARE:
            raise FilterError(f"expected a comparison after {'.'.join(path)}")
        self._take("op")
        literal = self._take("literal")
        compare = COMPARE[value]
        return lambda data: compare(_lookup(data, path), literal)


def _lookup(data: Any, path: list[str]) -> Any:
    for name in path:
        if not isinstance(data, dict) or name not in data:
            return None
        data = data[name]
    return data


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(left: Any, right: Any) -> bool:
    return _kind(left) == _kind(right) and left == right


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        kind = _kind(left)
        return kind == _kind(right) and kind in ("number", "string") and test(left, right)

    return compare


COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": _equal,
    "!=": lambda left, right: not _equal(left, right),
    ">": _ordered(lambda left, right: left > right),
    ">=": _ordered(lambda left, right: left >= right),
    "<": _ordered(lambda left, right: left < right),
    "<=": _ordered(lambda left, right: left <= right),
}


def compile_filter(text: str) -> Predicate:
    """A predicate over event data; FilterError when the text is not a filter."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"a filter is at most {MAX_LENGTH} characters")
    if not text.strip():
        raise FilterError("the filter is empty")
    return _Parser(_tokens(text)).parse()
