"""The confused deputy, against a real moto (STS, IAM, Kinesis) and control's real store: the
platform assumes tenants' roles with its own identity, so the ExternalId it sends is the
platform's to issue (one per account), and a role in the platform's own AWS account is never
a tenant's to name."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import db, sids, sink_configs
from runtime.change_signal import ChangeSignal
from runtime.errors import InvalidArgument
from runtime.times import utcnow
from services.control.accounts import AccountStore
from services.control.app import MIGRATIONS
from services.control.models import SinkRow
from services.control.routing_feed import RoutingFeed
from services.control.sinks import EXTERNAL_ID_PATH, KinesisTrust, SinkStore
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.kinesis import KinesisDriver, KinesisOptions
from tests.support import moto_server
from tests.support.kinesis_proxy import KinesisProxy
from tests.support.moto_server import MotoServer

pytestmark = pytest.mark.integration

SECRET = "platform-secret"
STREAM_ARN = "arn:aws:kinesis:us-east-1:111111111111:stream/orders"
ROLE_ARN = "arn:aws:iam::111111111111:role/EventStreams"


class NoTestsExpected:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("these tests send no sink test")


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'control.db'}")
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")
    yield db.sessionmaker(engine)
    await engine.dispose()


@pytest.fixture(autouse=True)
def aws_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.DUMMY_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.DUMMY_SECRET_ACCESS_KEY)


def platform_account(moto: MotoServer) -> str:
    """The AWS account the workers' identity belongs to, as STS tells it."""
    return moto_server.sts_client(moto.url).get_caller_identity()["Account"]


async def stream_and_role(moto: MotoServer, external_id: str) -> tuple[str, str]:
    arn = await asyncio.to_thread(moto_server.create_stream, moto.url, "k-" + secrets.token_hex(5))
    role = await asyncio.to_thread(moto_server.create_role, moto.url, external_id)
    return arn, role


def kinesis(arn: str, role: str, external_id: str) -> str:
    return json.dumps({"arn": arn, "role_arn": role, "external_id": external_id})


async def test_a_tenant_cannot_name_another_tenants_role_with_its_external_id(
    moto: MotoServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    accounts = AccountStore(sessions)
    victim, attacker = await accounts.create("victim"), await accounts.create("attacker")
    trust = KinesisTrust(SECRET)
    victims_id = trust.external_id(victim.sid)
    arn, role = await stream_and_role(moto, victims_id)  # the victim's role, trusting the victim's id
    store = SinkStore(sessions, 10, NoTestsExpected(), kinesis=trust)
    for chosen in (victims_id, "ext-1234", ""):
        with pytest.raises(InvalidArgument) as refused:
            await store.create(attacker.sid, "steal", "kinesis", kinesis(arn, role, chosen or "xx"))
        assert refused.value.twilio_code == 91000
        message = refused.value.message
        assert "external_id" in message and EXTERNAL_ID_PATH in message
        assert trust.external_id(attacker.sid) in message  # where to read the right one: here
    assert (await store.find(attacker.sid, None, "", 50, "")).items == []


async def test_a_role_in_the_platforms_own_aws_account_is_refused(
    moto: MotoServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await AccountStore(sessions).create("owner")
    own = await asyncio.to_thread(platform_account, moto)
    trust = KinesisTrust(SECRET, platform_account=own)
    arn, role = await stream_and_role(moto, trust.external_id(owner.sid))
    assert sink_configs.role_account(role) == own  # moto makes every role in the caller's account
    store = SinkStore(sessions, 10, NoTestsExpected(), kinesis=trust)
    with pytest.raises(InvalidArgument) as refused:
        await store.create(owner.sid, "own", "kinesis", kinesis(arn, role, trust.external_id(owner.sid)))
    assert refused.value.twilio_code == 91000 and "role_arn" in refused.value.message
    assert (await store.find(owner.sid, None, "", 50, "")).items == []


async def test_a_sink_with_the_issued_external_id_is_created_and_delivers(
    moto: MotoServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await AccountStore(sessions).create("owner")
    trust = KinesisTrust(SECRET)
    issued = trust.external_id(owner.sid)
    arn, role = await stream_and_role(moto, issued)
    store = SinkStore(sessions, 10, NoTestsExpected(), kinesis=trust)
    row = await store.create(owner.sid, "mine", "kinesis", kinesis(arn, role, issued))
    config = sink_configs.parse("kinesis", row.configuration)
    assert isinstance(config, sink_configs.KinesisConfig) and config.external_id == issued
    proxy = KinesisProxy(moto.url)
    await proxy.start()
    driver = KinesisDriver(KinesisOptions(endpoint_url=proxy.url, timeout_seconds=5))
    sink = driver.open(SinkSpec(row.sid, owner.sid, config, "token"))
    try:
        await sink.prepare()
        event = SinkEvent("EZ1", "com.example", owner.sid, b'{"id": "EZ1"}')
        assert all(o.delivered for o in await sink.deliver([event]))
        [assume] = [c for c in proxy.sts_calls if c.get("Action") == "AssumeRole"]
        assert assume["ExternalId"] == issued
    finally:
        await sink.close()
        await driver.close()
        await proxy.stop()


def test_the_issued_external_id_is_one_per_account_and_secret() -> None:
    a, b = "AC" + "a" * 32, "AC" + "b" * 32
    assert KinesisTrust(SECRET).external_id(a) == KinesisTrust(SECRET).external_id(a)
    assert KinesisTrust(SECRET).external_id(a) != KinesisTrust(SECRET).external_id(b)
    assert KinesisTrust(SECRET).external_id(a) != KinesisTrust("other").external_id(a)
    low, high = sink_configs.EXTERNAL_ID_LENGTH
    issued = KinesisTrust(SECRET).external_id(a)
    assert low <= len(issued) <= high and sink_configs.EXTERNAL_ID_CHARS.fullmatch(issued)


async def test_a_sink_stored_with_a_chosen_external_id_is_routed_with_the_issued_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A Kinesis sink stored before the ExternalId was issued (with the tenant's choice, maybe
    another tenant's) reaches delivery with its account's issued one: delivery never sends an
    ExternalId the platform did not issue to the sink's owner."""
    owner = await AccountStore(sessions).create("owner")
    chosen = {"arn": STREAM_ARN, "role_arn": ROLE_ARN, "external_id": "victims-external-id"}
    now = utcnow()
    async with sessions.begin() as session:
        session.add(
            SinkRow(
                sid=sids.new(sids.SINK),
                account_sid=owner.sid,
                description="from before",
                sink_type="kinesis",
                configuration=json.dumps(chosen),
                status="active",
                test_id=None,
                date_created=now,
                date_updated=now,
            )
        )
    trust = KinesisTrust(SECRET)
    snapshot = await RoutingFeed(sessions, ChangeSignal(), 0.1, kinesis=trust).snapshot()
    [routed] = [s for a in snapshot.accounts for s in a.sinks]
    assert json.loads(routed.configuration_json) == {**chosen, "external_id": trust.external_id(owner.sid)}
