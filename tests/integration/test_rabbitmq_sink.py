"""The RabbitMQ driver against a real broker (Debian's rabbitmq-server), read back with pika,
the customer's client: each event a persistent message on the sink's exchange, routed by its
type, its id the message id, its CloudEvent attributes headers; what the broker refuses for
good is the sink's BrokerRefused, what cannot reach it retried."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest

from runtime.sinks import rabbitmq as rabbitmq_config
from runtime.sinks.rabbitmq import RabbitMQConfig
from services.delivery.errors import DestinationRefused
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.rabbitmq import RabbitMQDriver
from services.delivery.sinks.rabbitmq.driver import RabbitMQSink
from services.delivery.sinks.rabbitmq.errors import BrokerRefused, BrokerUnavailable
from tests.support.cutting_proxy import CuttingProxy
from tests.support.rabbitmq_server import READER, WRITER, RabbitMQServer, declare, drain

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "1" * 32
SID = "DG" + "2" * 32
TYPE = "com.twilio.messaging.message.delivered"


def event(i: int, type_name: str = TYPE) -> SinkEvent:
    cloud_event = {
        "specversion": "1.0",
        "id": f"EZ{i:032d}",
        "type": type_name,
        "source": "/2010-04-01/Accounts/AC1/Messages/SM1.json",
        "time": "2026-12-07T10:00:00.000Z",
        "datacontenttype": "application/json",
        "data": {"n": i},
    }
    return SinkEvent(f"EZ{i:032d}", type_name, ACCOUNT, json.dumps(cloud_event).encode())  # type: ignore[arg-type]


@pytest.fixture
def exchange(rabbitmq: RabbitMQServer) -> Iterator[tuple[str, str]]:
    """A fresh topic exchange and a queue bound to every routing key of it."""
    name = "ex-" + secrets.token_hex(4)
    declare(rabbitmq, name, name + "-q")
    yield name, name + "-q"


@pytest.fixture
async def driver() -> AsyncIterator[RabbitMQDriver]:
    made = RabbitMQDriver(allow_private=True)
    yield made
    await made.close()


def sink(driver: RabbitMQDriver, url: str, exchange: str, user: tuple[str, str] = WRITER) -> RabbitMQSink:
    return driver.open(SinkSpec(SID, ACCOUNT, RabbitMQConfig(url, exchange, *user), "token"))


async def test_each_event_a_persistent_message_routed_by_its_type(
    rabbitmq: RabbitMQServer, driver: RabbitMQDriver, exchange: tuple[str, str]
) -> None:
    name, queue = exchange
    opened = sink(driver, rabbitmq.url(), name)
    try:
        await opened.prepare()
        events = [event(i, TYPE if i % 2 else "com.twilio.voice.call.completed") for i in range(5)]
        outcomes = await opened.deliver(events)
        assert [o.delivered for o in outcomes] == [True] * 5
    finally:
        await opened.close()

    got = await asyncio.to_thread(drain, rabbitmq, queue)
    assert [body for _, _, body in got] == [e.payload for e in events]
    assert [method.routing_key for method, _, _ in got] == [e.type_name for e in events]
    assert [method.exchange for method, _, _ in got] == [name] * 5
    _, properties, _ = got[1]
    assert properties.message_id == events[1].event_id
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/cloudevents+json"
    assert properties.type == TYPE
    assert properties.headers == {
        "cloudEvents_id": events[1].event_id,
        "cloudEvents_type": TYPE,
        "cloudEvents_source": "/2010-04-01/Accounts/AC1/Messages/SM1.json",
        "cloudEvents_specversion": "1.0",
        "cloudEvents_time": "2026-12-07T10:00:00.000Z",
    }
    assert properties.timestamp == 1796637600


def pem_config(rabbitmq: RabbitMQServer, exchange: str, client: bool) -> RabbitMQConfig:
    """An amqps:// sink trusting the broker through its `ca_certificate` (the driver trusts
    only the system's authorities), presenting the client certificate if `client`."""
    config = {"url": rabbitmq.tls_url(), "exchange": exchange, "username": WRITER[0], "password": WRITER[1]}
    config["ca_certificate"] = rabbitmq.certificate.read_text()
    if client:
        config["client_certificate"] = rabbitmq.client_certificate.read_text()
        config["client_key"] = rabbitmq.client_key.read_text()
    return rabbitmq_config.parse(config)


async def test_amqps_with_a_private_authority_and_a_client_certificate(
    rabbitmq: RabbitMQServer, driver: RabbitMQDriver, exchange: tuple[str, str]
) -> None:
    name, queue = exchange
    opened = driver.open(SinkSpec(SID, ACCOUNT, pem_config(rabbitmq, name, client=True), "token"))
    try:
        await opened.prepare()
        assert (await opened.deliver([event(4)]))[0].delivered
    finally:
        await opened.close()
    assert [body for _, _, body in await asyncio.to_thread(drain, rabbitmq, queue)] == [event(4).payload]
    # Without the client certificate the broker ends the handshake: nothing is published.
    refused = driver.open(SinkSpec(SID, ACCOUNT, pem_config(rabbitmq, name, client=False), "token"))
    try:
        with pytest.raises(BrokerUnavailable):
            await refused.prepare()
    finally:
        await refused.close()


async def test_a_bound_queue_takes_only_its_routing_keys(
    rabbitmq: RabbitMQServer, driver: RabbitMQDriver
) -> None:
    name = "ex-" + secrets.token_hex(4)
    declare(rabbitmq, name, name + "-messaging", "com.twilio.messaging.#")
    opened = sink(driver, rabbitmq.url(), name)
    try:
        await opened.prepare()
        outcomes = await opened.deliver([event(1), event(2, "com.twilio.voice.call.completed")])
    finally:
        await opened.close()
    assert outcomes[0].delivered
    # No queue is bound for the voice event: returned unroutable, not counted delivered.
    assert isinstance(outcomes[1].error, BrokerRefused)
    assert not outcomes[1].error.retryable
    assert "unroutable" in outcomes[1].error.message
    got = await asyncio.to_thread(drain, rabbitmq, name + "-messaging")
    assert [body for _, _, body in got] == [event(1).payload]


async def test_an_exchange_that_does_not_exist_is_refused(
    rabbitmq: RabbitMQServer, driver: RabbitMQDriver
) -> None:
    opened = sink(driver, rabbitmq.url(), "missing-" + secrets.token_hex(4))
    with pytest.raises(BrokerRefused, match="NOT_FOUND"):
        await opened.prepare()
    await opened.close()


async def test_a_wrong_password_or_vhost_is_refused(rabbitmq: RabbitMQServer, driver: RabbitMQDriver) -> None:
    wrong_password = sink(driver, rabbitmq.url(), "events", (WRITER[0], "not-it"))
    with pytest.raises(BrokerRefused, match="ACCESS_REFUSED") as refused:
        await wrong_password.prepare()
    assert not refused.value.retryable
    wrong_vhost = sink(driver, rabbitmq.url("nowhere"), "events")
    with pytest.raises(BrokerRefused):
        await wrong_vhost.prepare()


async def test_a_user_without_write_permission_is_refused(
    rabbitmq: RabbitMQServer, driver: RabbitMQDriver, exchange: tuple[str, str]
) -> None:
    opened = sink(driver, rabbitmq.url(), exchange[0], READER)
    try:
        await opened.prepare()
        outcomes = await opened.deliver([event(1), event(2)])
    finally:
        await opened.close()
    for outcome in outcomes:
        assert isinstance(outcome.error, BrokerRefused)
        assert "ACCESS_REFUSED" in outcome.error.message


async def test_a_lost_connection_is_retried_and_the_next_call_reconnects(
    rabbitmq: RabbitMQServer, driver: RabbitMQDriver, exchange: tuple[str, str]
) -> None:
    name, queue = exchange
    proxy = CuttingProxy(f"127.0.0.1:{rabbitmq.port}")
    await proxy.start()
    opened = sink(driver, f"amqp://{proxy.address}", name)
    try:
        await opened.prepare()
        assert (await opened.deliver([event(1)]))[0].delivered
        await proxy.cut()
        await asyncio.sleep(0.2)
        try:
            outcomes = await opened.deliver([event(2)])
            assert all(isinstance(o.error, BrokerUnavailable) and o.error.retryable for o in outcomes)
        except BrokerUnavailable as exc:  # seen lost before the call: the call fails whole
            assert exc.retryable
        await opened.prepare()
        assert proxy.connections == 2
        assert (await opened.deliver([event(3)]))[0].delivered
    finally:
        await opened.close()
        await proxy.stop()
    got = await asyncio.to_thread(drain, rabbitmq, queue)
    assert [properties.message_id for _, properties, _ in got] == [event(1).event_id, event(3).event_id]


async def test_a_broker_that_does_not_answer_is_retried(driver: RabbitMQDriver) -> None:
    from launcher.processes import free_port

    opened = sink(driver, f"amqp://127.0.0.1:{free_port()}", "events")
    with pytest.raises(BrokerUnavailable) as failed:
        await opened.prepare()
    assert failed.value.retryable


async def test_a_private_broker_is_refused_unless_the_operator_allows_it(rabbitmq: RabbitMQServer) -> None:
    strict = RabbitMQDriver(allow_private=False)
    opened = sink(strict, rabbitmq.url(), "events")
    with pytest.raises(DestinationRefused):
        await opened.prepare()
