"""The NATS sink type: each event published to a subject of the customer's own NATS server
(or cluster), and, when the configuration names a JetStream stream, stored there: the
stream's acknowledgement awaited, the event id as `Nats-Msg-Id` for its deduplication."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from runtime.sinks.base import (
    ConfigFields,
    Field,
    SinkType,
    invalid,
    no_unknown_keys,
    optional_string,
    require_string,
)
from runtime.sinks.brokers import broker_url, credential, pair

MAX_SUBJECT_LENGTH = 256
# A subject's tokens: printable, no whitespace, no wildcard (a publish names one subject).
SUBJECT_TOKEN = re.compile(r"[!-~]+")
WILDCARDS = ("*", ">")
# JetStream's own rule for stream names: no whitespace, `.`, `*`, `>`, path separators.
STREAM_NAME = re.compile(r"[^\s.*>/\\]{1,255}")


@dataclass(frozen=True)
class NatsConfig(ConfigFields):
    url: str  # nats://host[:port] or tls://host[:port]
    subject: str
    stream: str  # "": core NATS, fire and forget past the server; a name: JetStream, acknowledged
    username: str
    password: str
    token: str


def subject(value: str) -> str:
    if len(value) > MAX_SUBJECT_LENGTH:
        raise invalid(f"subject is longer than {MAX_SUBJECT_LENGTH} characters")
    tokens = value.split(".")
    if any(not token for token in tokens):
        raise invalid("subject must not begin or end with a dot, nor hold two in a row")
    if any(not SUBJECT_TOKEN.fullmatch(token) for token in tokens):
        raise invalid("subject may hold only printable characters without spaces")
    if any(token in WILDCARDS for token in tokens):
        raise invalid("subject must name one subject: no * or > wildcard")
    return value


def parse(config: dict[str, Any]) -> NatsConfig:
    no_unknown_keys(config, {"url", "subject", "stream", "username", "password", "token"})
    url = broker_url(require_string(config, "url"), "url", ("nats", "tls"))
    if url.rstrip("/").count("/") > 2:
        raise invalid("url must not carry a path")
    stream = optional_string(config, "stream")
    if stream and not STREAM_NAME.fullmatch(stream):
        raise invalid("stream must be a JetStream stream name (no spaces, dots, *, >, / or \\)")
    username, password = pair(config, "username", "password")
    token = credential(config, "token")
    if token and username:
        raise invalid("token and username/password are two ways to log in: give one")
    return NatsConfig(
        url=url,
        subject=subject(require_string(config, "subject")),
        stream=stream,
        username=username,
        password=password,
        token=token,
    )


TYPE = SinkType(
    name="nats",
    title="NATS",
    summary="A subject of your own NATS server, stored in your JetStream stream when you name one",
    parse=parse,
    fields=(
        Field(
            "url", "Your NATS server: nats:// or tls://, host and port", example="tls://nats.example.com:4222"
        ),
        Field("subject", "The subject every event is published to", example="twilio.events"),
        Field(
            "stream",
            "The JetStream stream that stores the subject: each publish waits for its acknowledgement",
            required=False,
        ),
        Field("username", "A user name to log in with (with password)", required=False),
        Field("password", "That user's password", required=False),
        Field("token", "A token to log in with, instead of a user name and password", required=False),
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.nats",
    docs="sinks/nats.md",
    limits={"max_events": 100, "max_call_bytes": 4 * 1024 * 1024, "max_event_bytes": 1000 * 1024},
)
