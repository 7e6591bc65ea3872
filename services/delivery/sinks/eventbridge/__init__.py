"""The Amazon EventBridge sink: AssumeRole, then PutEvents with per-entry outcomes."""

from services.delivery.settings import Settings
from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.eventbridge.driver import EventBridgeDriver

__all__ = ["EventBridgeDriver", "driver"]


def driver(settings: Settings) -> EventBridgeDriver:
    return EventBridgeDriver(
        AwsOptions(
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.kinesis_timeout_seconds,
            threads=settings.kinesis_threads,
        )
    )
