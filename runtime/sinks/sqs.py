"""The Amazon SQS sink type: SendMessageBatch into the tenant's queue, standard or FIFO,
under an assumed role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.sinks import aws
from runtime.sinks.base import Field, SinkType, no_unknown_keys

# A queue's name: up to 80 letters, digits, - and _, a FIFO queue's ending in ".fifo".
SQS_QUEUE_ARN = aws.target_arn("sqs", r"(?P<name>[A-Za-z0-9_-]{1,75}(?:\.fifo)?|[A-Za-z0-9_-]{76,80})")
MAX_MESSAGES_PER_CALL = 10
MAX_BYTES = 256 * 1024  # a message, and one SendMessageBatch call's messages together


@dataclass(frozen=True)
class SqsConfig(aws.AwsTarget):
    @property
    def queue_name(self) -> str:
        return self.resource

    @property
    def fifo(self) -> bool:
        return self.queue_name.endswith(".fifo")


def parse(config: dict[str, Any]) -> SqsConfig:
    no_unknown_keys(config, {"arn", "role_arn", "external_id"})
    arn = aws.target(config, SQS_QUEUE_ARN, "an SQS queue", "arn:aws:sqs:<region>:<account>:<queue name>")
    role_arn, external_id = aws.role_and_external_id(config, SQS_QUEUE_ARN, "an SQS queue")
    return SqsConfig(arn=arn, role_arn=role_arn, external_id=external_id)


TYPE = SinkType(
    name="sqs",
    title="Amazon SQS",
    summary="SendMessageBatch into an SQS queue of yours (standard or FIFO), under an IAM role "
    "you let us assume",
    parse=parse,
    fields=(
        Field(
            "arn",
            "The queue's ARN (a FIFO queue's name ends in .fifo)",
            example="arn:aws:sqs:us-east-1:111122223333:events",
        ),
        *aws.ROLE_FIELDS,
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.sqs",
    docs="sinks/sqs.md",
    limits={"max_events": MAX_MESSAGES_PER_CALL, "max_call_bytes": MAX_BYTES, "max_event_bytes": MAX_BYTES},
    assumes_role=True,
)
