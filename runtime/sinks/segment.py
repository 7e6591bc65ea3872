"""The Segment sink type: track calls through Segment's HTTP Tracking API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runtime.sinks.base import ConfigFields, Field, SinkType, invalid, no_unknown_keys, require_string

# Segment write keys are short tokens; anything longer is a paste error, not a key.
MAX_WRITE_KEY_LENGTH = 256
WRITE_KEY_CHARS = re.compile(r"[A-Za-z0-9_.:-]+")


@dataclass(frozen=True)
class SegmentConfig(ConfigFields):
    write_key: str


def parse(config: dict[str, Any]) -> SegmentConfig:
    no_unknown_keys(config, {"write_key"})
    write_key = require_string(config, "write_key")
    if len(write_key) > MAX_WRITE_KEY_LENGTH:
        raise invalid(f"write_key is longer than {MAX_WRITE_KEY_LENGTH} characters")
    if not WRITE_KEY_CHARS.fullmatch(write_key):
        raise invalid("write_key may hold only letters, digits and _.:-")
    return SegmentConfig(write_key=write_key)


TYPE = SinkType(
    name="segment",
    title="Segment",
    summary="Track calls into a Segment source, by its write key",
    parse=parse,
    fields=(Field("write_key", "The write key of the Segment source events go to"),),
    initial_status="initialized",
    driver="services.delivery.sinks.segment",
    docs="sinks/segment.md",
    limits={"max_events": 1000, "max_call_bytes": 500 * 1024, "max_event_bytes": 32 * 1024},
)
