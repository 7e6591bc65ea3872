"""The Amazon Kinesis sink type: PutRecords into the tenant's stream under an assumed role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.sinks import aws
from runtime.sinks.base import Field, SinkType, invalid, no_unknown_keys, require_string

KINESIS_STREAM_ARN = aws.target_arn("kinesis", r"stream/(?P<name>[A-Za-z0-9_.-]{1,128})")


@dataclass(frozen=True)
class KinesisConfig(aws.AwsTarget):
    @property
    def stream_name(self) -> str:
        return self.resource.removeprefix("stream/")


def parse(config: dict[str, Any]) -> KinesisConfig:
    no_unknown_keys(config, {"arn", "role_arn", "external_id"})
    arn = require_string(config, "arn")
    if aws.IAM_ROLE_ARN.fullmatch(arn):
        raise invalid("arn must name the Kinesis stream, not an IAM role (the role goes in role_arn)")
    if KINESIS_STREAM_ARN.fullmatch(arn) is None:
        raise invalid("arn must be a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)")
    role_arn, external_id = aws.role_and_external_id(config, KINESIS_STREAM_ARN, "a Kinesis stream")
    return KinesisConfig(arn=arn, role_arn=role_arn, external_id=external_id)


TYPE = SinkType(
    name="kinesis",
    title="Amazon Kinesis",
    summary="PutRecords into a Kinesis data stream of yours, under an IAM role you let us assume",
    parse=parse,
    fields=(
        Field("arn", "The stream's ARN", example="arn:aws:kinesis:us-east-1:111122223333:stream/events"),
        *aws.ROLE_FIELDS,
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.kinesis",
    docs="sinks/kinesis.md",
    limits={"max_events": 500, "max_call_bytes": 5 * 1024 * 1024, "max_event_bytes": 1024 * 1024},
    assumes_role=True,
)
