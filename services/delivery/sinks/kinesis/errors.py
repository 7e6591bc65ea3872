"""Kinesis's delivery errors, and botocore's failures as them by the phase they happened in,
in one place. Twilio's classes: AssumeRole errors retried (93102), shard-count errors retried
(93103), write errors retried (93101), a stream that cannot be resolved discarded and
recorded (93104)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import Enum

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from services.delivery.errors import DeliveryError, Permanent, Retryable


class KinesisWriteFailed(Retryable):
    code = 93101


class AssumeRoleFailed(Retryable):
    code = 93102


class KinesisThroughputExceeded(Retryable):
    """A record over its shard's write throughput: retried with backoff, the sink slowed."""

    code = 93101
    slows_sink = True
    asks_to_slow_down = True


class ShardCountFailed(Retryable):
    code = 93103


class StreamUnresolvable(Permanent):
    """The stream's name or region cannot be resolved: discarded, and recorded."""

    code = 93104


class Phase(Enum):
    ASSUME_ROLE = "AssumeRole"
    DESCRIBE = "DescribeStreamSummary"
    PUT = "PutRecords"


RETRYABLE = {
    Phase.ASSUME_ROLE: AssumeRoleFailed,
    Phase.DESCRIBE: ShardCountFailed,
    Phase.PUT: KinesisWriteFailed,
}
STREAM_NOT_FOUND = "ResourceNotFoundException"
THROTTLING = {"ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException"}


def from_exception(phase: Phase, exc: Exception) -> DeliveryError:
    retryable = RETRYABLE[phase]
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "error"
        text = f"{phase.value}: {code}: {error.get('Message', '')}".rstrip(": ")
        if phase is not Phase.ASSUME_ROLE and code == STREAM_NOT_FOUND:
            return StreamUnresolvable(f"the stream cannot be resolved ({text})")
        if code in THROTTLING:
            return KinesisThroughputExceeded(text)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return retryable(text, status=int(status) if status else None)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return AssumeRoleFailed(f"{phase.value}: no AWS credentials to call STS with ({exc})")
    return retryable(f"{phase.value}: {exc}")


@contextlib.contextmanager
def mapped(phase: Phase) -> Iterator[None]:
    try:
        yield
    except DeliveryError:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise from_exception(phase, exc) from exc
