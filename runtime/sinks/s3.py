"""The Amazon S3 sink type: an archive — newline-delimited CloudEvents objects in the
tenant's bucket, keyed by event type and date, under an assumed role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runtime.sinks import aws
from runtime.sinks.base import Field, SinkType, invalid, no_unknown_keys, optional_string, require_string

S3_BUCKET_ARN = re.compile(r"arn:(?P<partition>aws[a-z-]*):s3:::(?P<name>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d")
# A key prefix: what S3 keys allow, without the characters AWS advises against in keys.
PREFIX_CHARS = re.compile(r"[A-Za-z0-9!_.*'()/=-]{0,512}")
MAX_EVENTS_PER_CALL = 1000
MAX_CALL_BYTES = 5 * 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024  # the stream's own limit: anything that reaches a worker
FLUSH_BYTES = 8 * 1024 * 1024  # an object is written once this much is held, or at the flush age


@dataclass(frozen=True)
class S3Config(aws.AwsTarget):
    # A bucket's ARN names no region: the configuration does.
    region: str = ""
    prefix: str = ""

    @property
    def bucket(self) -> str:
        return self.arn.split(":::", 1)[1]


def parse(config: dict[str, Any]) -> S3Config:
    no_unknown_keys(config, {"arn", "role_arn", "external_id", "region", "prefix"})
    arn = aws.target(config, S3_BUCKET_ARN, "an S3 bucket", "arn:aws:s3:::<bucket name>")
    role_arn, external_id = aws.role_and_external_id(config, S3_BUCKET_ARN, "an S3 bucket")
    region = require_string(config, "region")
    if not REGION.fullmatch(region):
        raise invalid("region must be the bucket's AWS region (us-east-1, eu-west-2, …)")
    prefix = optional_string(config, "prefix")
    if not PREFIX_CHARS.fullmatch(prefix) or prefix.startswith("/") or "//" in prefix:
        raise invalid("prefix may hold only letters, digits and !_.*'()/=- (at most 512, no leading /)")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return S3Config(arn=arn, role_arn=role_arn, external_id=external_id, region=region, prefix=prefix)


TYPE = SinkType(
    name="s3",
    title="Amazon S3",
    summary="An archive: newline-delimited CloudEvents objects in an S3 bucket of yours, keyed by "
    "event type and date, under an IAM role you let us assume",
    parse=parse,
    fields=(
        Field("arn", "The bucket's ARN", example="arn:aws:s3:::my-twilio-archive"),
        Field("region", "The bucket's AWS region", example="us-east-1"),
        *aws.ROLE_FIELDS,
        Field(
            "prefix", "Where in the bucket the objects go (a key prefix)", required=False, example="twilio/"
        ),
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.s3",
    docs="sinks/s3.md",
    limits={
        "max_events": MAX_EVENTS_PER_CALL,
        "max_call_bytes": MAX_CALL_BYTES,
        "max_event_bytes": MAX_EVENT_BYTES,
    },
    assumes_role=True,
)
