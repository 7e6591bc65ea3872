"""The Amazon EventBridge sink type: PutEvents onto the tenant's event bus under an assumed
role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.sinks import aws
from runtime.sinks.base import Field, SinkType, no_unknown_keys

EVENT_BUS_ARN = aws.target_arn("events", r"event-bus/(?P<name>[/.\-_A-Za-z0-9]{1,256})")
MAX_ENTRIES_PER_CALL = 10
MAX_BYTES = 256 * 1024  # one PutEvents call's entries together, and so one entry


@dataclass(frozen=True)
class EventBridgeConfig(aws.AwsTarget):
    @property
    def bus_name(self) -> str:
        return self.resource.removeprefix("event-bus/")


def parse(config: dict[str, Any]) -> EventBridgeConfig:
    no_unknown_keys(config, {"arn", "role_arn", "external_id"})
    what = "an EventBridge event bus"
    arn = aws.target(config, EVENT_BUS_ARN, what, "arn:aws:events:<region>:<account>:event-bus/<name>")
    role_arn, external_id = aws.role_and_external_id(config, EVENT_BUS_ARN, what)
    return EventBridgeConfig(arn=arn, role_arn=role_arn, external_id=external_id)


TYPE = SinkType(
    name="eventbridge",
    title="Amazon EventBridge",
    summary="PutEvents onto an EventBridge event bus of yours (DetailType = the event type, "
    "Source = the CloudEvent source), under an IAM role you let us assume",
    parse=parse,
    fields=(
        Field(
            "arn",
            "The event bus's ARN",
            example="arn:aws:events:us-east-1:111122223333:event-bus/twilio",
        ),
        *aws.ROLE_FIELDS,
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.eventbridge",
    docs="sinks/eventbridge.md",
    limits={"max_events": MAX_ENTRIES_PER_CALL, "max_call_bytes": MAX_BYTES, "max_event_bytes": MAX_BYTES},
    assumes_role=True,
)
