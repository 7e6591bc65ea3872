"""The Amazon SNS sink: AssumeRole, then PublishBatch with per-message outcomes."""

from services.delivery.settings import Settings
from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.sns.driver import SnsDriver

__all__ = ["SnsDriver", "driver"]


def driver(settings: Settings) -> SnsDriver:
    return SnsDriver(
        AwsOptions(
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.kinesis_timeout_seconds,
            threads=settings.kinesis_threads,
        )
    )
