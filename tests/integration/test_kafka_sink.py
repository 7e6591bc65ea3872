"""The Kafka driver against a real Apache Kafka broker (KRaft, from Kafka's own jars), read
back with the Kafka client: each event a record keyed by its ordering key or its id, the
CloudEvent as its value, the CloudEvents Kafka binding's headers; a topic that does not
exist refused for good, a broker that cannot be reached retried."""

from __future__ import annotations

import json
import secrets
import ssl
from collections.abc import AsyncIterator

import pytest

from launcher.processes import free_port
from runtime.sinks import kafka as kafka_config
from runtime.sinks.kafka import KafkaConfig
from services.delivery.errors import DestinationRefused
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.kafka import KafkaDriver
from services.delivery.sinks.kafka.driver import KafkaSink
from services.delivery.sinks.kafka.errors import KafkaRefused, KafkaUnavailable
from tests.conftest import KafkaTarget
from tests.support.kafka_broker import USER, create_topic, records

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "1" * 32
SID = "DG" + "2" * 32
TYPE = "com.twilio.messaging.message.delivered"


def event(i: int, order_key: str = "") -> SinkEvent:
    cloud_event = {
        "specversion": "1.0",
        "id": f"EZ{i:032d}",
        "type": TYPE,
        "source": "/2010-04-01/Accounts/AC1/Messages/SM1.json",
        "time": "2026-12-07T10:00:00.000Z",
        "data": {"n": i},
    }
    return SinkEvent(f"EZ{i:032d}", TYPE, ACCOUNT, json.dumps(cloud_event).encode(), order_key)  # type: ignore[arg-type]


@pytest.fixture
async def driver() -> AsyncIterator[KafkaDriver]:
    made = KafkaDriver(allow_private=True)
    yield made
    await made.close()


def open_sink(driver: KafkaDriver, servers: str, topic: str) -> KafkaSink:
    return driver.open(SinkSpec(SID, ACCOUNT, KafkaConfig(servers, topic, False, "", "", ""), "token"))


async def test_each_event_a_record_keyed_with_cloudevents_headers(
    kafka: KafkaTarget, driver: KafkaDriver
) -> None:
    topic = "events-" + secrets.token_hex(4)
    await create_topic(kafka.bootstrap, topic, partitions=3)
    sink = open_sink(driver, kafka.bootstrap, topic)
    try:
        await sink.prepare()
        events = [event(i) for i in range(5)] + [event(10 + i, order_key="MG1") for i in range(5)]
        outcomes = await sink.deliver(events)
        assert [o.delivered for o in outcomes] == [True] * 10
    finally:
        await sink.close()
    got = await records(kafka.bootstrap, topic)
    assert sorted(r.value for r in got) == sorted(e.payload for e in events)
    by_id = {json.loads(r.value)["id"]: r for r in got}
    first = by_id[events[0].event_id]
    assert first.key == events[0].event_id.encode()
    assert dict(first.headers) == {
        "ce_id": events[0].event_id.encode(),
        "ce_type": TYPE.encode(),
        "ce_source": b"/2010-04-01/Accounts/AC1/Messages/SM1.json",
        "ce_specversion": b"1.0",
        "ce_time": b"2026-12-07T10:00:00.000Z",
        "content-type": b"application/cloudevents+json",
    }
    # One ordering key: one partition, in the order sent.
    keyed = [r for r in got if r.key == b"MG1"]
    assert len({r.partition for r in keyed}) == 1
    assert [json.loads(r.value)["data"]["n"] for r in keyed] == [10, 11, 12, 13, 14]


async def test_a_topic_that_does_not_exist_is_refused(kafka: KafkaTarget) -> None:
    impatient = KafkaDriver(allow_private=True, timeout_seconds=2)
    sink = open_sink(impatient, kafka.bootstrap, "missing-" + secrets.token_hex(4))
    with pytest.raises(KafkaRefused, match="does not exist") as refused:
        await sink.prepare()
    assert not refused.value.retryable


async def test_a_broker_that_cannot_be_reached_is_retried(driver: KafkaDriver) -> None:
    sink = open_sink(driver, f"127.0.0.1:{free_port()}", "events")
    with pytest.raises(KafkaUnavailable) as failed:
        await sink.prepare()
    assert failed.value.retryable


async def test_a_private_broker_is_refused_unless_the_operator_allows_it(kafka: KafkaTarget) -> None:
    sink = open_sink(KafkaDriver(allow_private=False), kafka.bootstrap, "events")
    with pytest.raises(DestinationRefused):
        await sink.prepare()


def secured_sink(
    kafka: KafkaTarget,
    listener: str,
    topic: str,
    mechanism: str,
    password: str = USER[1],
    trusted: bool = True,
) -> tuple[KafkaDriver, KafkaSink]:
    """A sink on one of the broker's secured listeners, its configuration taken as a customer's
    would be; its driver trusting the broker's certificate unless `trusted` is False."""
    secured = kafka.broker.secured
    assert secured is not None
    protocol, port = secured.listeners()[listener]
    login = {"sasl_mechanism": mechanism, "username": USER[0], "password": password} if mechanism else {}
    config = kafka_config.parse(
        {"bootstrap_servers": f"127.0.0.1:{port}", "topic": topic, "tls": protocol.endswith("SSL"), **login}
    )
    trust = ssl.create_default_context(cafile=str(secured.certificate)) if trusted else None
    driver = KafkaDriver(allow_private=True, timeout_seconds=5, ssl_context=trust)
    return driver, driver.open(SinkSpec(SID, ACCOUNT, config, "token"))


@pytest.mark.parametrize(
    ("listener", "mechanism"),
    [
        ("SASLSSL", "PLAIN"),
        ("SASLSSL", "SCRAM-SHA-256"),
        ("SASLSSL", "scram-sha-512"),
        ("SASLPLAIN", "PLAIN"),
        ("SASLPLAIN", "SCRAM-SHA-512"),
        ("TLS", ""),
    ],
)
async def test_a_hosted_kafkas_login_and_tls_deliver(
    kafka: KafkaTarget, listener: str, mechanism: str
) -> None:
    """SASL (PLAIN, SCRAM) over TLS or in the clear, and TLS alone: how Confluent Cloud, MSK and
    Aiven are reached. The broker checks the login; the sink checks the broker's certificate."""
    topic = "secured-" + secrets.token_hex(4)
    await create_topic(kafka.broker.bootstrap_direct, topic)
    driver, sink = secured_sink(kafka, listener, topic, mechanism)
    try:
        await sink.prepare()
        assert [o.delivered for o in await sink.deliver([event(1), event(2)])] == [True, True]
    finally:
        await sink.close()
        await driver.close()
    got = await records(kafka.broker.bootstrap_direct, topic)
    assert [json.loads(r.value)["id"] for r in got] == [event(1).event_id, event(2).event_id]


@pytest.mark.parametrize(("listener", "mechanism"), [("SASLSSL", "PLAIN"), ("SASLSSL", "SCRAM-SHA-512")])
async def test_a_wrong_password_is_refused_for_good(
    kafka: KafkaTarget, listener: str, mechanism: str
) -> None:
    topic = "secured-" + secrets.token_hex(4)
    await create_topic(kafka.broker.bootstrap_direct, topic)
    driver, sink = secured_sink(kafka, listener, topic, mechanism, password="not-it")
    try:
        with pytest.raises(KafkaRefused, match=r"(?i)authentication failed") as refused:
            await sink.prepare()
    finally:
        await sink.close()
        await driver.close()
    assert not refused.value.retryable


async def test_a_certificate_the_sink_does_not_trust_is_sent_nothing_and_said(kafka: KafkaTarget) -> None:
    """Retried, as a webhook's is (a certificate being renewed), and the log says why."""
    topic = "secured-" + secrets.token_hex(4)
    await create_topic(kafka.broker.bootstrap_direct, topic)
    driver, sink = secured_sink(kafka, "TLS", topic, "", trusted=False)
    try:
        with pytest.raises(KafkaUnavailable, match="CERTIFICATE_VERIFY_FAILED") as failed:
            await sink.prepare()
    finally:
        await sink.close()
        await driver.close()
    assert failed.value.retryable
    assert await records(kafka.broker.bootstrap_direct, topic) == []


def pem_config(kafka: KafkaTarget, listener: str, topic: str, client: bool) -> KafkaConfig:
    """A TLS sink that trusts the broker through its configuration's `ca_certificate` (the
    driver trusts only the system's authorities), presenting the client certificate if asked."""
    secured = kafka.broker.secured
    assert secured is not None
    _, port = secured.listeners()[listener]
    pems = {"ca_certificate": secured.certificate.read_text()}
    if client:
        pems |= {
            "client_certificate": secured.client_certificate.read_text(),
            "client_key": secured.client_key.read_text(),
        }
    return kafka_config.parse({"bootstrap_servers": f"127.0.0.1:{port}", "topic": topic, "tls": True, **pems})


@pytest.mark.parametrize(("listener", "client"), [("TLS", False), ("MTLS", True)])
async def test_a_private_authority_and_a_client_certificate_from_the_configuration(
    kafka: KafkaTarget, driver: KafkaDriver, listener: str, client: bool
) -> None:
    """Brokers signed by the customer's own authority (as Aiven's are), and mutual TLS."""
    topic = "pem-" + secrets.token_hex(4)
    await create_topic(kafka.broker.bootstrap_direct, topic)
    sink = driver.open(SinkSpec(SID, ACCOUNT, pem_config(kafka, listener, topic, client), "token"))
    try:
        await sink.prepare()
        assert (await sink.deliver([event(3)]))[0].delivered
    finally:
        await sink.close()
    assert [json.loads(r.value)["id"] for r in await records(kafka.broker.bootstrap_direct, topic)] == [
        event(3).event_id
    ]


async def test_mutual_tls_without_the_client_certificate_is_sent_nothing(kafka: KafkaTarget) -> None:
    topic = "pem-" + secrets.token_hex(4)
    await create_topic(kafka.broker.bootstrap_direct, topic)
    impatient = KafkaDriver(allow_private=True, timeout_seconds=3)
    sink = impatient.open(SinkSpec(SID, ACCOUNT, pem_config(kafka, "MTLS", topic, client=False), "token"))
    try:
        with pytest.raises(KafkaUnavailable):
            await sink.prepare()
    finally:
        await sink.close()
    assert await records(kafka.broker.bootstrap_direct, topic) == []
