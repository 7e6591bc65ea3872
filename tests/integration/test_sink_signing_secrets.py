"""A webhook sink's Standard Webhooks secret in control, on a real database: made at creation
for sinks that sign with it (and no other), sealed at rest and re-sealed at start, rotated with
the replaced one kept signing for a day, and carried by the routing feed to signing watchers
only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import db
from runtime.change_signal import ChangeSignal
from runtime.errors import FailedPrecondition
from runtime.times import utcnow
from runtime.token_cipher import TokenCipher, new_key
from services.control.accounts import AccountStore
from services.control.app import MIGRATIONS
from services.control.models import SinkRow
from services.control.routing_feed import RoutingFeed
from services.control.sinks import SinkStore
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

SIGNED = json.dumps(
    {"destination": "https://example.com/hook", "method": "POST", "signing": "standard-webhooks"}
)
PLAIN = json.dumps({"destination": "https://example.com/hook", "method": "POST"})


class NoTests:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("no sink test here")


@pytest.fixture(params=BACKENDS)
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "control"))
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")
    yield db.sessionmaker(engine)
    await engine.dispose()


async def stored(sessions: async_sessionmaker[AsyncSession], sid: str) -> tuple[str | None, str | None]:
    async with sessions() as session:
        row = (
            await session.execute(
                text("SELECT signing_secret, previous_signing_secret FROM control_sinks WHERE sid = :sid"),
                {"sid": sid},
            )
        ).one()
    return row[0], row[1]


async def routed(
    sessions: async_sessionmaker[AsyncSession], cipher: TokenCipher, sid: str, with_tokens: bool
) -> tuple[str, str, int]:
    snapshot = await RoutingFeed(sessions, ChangeSignal(), 0.1, cipher).snapshot(with_auth_tokens=with_tokens)
    [sink] = [s for a in snapshot.accounts for s in a.sinks if s.sid == sid]
    return sink.signing_secret, sink.previous_signing_secret, sink.previous_signing_secret_expires


async def test_made_sealed_rotated_and_routed_to_signers_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    account = await AccountStore(sessions).create("acme")
    clear = SinkStore(sessions, 10, NoTests())  # before a key was configured
    signed = await clear.create(account.sid, "signed", "webhook", SIGNED)
    plain = await clear.create(account.sid, "plain", "webhook", PLAIN)
    assert (await stored(sessions, plain.sid)) == (None, None)
    first = (await clear.signing_secret(account.sid, signed.sid)).secret
    assert first.startswith("whsec_") and (await stored(sessions, signed.sid))[0] == first

    key = new_key()
    cipher = TokenCipher(key)
    sinks = SinkStore(sessions, 10, NoTests(), cipher=cipher)
    assert await sinks.seal_stored_secrets() == 1 and await sinks.seal_stored_secrets() == 0
    assert str((await stored(sessions, signed.sid))[0]).startswith("enc:v1:")
    assert (await sinks.signing_secret(account.sid, signed.sid)).secret == first
    assert await routed(sessions, cipher, signed.sid, True) == (first, "", 0)
    assert await routed(sessions, cipher, signed.sid, False) == ("", "", 0)

    rotated = await sinks.rotate_signing_secret(account.sid, signed.sid)
    assert rotated.secret != first and rotated.previous == first
    assert rotated.previous_expires is not None
    assert timedelta(hours=23) < rotated.previous_expires - utcnow() <= timedelta(hours=24)
    current, previous = await stored(sessions, signed.sid)
    assert str(current).startswith("enc:v1:") and str(previous).startswith("enc:v1:")
    assert await routed(sessions, cipher, signed.sid, True) == (
        rotated.secret,
        first,
        int(rotated.previous_expires.timestamp()),
    )
    assert await routed(sessions, cipher, signed.sid, False) == ("", "", 0)

    # Past its day the replaced secret is no longer shown (the workers stop signing with it).
    async with sessions.begin() as session:
        await session.execute(
            update(SinkRow)
            .where(SinkRow.sid == signed.sid)
            .values(previous_signing_secret_expires=utcnow() - timedelta(seconds=1))
        )
    shown = await sinks.signing_secret(account.sid, signed.sid)
    assert (shown.secret, shown.previous, shown.previous_expires) == (rotated.secret, "", None)

    # A key rotation reseals both.
    resealing = SinkStore(sessions, 10, NoTests(), cipher=TokenCipher(f"{new_key()},{key}"))
    assert await resealing.seal_stored_secrets() == 2

    for call in (sinks.signing_secret, sinks.rotate_signing_secret):
        with pytest.raises(FailedPrecondition, match="standard-webhooks"):
            await call(account.sid, plain.sid)
