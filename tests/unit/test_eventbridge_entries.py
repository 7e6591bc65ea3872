"""EventBridge entries, table-tested: Source, DetailType and Detail of an event, its size as
EventBridge counts it, and per-entry outcomes."""

from __future__ import annotations

import json

import pytest

from runtime.sids import AccountSid, EventId
from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.eventbridge import entries

pytestmark = pytest.mark.unit

ACCOUNT = AccountSid("AC" + "1" * 32)
BUS = "arn:aws:events:us-east-1:111122223333:event-bus/b"


def event(source: object = "/2010-04-01/Accounts/AC1", type_name: str = "com.example.happened") -> SinkEvent:
    payload = json.dumps({"id": "e1", "type": type_name, "source": source, "data": {}}).encode()
    return SinkEvent(EventId("e1"), type_name, ACCOUNT, payload)


def test_an_entry_is_the_cloudevent_under_its_type_and_source() -> None:
    sent = event()
    assert entries.entry(sent, BUS) == {
        "Source": "/2010-04-01/Accounts/AC1",
        "DetailType": "com.example.happened",
        "Detail": sent.payload.decode(),
        "EventBusName": BUS,
    }
    assert entries.size(sent) == len("/2010-04-01/Accounts/AC1") + len("com.example.happened") + len(
        sent.payload
    )


@pytest.mark.parametrize(
    ("source", "type_name"),
    [("aws.s3", "t"), ("s" * 257, "t"), ("ok", "t" * 129), (None, "t"), ("", "t")],
)
def test_values_eventbridge_would_refuse_are_replaced_stably(source: object, type_name: str) -> None:
    entry = entries.entry(event(source, type_name), BUS)
    assert 0 < len(entry["Source"]) <= 256 and not entry["Source"].startswith("aws.")
    assert 0 < len(entry["DetailType"]) <= 128
    assert entry == entries.entry(event(source, type_name), BUS)


def test_outcomes_by_entry_in_order() -> None:
    answer = {
        "FailedEntryCount": 4,
        "Entries": [
            {"EventId": "1"},
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"},
            {"ErrorCode": "MalformedDetail", "ErrorMessage": "bad"},
            {"ErrorCode": "AccessDeniedException", "ErrorMessage": "no"},
            {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"},
        ],
    }
    out = entries.outcomes(answer, 5)
    codes = [(o.error.code, o.error.retryable) if o.error else None for o in out]
    assert codes == [None, (91302, True), (91305, False), (91305, False), (91306, True)]
    assert all(o.error is not None and o.error.retryable for o in entries.outcomes({"Entries": []}, 2))
