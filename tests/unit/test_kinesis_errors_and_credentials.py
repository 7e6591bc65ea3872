"""Kinesis: botocore failures mapped to Twilio's classes by phase, and when to renew
assumed-role credentials — table-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from services.delivery.errors import DeliveryError
from services.delivery.sinks.aws import credentials
from services.delivery.sinks.kinesis.driver import session_name
from services.delivery.sinks.kinesis.errors import (
    AssumeRoleFailed,
    KinesisThroughputExceeded,
    KinesisWriteFailed,
    Phase,
    ShardCountFailed,
    StreamUnresolvable,
    from_exception,
)

pytestmark = pytest.mark.unit


THROUGHPUT = "ProvisionedThroughputExceededException"


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("phase", "exc", "kind", "code", "retryable"),
    [
        (Phase.ASSUME_ROLE, client_error("AccessDenied", 403), AssumeRoleFailed, 93102, True),
        (Phase.ASSUME_ROLE, NoCredentialsError(), AssumeRoleFailed, 93102, True),
        (Phase.ASSUME_ROLE, EndpointConnectionError(endpoint_url="http://x"), AssumeRoleFailed, 93102, True),
        (Phase.DESCRIBE, client_error("ResourceNotFoundException"), StreamUnresolvable, 93104, False),
        (Phase.DESCRIBE, client_error("InternalFailure", 500), ShardCountFailed, 93103, True),
        (Phase.DESCRIBE, client_error("LimitExceededException"), KinesisThroughputExceeded, 93101, True),
        (Phase.PUT, client_error("ResourceNotFoundException"), StreamUnresolvable, 93104, False),
        (Phase.PUT, client_error(THROUGHPUT), KinesisThroughputExceeded, 93101, True),
        (Phase.PUT, client_error("AccessDeniedException"), KinesisWriteFailed, 93101, True),
        (Phase.PUT, client_error("InternalFailure", 500), KinesisWriteFailed, 93101, True),
        (Phase.PUT, ReadTimeoutError(endpoint_url="http://x"), KinesisWriteFailed, 93101, True),
        (Phase.PUT, EndpointConnectionError(endpoint_url="http://x"), KinesisWriteFailed, 93101, True),
    ],
)
def test_from_exception(
    phase: Phase, exc: Exception, kind: type[DeliveryError], code: int, retryable: bool
) -> None:
    error = from_exception(phase, exc)
    assert type(error) is kind
    assert (error.code, error.retryable) == (code, retryable)
    assert phase.value in error.message


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expires", "due"),
    [
        (None, True),
        (NOW + timedelta(hours=1), False),
        (NOW + timedelta(minutes=5, seconds=1), False),
        (NOW + timedelta(minutes=5), True),
        (NOW - timedelta(seconds=1), True),
    ],
)
def test_credentials_are_renewed_five_minutes_before_they_expire(expires: datetime | None, due: bool) -> None:
    assert credentials.due(expires, NOW) is due


def test_role_session_name_names_the_sink_within_64_characters() -> None:
    assert session_name("DG" + "a" * 32) == "TwilioEventStreams-DG" + "a" * 32
    assert len(session_name("DG" + "a" * 80)) == 64
