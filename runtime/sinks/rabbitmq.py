"""The RabbitMQ sink type: each event published (AMQP 0-9-1, publisher confirms) to an
exchange of the customer's broker, its routing key the event type."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from runtime.sinks import tls as tls_material
from runtime.sinks.base import ConfigFields, Field, SinkType, invalid, no_unknown_keys, require_string
from runtime.sinks.brokers import broker_url, pair

# AMQP 0-9-1's short strings (exchange names) are at most 255 bytes; RabbitMQ takes these
# characters in a name, and keeps names beginning `amq.` to itself.
MAX_EXCHANGE_LENGTH = 255
EXCHANGE_CHARS = re.compile(r"[A-Za-z0-9_.:-]+")
RESERVED_PREFIX = "amq."


@dataclass(frozen=True)
class RabbitMQConfig(ConfigFields):
    url: str  # amqp(s)://host[:port][/vhost]
    exchange: str
    username: str
    password: str
    ca_certificate: str = ""  # PEM (amqps:// only): the authorities to trust instead of the system's
    client_certificate: str = ""  # PEM (amqps:// only): mutual TLS, the certificate presented…
    client_key: str = ""  # …and its unencrypted key

    @property
    def vhost(self) -> str:
        """The virtual host: the URL's path, percent-decoded (`/` when it has none)."""
        path = urlsplit(self.url).path
        return unquote(path[1:]) if len(path) > 1 else "/"


def parse(config: dict[str, Any]) -> RabbitMQConfig:
    no_unknown_keys(config, {"url", "exchange", "username", "password", *tls_material.KEYS})
    url = broker_url(require_string(config, "url"), "url", ("amqp", "amqps"))
    if url.count("/") > 3:
        raise invalid("url may name one virtual host (amqp://host:port/vhost; a / in it as %2F)")
    exchange = require_string(config, "exchange")
    if len(exchange.encode()) > MAX_EXCHANGE_LENGTH:
        raise invalid(f"exchange is longer than {MAX_EXCHANGE_LENGTH} bytes")
    if not EXCHANGE_CHARS.fullmatch(exchange):
        raise invalid("exchange may hold only letters, digits and _.:-")
    if exchange.startswith(RESERVED_PREFIX):
        raise invalid("exchange must not begin with amq. (RabbitMQ keeps those names to itself)")
    username, password = pair(config, "username", "password")
    if not username:
        raise invalid("username is empty")
    authority, chain, key = tls_material.from_config(
        config, url.startswith("amqps://"), "use an amqps:// url"
    )
    return RabbitMQConfig(url, exchange, username, password, authority, chain, key)


TYPE = SinkType(
    name="rabbitmq",
    title="RabbitMQ",
    summary="An exchange of your RabbitMQ broker (AMQP 0-9-1), routed by event type",
    parse=parse,
    fields=(
        Field(
            "url",
            "The broker: amqp:// or amqps://, host, port, and the virtual host as the path",
            example="amqps://rabbitmq.example.com:5671/events",
        ),
        Field("exchange", "The exchange events are published to; its routing key is the event type"),
        Field("username", "The user that publishes"),
        Field("password", "That user's password"),
        *tls_material.fields("your broker's", "amqps:// only"),
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.rabbitmq",
    docs="sinks/rabbitmq.md",
    limits={"max_events": 100, "max_call_bytes": 4 * 1024 * 1024, "max_event_bytes": 1024 * 1024},
)
