"""SNS messages, table-tested: entries for standard and FIFO topics, per-message outcomes
(XML's "true"/"false" SenderFault as botocore parses it)."""

from __future__ import annotations

import pytest

from runtime.sids import AccountSid, EventId
from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.sns import messages

pytestmark = pytest.mark.unit

ACCOUNT = AccountSid("AC" + "1" * 32)


def event(event_id: str, order_key: str = "") -> SinkEvent:
    return SinkEvent(EventId(event_id), "com.example", ACCOUNT, b'{"id":"x"}', order_key)


def test_standard_and_fifo_entries() -> None:
    assert messages.entries([event("e1")], fifo=False) == [{"Id": "0", "Message": '{"id":"x"}'}]
    assert messages.entries([event("e1"), event("e2", "k")], fifo=True) == [
        {"Id": "0", "Message": '{"id":"x"}', "MessageDeduplicationId": "e1", "MessageGroupId": ACCOUNT},
        {"Id": "1", "Message": '{"id":"x"}', "MessageDeduplicationId": "e2", "MessageGroupId": "k"},
    ]


def test_outcomes_by_entry() -> None:
    answer = {
        "Successful": [{"Id": "0", "MessageId": "m"}],
        "Failed": [
            {"Id": "1", "Code": "InvalidParameter", "Message": "bad", "SenderFault": True},
            {"Id": "2", "Code": "KMSThrottling", "Message": "slow", "SenderFault": False},
            {"Id": "3", "Code": "InternalError", "Message": "oops", "SenderFault": False},
        ],
    }
    out = messages.outcomes(answer, 4)
    codes = [(o.error.code, o.error.retryable) if o.error else None for o in out]
    assert codes == [None, (91305, False), (91302, True), (91306, True)]
