"""The Amazon Kinesis sink: AssumeRole, then PutRecords with per-record outcomes."""

from services.delivery.settings import Settings
from services.delivery.sinks.kinesis.driver import KinesisDriver, KinesisOptions

__all__ = ["KinesisDriver", "KinesisOptions", "driver"]


def driver(settings: Settings) -> KinesisDriver:
    return KinesisDriver(
        KinesisOptions(
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.kinesis_timeout_seconds,
            threads=settings.kinesis_threads,
        )
    )
