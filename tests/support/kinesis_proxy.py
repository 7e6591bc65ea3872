"""The fault-injecting proxy in front of moto, under the name the Kinesis tests know it by
(its faults apply to PutRecords unless told another action): `tests/support/aws_proxy.py`."""

from tests.support.aws_proxy import ERRORS, PUT_RECORDS, AwsProxy

KinesisProxy = AwsProxy

__all__ = ["ERRORS", "PUT_RECORDS", "KinesisProxy"]
