"""S3 archive objects and configuration, table-tested: lines, keys by type and date, and
what an S3 sink's configuration takes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from runtime.errors import InvalidArgument
from runtime.sids import AccountSid, EventId
from runtime.sink_configs import from_dict
from runtime.sinks.s3 import S3Config
from services.delivery.sinks.base import SinkEvent
from services.delivery.sinks.s3 import objects

pytestmark = pytest.mark.unit

ACCOUNT = AccountSid("AC" + "1" * 32)
ROLE = "arn:aws:iam::111122223333:role/EventStreams"
S3 = {"arn": "arn:aws:s3:::my-archive", "region": "eu-west-2", "role_arn": ROLE, "external_id": "ext-1"}


def event(payload: bytes, type_name: str = "com.example.a") -> SinkEvent:
    return SinkEvent(EventId("e1"), type_name, ACCOUNT, payload)


def test_a_line_is_one_compact_cloudevent() -> None:
    assert objects.line(event(b'{"id":"e1"}')) == b'{"id":"e1"}'
    pretty = json.dumps({"id": "e1", "data": {"a": 1}}, indent=2).encode()
    assert objects.line(event(pretty)) == b'{"id":"e1","data":{"a":1}}'
    assert objects.size(event(b'{"id":"e1"}')) == len(b'{"id":"e1"}\n')
    assert objects.body([event(b"{}"), event(b"[]")]) == b"{}\n[]\n"


@pytest.mark.parametrize(
    ("prefix", "type_name", "expected"),
    [
        ("", "com.example.a", "type=com.example.a/date=2026-12-07/101112-DGx-n.ndjson"),
        ("twilio/", "com.example.a", "twilio/type=com.example.a/date=2026-12-07/101112-DGx-n.ndjson"),
        ("", "a/b c", None),  # not a safe key segment: hashed, the same every time
    ],
)
def test_keys_by_type_and_date(prefix: str, type_name: str, expected: str | None) -> None:
    at = datetime(2026, 12, 7, 10, 11, 12, tzinfo=UTC)
    key = objects.key(prefix, type_name, at, "DGx", "n")
    if expected is None:
        assert key.startswith("type=other-") and key == objects.key(prefix, type_name, at, "DGx", "n")
        assert "/" not in key.split("/date=")[0].removeprefix("type=")
    else:
        assert key == expected


def test_events_grouped_by_type_in_order() -> None:
    events = [event(b"{}", "a"), event(b"{}", "b"), event(b"{}", "a")]
    assert objects.by_type(events) == {"a": [0, 2], "b": [1]}


def test_an_s3_configuration() -> None:
    config = from_dict("s3", {**S3, "prefix": "twilio"})
    assert isinstance(config, S3Config)
    assert (config.bucket, config.region, config.prefix) == ("my-archive", "eu-west-2", "twilio/")
    assert from_dict("s3", S3).as_dict() == {**S3, "prefix": ""}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"arn": "arn:aws:s3:::Bad_Bucket"}, "arn must be an S3 bucket ARN"),
        ({"arn": ROLE}, "arn must name an S3 bucket, not an IAM role"),
        ({"region": ""}, "region is empty"),
        ({"region": "mars"}, "region must be"),
        ({"prefix": "/abs"}, "prefix may hold"),
        ({"prefix": "a b"}, "prefix may hold"),
        ({"role_arn": "arn:aws:s3:::my-archive"}, "role_arn must name the IAM role"),
        ({"bucket": "x"}, "unknown configuration field(s): bucket"),
    ],
)
def test_a_bad_s3_configuration_names_its_field(change: dict[str, str], fragment: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        from_dict("s3", {**S3, **change})
    assert refused.value.twilio_code == 91000 and fragment in refused.value.message
