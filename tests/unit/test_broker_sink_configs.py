"""The broker sink types' configurations (RabbitMQ, NATS, Kafka): what each takes, normalised,
and what it refuses with Twilio's 91000 naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import sink_configs
from runtime.errors import InvalidArgument

pytestmark = pytest.mark.unit

RABBITMQ = {
    "url": "amqps://mq.example.com:5671/events",
    "exchange": "twilio",
    "username": "u",
    "password": "p",
}


@pytest.mark.parametrize(
    ("sink_type", "config", "expected"),
    [
        pytest.param("rabbitmq", RABBITMQ, RABBITMQ, id="rabbitmq"),
        pytest.param(
            "rabbitmq",
            {**RABBITMQ, "url": " amqp://mq.example.com ", "exchange": " twilio "},
            {**RABBITMQ, "url": "amqp://mq.example.com", "exchange": "twilio"},
            id="rabbitmq-trimmed-default-port",
        ),
    ],
)
def test_accepted(sink_type: str, config: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sink_configs.as_dict(sink_configs.from_dict(sink_type, config)) == expected


@pytest.mark.parametrize(
    ("sink_type", "config", "message"),
    [
        ("rabbitmq", {**RABBITMQ, "url": ""}, "url is empty"),
        ("rabbitmq", {**RABBITMQ, "url": "https://mq.example.com"}, "url must be a URL of the form amqp://"),
        ("rabbitmq", {**RABBITMQ, "url": "amqp://u:p@mq.example.com"}, "url must not carry credentials"),
        ("rabbitmq", {**RABBITMQ, "url": "amqp://mq.example.com/?heartbeat=5"}, "url must not carry a query"),
        ("rabbitmq", {**RABBITMQ, "url": "amqp://mq.example.com:99999"}, "url is not a valid URL"),
        ("rabbitmq", {**RABBITMQ, "url": "amqp://0x7f.1"}, "url: destination host"),
        ("rabbitmq", {**RABBITMQ, "url": "amqp://mq.example.com/a/b"}, "url may name one virtual host"),
        ("rabbitmq", {**RABBITMQ, "exchange": ""}, "exchange is empty"),
        ("rabbitmq", {**RABBITMQ, "exchange": "amq.topic"}, "exchange must not begin with amq."),
        ("rabbitmq", {**RABBITMQ, "exchange": "a b"}, "exchange may hold only"),
        ("rabbitmq", {**RABBITMQ, "exchange": "x" * 256}, "exchange is longer than 255"),
        ("rabbitmq", {**RABBITMQ, "username": ""}, "username is empty"),
        ("rabbitmq", {**RABBITMQ, "password": ""}, "password is empty"),
        ("rabbitmq", {**RABBITMQ, "password": 7}, "password must be a string"),
        ("rabbitmq", {**RABBITMQ, "vhost": "/"}, "unknown configuration field(s): vhost"),
    ],
)
def test_refused_naming_the_field(sink_type: str, config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        sink_configs.from_dict(sink_type, config)
    assert refused.value.twilio_code == 91000
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://mq.example.com", "/"),
        ("amqp://mq.example.com/", "/"),
        ("amqp://mq.example.com/events", "events"),
        ("amqp://mq.example.com/%2Fprod", "/prod"),
    ],
)
def test_rabbitmq_virtual_host_is_the_path(url: str, vhost: str) -> None:
    config = sink_configs.from_dict("rabbitmq", {**RABBITMQ, "url": url})
    assert config.vhost == vhost  # type: ignore[attr-defined]
