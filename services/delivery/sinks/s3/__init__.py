"""The Amazon S3 sink: an archive of newline-delimited CloudEvents objects, by type and date."""

from services.delivery.settings import Settings
from services.delivery.sinks.aws.clients import AwsOptions
from services.delivery.sinks.s3.driver import S3Driver

__all__ = ["S3Driver", "driver"]


def driver(settings: Settings) -> S3Driver:
    return S3Driver(
        AwsOptions(
            endpoint_url=settings.aws_endpoint_url or None,
            timeout_seconds=settings.kinesis_timeout_seconds,
            threads=settings.kinesis_threads,
        ),
        flush_seconds=settings.s3_flush_seconds,
    )
