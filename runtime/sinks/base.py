"""What a sink type declares about itself, and the checks its configuration parsers share.

Every failure of a configuration is Twilio's 91000 with a message naming the field."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from runtime.errors import InvalidArgument


class SinkConfig(Protocol):
    """A sink's typed, normalized configuration: a frozen dataclass whose fields are Twilio's
    `sink_configuration` keys."""

    def as_dict(self) -> dict[str, Any]: ...


class ConfigFields:
    """Mixed into a configuration dataclass: its fields are its `sink_configuration`."""

    def as_dict(self) -> dict[str, Any]:
        shape: dict[str, Any] = dataclasses.asdict(self)  # type: ignore[call-overload]
        return shape


@dataclass(frozen=True)
class Field:
    """One key of a configuration form, as the console and `evs` show it."""

    name: str
    description: str
    kind: Literal["string", "boolean", "object"] = "string"
    required: bool = True
    choices: tuple[str, ...] = ()
    default: str | bool | None = None
    example: str | Mapping[str, str] = ""
    # More JSON Schema keywords for the field (an object's properties, say).
    constraints: Mapping[str, Any] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "description": self.description, **self.constraints}
        if self.choices:
            out["enum"] = list(self.choices)
        if self.default is not None:
            out["default"] = self.default
        if self.example:
            out["examples"] = [self.example]
        return out


@dataclass(frozen=True)
class SinkType:
    """Everything the product knows about a sink type outside its delivery driver."""

    name: str  # Twilio's SinkType value
    title: str  # what a person calls it
    summary: str
    parse: Callable[[dict[str, Any]], SinkConfig]  # a non-empty JSON object → the config, or 91000
    fields: tuple[Field, ...]
    # webhook: active at once; the others must pass Test and Validate first.
    initial_status: Literal["active", "initialized"]
    # The module of its delivery driver (`driver(settings) -> SinkDriver`), imported by the
    # delivery worker only: control and the gateway never import delivery code.
    driver: str
    docs: str  # its page in docs/
    # What one call to it may carry, for readers (the driver holds the limits it keeps).
    limits: dict[str, int] = field(default_factory=dict)
    # The platform assumes the tenant's IAM role with the ExternalId issued to the account.
    assumes_role: bool = False

    @property
    def usage_category(self) -> str:
        return f"event-streams-{self.name}"

    def config_schema(self) -> dict[str, Any]:
        """The configuration form as JSON Schema (draft 2020-12 keywords)."""
        return {
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "sink_type": self.name,
            "title": self.title,
            "summary": self.summary,
            "initial_status": self.initial_status,
            "usage_category": self.usage_category,
            "assumes_role": self.assumes_role,
            "limits": dict(self.limits),
            "configuration_schema": self.config_schema(),
            "docs": self.docs,
        }


def invalid(message: str) -> InvalidArgument:
    return InvalidArgument(f"Sink could not be created: {message}", twilio_code=91000)


def require_string(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(f"{key} is empty")
    if not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    return value.strip()


def optional_string(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    return value.strip()


def no_unknown_keys(config: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise invalid(f"unknown configuration field(s): {', '.join(unknown)}")
