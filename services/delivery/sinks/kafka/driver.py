"""The Apache Kafka sink: one idempotent producer per sink (acks=all, enable_idempotence),
each event a record on the sink's topic.

aiokafka rather than confluent-kafka (librdkafka): both install here, but aiokafka is
asyncio through and through — a send is an awaitable on the worker's own loop — where
confluent-kafka delivers its results on callbacks from librdkafka's threads that would have
to be carried back to the loop; its idempotent producer keeps a partition's order across its
own retries, which is what this sink needs of it.

- Key: the subscription's ordering key's value when the sink orders by key, else the event
  id — a key's events in one partition, in order.
- Value: the CloudEvent itself (structured content mode); headers after the CloudEvents
  Kafka binding: `ce_id`, `ce_type`, `ce_source`, `ce_specversion` (`ce_time` and the
  others the event has) and `content-type: application/cloudevents+json`.

Delivery is at least once: a write retried after a lost acknowledgement on a new producer
session may be stored twice (the idempotent producer dedupes its own retries only); the
record's `ce_id` header is the consumer's key to drop the second.

The bootstrap servers' hosts are checked where they are resolved, as a webhook's is; the
brokers a cluster advertises after that are connected to as it names them."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from runtime.sinks.kafka import KafkaConfig
from services.delivery.sinks import tls
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.kafka import bootstrap, records
from services.delivery.sinks.kafka.errors import KafkaUnavailable, from_exception, mapped
from services.delivery.sinks.webhook.destinations import Addresses


class KafkaSink:
    limits: Limits = records.LIMITS

    def __init__(self, driver: KafkaDriver, spec: SinkSpec, config: KafkaConfig) -> None:
        self._driver = driver
        self._sid = spec.sid
        self._config = config
        self._producer: AIOKafkaProducer | None = None
        self._stale = False
        self._lock = asyncio.Lock()

    def size(self, event: SinkEvent) -> int:
        return records.size(event)

    def _ready(self) -> bool:
        return self._producer is not None and not self._stale

    async def prepare(self) -> None:
        if self._ready():
            return
        async with self._lock:
            if self._ready():
                return
            await self._drop()
            config = self._config
            for host, port in config.servers:
                await self._driver.addresses(host, port)
            timeout_ms = int(self._driver.timeout_seconds * 1000)
            # How each connection is made: the producer's, and bootstrap.reason's when it fails.
            connection: dict[str, Any] = {
                "request_timeout_ms": timeout_ms,
                "security_protocol": ("SASL_" if config.sasl_mechanism else "")
                + ("SSL" if config.tls else "PLAINTEXT"),
                "ssl_context": tls.context(config, self._driver.tls) if config.tls else None,
            }
            if config.sasl_mechanism:
                connection.update(
                    sasl_mechanism=config.sasl_mechanism,
                    sasl_plain_username=config.username,
                    sasl_plain_password=config.password,
                )
            producer = AIOKafkaProducer(
                bootstrap_servers=[f"{host}:{port}" for host, port in config.servers],
                client_id=f"twilio-event-streams-{self._sid}",
                enable_idempotence=True,
                acks="all",
                max_request_size=records.MAX_REQUEST_BYTES,
                **connection,
            )
            try:
                with mapped(config.topic):
                    try:
                        await producer.start()
                    except KafkaConnectionError as exc:
                        raise (await bootstrap.reason(config.servers, connection) or exc) from exc
                    # The topic must exist: a missing one is the configuration's fault. aiokafka
                    # says so after request_timeout_ms; this bound is only a backstop.
                    await asyncio.wait_for(
                        producer.partitions_for(config.topic), 2 * self._driver.timeout_seconds
                    )
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
            self._stale = False

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        producer = self._producer
        if producer is None or self._stale:
            raise KafkaUnavailable("Kafka: the producer was lost")
        sent: list[Any] = []
        for event in events:
            try:
                sent.append(
                    await producer.send(
                        self._config.topic,
                        value=event.payload,
                        key=records.key(event),
                        headers=records.headers(event),
                    )
                )
            except Exception as exc:  # refused before it was queued (its size, say)
                sent.append(exc)
        waiting = [s for s in sent if isinstance(s, asyncio.Future)]
        await asyncio.wait(waiting, timeout=self._driver.timeout_seconds * 2) if waiting else None
        outcomes: list[Outcome] = []
        for item in sent:
            if isinstance(item, BaseException):
                outcomes.append(Outcome(error=from_exception(item, self._config.topic)))
            elif not item.done():
                item.cancel()
                outcomes.append(Outcome(error=from_exception(TimeoutError(), self._config.topic)))
            elif item.exception() is not None:
                outcomes.append(Outcome(error=from_exception(item.exception(), self._config.topic)))
            else:
                outcomes.append(Outcome())
        if any(o.error is not None for o in outcomes):
            # A new producer session for the next call: after a failed batch the idempotent
            # producer's sequence numbers for its partition are not to be trusted.
            self._stale = True
        return outcomes

    async def _drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), self._driver.timeout_seconds)
            except Exception:  # a producer being dropped may fail as it likes
                pass

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


class KafkaDriver:
    sink_type = "kafka"

    def __init__(
        self, allow_private: bool, timeout_seconds: float = 10.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        """`ssl_context`: what a TLS connection trusts (None: the system's certificate authorities)."""
        self.addresses = Addresses(allow_private)
        self.timeout_seconds = timeout_seconds
        self.tls = tls.SystemTrust(ssl_context)

    def open(self, spec: SinkSpec) -> KafkaSink:
        assert isinstance(spec.config, KafkaConfig)
        return KafkaSink(self, spec, spec.config)

    async def close(self) -> None:
        return None
