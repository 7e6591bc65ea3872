"""The sink types this deployment offers: one line each. Control, the gateway, `evs`, the
docs and the delivery worker all read the list from here."""

from __future__ import annotations

from runtime.sinks import eventbridge, kafka, kinesis, nats, rabbitmq, s3, segment, sns, sqs, webhook
from runtime.sinks.base import SinkType, invalid

TYPES: tuple[SinkType, ...] = (
    webhook.TYPE,
    kinesis.TYPE,
    segment.TYPE,
    sqs.TYPE,
    eventbridge.TYPE,
    sns.TYPE,
    s3.TYPE,
    rabbitmq.TYPE,
    nats.TYPE,
    kafka.TYPE,
)
BY_NAME = {t.name: t for t in TYPES}
NAMES = tuple(BY_NAME)


def get(name: str) -> SinkType:
    """The sink type called `name`, or InvalidArgument 91000 naming the ones there are."""
    found = BY_NAME.get(name)
    if found is None:
        raise invalid(f"sink type must be one of {', '.join(NAMES)}")
    return found


def find(name: str) -> SinkType | None:
    return BY_NAME.get(name)
