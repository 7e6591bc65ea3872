"""SQS messages and the AWS sinks' error mapping, table-tested: entries for standard and FIFO
queues, per-message outcomes, and botocore's failures as delivery errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from runtime.sids import AccountSid, EventId
from services.delivery.sinks.aws import batches
from services.delivery.sinks.aws.errors import from_exception
from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.sqs import messages

pytestmark = pytest.mark.unit

ACCOUNT = AccountSid("AC" + "1" * 32)


def event(event_id: str, order_key: str = "") -> SinkEvent:
    return SinkEvent(EventId(event_id), "com.example", ACCOUNT, b'{"id":"x"}', order_key)


def test_a_standard_queue_entry_is_the_body_alone() -> None:
    assert messages.entries([event("e1"), event("e2", "k")], fifo=False) == [
        {"Id": "0", "MessageBody": '{"id":"x"}'},
        {"Id": "1", "MessageBody": '{"id":"x"}'},
    ]


@pytest.mark.parametrize(
    ("event_id", "order_key", "group", "dedup"),
    [
        ("e1", "", ACCOUNT, "e1"),
        ("e1", "customer-42", "customer-42", "e1"),
        ("x" * 129, "", ACCOUNT, None),  # too long: hashed
        ("e 1", "kü", None, None),  # a space, a non-ASCII letter: hashed
    ],
)
def test_a_fifo_entry_groups_and_deduplicates(
    event_id: str, order_key: str, group: str | None, dedup: str | None
) -> None:
    [entry] = messages.entries([event(event_id, order_key)], fifo=True)
    assert entry["MessageGroupId"] == (group or batches.stable_id(order_key))
    assert entry["MessageDeduplicationId"] == (dedup or batches.stable_id(event_id))
    assert len(entry["MessageGroupId"]) <= 128 and len(entry["MessageDeduplicationId"]) <= 128
    assert batches.ID_CHARS.fullmatch(entry["MessageDeduplicationId"])


def test_outcomes_by_entry() -> None:
    answer: dict[str, Any] = {
        "Successful": [{"Id": "0"}, {"Id": "3"}],
        "Failed": [
            {"Id": "1", "SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad"},
            {"Id": "2", "SenderFault": False, "Code": "RequestThrottled", "Message": "slow"},
            {"Id": "4", "SenderFault": False, "Code": "InternalError", "Message": "oops"},
        ],
    }
    out = messages.outcomes(answer, 6)
    assert [o.delivered for o in out] == [True, False, False, True, False, False]
    codes = [(o.error.code, o.error.retryable, o.error.slows_sink) if o.error else None for o in out]
    assert codes == [
        None,
        (91305, False, False),  # the sender's fault: a dead letter
        (91302, True, True),  # throttled
        None,
        (91306, True, True),
        (91306, True, True),  # not answered for: tried again
    ]


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Call")


@pytest.mark.parametrize(
    ("exc", "assuming", "code", "retryable"),
    [
        (client_error("RequestThrottled", 400), False, 91302, True),
        (client_error("ThrottlingException", 400), False, 91302, True),
        (client_error("Anything", 429), False, 91302, True),
        (client_error("QueueDoesNotExist", 400), False, 91305, False),
        (client_error("AWS.SimpleQueueService.NonExistentQueue", 400), False, 91305, False),
        (client_error("AccessDenied", 403), False, 91305, False),
        (client_error("KMS.AccessDeniedException", 400), False, 91305, False),
        (client_error("ResourceNotFoundException", 400), False, 91305, False),
        (client_error("AccessDenied", 403), True, 91300, True),  # a role not (yet) assumable
        (client_error("InternalError", 500), False, 91306, True),
        (client_error("InvalidParameterValue", 400), False, 91300, True),
        (EndpointConnectionError(endpoint_url="http://x"), False, 91307, True),
        (ReadTimeoutError(endpoint_url="http://x"), False, 91308, True),
        (NoCredentialsError(), True, 91300, True),
    ],
)
def test_aws_failures_by_class(exc: Exception, assuming: bool, code: int, retryable: bool) -> None:
    error = from_exception("Call", exc, assuming)
    assert (error.code, error.retryable) == (code, retryable)
