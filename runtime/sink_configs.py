"""Sink configurations as typed values: one contract for control (which checks them before
anything is stored), the gateway (which shows them) and delivery (which parses each sink's
once per routing snapshot, not a dict read by key in a driver).

Configurations cross services as JSON in Twilio's own shape (`sink_configuration`); this
module reads and writes that shape, and each sink type's own declaration
(`runtime/sinks/<type>.py`, listed in `runtime.sinks.registry`) parses and checks its
fields. Every failure is Twilio's 91000 with a message naming the field."""

from __future__ import annotations

import json
from typing import Any

from runtime.sinks import registry
from runtime.sinks.aws import (
    EXTERNAL_ID_CHARS,
    EXTERNAL_ID_LENGTH,
    IAM_ROLE_ARN,
    AwsTarget,
    issued_external_id,
    role_account,
)
from runtime.sinks.base import SinkConfig, invalid
from runtime.sinks.kinesis import KINESIS_STREAM_ARN, KinesisConfig
from runtime.sinks.segment import MAX_WRITE_KEY_LENGTH, WRITE_KEY_CHARS, SegmentConfig
from runtime.sinks.webhook import MAX_DESTINATION_LENGTH, WebhookConfig

__all__ = [
    "EXTERNAL_ID_CHARS",
    "EXTERNAL_ID_LENGTH",
    "IAM_ROLE_ARN",
    "INITIAL_STATUS",
    "KINESIS_STREAM_ARN",
    "MAX_DESTINATION_LENGTH",
    "MAX_WRITE_KEY_LENGTH",
    "SINK_TYPES",
    "WRITE_KEY_CHARS",
    "AwsTarget",
    "KinesisConfig",
    "SegmentConfig",
    "SinkConfig",
    "WebhookConfig",
    "as_dict",
    "from_dict",
    "issued_external_id",
    "parse",
    "role_account",
    "to_json",
]

SINK_TYPES = registry.NAMES
INITIAL_STATUS = {t.name: t.initial_status for t in registry.TYPES}


def as_dict(config: SinkConfig) -> dict[str, Any]:
    """Twilio's `sink_configuration` object for this configuration."""
    return config.as_dict()


def to_json(config: SinkConfig) -> str:
    return json.dumps(as_dict(config))


def from_dict(sink_type: str, config: Any) -> SinkConfig:
    kind = registry.get(sink_type)
    if not isinstance(config, dict) or not config:
        raise invalid("sink configuration must be a non-empty JSON object")
    return kind.parse(config)


def parse(sink_type: str, configuration_json: str) -> SinkConfig:
    """The typed, normalized configuration, or InvalidArgument 91000."""
    registry.get(sink_type)
    if not configuration_json.strip():
        raise invalid("sink configuration is empty")
    try:
        config = json.loads(configuration_json)
    except (ValueError, RecursionError) as exc:  # deep nesting is not a server error
        raise invalid("sink configuration is not valid JSON") from exc
    return from_dict(sink_type, config)
