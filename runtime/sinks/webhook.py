"""The webhook sink type: HTTP POST (or GET) of each event, or of batches as a JSON array,
signed with X-Twilio-Signature (Twilio's) or Standard Webhooks (an extension, as Svix signs),
with static headers of the owner's on every call (an extension)."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runtime import addresses
from runtime.sinks.base import ConfigFields, Field, SinkType, invalid, no_unknown_keys, require_string

MAX_DESTINATION_LENGTH = 2048

TWILIO = "twilio"
STANDARD_WEBHOOKS = "standard-webhooks"
SIGNINGS = (TWILIO, STANDARD_WEBHOOKS)
# Standard Webhooks' secret: `whsec_` and the base64 of 24 to 64 random bytes.
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32

# Custom headers: a few short ones (receivers and proxies refuse large heads).
MAX_HEADERS = 20
MAX_HEADER_NAME = 64
MAX_HEADER_VALUE = 1024
MAX_HEADERS_BYTES = 8 * 1024
# RFC 9110 token characters.
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Visible ASCII, space and tab: no CR/LF (a header injected), no NUL, nothing the wire's
# latin-1 would turn into other bytes.
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Headers the owner may not set, and why: the connection's own (hop-by-hop), how the body is
# framed and what it is (ours to say), and the signatures (a receiver must trust them).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})
FRAMING = frozenset({"host", "content-length", "content-type", "content-encoding", "expect"})
SIGNATURES = frozenset({"x-twilio-signature", "webhook-id", "webhook-timestamp", "webhook-signature"})


def new_signing_secret() -> str:
    """A sink's Standard Webhooks secret (made by control, sealed at rest)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key a `whsec_…` secret stands for."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


@dataclass(frozen=True)
class WebhookConfig(ConfigFields):
    destination: str
    method: str  # POST | GET
    batch_events: bool
    signing: str = TWILIO  # TWILIO | STANDARD_WEBHOOKS
    # The owner's static headers, in the order given: (name, value) pairs.
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def is_get(self) -> bool:
        return self.method.upper() == "GET"

    @property
    def standard_webhooks(self) -> bool:
        return self.signing == STANDARD_WEBHOOKS

    def as_dict(self) -> dict[str, Any]:
        """Twilio's three keys; the extensions' only when set (a plain sink reads back as
        Twilio's does)."""
        shape: dict[str, Any] = {
            "destination": self.destination,
            "method": self.method,
            "batch_events": self.batch_events,
        }
        if self.signing != TWILIO:
            shape["signing"] = self.signing
        if self.headers:
            shape["headers"] = dict(self.headers)
        return shape


def header_refusal(name: str, value: Any) -> str | None:
    """Why a custom header may not be sent, or None."""
    lowered = name.lower()
    if not HEADER_NAME.fullmatch(name) or len(name) > MAX_HEADER_NAME:
        return (
            f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~, {MAX_HEADER_NAME} at most)"
        )
    if lowered in HOP_BY_HOP or lowered.startswith("proxy-"):
        return f"{name} is a hop-by-hop header: the connection's, not the request's"
    if lowered in FRAMING:
        return f"{name} is set by the delivery itself"
    if lowered in SIGNATURES:
        return f"{name} is a signature header: only the delivery signs"
    if not isinstance(value, str):
        return f"{name} must be a string"
    if len(value) > MAX_HEADER_VALUE:
        return f"{name} is longer than {MAX_HEADER_VALUE} characters"
    if not HEADER_VALUE.fullmatch(value):
        return f"{name} must be printable ASCII (no CR, LF or other control characters)"
    return None


def parse_headers(raw: Any, destination_has_credentials: bool) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise invalid("headers must be a JSON object of header names to values")
    if len(raw) > MAX_HEADERS:
        raise invalid(f"headers: at most {MAX_HEADERS} headers")
    seen: set[str] = set()
    pairs: list[tuple[str, str]] = []
    for name, value in raw.items():
        reason = header_refusal(name, value)
        if reason is not None:
            raise invalid(f"headers: {reason}")
        lowered = name.lower()
        if lowered in seen:
            raise invalid(f"headers: {name} is given twice")
        if lowered == "authorization" and destination_has_credentials:
            raise invalid("headers: Authorization conflicts with the credentials in destination")
        seen.add(lowered)
        pairs.append((name, value.strip()))
    if sum(len(n) + len(v) + 4 for n, v in pairs) > MAX_HEADERS_BYTES:
        raise invalid(f"headers: more than {MAX_HEADERS_BYTES} bytes in all")
    return tuple(pairs)


def parse(config: dict[str, Any]) -> WebhookConfig:
    no_unknown_keys(config, {"destination", "method", "batch_events", "signing", "headers"})
    destination = require_string(config, "destination")
    if len(destination) > MAX_DESTINATION_LENGTH:
        raise invalid("destination is too long")
    try:
        parts = urlsplit(destination)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise invalid(f"destination is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("destination must be an http(s) URL")
    if parts.fragment:
        raise invalid("destination must not carry a fragment (connection overrides are not supported)")
    try:
        host = addresses.wire_host(destination)
    except ValueError as exc:
        raise invalid(f"destination is not a valid URL: {exc}") from exc
    legacy = addresses.refusal(host, allow_private=True)
    if legacy is not None:
        raise invalid(legacy)
    method = require_string(config, "method")
    if method.upper() not in ("POST", "GET"):
        raise invalid("method must be POST or GET")
    batch = config.get("batch_events", False)
    if isinstance(batch, str) and batch.lower() in ("true", "false"):
        batch = batch.lower() == "true"
    if not isinstance(batch, bool):
        raise invalid("batch_events must be true or false")
    signing = config.get("signing", TWILIO)
    if signing is None or signing == "":
        signing = TWILIO
    if not isinstance(signing, str) or signing.strip().lower() not in SIGNINGS:
        raise invalid(f"signing must be one of {', '.join(SIGNINGS)}")
    signing = signing.strip().lower()
    if signing == STANDARD_WEBHOOKS and method.upper() == "GET":
        # A GET's event travels in its URL, which Standard Webhooks' signature does not cover.
        raise invalid("signing standard-webhooks needs method POST (it signs the body)")
    headers = parse_headers(config.get("headers"), parts.username is not None)
    return WebhookConfig(
        destination=destination, method=method, batch_events=batch, signing=signing, headers=headers
    )


TYPE = SinkType(
    name="webhook",
    title="Webhook",
    summary="An HTTP(S) endpoint of yours, signed with the account's auth token or the sink's own secret",
    parse=parse,
    fields=(
        Field("destination", "The URL events are sent to", example="https://example.com/events"),
        Field("method", "POST (events in the body) or GET", choices=("POST", "GET")),
        Field(
            "batch_events",
            "Many events per request, as a JSON array",
            kind="boolean",
            required=False,
            default=False,
        ),
        Field(
            "signing",
            "twilio: X-Twilio-Signature with the account's auth token; standard-webhooks: "
            "webhook-id, webhook-timestamp and webhook-signature with the sink's own secret "
            "(GET /v1/Sinks/{Sid}/Secret; POST only)",
            required=False,
            choices=SIGNINGS,
            default=TWILIO,
        ),
        Field(
            "headers",
            "Static headers sent on every call, name to value (not hop-by-hop, Host, "
            "Content-*, Expect nor a signature header)",
            kind="object",
            required=False,
            constraints={
                "additionalProperties": {"type": "string", "maxLength": MAX_HEADER_VALUE},
                "propertyNames": {"pattern": f"^{HEADER_NAME.pattern}$", "maxLength": MAX_HEADER_NAME},
                "maxProperties": MAX_HEADERS,
            },
            example={"X-Tenant": "acme"},
        ),
    ),
    initial_status="active",
    driver="services.delivery.sinks.webhook",
    docs="sinks/webhook.md",
    # One event per request; with batch_events, up to 1,000 events or 64 KiB per request.
    limits={"max_events": 1000, "max_call_bytes": 64 * 1024},
)
