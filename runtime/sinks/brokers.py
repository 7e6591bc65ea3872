"""What the message-broker sink types (RabbitMQ, NATS, Kafka) check alike in their
configurations: a broker address as a URL of the type's schemes, and credentials that come
in pairs. Failures are Twilio's 91000 naming the field."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from runtime import addresses
from runtime.sinks.base import invalid, optional_string

MAX_URL_LENGTH = 2048
MAX_CREDENTIAL_LENGTH = 1024


def broker_url(value: str, key: str, schemes: tuple[str, ...]) -> str:
    """`value` as a broker URL of one of `schemes`: a host, perhaps a port, nothing else
    that a broker client would quietly take (credentials, a query, a fragment)."""
    if len(value) > MAX_URL_LENGTH:
        raise invalid(f"{key} is too long")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise invalid(f"{key} is not a valid URL: {exc}") from exc
    if parts.scheme not in schemes or not parts.hostname:
        raise invalid(f"{key} must be a URL of the form {' or '.join(s + '://host:port' for s in schemes)}")
    if parts.username is not None or parts.password is not None:
        raise invalid(f"{key} must not carry credentials (they have fields of their own)")
    if parts.query or parts.fragment:
        raise invalid(f"{key} must not carry a query or a fragment")
    legacy = addresses.refusal(addresses.normalise_host(parts.hostname), allow_private=True)
    if legacy is not None:
        raise invalid(f"{key}: {legacy}")
    return value


def credential(config: dict[str, Any], key: str) -> str:
    value = optional_string(config, key)
    if len(value) > MAX_CREDENTIAL_LENGTH:
        raise invalid(f"{key} is longer than {MAX_CREDENTIAL_LENGTH} characters")
    return value


def pair(config: dict[str, Any], first: str, second: str) -> tuple[str, str]:
    """Two fields that go together (a user name and its password): both or neither."""
    a, b = credential(config, first), credential(config, second)
    if bool(a) != bool(b):
        missing = second if a else first
        raise invalid(f"{missing} is empty ({first} and {second} go together)")
    return a, b
