"""What the delivery log keeps of a call (services/delivery/sinks/exchange.py) and how a
resend copy is marked (runtime/stream_codec.py): no credential is ever kept, a batch's
detail is written once, a resend is never replayed."""

from __future__ import annotations

import json

import pytest

from runtime import stream_codec
from runtime.sids import AccountSid, EventId
from runtime.stream_codec import StreamEvent, headers
from services.delivery.reads.records import detail_of, referred, stored_detail
from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.exchange import (
    BODY_BATCH,
    HIDDEN,
    MAX_RESPONSE_BODY,
    Exchange,
    header_pairs,
    shown_header,
    shown_url,
)
from services.delivery.sinks.kinesis import records

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://user:pw@example.com:8443/hook?a=1", "https://example.com:8443/hook?a=1"),
        ("https://user@example.com/hook", "https://example.com/hook"),
        ("https://example.com/h?token=abc&a=b%20c", f"https://example.com/h?token={HIDDEN}&a=b%20c"),
        (
            "https://example.com/h?api_key=k&sig=s&x=1",
            f"https://example.com/h?api_key={HIDDEN}&sig={HIDDEN}&x=1",
        ),
        ("https://example.com/h?Password=p", f"https://example.com/h?Password={HIDDEN}"),
        ("http://u:p@[::1]:8080/h", "http://[::1]:8080/h"),
        ("https://example.com/h#frag", "https://example.com/h"),
        ("http://[::1/h", HIDDEN),  # not a URL: nothing of it shown
    ],
)
def test_a_url_is_shown_without_its_credentials(url: str, shown: str) -> None:
    assert shown_url(url) == shown


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", "Basic dXNlcjpwdw==", HIDDEN),
        ("proxy-authorization", "x", HIDDEN),
        ("Cookie", "a=b", HIDDEN),
        ("X-Api-Key", "k", HIDDEN),
        ("X-Auth-Token", "t", HIDDEN),
        ("X-Twilio-Signature", "c2lnbmVk", "c2lnbmVk"),
        ("Content-Type", "application/json", "application/json"),
        ("X-Long", "v" * 1000, "v" * 256),
    ],
)
def test_a_header_is_shown_unless_it_is_a_credential(name: str, value: str, shown: str) -> None:
    assert shown_header(name, value) == shown


def test_header_lines_become_shown_pairs() -> None:
    lines = "User-Agent: evs\r\nAuthorization: Basic abc\r\nContent-Type: application/json\r\n"
    assert header_pairs(lines) == [
        ("User-Agent", "evs"),
        ("Authorization", HIDDEN),
        ("Content-Type", "application/json"),
    ]


def a_call(events: int = 3) -> Exchange:
    call = Exchange(
        "POST", "https://example.com/h?bodySHA256=ab", [("X-Twilio-Signature", "s")], BODY_BATCH, 99, events
    )
    call.status = 500
    call.response_headers = [(b"Set-Cookie", b"session=secret"), (b"X-A", b"1"), (b"X-A", b"2")]
    call.response_body = b"nope\x00" + b"x" * 5000
    return call


def test_a_calls_detail_is_kept_in_full_once_and_referred_to_by_its_other_attempts() -> None:
    call = a_call()
    first = json.loads(call.record("E1", 2))
    assert first["request"] == {
        "method": "POST",
        "url": "https://example.com/h?bodySHA256=ab",
        "headers": {"X-Twilio-Signature": "s"},
        "body": {"form": "batch", "bytes": 99, "events": 3},
    }
    response = first["response"]
    assert response["status"] == 500
    assert response["headers"] == {"Set-Cookie": HIDDEN, "X-A": "1, 2"}
    assert response["body"].startswith("nope\ufffd") and len(response["body"]) == MAX_RESPONSE_BODY
    second = json.loads(call.record("E2", 2))
    assert second == {"same_call_as": {"event_id": "E1", "attempt": 2}}
    # The same attempt written again (its write retried) is the one in full again.
    assert json.loads(call.record("E1", 2)) == first


def test_an_unanswered_call_has_no_response_and_each_event_its_own_result() -> None:
    call = Exchange(
        "PutRecords", "kinesis:arn", [], "records", 10, 2, results={"E1": "shard-1/42", "E2": "Err"}
    )
    assert json.loads(call.record("E1", 1))["response"] is None
    assert json.loads(call.record("E1", 1))["result"] == "shard-1/42"
    assert json.loads(call.record("E2", 1)) == {
        "same_call_as": {"event_id": "E1", "attempt": 1},
        "result": "Err",
    }


def test_the_detail_read_back_joins_the_call_and_the_attempts_own_result() -> None:
    call = Exchange("PutRecords", "kinesis:arn", [], "records", 10, 2, results={"E1": "a", "E2": "b"})
    full, reference = stored_detail(call.record("E1", 1)), stored_detail(call.record("E2", 1))
    assert referred(full) is None and referred(reference) == ("E1", 1)
    detail = detail_of(reference, full)
    assert (detail.request, detail.result) == (full["request"], "b")
    assert stored_detail(None) == {} and stored_detail("not json") == {} and stored_detail("[1]") == {}
    assert referred({"same_call_as": {"event_id": 1, "attempt": "x"}}) is None


def test_a_resend_copy_is_marked_new_and_never_replayed() -> None:
    original = headers(StreamEvent(EventId("EZ1"), "t", order_key="K"), "AC1:EZ1:DG1")
    copy = stream_codec.resend_copy(original, "RS1")
    assert copy[stream_codec.MSG_ID] == "AC1:EZ1:DG1:resend:RS1"
    read = stream_codec.decode(copy)
    assert (read.trigger, read.event_id, read.order_key, read.stored_at, read.delivered) == (
        "resend",
        "EZ1",
        "K",
        0.0,
        0,
    )
    assert stream_codec.replay_copy(copy, "RP1") is None
    # A parked resend is still a resend; a resend of a replay copy is a resend, not a copy of it.
    parked = stream_codec.parked_headers(copy, 1.5, 2, "park:x:1")
    assert stream_codec.decode(parked).trigger == "resend"
    replayed = stream_codec.replay_copy(original, "RP1")
    assert replayed is not None
    again = stream_codec.decode(stream_codec.resend_copy(replayed, "RS2"))
    assert (again.trigger, again.replay_sid) == ("resend", "")


def test_a_putrecords_call_keeps_each_records_result_not_its_data() -> None:
    events = [SinkEvent(EventId(f"EZ{i}"), "t", AccountSid("AC1"), b'{"secret-data":1}') for i in range(2)]
    answer = {
        "FailedRecordCount": 1,
        "Records": [
            {"ShardId": "shardId-000000000001", "SequenceNumber": "4960"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"},
        ],
    }
    call = records.call_of("arn:aws:kinesis:us-east-1:123:stream/s", events, answer)
    outcomes = records.outcomes(answer, 2, call)
    assert [o.exchange for o in outcomes] == [call, call] and outcomes[1].error is not None
    first, second = json.loads(call.record("EZ0", 1)), json.loads(call.record("EZ1", 1))
    assert first["request"]["method"] == "PutRecords" and first["request"]["body"]["events"] == 2
    assert first["response"]["body"] == '{"FailedRecordCount":1}'
    assert first["result"] == "shardId-000000000001/4960"
    assert second["result"] == "ProvisionedThroughputExceededException: slow down"
    assert "secret-data" not in json.dumps([first, second])


def test_a_detail_with_a_lone_surrogate_is_still_written() -> None:
    call = Exchange("POST", "https://example.com/h", [], "event", 1, 1, results={"E2": "\udc80"})
    assert json.loads(call.record("E\ud800", 1))["request"]["method"] == "POST"
    assert json.loads(call.record("E2", 1)) == {
        "same_call_as": {"event_id": "E\ud800", "attempt": 1},
        "result": "\udc80",
    }
