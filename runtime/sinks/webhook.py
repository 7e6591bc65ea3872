"""The webhook sink type: HTTP POST (or GET) of each event, or of batches as a JSON array."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runtime import addresses
from runtime.sinks.base import ConfigFields, Field, SinkType, invalid, no_unknown_keys, require_string

MAX_DESTINATION_LENGTH = 2048


@dataclass(frozen=True)
class WebhookConfig(ConfigFields):
    destination: str
    method: str  # POST | GET
    batch_events: bool

    @property
    def is_get(self) -> bool:
        return self.method.upper() == "GET"


def parse(config: dict[str, Any]) -> WebhookConfig:
    no_unknown_keys(config, {"destination", "method", "batch_events"})
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
    return WebhookConfig(destination=destination, method=method, batch_events=batch)


TYPE = SinkType(
    name="webhook",
    title="Webhook",
    summary="An HTTP(S) endpoint of yours, signed with the account's auth token",
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
    ),
    initial_status="active",
    driver="services.delivery.sinks.webhook",
    docs="sinks/webhook.md",
    # One event per request; with batch_events, up to 1,000 events or 64 KiB per request.
    limits={"max_events": 1000, "max_call_bytes": 64 * 1024},
)
