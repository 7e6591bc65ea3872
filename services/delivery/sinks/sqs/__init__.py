"""The Amazon SQS sink: AssumeRole, then SendMessageBatch with per-message outcomes."""

from services.delivery.settings import Settings
from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.sqs.driver import SqsDriver

__all__ = ["SqsDriver", "driver"]


def driver(settings: Settings) -> SqsDriver:
    return SqsDriver(
        AwsOptions(
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.kinesis_timeout_seconds,
            threads=settings.kinesis_threads,
        )
    )
