"""The RabbitMQ sink: one AMQP 0-9-1 connection per sink, one channel in publisher-confirm
mode, each event published `mandatory` to the sink's exchange with the event type as its
routing key, and confirmed by the broker before it counts as delivered.

aio-pika (over aiormq, both maintained by the same people) rather than aiormq alone: its
typed `Message` and `Exchange` say what is sent in a few lines, and it raises a returned
(unroutable) message as an error when asked to. Its plain `connect`, not `connect_robust`:
a lost connection fails the call and our retry policy decides when to try again — a robust
connection would reconnect behind the policy's back and hold calls while it does.

The broker's host is checked where it is resolved, as a webhook's is (loopback, private and
link-local addresses refused unless the operator allows private destinations); a plain
`amqp://` connection is made to the address that was checked."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aiormq import spec
from yarl import URL

from runtime.sinks.rabbitmq import RabbitMQConfig
from services.delivery.sinks import tls
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.rabbitmq import message
from services.delivery.sinks.rabbitmq.errors import BrokerUnavailable, from_exception, mapped
from services.delivery.sinks.webhook.destinations import Addresses

DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671}


class RabbitMQSink:
    limits: Limits = message.LIMITS

    def __init__(self, driver: RabbitMQDriver, spec: SinkSpec, config: RabbitMQConfig) -> None:
        self._driver = driver
        self._sid = spec.sid
        self._config = config
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    def size(self, event: SinkEvent) -> int:
        return len(event.payload)

    def _ready(self) -> bool:
        return (
            self._exchange is not None
            and self._channel is not None
            and not self._channel.is_closed
            and self._connection is not None
            and not self._connection.is_closed
        )

    async def prepare(self) -> None:
        if self._ready():
            return
        async with self._lock:  # one connection per sink, however many calls wait for it
            if self._ready():
                return
            await self._drop()
            with mapped():
                secure = self._config.url.startswith("amqps://")
                self._connection = await aio_pika.connect(
                    await self._url(),
                    ssl_context=tls.context(self._config, self._driver.tls) if secure else None,
                    timeout=self._driver.timeout_seconds,
                    client_properties={"connection_name": f"Twilio Event Streams {self._sid}"},
                )
                # on_return_raises: an unroutable message (published mandatory) fails its
                # publish instead of being confirmed and dropped by the broker.
                self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
                # Passive: the exchange is the customer's to declare; a missing one is refused.
                self._exchange = await self._channel.get_exchange(self._config.exchange, ensure=True)

    async def _url(self) -> str:
        parts = urlsplit(self._config.url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS[parts.scheme]
        found = await self._driver.addresses(host, port)
        # amqps names the host it verifies; plain amqp goes to the address that was checked.
        connect_to = host if parts.scheme == "amqps" else found[0]
        return str(
            URL.build(
                scheme=parts.scheme,
                host=connect_to,
                port=port,
                user=self._config.username,
                password=self._config.password,
                path="/" + self._config.vhost,
            )
        )

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        exchange = self._exchange
        if exchange is None or not self._ready():
            raise BrokerUnavailable("RabbitMQ: the connection was lost")
        answers = await asyncio.gather(*(self._publish(exchange, e) for e in events), return_exceptions=True)
        outcomes: list[Outcome] = []
        for answer in answers:
            if isinstance(answer, BaseException):
                if isinstance(answer, asyncio.CancelledError):
                    raise answer
                outcomes.append(Outcome(error=from_exception(answer)))
            else:
                outcomes.append(Outcome())
        if any(isinstance(o.error, BrokerUnavailable) for o in outcomes):
            # A confirm that never came or a channel that broke: the next call connects anew
            # rather than trusting this connection again.
            self._exchange = None
        return outcomes

    async def _publish(self, exchange: AbstractExchange, event: SinkEvent) -> None:
        confirm = await exchange.publish(
            message.message(event),
            routing_key=event.type_name,
            mandatory=True,
            timeout=self._driver.timeout_seconds,
        )
        if not isinstance(confirm, spec.Basic.Ack):
            raise BrokerUnavailable(f"RabbitMQ did not take the message ({type(confirm).__name__})")

    async def _drop(self) -> None:
        connection, self._connection, self._channel, self._exchange = self._connection, None, None, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # a connection being dropped may fail as it likes
                pass

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


class RabbitMQDriver:
    sink_type = "rabbitmq"

    def __init__(
        self, allow_private: bool, timeout_seconds: float = 10.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """`ssl_context`: what an amqps:// connection trusts (None: the system's authorities)."""
        self.addresses = Addresses(allow_private)
        self.timeout_seconds = timeout_seconds
        self.tls = tls.SystemTrust(ssl_context)

    def open(self, spec: SinkSpec) -> RabbitMQSink:
        assert isinstance(spec.config, RabbitMQConfig)
        return RabbitMQSink(self, spec, spec.config)

    async def close(self) -> None:
        return None
