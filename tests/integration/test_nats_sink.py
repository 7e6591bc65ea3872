"""The NATS driver against real nats-servers (one with users and JetStream, one with a
token, one listing a user by its NKey, one in operator mode logging users in by JWT), read
back with nats-py as a customer would: core publishes with the event id as `Nats-Msg-Id`,
JetStream publishes acknowledged and deduplicated by it, and what the server refuses for
good (a login, a permission, a subject no stream stores) told apart from what is worth
retrying (a server that cannot be reached)."""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import RawCredentials
from nats.js.api import StreamConfig

from launcher.nats_server import NatsServer
from launcher.processes import free_port
from runtime.sinks import nats as nats_config
from runtime.sinks.nats import NatsConfig
from services.delivery.errors import DestinationRefused
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.nats import NatsDriver
from services.delivery.sinks.nats.driver import NatsSink
from services.delivery.sinks.nats.errors import NatsRefused, NatsUnavailable
from tests.support.certificates import self_signed
from tests.support.nats_auth import Operator, creds, user_key

pytestmark = pytest.mark.integration

ACCOUNT = "AC" + "1" * 32
SID = "DG" + "2" * 32
TYPE = "com.twilio.messaging.message.delivered"
WRITER = ("writer", "writer-secret")
LIMITED = ("limited", "limited-secret")  # may publish to allowed.> only
TOKEN = "s3cr3t-token"

USERS = f"""
authorization {{
  users = [
    {{user: {WRITER[0]}, password: {WRITER[1]}}}
    {{user: {LIMITED[0]}, password: {LIMITED[1]},
      permissions: {{publish: ["allowed.>", "$JS.API.>"], subscribe: ["_INBOX.>"]}}}}
  ]
}}
"""


def server(directory: Path, config: str) -> NatsServer:
    running = NatsServer.create(directory / "store", directory / "logs")
    running.config_file = directory / "auth.conf"
    running.config_file.parent.mkdir(parents=True, exist_ok=True)
    running.config_file.write_text(config)
    running.start()
    return running


@pytest.fixture(scope="module")
def users_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    running = server(tmp_path_factory.mktemp("nats-users"), USERS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    running = server(tmp_path_factory.mktemp("nats-token"), f"authorization {{ token: {TOKEN} }}\n")
    yield running
    running.stop()


NKEY_USER = user_key()
OPERATOR = Operator.new()


@pytest.fixture(scope="module")
def nkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    config = f"authorization {{ users = [ {{ nkey: {NKEY_USER.public} }} ] }}\n"
    running = server(tmp_path_factory.mktemp("nats-nkey"), config)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def operator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    running = server(tmp_path_factory.mktemp("nats-operator"), OPERATOR.server_config())
    yield running
    running.stop()


@dataclass(frozen=True)
class TlsServers:
    """Two nats-servers presenting a self-signed certificate for 127.0.0.1: one asking for
    nothing more, one for the client certificate it trusts (mutual TLS)."""

    plain: NatsServer
    mutual: NatsServer
    certificate: Path
    client_certificate: Path
    client_key: Path


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServers]:
    directory = tmp_path_factory.mktemp("nats-tls")
    (directory / "client").mkdir()
    cert, key = self_signed(directory)
    client_cert, client_key = self_signed(directory / "client")
    presented = f'cert_file: "{cert}"\n  key_file: "{key}"'
    plain = server(directory / "plain", f"tls {{\n  {presented}\n}}\n")
    mutual = server(
        directory / "mutual", f'tls {{\n  {presented}\n  ca_file: "{client_cert}"\n  verify: true\n}}\n'
    )
    yield TlsServers(plain, mutual, cert, client_cert, client_key)
    plain.stop()
    mutual.stop()


def tls_url(running: NatsServer) -> str:
    return f"tls://127.0.0.1:{running.port}"


@pytest.fixture
async def driver() -> AsyncIterator[NatsDriver]:
    made = NatsDriver(allow_private=True)
    yield made
    await made.close()


def event(i: int) -> SinkEvent:
    cloud_event = {
        "specversion": "1.0",
        "id": f"EZ{i:032d}",
        "type": TYPE,
        "source": "/2010-04-01/Accounts/AC1/Messages/SM1.json",
        "time": "2026-12-07T10:00:00.000Z",
        "data": {"n": i},
    }
    return SinkEvent(f"EZ{i:032d}", TYPE, ACCOUNT, json.dumps(cloud_event).encode())  # type: ignore[arg-type]


def open_sink(driver: NatsDriver, url: str, subject: str, stream: str = "", **login: str) -> NatsSink:
    config = NatsConfig(
        url=url,
        subject=subject,
        stream=stream,
        username=login.get("username", WRITER[0] if not login else ""),
        password=login.get("password", WRITER[1] if not login else ""),
        token=login.get("token", ""),
        nkey_seed=login.get("nkey_seed", ""),
        credentials=login.get("credentials", ""),
        ca_certificate=login.get("ca_certificate", ""),
        client_certificate=login.get("client_certificate", ""),
        client_key=login.get("client_key", ""),
    )
    return driver.open(SinkSpec(SID, ACCOUNT, config, "token"))


async def delivered_to_a_reader(
    driver: NatsDriver, url: str, subject: str, reader_login: dict[str, Any], **login: str
) -> None:
    """A sink logged in with `login` publishes an event that a subscriber (logged in with
    nats-py's `reader_login`) receives."""
    reader = await nats.connect(url, **reader_login)
    received = await reader.subscribe(subject)
    await reader.flush()
    sink = open_sink(driver, url, subject, **login)
    try:
        await sink.prepare()
        assert (await sink.deliver([event(7)]))[0].delivered
        assert (await received.next_msg(timeout=5)).data == event(7).payload
    finally:
        await sink.close()
        await reader.close()


async def test_core_publishes_carry_the_event_and_its_id(
    users_server: NatsServer, driver: NatsDriver
) -> None:
    subject = "twilio.events." + secrets.token_hex(4)
    reader = await nats.connect(users_server.url, user=WRITER[0], password=WRITER[1])
    received = await reader.subscribe(subject)
    await reader.flush()
    sink = open_sink(driver, users_server.url, subject)
    try:
        await sink.prepare()
        events = [event(i) for i in range(3)]
        outcomes = await sink.deliver(events)
        assert [o.delivered for o in outcomes] == [True] * 3
        got = [await received.next_msg(timeout=5) for _ in events]
    finally:
        await sink.close()
        await reader.close()
    assert [m.data for m in got] == [e.payload for e in events]
    headers = got[0].headers or {}
    assert headers["Nats-Msg-Id"] == events[0].event_id
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["ce-type"] == TYPE
    assert headers["ce-id"] == events[0].event_id
    assert headers["ce-source"] == "/2010-04-01/Accounts/AC1/Messages/SM1.json"
    assert headers["ce-specversion"] == "1.0"


async def test_jetstream_publishes_are_acknowledged_and_stored_once(
    users_server: NatsServer, driver: NatsDriver
) -> None:
    stream = "EVENTS_" + secrets.token_hex(4)
    subject = f"{stream.lower()}.twilio"
    admin = await nats.connect(users_server.url, user=WRITER[0], password=WRITER[1])
    js = admin.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[subject]))
    sink = open_sink(driver, users_server.url, subject, stream)
    try:
        await sink.prepare()
        events = [event(i) for i in range(4)]
        assert all(o.delivered for o in await sink.deliver(events))
        # At least once: a retried call publishes again; the stream keeps one of each.
        assert all(o.delivered for o in await sink.deliver(events[:2]))
        info = await js.stream_info(stream)
        assert info.state.messages == 4
        stored = await js.get_msg(stream, seq=1)
        assert stored.data == events[0].payload
        assert (stored.headers or {})["Nats-Msg-Id"] == events[0].event_id
    finally:
        await sink.close()
        await admin.close()


async def test_a_subject_no_stream_stores_or_another_stream_stores_is_refused(
    users_server: NatsServer, driver: NatsDriver
) -> None:
    admin = await nats.connect(users_server.url, user=WRITER[0], password=WRITER[1])
    other = "OTHER_" + secrets.token_hex(4)
    await admin.jetstream().add_stream(StreamConfig(name=other, subjects=[f"{other.lower()}.x"]))
    await admin.close()
    for subject, stream in (
        (f"nowhere.{secrets.token_hex(4)}", "NOWHERE"),
        (f"{other.lower()}.x", "EXPECTED"),
    ):
        sink = open_sink(driver, users_server.url, subject, stream)
        try:
            await sink.prepare()
            (outcome,) = await sink.deliver([event(1)])
        finally:
            await sink.close()
        assert isinstance(outcome.error, NatsRefused), (subject, outcome.error)
        assert not outcome.error.retryable


async def test_a_publish_the_user_may_not_make_is_refused(
    users_server: NatsServer, driver: NatsDriver
) -> None:
    sink = open_sink(driver, users_server.url, "forbidden.events", username=LIMITED[0], password=LIMITED[1])
    try:
        await sink.prepare()
        with pytest.raises(NatsRefused, match=r"(?i)permissions violation"):
            await sink.deliver([event(1)])
    finally:
        await sink.close()
    allowed = open_sink(driver, users_server.url, "allowed.events", username=LIMITED[0], password=LIMITED[1])
    try:
        await allowed.prepare()
        assert (await allowed.deliver([event(1)]))[0].delivered
    finally:
        await allowed.close()


async def test_a_wrong_password_is_refused(users_server: NatsServer, driver: NatsDriver) -> None:
    sink = open_sink(driver, users_server.url, "x", username=WRITER[0], password="not-it")
    with pytest.raises(NatsRefused, match="login"):
        await sink.prepare()


async def test_a_token_logs_in_and_a_wrong_one_is_refused(
    token_server: NatsServer, driver: NatsDriver
) -> None:
    subject = "tokened." + secrets.token_hex(4)
    await delivered_to_a_reader(driver, token_server.url, subject, {"token": TOKEN}, token=TOKEN)
    wrong = open_sink(driver, token_server.url, subject, token="wrong")
    with pytest.raises(NatsRefused):
        await wrong.prepare()


async def test_an_nkey_logs_in_and_another_is_refused(nkey_server: NatsServer, driver: NatsDriver) -> None:
    subject = "nkeyed." + secrets.token_hex(4)
    await delivered_to_a_reader(
        driver, nkey_server.url, subject, {"nkeys_seed_str": NKEY_USER.seed}, nkey_seed=NKEY_USER.seed
    )
    stranger = open_sink(driver, nkey_server.url, subject, nkey_seed=user_key().seed)
    with pytest.raises(NatsRefused, match="login"):
        await stranger.prepare()


async def test_a_creds_file_logs_in_to_jetstream_and_a_forged_one_is_refused(
    operator_server: NatsServer, driver: NatsDriver
) -> None:
    """A server in operator mode (as Synadia Cloud runs): the user's JWT, signed by its
    account, and the seed proving the user holds its key — checked by the server, not us."""
    user, user_jwt = OPERATOR.user("event-streams")
    login = nats_config.credentials(creds(user_jwt, user.seed))
    stream = "EVENTS_" + secrets.token_hex(4)
    subject = f"{stream.lower()}.twilio"
    admin = await nats.connect(operator_server.url, user_credentials=RawCredentials(login))
    await admin.jetstream().add_stream(StreamConfig(name=stream, subjects=[subject]))
    sink = open_sink(driver, operator_server.url, subject, stream, credentials=login)
    try:
        await sink.prepare()
        assert all(o.delivered for o in await sink.deliver([event(1), event(2)]))
        assert (await admin.jetstream().stream_info(stream)).state.messages == 2
    finally:
        await sink.close()
        await admin.close()
    # A user signed by a key that is not the account's: well formed, so the sink takes it;
    # the server refuses it for good.
    forger, forged_jwt = OPERATOR.user("forged", signer=user_key())
    forged = open_sink(
        driver,
        operator_server.url,
        subject,
        credentials=nats_config.credentials(creds(forged_jwt, forger.seed)),
    )
    with pytest.raises(NatsRefused, match="login"):
        await forged.prepare()


async def test_a_private_authority_and_a_client_certificate_from_the_configuration(
    tls_servers: TlsServers, driver: NatsDriver
) -> None:
    """The driver trusts only the system's authorities: the sink's `ca_certificate` is what
    lets it verify the server, and its client certificate what the mutual-TLS server asks for."""
    authority = {"ca_certificate": tls_servers.certificate.read_text()}
    client = {
        "client_certificate": tls_servers.client_certificate.read_text(),
        "client_key": tls_servers.client_key.read_text(),
    }
    reader_tls = ssl.create_default_context(cafile=str(tls_servers.certificate))
    subject = "tls." + secrets.token_hex(4)
    await delivered_to_a_reader(driver, tls_url(tls_servers.plain), subject, {"tls": reader_tls}, **authority)
    reader_tls.load_cert_chain(tls_servers.client_certificate, tls_servers.client_key)
    await delivered_to_a_reader(
        driver, tls_url(tls_servers.mutual), subject, {"tls": reader_tls}, **authority, **client
    )


async def test_tls_the_sink_cannot_complete_is_not_sent_events(
    tls_servers: TlsServers, driver: NatsDriver
) -> None:
    """A server certificate no trusted authority signed, or a mutual-TLS server without the
    client certificate: nothing is published, and the failure is retried."""
    authority = {"ca_certificate": tls_servers.certificate.read_text()}
    for url, login in ((tls_url(tls_servers.plain), {}), (tls_url(tls_servers.mutual), authority)):
        sink = open_sink(driver, url, "tls.refused", token="", **login)
        try:
            with pytest.raises(NatsUnavailable) as failed:
                await sink.prepare()
        finally:
            await sink.close()
        assert failed.value.retryable


async def test_a_server_that_cannot_be_reached_or_goes_away_is_retried(
    tmp_path: Path, driver: NatsDriver
) -> None:
    unreachable = open_sink(driver, f"nats://127.0.0.1:{free_port()}", "x", token="t")
    with pytest.raises(NatsUnavailable):
        await unreachable.prepare()

    running = server(tmp_path, "")
    sink = open_sink(driver, running.url, "going.away", token="")
    try:
        await sink.prepare()
        assert (await sink.deliver([event(1)]))[0].delivered
        running.kill()
        await asyncio.sleep(0.5)
        try:
            outcomes = await sink.deliver([event(2)])
            assert all(isinstance(o.error, NatsUnavailable) for o in outcomes)
        except NatsUnavailable as exc:
            assert exc.retryable
        with pytest.raises(NatsUnavailable):
            await sink.prepare()
    finally:
        await sink.close()
        running.stop()


async def test_a_private_server_is_refused_unless_the_operator_allows_it(users_server: NatsServer) -> None:
    sink = open_sink(NatsDriver(allow_private=False), users_server.url, "x")
    with pytest.raises(DestinationRefused):
        await sink.prepare()
