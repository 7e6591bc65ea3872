"""The NATS sink type: each event published to a subject of the customer's own NATS server
(or cluster), and, when the configuration names a JetStream stream, stored there: the
stream's acknowledgement awaited, the event id as `Nats-Msg-Id` for its deduplication.

It logs in by user and password, by token, by an NKey seed, or by a `.creds` file (a user's
JWT and its NKey seed, as a server in operator mode — Synadia Cloud, say — hands out); over
tls:// it may trust a private authority and present a client certificate."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nkeys

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
from runtime.sinks.brokers import broker_url, credential, pair

MAX_SUBJECT_LENGTH = 256
# A subject's tokens: printable, no whitespace, no wildcard (a publish names one subject).
SUBJECT_TOKEN = re.compile(r"[!-~]+")
WILDCARDS = ("*", ">")
# JetStream's own rule for stream names: no whitespace, `.`, `*`, `>`, path separators.
STREAM_NAME = re.compile(r"[^\s.*>/\\]{1,255}")
# A `.creds` file's two blocks; whitespace between the markers and what they hold is not
# required, so a file pasted into one line (a form's text field drops line breaks) still reads.
# (The JWT's signature is ed25519's 64 bytes: 86 characters of base64url, which may end in
# "-" — the length says where it ends when no line break does.)
CREDS_JWT = re.compile(
    r"-{3,}BEGIN NATS USER JWT-{3,}\s*([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86})\s*-{3,}END"
)
CREDS_SEED = re.compile(r"-{3,}BEGIN USER NKEY SEED-{3,}\s*(S[A-Z2-7]+)\s*-{3,}END")
USER_SEED = re.compile(r"SU[A-Z2-7]{56}")
MAX_CREDS_LENGTH = 16 * 1024
LOGINS = "username/password, token, nkey_seed and credentials"
LOGIN_KEYS = ("username", "password", "token", "nkey_seed", "credentials")


@dataclass(frozen=True)
class NatsConfig(ConfigFields):
    url: str  # nats://host[:port] or tls://host[:port]
    subject: str
    stream: str  # "": core NATS, fire and forget past the server; a name: JetStream, acknowledged
    username: str
    password: str
    token: str
    nkey_seed: str = ""  # an NKey user's seed (SU…)
    credentials: str = ""  # a .creds file: the user's JWT and its seed, laid out as nsc writes it
    ca_certificate: str = ""  # PEM (tls:// only): the authorities to trust instead of the system's
    client_certificate: str = ""  # PEM (tls:// only): mutual TLS, the certificate presented…
    client_key: str = ""  # …and its unencrypted key


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


def user_seed(value: str, key: str) -> str:
    """An NKey user's seed: SU and 56 base32 characters whose checksum holds (nkeys reads a
    seed without checking it: a mistyped one would log in as nobody, refused at the server)."""
    if not USER_SEED.fullmatch(value):
        raise invalid(f"{key} must be an NKey user seed: SU followed by 56 characters A–Z and 2–7")
    decoded = base64.b32decode(value + "=" * (-len(value) % 8))
    if nkeys.crc16_checksum(decoded[:-2]) != decoded[-2:]:
        raise invalid(f"{key} is not a valid NKey seed: its checksum does not hold")
    return value


def public_key(seed: str) -> str:
    found: bytes = nkeys.from_seed(seed.encode()).public_key
    return found.decode()


def jwt_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (the server verifies them; this catches a paste gone wrong)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error) as exc:
        raise invalid("credentials: the user JWT does not decode") from exc
    if not isinstance(claims, dict):
        raise invalid("credentials: the user JWT does not decode")
    return claims


def creds_file(user_jwt: str, seed: str) -> str:
    """The layout nats-py (and every NATS client) reads a .creds file in."""
    return (
        f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )


def credentials(value: str) -> str:
    """A `.creds` file's contents, checked — a user JWT, a user seed, the seed the key the JWT
    names — and laid out afresh (line breaks a form lost put back)."""
    if not value:
        return ""
    if len(value) > MAX_CREDS_LENGTH:
        raise invalid(f"credentials is longer than {MAX_CREDS_LENGTH} characters")
    found_jwt, found_seed = CREDS_JWT.search(value), CREDS_SEED.search(value)
    if found_jwt is None or found_seed is None:
        raise invalid(
            "credentials must be a .creds file's contents: a BEGIN NATS USER JWT block and a "
            "BEGIN USER NKEY SEED block"
        )
    seed = user_seed(found_seed.group(1), "credentials' seed")
    claims = jwt_claims(found_jwt.group(1))
    nats_claims = claims.get("nats")
    if not isinstance(nats_claims, dict) or nats_claims.get("type") != "user":
        raise invalid("credentials: the JWT is not a user's")
    if claims.get("sub") != public_key(seed):
        raise invalid("credentials: the seed is not the key of the JWT's user (sub)")
    expires = claims.get("exp")
    if isinstance(expires, int | float) and expires <= time.time():
        when = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        raise invalid(f"credentials: the user JWT expired at {when}")
    return creds_file(found_jwt.group(1), seed)


def parse(config: dict[str, Any]) -> NatsConfig:
    no_unknown_keys(config, {"url", "subject", "stream", *LOGIN_KEYS, *tls_material.KEYS})
    url = broker_url(require_string(config, "url"), "url", ("nats", "tls"))
    if url.rstrip("/").count("/") > 2:
        raise invalid("url must not carry a path")
    stream = optional_string(config, "stream")
    if stream and not STREAM_NAME.fullmatch(stream):
        raise invalid("stream must be a JetStream stream name (no spaces, dots, *, >, / or \\)")
    username, password = pair(config, "username", "password")
    token = credential(config, "token")
    seed = credential(config, "nkey_seed")
    creds = credentials(optional_string(config, "credentials"))
    if sum(map(bool, (username, token, seed, creds))) > 1:
        raise invalid(f"{LOGINS} are ways to log in: give one")
    authority, chain, key = tls_material.from_config(config, url.startswith("tls://"), "use a tls:// url")
    return NatsConfig(
        url=url,
        subject=subject(require_string(config, "subject")),
        stream=stream,
        username=username,
        password=password,
        token=token,
        nkey_seed=user_seed(seed, "nkey_seed") if seed else "",
        credentials=creds,
        ca_certificate=authority,
        client_certificate=chain,
        client_key=key,
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
        Field(
            "nkey_seed",
            "An NKey user's seed (SU…) to log in with, for a server that lists the user by its public key",
            required=False,
        ),
        Field(
            "credentials",
            "The contents of a .creds file (a user JWT and its NKey seed), for a server in operator"
            " mode such as Synadia Cloud",
            required=False,
            constraints={"contentMediaType": "text/plain"},
        ),
        *tls_material.fields("your server's", "tls:// only"),
    ),
    initial_status="initialized",
    driver="services.delivery.sinks.nats",
    docs="sinks/nats.md",
    limits={"max_events": 100, "max_call_bytes": 4 * 1024 * 1024, "max_event_bytes": 1000 * 1024},
)
