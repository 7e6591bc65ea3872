"""The Amazon SNS sink type: PublishBatch to the tenant's topic, standard or FIFO, under an
assumed role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.sinks import aws
from runtime.sinks.base import Field, SinkType, no_unknown_keys

# A topic's name: up to 256 letters, digits, - and _, a FIFO topic's ending in ".fifo".
SNS_TOPIC_ARN = aws.target_arn("sns", r"(?P<name>[A-Za-z0-9_-]{1,251}(?:\.fifo)?|[A-Za-z0-9_-]{252,256})")
MAX_MESSAGES_PER_CALL = 10
MAX_BYTES = 256 * 1024  # a message, and one PublishBatch call's messages together


@dataclass(frozen=True)
class SnsConfig(aws.AwsTarget):
    @property
    def fifo(self) -> bool:
        return self.resource.endswith(".fifo")


def parse(config: dict[str, Any]) -> SnsConfig:
    no_unknown_keys(config, {"arn", "role_arn", "external_id"})
    arn = aws.target(config, SNS_TOPIC_ARN, "an SNS topic", "arn:aws:sns:<region>:<account>:<topic name>")
    role_arn, external_id = aws.role_and_external_id(config, SNS_TOPIC_ARN, "an SNS topic")
    return SnsConfig(arn=arn, role_arn=role_arn, external_id=external_id)


TYPE = SinkType(
    name="sns",
    title="Amazon SNS",
    summary="PublishBatch to an SNS topic of yours (standard or FIFO), under an IAM role you let us assume",
    parse=parse,
    fields=(
        Field(
            "arn",
            "The topic's ARN (a FIFO topic's name ends in .fifo)",
            example="arn:aws:sns:us-east-1:111122223333:events",
        ),
        *aws.ROLE_FIELDS,
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.sns",
    docs="sinks/sns.md",
    limits={"max_events": MAX_MESSAGES_PER_CALL, "max_call_bytes": MAX_BYTES, "max_event_bytes": MAX_BYTES},
    assumes_role=True,
)
