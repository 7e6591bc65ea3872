"""The Amazon Kinesis sink: AssumeRole, then PutRecords with per-record outcomes."""

from services.delivery.sinks.kinesis.driver import KinesisDriver, KinesisOptions

__all__ = ["KinesisDriver", "KinesisOptions"]
