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
PEM_DEFAULTS = {"ca_certificate": "", "client_certificate": "", "client_key": ""}
NATS = {"url": "tls://nats.example.com:4222", "subject": "twilio.events"}
NATS_DEFAULTS = {
    "stream": "",
    "username": "",
    "password": "",
    "token": "",
    "nkey_seed": "",
    "credentials": "",
    **PEM_DEFAULTS,
}
KAFKA = {"bootstrap_servers": "k1.example.com:9093,k2.example.com:9093", "topic": "twilio-events"}
KAFKA_DEFAULTS = {
    "tls": False,
    "sasl_mechanism": "",
    "username": "",
    "password": "",
    **PEM_DEFAULTS,
}


@pytest.mark.parametrize(
    ("sink_type", "config", "expected"),
    [
        pytest.param("rabbitmq", RABBITMQ, {**RABBITMQ, **PEM_DEFAULTS}, id="rabbitmq"),
        pytest.param(
            "rabbitmq",
            {**RABBITMQ, "url": " amqp://mq.example.com ", "exchange": " twilio "},
            {**RABBITMQ, **PEM_DEFAULTS, "url": "amqp://mq.example.com", "exchange": "twilio"},
            id="rabbitmq-trimmed-default-port",
        ),
        pytest.param("nats", NATS, {**NATS, **NATS_DEFAULTS}, id="nats-core-no-login"),
        pytest.param(
            "nats",
            {**NATS, "stream": "EVENTS", "username": "u", "password": "p"},
            {**NATS, **NATS_DEFAULTS, "stream": "EVENTS", "username": "u", "password": "p"},
            id="nats-jetstream-user",
        ),
        pytest.param(
            "nats",
            {**NATS, "url": "nats://10.0.0.5", "token": "t"},
            {**NATS, **NATS_DEFAULTS, "url": "nats://10.0.0.5", "token": "t"},
            id="nats-token",
        ),
        pytest.param("kafka", KAFKA, {**KAFKA, **KAFKA_DEFAULTS}, id="kafka-plaintext"),
        pytest.param(
            "kafka",
            {
                **KAFKA,
                "bootstrap_servers": "k1:9092 , [::1]:9092",
                "tls": "true",
                "sasl_mechanism": "scram-sha-512",
                "username": "u",
                "password": "p",
            },
            {
                **KAFKA,
                **KAFKA_DEFAULTS,
                "bootstrap_servers": "k1:9092,[::1]:9092",
                "tls": True,
                "sasl_mechanism": "SCRAM-SHA-512",
                "username": "u",
                "password": "p",
            },
            id="kafka-sasl-ssl",
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
        ("nats", {**NATS, "url": "amqp://x"}, "url must be a URL of the form nats://host:port or tls://"),
        ("nats", {**NATS, "url": "nats://x:4222/path"}, "url must not carry a path"),
        ("nats", {**NATS, "url": "nats://u:p@x"}, "url must not carry credentials"),
        ("nats", {**NATS, "subject": ""}, "subject is empty"),
        ("nats", {**NATS, "subject": "a.*.c"}, "subject must name one subject"),
        ("nats", {**NATS, "subject": "a.>"}, "subject must name one subject"),
        ("nats", {**NATS, "subject": "a..b"}, "subject must not begin or end with a dot"),
        ("nats", {**NATS, "subject": "a b"}, "subject may hold only printable"),
        ("nats", {**NATS, "subject": "x" * 257}, "subject is longer than 256"),
        ("nats", {**NATS, "stream": "a.b"}, "stream must be a JetStream stream name"),
        ("nats", {**NATS, "username": "u"}, "password is empty (username and password go together)"),
        ("nats", {**NATS, "password": "p"}, "username is empty (username and password go together)"),
        ("nats", {**NATS, "username": "u", "password": "p", "token": "t"}, "are ways to log in: give one"),
        ("nats", {**NATS, "token": "t" * 1025}, "token is longer than 1024"),
        ("nats", {**NATS, "creds": "x"}, "unknown configuration field(s): creds"),
        ("kafka", {**KAFKA, "bootstrap_servers": ""}, "bootstrap_servers is empty"),
        ("kafka", {**KAFKA, "bootstrap_servers": "k1"}, "bootstrap_servers must be host:port pairs"),
        ("kafka", {**KAFKA, "bootstrap_servers": "k1:99999"}, "bootstrap_servers must be host:port pairs"),
        (
            "kafka",
            {**KAFKA, "bootstrap_servers": "kafka://k1:9092"},
            "bootstrap_servers must be host:port pairs",
        ),
        ("kafka", {**KAFKA, "bootstrap_servers": ",".join(["k:1"] * 17)}, "at most 16 brokers"),
        ("kafka", {**KAFKA, "bootstrap_servers": "0x7f.1:9092"}, "bootstrap_servers: destination host"),
        ("kafka", {**KAFKA, "topic": ""}, "topic is empty"),
        ("kafka", {**KAFKA, "topic": "a b"}, "topic must be a Kafka topic name"),
        ("kafka", {**KAFKA, "topic": "x" * 250}, "topic must be a Kafka topic name"),
        ("kafka", {**KAFKA, "tls": "yes"}, "tls must be true or false"),
        (
            "kafka",
            {**KAFKA, "sasl_mechanism": "GSSAPI", "username": "u", "password": "p"},
            "sasl_mechanism must be",
        ),
        ("kafka", {**KAFKA, "sasl_mechanism": "PLAIN"}, "sasl_mechanism and username/password go together"),
        (
            "kafka",
            {**KAFKA, "username": "u", "password": "p"},
            "sasl_mechanism and username/password go together",
        ),
        ("kafka", {**KAFKA, "acks": "1"}, "unknown configuration field(s): acks"),
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
