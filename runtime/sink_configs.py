"""Sink configurations as typed values: one contract for control (which checks them before
anything is stored), the gateway (which shows them) and delivery (which parses each sink's
once per routing snapshot, not a dict read by key in a driver).

Configurations cross services as JSON in Twilio's own shape (`sink_configuration`); this
module is the only place that reads or writes that shape. Every failure is Twilio's 91000
with a message naming the field."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from runtime import addresses
from runtime.errors import InvalidArgument

SINK_TYPES = ("webhook", "kinesis", "segment")
INITIAL_STATUS = {"webhook": "active", "kinesis": "initialized", "segment": "initialized"}
MAX_DESTINATION_LENGTH = 2048
# STS AssumeRole's own bounds for ExternalId (botocore refuses anything else before sending).
EXTERNAL_ID_LENGTH = (2, 1224)
EXTERNAL_ID_CHARS = re.compile(r"[\w+=,.@:/-]+")
# Segment write keys are short tokens; anything longer is a paste error, not a key.
MAX_WRITE_KEY_LENGTH = 256
WRITE_KEY_CHARS = re.compile(r"[A-Za-z0-9_.:-]+")

# AWS account ids have 12 digits, but Twilio's own examples use fewer and Twilio accepts them.
KINESIS_STREAM_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):kinesis:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{1,12})"
    r":stream/(?P<name>[A-Za-z0-9_.-]{1,128})"
)
IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{1,12}):role/[\w+=,.@/-]{1,512}")


@dataclass(frozen=True)
class WebhookConfig:
    destination: str
    method: str  # POST | GET
    batch_events: bool

    @property
    def is_get(self) -> bool:
        return self.method.upper() == "GET"


@dataclass(frozen=True)
class KinesisConfig:
    arn: str
    role_arn: str
    external_id: str

    @property
    def region(self) -> str:
        return _kinesis_arn(self.arn)["region"]

    @property
    def stream_name(self) -> str:
        return _kinesis_arn(self.arn)["name"]


def issued_external_id(account_sid: str, secret: str) -> str:
    """The ExternalId this deployment sends when it assumes any of the account's Kinesis roles,
    and the only one it accepts in the account's sink configurations: issued by the platform,
    never chosen by the tenant, so no tenant can have the platform assume a role that trusts
    another tenant's ExternalId (AWS's confused-deputy advice for third parties). Derived,
    not stored: the same on every replica and readable before the role exists. The secret
    makes it unguessable; it is unique per account without one."""
    digest = hmac.new(secret.encode(), account_sid.encode(), hashlib.sha256).hexdigest()
    return f"{account_sid}-{digest[:32]}"


def role_account(role_arn: str) -> str | None:
    """The 12-digit AWS account an IAM role ARN names; None for what is not a role ARN."""
    match = IAM_ROLE_ARN.fullmatch(role_arn)
    return match.group("account").zfill(12) if match else None


@dataclass(frozen=True)
class SegmentConfig:
    write_key: str


SinkConfig = WebhookConfig | KinesisConfig | SegmentConfig


def as_dict(config: SinkConfig) -> dict[str, Any]:
    """Twilio's `sink_configuration` object for this configuration."""
    return asdict(config)


def to_json(config: SinkConfig) -> str:
    return json.dumps(as_dict(config))


def _invalid(message: str) -> InvalidArgument:
    return InvalidArgument(f"Sink could not be created: {message}", twilio_code=91000)


def _kinesis_arn(arn: str) -> dict[str, str]:
    match = KINESIS_STREAM_ARN.fullmatch(arn)
    if match is None:
        raise _invalid("arn must be a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)")
    return match.groupdict()


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


def _webhook(config: dict[str, Any]) -> WebhookConfig:
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
    try:
        host = addresses.wire_host(destination)
    except ValueError as exc:
        raise _invalid(f"destination is not a valid URL: {exc}") from exc
    legacy = addresses.refusal(host, allow_private=True)
    if legacy is not None:
        raise _invalid(legacy)
    method = _require_string(config, "method")
    if method.upper() not in ("POST", "GET"):
        raise _invalid("method must be POST or GET")
    batch = config.get("batch_events", False)
    if isinstance(batch, str) and batch.lower() in ("true", "false"):
        batch = batch.lower() == "true"
    if not isinstance(batch, bool):
        raise _invalid("batch_events must be true or false")
    return WebhookConfig(destination=destination, method=method, batch_events=batch)


def _kinesis(config: dict[str, Any]) -> KinesisConfig:
    _no_unknown_keys(config, {"arn", "role_arn", "external_id"})
    arn = _require_string(config, "arn")
    if IAM_ROLE_ARN.fullmatch(arn):
        raise _invalid("arn must name the Kinesis stream, not an IAM role (the role goes in role_arn)")
    _kinesis_arn(arn)
    role_arn = _require_string(config, "role_arn")
    if KINESIS_STREAM_ARN.fullmatch(role_arn):
        raise _invalid("role_arn must name the IAM role to assume, not a Kinesis stream (that goes in arn)")
    if not IAM_ROLE_ARN.fullmatch(role_arn):
        raise _invalid("role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    external_id = _require_string(config, "external_id")
    low, high = EXTERNAL_ID_LENGTH
    if not low <= len(external_id) <= high:
        raise _invalid(f"external_id must be {low} to {high} characters long")
    if not EXTERNAL_ID_CHARS.fullmatch(external_id):
        raise _invalid("external_id may hold only letters, digits and +=,.@:/-_")
    return KinesisConfig(arn=arn, role_arn=role_arn, external_id=external_id)


def _segment(config: dict[str, Any]) -> SegmentConfig:
    _no_unknown_keys(config, {"write_key"})
    write_key = _require_string(config, "write_key")
    if len(write_key) > MAX_WRITE_KEY_LENGTH:
        raise _invalid(f"write_key is longer than {MAX_WRITE_KEY_LENGTH} characters")
    if not WRITE_KEY_CHARS.fullmatch(write_key):
        raise _invalid("write_key may hold only letters, digits and _.:-")
    return SegmentConfig(write_key=write_key)


VALIDATORS: dict[str, Callable[[dict[str, Any]], SinkConfig]] = {
    "webhook": _webhook,
    "kinesis": _kinesis,
    "segment": _segment,
}


def from_dict(sink_type: str, config: Any) -> SinkConfig:
    if sink_type not in VALIDATORS:
        raise _invalid(f"sink type must be one of {', '.join(SINK_TYPES)}")
    if not isinstance(config, dict) or not config:
        raise _invalid("sink configuration must be a non-empty JSON object")
    return VALIDATORS[sink_type](config)


def parse(sink_type: str, configuration_json: str) -> SinkConfig:
    """The typed, normalized configuration, or InvalidArgument 91000."""
    if sink_type not in VALIDATORS:
        raise _invalid(f"sink type must be one of {', '.join(SINK_TYPES)}")
    if not configuration_json.strip():
        raise _invalid("sink configuration is empty")
    try:
        config = json.loads(configuration_json)
    except (ValueError, RecursionError) as exc:  # deep nesting is not a server error
        raise _invalid("sink configuration is not valid JSON") from exc
    return from_dict(sink_type, config)
