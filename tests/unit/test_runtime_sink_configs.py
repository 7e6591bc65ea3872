"""Unit tests for runtime.sink_configs: sink configuration rules (Twilio 91000)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runtime import sink_configs
from runtime.errors import InvalidArgument
from runtime.sink_configs import (
    INITIAL_STATUS,
    MAX_DESTINATION_LENGTH,
    SINK_TYPES,
    KinesisConfig,
    as_dict,
    parse,
)

pytestmark = pytest.mark.unit

STREAM_ARN = "arn:aws:kinesis:us-east-1:111122223333:stream/my-stream"
ROLE_ARN = "arn:aws:iam::111122223333:role/EventStreamsRole"
KINESIS = {"arn": STREAM_ARN, "role_arn": ROLE_ARN, "external_id": "ext-123"}
WEBHOOK = {"destination": "https://example.com/hook", "method": "POST"}


def _json(config: Any) -> str:
    return json.dumps(config)


@pytest.mark.parametrize(
    ("sink_type", "config", "expected"),
    [
        pytest.param(
            "webhook",
            WEBHOOK,
            {"destination": "https://example.com/hook", "method": "POST", "batch_events": False},
            id="webhook-default-batch",
        ),
        pytest.param(
            "webhook",
            {"destination": "http://example.com:8080/a?b=c", "method": "GET", "batch_events": True},
            {"destination": "http://example.com:8080/a?b=c", "method": "GET", "batch_events": True},
            id="webhook-get-batch",
        ),
        pytest.param(
            "webhook",
            {**WEBHOOK, "batch_events": "true"},
            {**WEBHOOK, "batch_events": True},
            id="webhook-batch-string-true",
        ),
        pytest.param(
            "webhook",
            {**WEBHOOK, "batch_events": "FALSE"},
            {**WEBHOOK, "batch_events": False},
            id="webhook-batch-string-false",
        ),
        pytest.param(
            "webhook",
            {"destination": "  https://example.com/hook  ", "method": " post "},
            {"destination": "https://example.com/hook", "method": "post", "batch_events": False},
            id="webhook-stripped",
        ),
        pytest.param(
            "webhook",
            {"destination": "https://user:pw@[2001:db8::1]:8443/x", "method": "POST"},
            {"destination": "https://user:pw@[2001:db8::1]:8443/x", "method": "POST", "batch_events": False},
            id="webhook-ipv6-credentials",
        ),
        pytest.param("kinesis", KINESIS, KINESIS, id="kinesis"),
        pytest.param(
            "kinesis",
            {
                "arn": "arn:aws-us-gov:kinesis:us-gov-west-1:111122223333:stream/a.b_c-d",
                "role_arn": "arn:aws-us-gov:iam::111122223333:role/path/to/Role+x=y,z.w@v",
                "external_id": " ex ",
            },
            {
                "arn": "arn:aws-us-gov:kinesis:us-gov-west-1:111122223333:stream/a.b_c-d",
                "role_arn": "arn:aws-us-gov:iam::111122223333:role/path/to/Role+x=y,z.w@v",
                "external_id": "ex",
            },
            id="kinesis-govcloud",
        ),
        pytest.param("segment", {"write_key": "wk_123"}, {"write_key": "wk_123"}, id="segment"),
    ],
)
def test_parse_valid(sink_type: str, config: dict[str, Any], expected: dict[str, Any]) -> None:
    assert as_dict(parse(sink_type, _json(config))) == expected


BAD: list[Any] = [
    pytest.param("sms", _json(WEBHOOK), "sink type", id="unknown-type"),
    pytest.param("email", _json(WEBHOOK), "sink type", id="email-type"),
    pytest.param("Webhook", _json(WEBHOOK), "sink type", id="type-case-sensitive"),
    pytest.param("", _json(WEBHOOK), "sink type", id="empty-type"),
    pytest.param("webhook", "", "empty", id="empty-string"),
    pytest.param("webhook", "   \n", "empty", id="blank-string"),
    pytest.param("webhook", "{not json", "not valid JSON", id="malformed-json"),
    pytest.param("webhook", '{"destination": "https://e.com",}', "not valid JSON", id="trailing-comma"),
    pytest.param("webhook", _json([WEBHOOK]), "non-empty JSON object", id="json-array"),
    pytest.param("webhook", '"https://e.com"', "non-empty JSON object", id="json-string"),
    pytest.param("webhook", "null", "non-empty JSON object", id="json-null"),
    pytest.param("webhook", "{}", "non-empty JSON object", id="empty-object"),
    pytest.param("webhook", _json({"method": "POST"}), "destination is empty", id="missing-destination"),
    pytest.param(
        "webhook", _json({**WEBHOOK, "destination": " "}), "destination is empty", id="blank-destination"
    ),
    pytest.param(
        "webhook", _json({**WEBHOOK, "destination": 42}), "destination must be a string", id="int-dest"
    ),
    pytest.param("webhook", _json({"destination": "https://e.com"}), "method is empty", id="missing-method"),
    pytest.param("webhook", _json({**WEBHOOK, "destination": "e.com/hook"}), "http(s) URL", id="no-scheme"),
    pytest.param("webhook", _json({**WEBHOOK, "destination": "ftp://e.com/x"}), "http(s) URL", id="ftp"),
    pytest.param(
        "webhook", _json({**WEBHOOK, "destination": "file:///etc/passwd"}), "http(s) URL", id="file"
    ),
    pytest.param("webhook", _json({**WEBHOOK, "destination": "https:///path"}), "http(s) URL", id="no-host"),
    pytest.param(
        "webhook", _json({**WEBHOOK, "destination": "https://e.com/x#f"}), "fragment", id="fragment"
    ),
    pytest.param(
        "webhook",
        _json({**WEBHOOK, "destination": "https://e.com/" + "a" * MAX_DESTINATION_LENGTH}),
        "too long",
        id="too-long",
    ),
    pytest.param("webhook", _json({**WEBHOOK, "method": "PUT"}), "POST or GET", id="method-put"),
    pytest.param("webhook", _json({**WEBHOOK, "method": 1}), "method must be a string", id="method-int"),
    pytest.param("webhook", _json({**WEBHOOK, "batch_events": "maybe"}), "batch_events", id="batch-maybe"),
    pytest.param("webhook", _json({**WEBHOOK, "batch_events": 1}), "batch_events", id="batch-int"),
    pytest.param("webhook", _json({**WEBHOOK, "batch_events": None}), "batch_events", id="batch-null"),
    pytest.param(
        "webhook", _json({**WEBHOOK, "retries": 3}), "unknown configuration field(s): retries", id="unk"
    ),
    pytest.param("segment", _json({"write_key": "k", "b": 1, "a": 2}), "field(s): a, b", id="unknown-sorted"),
    pytest.param(
        "kinesis", _json({**KINESIS, "arn": "arn:aws:sqs:us-east-1:111122223333:q"}), "arn must", id="arn"
    ),
    pytest.param(
        "kinesis",
        _json({**KINESIS, "arn": "arn:aws:kinesis:us-east-1:1234567890123:stream/s"}),
        "arn must",
        id="arn-long-account",
    ),
    pytest.param("kinesis", _json({**KINESIS, "arn": STREAM_ARN + " x"}), "arn must", id="arn-trailing-junk"),
    pytest.param("kinesis", _json({**KINESIS, "role_arn": STREAM_ARN}), "role_arn must", id="role-arn-wrong"),
    pytest.param(
        "kinesis",
        _json({**KINESIS, "role_arn": "arn:aws:iam::111122223333:user/bob"}),
        "role_arn must",
        id="role-arn-user",
    ),
    pytest.param(
        "kinesis", _json({k: v for k, v in KINESIS.items() if k != "arn"}), "arn is empty", id="no-arn"
    ),
    pytest.param(
        "kinesis",
        _json({k: v for k, v in KINESIS.items() if k != "external_id"}),
        "external_id is empty",
        id="missing-external-id",
    ),
    pytest.param(
        "kinesis", _json({**KINESIS, "external_id": ""}), "external_id is empty", id="empty-external-id"
    ),
    pytest.param("segment", _json({"write_key": ""}), "write_key is empty", id="empty-write-key"),
    pytest.param(
        "segment", _json({"other": "x"}), "unknown configuration field", id="missing-write-key-unknown"
    ),
    pytest.param("kinesis", _json(WEBHOOK), "unknown configuration field", id="webhook-config-for-kinesis"),
    pytest.param(
        "kinesis", _json({**KINESIS, "arn": ROLE_ARN}), "arn must name the Kinesis", id="role-as-arn"
    ),
    pytest.param(
        "kinesis", _json({**KINESIS, "arn": "arn:aws:kinesis:nowhere:1:stream/s"}), "arn must", id="no-region"
    ),
    pytest.param("kinesis", _json({**KINESIS, "external_id": "x"}), "external_id must be 2", id="ext-short"),
    pytest.param(
        "kinesis", _json({**KINESIS, "external_id": "x" * 1225}), "external_id must be 2", id="ext-long"
    ),
    pytest.param("kinesis", _json({**KINESIS, "external_id": "a b"}), "external_id may hold", id="ext-space"),
    pytest.param("segment", _json({"write_key": "k" * 257}), "write_key is longer", id="write-key-long"),
    pytest.param("segment", _json({"write_key": "a\nb"}), "write_key may hold", id="write-key-newline"),
    pytest.param("segment", _json({"write_key": 7}), "write_key must be a string", id="write-key-int"),
]


@pytest.mark.parametrize(("sink_type", "configuration", "fragment"), BAD)
def test_parse_invalid_raises_91000(sink_type: str, configuration: str, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(sink_type, configuration)
    assert info.value.twilio_code == 91000
    assert info.value.http_status == 400
    assert info.value.message.startswith("Sink could not be created: ")
    assert fragment in info.value.message


def test_missing_write_key_alone() -> None:
    with pytest.raises(InvalidArgument, match="write_key is empty") as info:
        parse("segment", _json({"write_key": None}))
    assert info.value.twilio_code == 91000


def test_destination_at_max_length_is_accepted() -> None:
    url = "https://e.com/"
    url += "a" * (MAX_DESTINATION_LENGTH - len(url))
    assert len(url) == MAX_DESTINATION_LENGTH
    assert as_dict(parse("webhook", _json({**WEBHOOK, "destination": url})))["destination"] == url


def test_sink_types_and_initial_status() -> None:
    assert SINK_TYPES[:3] == ("webhook", "kinesis", "segment")
    assert (
        INITIAL_STATUS.items()
        >= {"webhook": "active", "kinesis": "initialized", "segment": "initialized"}.items()
    )


@pytest.mark.parametrize("destination", ["https://[::1/hook", "http://[2001:db8::1/x", "https://]e.com/"])
def test_malformed_ipv6_destination_raises_91000(destination: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse("webhook", _json({**WEBHOOK, "destination": destination}))
    assert info.value.twilio_code == 91000


@pytest.mark.parametrize(
    "destination", ["https://e.com:99999/hook", "https://e.com:abc/hook", "http://e.com:-1/"]
)
def test_invalid_port_destination_raises_91000(destination: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse("webhook", _json({**WEBHOOK, "destination": destination}))
    assert info.value.twilio_code == 91000


def test_kinesis_config_knows_its_region_and_stream() -> None:
    config = parse("kinesis", _json({**KINESIS, "arn": "arn:aws:kinesis:eu-west-2:123:stream/orders.v1"}))
    assert isinstance(config, KinesisConfig)
    assert (config.region, config.stream_name) == ("eu-west-2", "orders.v1")


def test_deeply_nested_configuration_is_refused_not_a_server_error() -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse("webhook", "[" * 100_000 + "]" * 100_000)
    assert refused.value.twilio_code == 91000


@pytest.mark.parametrize(
    ("role_arn", "account"),
    [
        ("arn:aws:iam::123456789012:role/events", "123456789012"),
        ("arn:aws:iam::111:role/path/events", "000000000111"),  # Twilio's short examples
        ("arn:aws-us-gov:iam::210987654321:role/x", "210987654321"),
        ("arn:aws:kinesis:us-east-1:123456789012:stream/s", None),
        ("arn:aws:iam::123456789012:user/bob", None),
    ],
)
def test_the_aws_account_a_role_arn_names(role_arn: str, account: str | None) -> None:
    assert sink_configs.role_account(role_arn) == account


def test_the_issued_external_id_is_a_valid_external_id_per_account() -> None:
    issued = {sink_configs.issued_external_id(f"AC{n:032x}", "s") for n in range(100)}
    assert len(issued) == 100
    low, high = sink_configs.EXTERNAL_ID_LENGTH
    for value in issued:
        assert low <= len(value) <= high and sink_configs.EXTERNAL_ID_CHARS.fullmatch(value)
        assert sink_configs.parse("kinesis", json.dumps({**KINESIS, "external_id": value}))
    assert sink_configs.issued_external_id("AC1", "s") != sink_configs.issued_external_id("AC1", "t")
