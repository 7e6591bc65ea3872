"""The webhook sink: signed HTTP requests with connection reuse.

The client is services/delivery/sinks/http1.py, neither aiohttp nor httpx: per request it
costs the worker a third of aiohttp's CPU (devkit/bench_http_clients.py), and
httpx.AsyncClient does ≈ 450 POSTs/s under 50 concurrent requests on a 2-core machine.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Sequence
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from runtime import addresses
from runtime.sink_configs import WebhookConfig
from runtime.sinks.webhook import signing_key
from services.delivery.errors import DeliveryError, DestinationRefused, Misconfigured
from services.delivery.sinks import http
from services.delivery.sinks.base import Framing, Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.exchange import (
    BODY_BATCH,
    BODY_EVENT,
    BODY_QUERY,
    Exchange,
    header_pairs,
    shown_url,
)
from services.delivery.sinks.http1 import Http1Client, Origin, Target
from services.delivery.sinks.webhook import signature, standard
from services.delivery.sinks.webhook.destinations import Addresses, check_host

# Twilio: "Batched events currently have a 64kB data limit."
MAX_BATCH_BYTES = 64 * 1024
# One event per request: the stream's own limit (nats-server's max_payload, 1 MiB).
MAX_EVENT_BYTES = 1024 * 1024
# A GET carries its event in the URL; beyond this, servers and proxies commonly refuse it.
MAX_GET_URL = 16 * 1024
JSON_ARRAY = Framing(call=2, separator=1)


def split_credentials(destination: str) -> tuple[str, str | None]:
    """`user:pass@` in the destination becomes HTTP Basic (the Authorization header's value);
    the URL is sent and signed without it."""
    parts = urlsplit(destination)
    if parts.username is None:
        return destination, None
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    auth = f"Basic {base64.b64encode(pair).decode('ascii')}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), auth


def get_url(url: str, event: bytes) -> str:
    """A GET delivery: the CloudEvent JSON in the `event` query parameter. Only the URL is
    signed (there is no body), so the event travels inside what the signature covers."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'event': event.decode()})}"


def readable_key(secret: str) -> bytes:
    """A `whsec_` secret's key, or b"" when there is none (or it cannot be read)."""
    try:
        return signing_key(secret) if secret else b""
    except (binascii.Error, ValueError):
        return b""


def limits_for(config: WebhookConfig) -> Limits:
    if config.is_get:
        return Limits(max_events=1, max_call_bytes=MAX_GET_URL, max_event_bytes=MAX_GET_URL)
    if config.batch_events:
        return Limits(
            max_events=1000,
            max_call_bytes=MAX_BATCH_BYTES,
            max_event_bytes=MAX_BATCH_BYTES - JSON_ARRAY.call,
            framing=JSON_ARRAY,
        )
    return Limits(max_events=1, max_call_bytes=MAX_EVENT_BYTES, max_event_bytes=MAX_EVENT_BYTES)


class WebhookSink:
    def __init__(self, driver: WebhookDriver, spec: SinkSpec, config: WebhookConfig) -> None:
        self._driver = driver
        self._config = config
        self._token = spec.auth_token
        self._url, self._auth = split_credentials(config.destination)
        # The URL as it goes on the wire (normalized, requoted), computed once: each call only
        # appends its bodySHA256 (hex digits, nothing to quote) and is sent as it is signed.
        # (Set in the check below; a refused sink never sends.)
        self._wire = self._url
        # The header lines every request of this sink carries, written once: the owner's own
        # (checked by the configuration's parser: no framing, hop-by-hop nor signature
        # header, no CR/LF) after ours, a User-Agent of theirs instead of ours.
        custom = [f"{name}: {value}" for name, value in config.headers]
        fixed = (
            []
            if any(n.lower() == "user-agent" for n, _ in config.headers)
            else [f"User-Agent: {driver.user_agent}"]
        )
        if self._auth is not None:
            fixed.append(f"Authorization: {self._auth}")
        if not config.is_get:
            fixed.append("Content-Type: application/json")
        self._headers = "".join(f"{line}\r\n" for line in (*fixed, *custom))
        # Standard Webhooks: the sink's key, decoded once (the secret itself is never shown).
        self._key = b""
        self._unsigned: Misconfigured | None = None
        # After a rotation, the replaced secret signs beside the new one until it expires.
        self._previous_key = b""
        self._previous_until = spec.previous_signing_secret_expires
        if config.standard_webhooks:
            self._key = readable_key(spec.signing_secret)
            if not self._key:
                self._unsigned = Misconfigured("the sink's Standard Webhooks secret is missing or unreadable")
            self._previous_key = readable_key(spec.previous_signing_secret)
        # What the delivery log shows of every request (Authorization hidden), made once.
        self._shown_headers = header_pairs(self._headers)
        self._shown_url = shown_url(self._url)
        self.limits = limits_for(config)
        # A numeric host's verdict never changes: decided once (names are checked by the
        # resolver at every connection).
        self._refused: DestinationRefused | None = None
        self._target = Target(Origin("http", "", 80), "/")
        try:
            self._wire = addresses.wire_url(self._url)
            self._shown_url = shown_url(self._wire)
            self._target = Target.of(self._wire)
            # The host judged is the one connected to: the wire form (IDNA, NFKC first), so a
            # fullwidth `１２７.０.０.１` is judged as the 127.0.0.1 it becomes.
            check_host(self._target.origin.host, driver.allow_private)
        except DestinationRefused as exc:
            self._refused = exc
        except ValueError as exc:  # control validates destinations: a stored one from before
            self._refused = DestinationRefused(f"destination is not a usable URL: {exc}")

    def size(self, event: SinkEvent) -> int:
        if self._config.is_get:
            return len(get_url(self._url, event.payload))
        return len(event.payload)

    async def prepare(self) -> None:
        if self._refused is not None:
            raise self._refused
        if self._unsigned is not None:
            raise self._unsigned

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        if self._config.is_get:
            method, body = "GET", None
            shown, form = self._shown_url, BODY_QUERY
            # Signed as it goes on the wire: the URL in its normalized (requoted) form.
            try:
                signed_url = addresses.wire_url(get_url(self._url, events[0].payload))
                # Connected to at the origin checked when the sink was opened.
                target = Target(self._target.origin, Target.of(signed_url).path)
            except ValueError as exc:
                raise DestinationRefused(f"destination is not a usable URL: {exc}") from exc
        elif self._config.standard_webhooks:
            return await self._deliver_standard(events)
        else:
            method = "POST"
            if self._config.batch_events:
                body = b"[" + b",".join(e.payload for e in events) + b"]"
            else:
                body = events[0].payload
            # The normalized URL with its bodySHA256 appended (hex digits: nothing to quote),
            # sent exactly as signed, so the receiver recomputes it over the same characters.
            signed_url = signature.with_body_hash(self._wire, body)
            target = Target(self._target.origin, signature.with_body_hash(self._target.path, body))
            # Shown with the same bodySHA256 the receiver recomputes the signature with.
            shown = self._shown_url + signed_url[len(self._wire) :]
            form = BODY_BATCH if self._config.batch_events else BODY_EVENT
        signed = signature.sign(signed_url, self._token)
        headers = f"{self._headers}X-Twilio-Signature: {signed}\r\n"
        capture = Exchange(
            method,
            shown,
            [*self._shown_headers, ("X-Twilio-Signature", signed)],
            form,
            len(body) if body is not None else 0,
            len(events),
        )
        return await self._send(events, method, target, headers, body, capture)

    async def _deliver_standard(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        """POSTed to the URL as configured (no bodySHA256: the signature covers the body),
        signed as Standard Webhooks at the moment it is sent (receivers refuse a timestamp
        more than minutes old, so a retry is signed anew — with the same webhook-id)."""
        batch = self._config.batch_events
        body = b"[" + b",".join(e.payload for e in events) + b"]" if batch else events[0].payload
        msg_id = standard.message_id([e.event_id for e in events])
        now = time.time()
        timestamp = int(now)
        signed = standard.sign(self._key, msg_id, timestamp, body)
        if self._previous_key and now < self._previous_until:
            # Space-separated signatures: a receiver accepts the request if any one matches.
            signed += " " + standard.sign(self._previous_key, msg_id, timestamp, body)
        added = [(standard.ID, msg_id), (standard.TIMESTAMP, str(timestamp)), (standard.SIGNATURE, signed)]
        headers = self._headers + "".join(f"{name}: {value}\r\n" for name, value in added)
        capture = Exchange(
            "POST",
            self._shown_url,
            [*self._shown_headers, *added],
            BODY_BATCH if batch else BODY_EVENT,
            len(body),
            len(events),
        )
        return await self._send(events, "POST", self._target, headers, body, capture)

    async def _send(
        self,
        events: Sequence[SinkEvent],
        method: str,
        target: Target,
        headers: str,
        body: bytes | None,
        capture: Exchange,
    ) -> Sequence[Outcome]:
        try:
            status = await http.exchange(self._driver.client, method, target, headers, body, capture=capture)
        except DeliveryError as exc:  # every event's outcome, as a raise would be; with the call
            return [Outcome(error=exc, status=exc.status, exchange=capture)] * len(events)
        return [Outcome(status=status, exchange=capture)] * len(events)

    async def close(self) -> None:
        return None


class WebhookDriver:
    sink_type = "webhook"

    def __init__(
        self, timeout_seconds: float, allow_private: bool, user_agent: str, max_connections: int = 512
    ) -> None:
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.client = Http1Client(
            Addresses(allow_private), timeout_seconds, max_connections, body_limit=http.MAX_RESPONSE_BYTES
        )

    def open(self, spec: SinkSpec) -> WebhookSink:
        assert isinstance(spec.config, WebhookConfig)
        return WebhookSink(self, spec, spec.config)

    async def close(self) -> None:
        await self.client.close()
