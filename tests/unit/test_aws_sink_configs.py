"""The AWS sink types' configurations beyond Kinesis (SQS, SNS, EventBridge), table-tested:
what each takes, and each refusal (Twilio's 91000) naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from runtime.errors import InvalidArgument
from runtime.sink_configs import AwsTarget, from_dict
from runtime.sinks.eventbridge import EventBridgeConfig
from runtime.sinks.sns import SnsConfig
from runtime.sinks.sqs import SqsConfig

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::111122223333:role/EventStreams"
QUEUE = "arn:aws:sqs:us-east-1:111122223333:orders"
TOPIC = "arn:aws:sns:eu-west-1:111122223333:events.fifo"
BUS = "arn:aws:events:us-west-2:111122223333:event-bus/twilio"


def config(arn: str) -> dict[str, Any]:
    return {"arn": arn, "role_arn": ROLE, "external_id": " ext-1 "}


def test_each_type_takes_its_target() -> None:
    sqs = from_dict("sqs", config(QUEUE))
    assert isinstance(sqs, SqsConfig) and (sqs.queue_name, sqs.fifo, sqs.region) == (
        "orders",
        False,
        "us-east-1",
    )
    assert from_dict("sqs", config(QUEUE + ".fifo")).fifo  # type: ignore[attr-defined]
    sns = from_dict("sns", config(TOPIC))
    assert isinstance(sns, SnsConfig) and (sns.fifo, sns.region) == (True, "eu-west-1")
    bus = from_dict("eventbridge", config(BUS))
    assert isinstance(bus, EventBridgeConfig) and (bus.bus_name, bus.region) == ("twilio", "us-west-2")
    for made in (sqs, sns, bus):
        assert isinstance(made, AwsTarget) and made.external_id == "ext-1"  # control's trust check applies


@pytest.mark.parametrize(
    ("sink_type", "change", "fragment"),
    [
        ("sqs", {"arn": TOPIC}, "arn must be an SQS queue ARN"),
        ("sqs", {"arn": QUEUE + "!"}, "arn must be an SQS queue ARN"),
        ("sqs", {"arn": "arn:aws:sqs:us-east-1:111122223333:" + "q" * 81}, "arn must be an SQS queue ARN"),
        ("sqs", {"arn": ROLE}, "not an IAM role"),
        ("sqs", {"role_arn": QUEUE}, "role_arn must name the IAM role to assume, not an SQS queue"),
        ("sns", {"arn": QUEUE}, "arn must be an SNS topic ARN"),
        ("sns", {"role_arn": "arn:aws:iam::1:user/bob"}, "role_arn must be an IAM role ARN"),
        ("eventbridge", {"arn": "arn:aws:events:us-west-2:111122223333:rule/x"}, "EventBridge event bus ARN"),
        ("eventbridge", {"external_id": "x"}, "external_id must be 2 to 1224"),
        ("eventbridge", {"external_id": ""}, "external_id is empty"),
        ("sqs", {"queue_url": "https://sqs"}, "unknown configuration field(s): queue_url"),
    ],
)
def test_a_bad_configuration_names_its_field(sink_type: str, change: dict[str, str], fragment: str) -> None:
    target = {"sqs": QUEUE, "sns": TOPIC, "eventbridge": BUS}[sink_type]
    with pytest.raises(InvalidArgument) as refused:
        from_dict(sink_type, {**config(target), **change})
    assert refused.value.twilio_code == 91000 and fragment in refused.value.message, refused.value.message
