"""Sink configuration rules: what each sink type needs, checked before anything is stored.
Pure functions; every failure is Twilio's 91000 with a message naming the field."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from runtime.errors import InvalidArgument

SINK_TYPES = ("webhook", "kinesis", "segment")
INITIAL_STATUS = {"webhook": "active", "kinesis": "initialized", "segment": "initialized"}
MAX_DESTINATION_LENGTH = 2048

# AWS account ids have 12 digits, but Twilio's own examples use fewer and Twilio accepts them.
KINESIS_STREAM_ARN = re.compile(r"arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{1,12}:stream/[A-Za-z0-9_.-]{1,128}")
IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{1,12}:role/[\w+=,.@/-]{1,512}")


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(f"Sink could not be created: {message}", twilio_code=91000)


def _require_string(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _invalid(f"{key} is empty")
    if not isinstance(value, str):
        raise _invalid(f"{key} must be a string")
    return value.strip()


def _no_unknown_keys(config: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise _invalid(f"unknown configuration field(s): {', '.join(unknown)}")


def _webhook(config: dict[str, Any]) -> dict[str, Any]:
    _no_unknown_keys(config, {"destination", "method", "batch_events"})
    destination = _require_string(config, "destination")
    if len(destination) > MAX_DESTINATION_LENGTH:
        raise _invalid("destination is too long")
    try:
        parts = urlsplit(destination)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise _invalid(f"destination is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("destination must be an http(s) URL")
    if parts.fragment:
        raise _invalid("destination must not carry a fragment (connection overrides are not supported)")
    method = _require_string(config, "method")
    if method.upper() not in ("POST", "GET"):
        raise _invalid("method must be POST or GET")
    batch = config.get("batch_events", False)
    if isinstance(batch, str) and batch.lower() in ("true", "false"):
        batch = batch.lower() == "true"
    if not isinstance(batch, bool):
        raise _invalid("batch_events must be true or false")
    return {"destination": destination, "method": method, "batch_events": batch}


def _kinesis(config: dict[str, Any]) -> dict[str, Any]:
    _no_unknown_keys(config, {"arn", "role_arn", "external_id"})
    arn = _require_string(config, "arn")
    if not KINESIS_STREAM_ARN.fullmatch(arn):
        raise _invalid("arn must be a Kinesis stream ARN")
    role_arn = _require_string(config, "role_arn")
    if not IAM_ROLE_ARN.fullmatch(role_arn):
        raise _invalid("role_arn must be an IAM role ARN")
    external_id = _require_string(config, "external_id")
    return {"arn": arn, "role_arn": role_arn, "external_id": external_id}


def _segment(config: dict[str, Any]) -> dict[str, Any]:
    _no_unknown_keys(config, {"write_key"})
    return {"write_key": _require_string(config, "write_key")}


VALIDATORS = {"webhook": _webhook, "kinesis": _kinesis, "segment": _segment}


def parse(sink_type: str, configuration_json: str) -> dict[str, Any]:
    """The normalized configuration, or InvalidArgument 91000."""
    if sink_type not in VALIDATORS:
        raise _invalid(f"sink type must be one of {', '.join(SINK_TYPES)}")
    if not configuration_json.strip():
        raise _invalid("sink configuration is empty")
    try:
        config = json.loads(configuration_json)
    except ValueError as exc:
        raise _invalid("sink configuration is not valid JSON") from exc
    if not isinstance(config, dict) or not config:
        raise _invalid("sink configuration must be a non-empty JSON object")
    return VALIDATORS[sink_type](config)
