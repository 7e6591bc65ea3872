"""botocore's failures as delivery errors for the AWS sinks other than Kinesis (whose classes
carry Twilio's Kinesis codes): in one place, by what the failure means.

- throttled (the service, or the KMS key behind the target) → retried, the sink slowed (91302);
- the target gone, or the role not allowed to write to it → a dead letter, recorded (91305):
  retrying cannot help until the tenant fixes it, and every event would wait out the window;
- the role not assumable (a trust policy not yet made) → retried (91300), as Kinesis does;
- AWS's own failures → retried, the sink slowed (91306); no connection → 91307; no answer in
  time → 91308."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from services.delivery.errors import (
    ConnectFailed,
    DeliveryError,
    Permanent,
    Retryable,
    ServerError,
    Throttled,
    TimedOut,
)


class RoleNotAssumed(Retryable):
    """STS would not let the platform assume the tenant's role (yet)."""

    code = 91300


class TargetRefused(Permanent):
    """The queue, topic, bus or bucket does not exist, or the role may not write to it."""

    code = 91305


class EntryRefused(Permanent):
    """The service refused this one entry of a batch as malformed (the sender's fault)."""

    code = 91305


THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "SlowDown",
        "KmsThrottled",
        "KMSThrottling",
        "KMSThrottlingException",
        "KMS.ThrottlingException",
        "AWS.SimpleQueueService.RequestThrottled",
        "ProvisionedThroughputExceededException",
    }
)
REFUSED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "InvalidClientTokenId",
        "KmsAccessDenied",
        "KMS.AccessDeniedException",
        "KMSAccessDeniedException",
        "KMSDisabledException",
        "KMSAccessDenied",
        "KMSDisabled",
        "KMSNotFound",
        "KMSInvalidState",
        "KMS.DisabledException",
        "NotFound",
        "NotFoundException",
        "ResourceNotFoundException",
        "NoSuchBucket",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "InvalidAddress",
    }
)


def code_of(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")) or "error"


def from_exception(action: str, exc: Exception, assuming: bool = False) -> DeliveryError:
    """`action` names the call (AssumeRole, SendMessageBatch, …) in the message."""
    if isinstance(exc, ClientError):
        code = code_of(exc)
        error = exc.response.get("Error", {})
        text = f"{action}: {code}: {error.get('Message', '')}".rstrip(": ")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in THROTTLING or status == 429:
            return Throttled(text, status=status)
        if assuming:
            return RoleNotAssumed(text, status=status)
        if code in REFUSED:
            return TargetRefused(text, status=status)
        if status is not None and int(status) < 500:
            return Retryable(text, status=int(status))
        return ServerError(text, status=int(status) if status else None)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return RoleNotAssumed(f"{action}: no AWS credentials to call STS with ({exc})")
    if isinstance(exc, (ReadTimeoutError, ConnectTimeoutError)):
        return TimedOut(f"{action}: {exc}")
    if isinstance(exc, EndpointConnectionError):
        return ConnectFailed(f"{action}: {exc}")
    return Retryable(f"{action}: {exc}")


@contextlib.contextmanager
def mapped(action: str, assuming: bool = False) -> Iterator[None]:
    try:
        yield
    except DeliveryError:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise from_exception(action, exc, assuming) from exc
