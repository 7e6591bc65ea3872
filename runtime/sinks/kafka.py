"""The Apache Kafka sink type: each event a record on a topic of the customer's cluster,
written by an idempotent producer, keyed by the subscription's ordering key (else the event
id) so that one key's events keep their order in one partition."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runtime import addresses
from runtime.sinks import tls as tls_material
from runtime.sinks.base import (
    ConfigFields,
    Field,
    SinkType,
    invalid,
    no_unknown_keys,
    optional_string,
    require_string,
)
from runtime.sinks.brokers import pair

# Kafka's own rule for topic names.
TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\s/\[\]]+):(?P<port>\d{1,5})")
MAX_BOOTSTRAP = 16
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class KafkaConfig(ConfigFields):
    bootstrap_servers: str  # host:port[,host:port…]
    topic: str
    tls: bool
    sasl_mechanism: str  # "" without SASL
    username: str
    password: str
    ca_certificate: str = ""  # PEM: the authorities to trust instead of the system's
    client_certificate: str = ""  # PEM: mutual TLS, the certificate (chain) presented…
    client_key: str = ""  # …and its unencrypted key

    @property
    def servers(self) -> list[tuple[str, int]]:
        found = []
        for item in self.bootstrap_servers.split(","):
            match = HOST_PORT.fullmatch(item.strip())
            assert match is not None  # checked by parse
            found.append((match.group("host").strip("[]"), int(match.group("port"))))
        return found


def bootstrap(value: str) -> str:
    items = [item.strip() for item in value.split(",")]
    if len(items) > MAX_BOOTSTRAP:
        raise invalid(f"bootstrap_servers may name at most {MAX_BOOTSTRAP} brokers")
    for item in items:
        match = HOST_PORT.fullmatch(item)
        if match is None or not 0 < int(match.group("port")) < 65536:
            raise invalid(
                f"bootstrap_servers must be host:port pairs separated by commas ({item!r} is not one)"
            )
        legacy = addresses.refusal(addresses.normalise_host(match.group("host")), allow_private=True)
        if legacy is not None:
            raise invalid(f"bootstrap_servers: {legacy}")
    return ",".join(items)


def parse(config: dict[str, Any]) -> KafkaConfig:
    no_unknown_keys(
        config,
        {
            "bootstrap_servers",
            "topic",
            "tls",
            "sasl_mechanism",
            "username",
            "password",
            *tls_material.KEYS,
        },
    )
    servers = bootstrap(require_string(config, "bootstrap_servers"))
    topic = require_string(config, "topic")
    if not TOPIC.fullmatch(topic) or topic in (".", ".."):
        raise invalid("topic must be a Kafka topic name: 1 to 249 letters, digits, '.', '_' or '-'")
    tls = config.get("tls", False)
    if isinstance(tls, str) and tls.lower() in ("true", "false"):
        tls = tls.lower() == "true"
    if not isinstance(tls, bool):
        raise invalid("tls must be true or false")
    mechanism = optional_string(config, "sasl_mechanism").upper()
    if mechanism and mechanism not in MECHANISMS:
        raise invalid(f"sasl_mechanism must be one of {', '.join(MECHANISMS)}")
    username, password = pair(config, "username", "password")
    if bool(mechanism) != bool(username):
        raise invalid("sasl_mechanism and username/password go together")
    authority, chain, key = tls_material.from_config(config, tls, "set tls to true")
    return KafkaConfig(servers, topic, tls, mechanism, username, password, authority, chain, key)


TYPE = SinkType(
    name="kafka",
    title="Apache Kafka",
    summary="A topic of your Kafka cluster, keyed by ordering key or event id, by an idempotent producer",
    parse=parse,
    fields=(
        Field(
            "bootstrap_servers",
            "Brokers to start from: host:port, comma-separated",
            example="kafka-1.example.com:9093",
        ),
        Field("topic", "The topic events are written to (it must exist)"),
        Field(
            "tls",
            "Connect with TLS (the brokers' certificates verified)",
            kind="boolean",
            required=False,
            default=False,
        ),
        Field(
            "sasl_mechanism",
            "SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            required=False,
            choices=MECHANISMS,
        ),
        Field("username", "The SASL user name", required=False),
        Field("password", "The SASL password", required=False),
        *tls_material.fields("your brokers'", "with tls"),
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.kafka",
    docs="sinks/kafka.md",
    limits={"max_events": 500, "max_call_bytes": 4 * 1024 * 1024, "max_event_bytes": 1000 * 1024},
)
