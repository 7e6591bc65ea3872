"""Typed settings read once from environment variables with one prefix.

A service declares a frozen dataclass of settings; `load` fills it from `ES_<FIELD>`
(or the name given in the field's ``metadata["env"]``), converts by annotation and fails
with every problem listed, at start, rather than later.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

PREFIX = "ES_"

T = TypeVar("T")


class ConfigError(ValueError):
    """One or more settings are missing or malformed."""


def env_name(field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("env", PREFIX + field.name.upper()))


def _convert(raw: str, kind: Any) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if kind is int:
        return int(raw)
    if kind is float:
        return float(raw)
    if kind is str:
        return raw
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    raise TypeError(f"unsupported setting type {kind!r}")


def load(cls: type[T], environ: Mapping[str, str] | None = None, **overrides: Any) -> T:
    """Build ``cls`` from the environment; ``overrides`` win over the environment."""
    source = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name in overrides:
            values[field.name] = overrides[field.name]
            continue
        name = env_name(field)
        if name not in source:
            continue
        try:
            values[field.name] = _convert(source[name], hints[field.name])
        except (ValueError, TypeError) as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise ConfigError("invalid settings: " + "; ".join(problems))
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"missing settings for {cls.__name__}: {exc}") from exc


def describe(cls: type[Any]) -> list[tuple[str, str, str]]:
    """(variable, default, help) rows for the settings reference table."""
    rows = []
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            default = repr(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            default = repr(field.default_factory())
        else:
            default = "(required)"
        rows.append((env_name(field), default, str(field.metadata.get("help", ""))))
    return rows


def setting(default: Any, help: str, env: str | None = None) -> Any:
    """A settings field with its documentation (and, rarely, a non-prefixed variable name)."""
    metadata: dict[str, str] = {"help": help}
    if env:
        metadata["env"] = env
    return dataclasses.field(default=default, metadata=metadata)
