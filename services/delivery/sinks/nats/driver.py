"""The NATS sink: the customer's own NATS, one connection per sink, through nats-py's public
API — never the services' own NATS seam (runtime/natsio), which speaks to our broker.

Without a stream in the configuration an event is published on core NATS and counts as
delivered once the server has taken it (a flush: its PING answered after the publishes,
and no permissions violation said for them meanwhile); NATS keeps nothing for a subject no
one listens to. With a stream, each publish waits for the stream's acknowledgement (and
names the stream it expects, so a subject another stream stores is refused), `Nats-Msg-Id`
the event id: a publish retried after a lost acknowledgement is stored once.

No reconnecting inside the client: a lost connection fails the call and our retry policy
decides; the next call connects anew. The server's host is checked where it is resolved,
as a webhook's is; a plain `nats://` connection goes to the address that was checked."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client, RawCredentials
from nats.js import JetStreamContext

from runtime.sinks.nats import NatsConfig
from services.delivery.sinks import tls
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.nats import message
from services.delivery.sinks.nats.errors import (
    PERMISSIONS,
    NatsRefused,
    NatsUnavailable,
    from_exception,
    mapped,
)
from services.delivery.sinks.webhook.destinations import Addresses

DEFAULT_PORT = 4222


class NatsSink:
    limits: Limits = message.LIMITS

    def __init__(self, driver: NatsDriver, spec: SinkSpec, config: NatsConfig) -> None:
        self._driver = driver
        self._sid = spec.sid
        self._config = config
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._refusals: list[str] = []  # permissions violations the server sent since the last call
        self._stale = False  # an acknowledgement never came: the next call connects anew
        self._lost = asyncio.Event()  # the connection closed under the calls in flight
        self._lock = asyncio.Lock()

    def size(self, event: SinkEvent) -> int:
        return len(event.payload)

    def _ready(self) -> bool:
        return self._client is not None and self._client.is_connected and not self._stale

    async def prepare(self) -> None:
        if self._ready():
            return
        async with self._lock:
            if self._ready():
                return
            await self._drop()
            self._stale = False
            self._lost = asyncio.Event()
            config = self._config
            parts = urlsplit(config.url)
            host, port = parts.hostname or "", parts.port or DEFAULT_PORT
            found = await self._driver.addresses(host, port)
            server = f"{parts.scheme}://{found[0] if parts.scheme == 'nats' else host}:{port}"
            if ":" in found[0] and parts.scheme == "nats":
                server = f"nats://[{found[0]}]:{port}"
            with mapped():
                self._client = await nats.connect(
                    servers=[server],
                    name=f"Twilio Event Streams {self._sid}",
                    user=config.username or None,
                    password=config.password or None,
                    token=config.token or None,
                    nkeys_seed_str=config.nkey_seed or None,
                    user_credentials=RawCredentials(config.credentials) if config.credentials else None,
                    tls=tls.context(config, self._driver.tls) if parts.scheme == "tls" else None,
                    connect_timeout=self._driver.timeout_seconds,
                    allow_reconnect=False,
                    # nats-py reads 0 as "no limit" on the first connect: one try, then fail.
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                )
            self._js = self._client.jetstream(timeout=self._driver.timeout_seconds)

    async def _on_disconnected(self) -> None:
        self._lost.set()

    async def _on_error(self, exc: Exception) -> None:
        # The server says a publish was not allowed asynchronously (-ERR), without closing.
        if PERMISSIONS in str(exc).lower():
            self._refusals.append(str(exc))

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        client, js = self._client, self._js
        if client is None or js is None or not client.is_connected:
            raise NatsUnavailable("NATS: the connection was lost")
        self._refusals.clear()
        if not self._config.stream:
            try:
                with mapped():
                    for event in events:
                        await client.publish(
                            self._config.subject, event.payload, headers=message.headers(event)
                        )
                    # Twice: nats-py pairs a flush with the first PONG that comes, and one
                    # PONG of its handshake comes unasked — a single flush returned on it,
                    # before the server's -ERR for these publishes had been read.
                    for _ in range(2):
                        await client.flush(timeout=max(1, round(self._driver.timeout_seconds)))
            except NatsUnavailable:
                self._stale = True
                raise
            self._raise_refused()
            return [Outcome()] * len(events)
        answers = await self._until_lost(
            asyncio.gather(*(self._store(js, e) for e in events), return_exceptions=True)
        )
        outcomes: list[Outcome] = []
        for answer in answers:
            if isinstance(answer, asyncio.CancelledError):
                raise answer
            if isinstance(answer, BaseException):
                error = from_exception(answer, self._config.stream)
                if self._refusals and isinstance(error, NatsUnavailable):
                    # The publish went unanswered because the server refused it.
                    error = NatsRefused(f"NATS refused the publish: {self._refusals[0]}")
                outcomes.append(Outcome(error=error))
            else:
                outcomes.append(Outcome())
        self._stale = any(isinstance(o.error, NatsUnavailable) for o in outcomes)
        return outcomes

    async def _until_lost(self, publishing: asyncio.Future[list[Any]]) -> list[Any]:
        """The publishes' answers — or, when the connection closes first, a failed call at
        once: nats-py leaves a request on a closed connection waiting out its timeout."""
        lost: asyncio.Future[Any] = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait([publishing, lost], return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if not publishing.done():
            publishing.cancel()
            self._stale = True
            raise NatsUnavailable("NATS: the connection was lost with publishes in flight")
        return publishing.result()

    async def _store(self, js: JetStreamContext, event: SinkEvent) -> None:
        await js.publish(
            self._config.subject,
            event.payload,
            stream=self._config.stream,
            headers=message.headers(event),
        )

    def _raise_refused(self) -> None:
        if self._refusals:
            raise NatsRefused(f"NATS refused the publish: {self._refusals[0]}")

    async def _drop(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            try:
                await client.close()
            except Exception:  # a connection being dropped may fail as it likes
                pass

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


class NatsDriver:
    sink_type = "nats"

    def __init__(
        self, allow_private: bool, timeout_seconds: float = 10.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """`ssl_context`: what a tls:// connection trusts (None: the system's certificate authorities)."""
        self.addresses = Addresses(allow_private)
        self.timeout_seconds = timeout_seconds
        self.tls = tls.SystemTrust(ssl_context)

    def open(self, spec: SinkSpec) -> NatsSink:
        assert isinstance(spec.config, NatsConfig)
        return NatsSink(self, spec, spec.config)

    async def close(self) -> None:
        return None
