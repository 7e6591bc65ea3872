"""Control's storage on SQLite and on a real PostgreSQL: migrations, paging through any
number of rows in both directions, limits, tenancy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import db
from runtime.change_signal import ChangeSignal
from runtime.errors import InvalidArgument, LimitExceeded, NotFound, Unauthenticated
from runtime.token_cipher import TokenCipher, new_key
from services.control import revision
from services.control.accounts import AccountStore
from services.control.app import MIGRATIONS
from services.control.routing_feed import RoutingFeed
from services.control.sinks import SinkStore
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

WEBHOOK = json.dumps({"destination": "https://example.com/hook", "method": "POST", "batch_events": False})


class NoTestsExpected:
    async def publish_test(self, account_sid: str, sink_sid: str, test_id: str) -> None:
        raise AssertionError("these tests send no sink test")


@pytest.fixture(params=BACKENDS)
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "control"))
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")  # a second start changes nothing
    yield db.sessionmaker(engine)
    await engine.dispose()


async def walk(store: SinkStore, account: str, size: int) -> list[str]:
    seen: list[str] = []
    token = ""
    while True:
        page = await store.find(account, None, "", size, token)
        seen.extend(row.sid for row in page.items)
        if not page.next_token:
            return seen
        token = page.next_token


async def walk_back(store: SinkStore, account: str, size: int, token: str) -> list[str]:
    seen: list[str] = []
    while token:
        page = await store.find(account, None, "", size, token)
        seen[:0] = [row.sid for row in page.items]
        token = page.previous_token
    return seen


async def test_paging_through_250_sinks(sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = AccountStore(sessions)
    owner = await accounts.create("owner")
    other = await accounts.create("other")
    store = SinkStore(sessions, max_per_account=1000, tests=NoTestsExpected())
    created = [(await store.create(owner.sid, f"sink {i}", "webhook", WEBHOOK)).sid for i in range(250)]
    await store.create(other.sid, "not yours", "webhook", WEBHOOK)

    for size in (1, 7, 1000):
        assert await walk(store, owner.sid, size) == created
    # From the last page back to the first.
    last = await store.find(owner.sid, None, "", 7, "")
    token = last.next_token
    while True:
        page = await store.find(owner.sid, None, "", 7, token)
        if not page.next_token:
            break
        token = page.next_token
    tail = [row.sid for row in page.items]
    assert tail == created[-len(tail) :]
    assert await walk_back(store, owner.sid, 7, page.previous_token) + tail == created


async def test_sink_limit_and_tenancy(sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = AccountStore(sessions)
    owner = await accounts.create("owner")
    other = await accounts.create("other")
    store = SinkStore(sessions, max_per_account=3, tests=NoTestsExpected())
    sinks = [await store.create(owner.sid, "s", "webhook", WEBHOOK) for _ in range(3)]
    with pytest.raises(LimitExceeded) as limit:
        await store.create(owner.sid, "one too many", "webhook", WEBHOOK)
    assert limit.value.twilio_code == 91003
    assert (await store.create(other.sid, "theirs", "webhook", WEBHOOK)).account_sid == other.sid
    with pytest.raises(NotFound):
        await store.get(other.sid, sinks[0].sid)
    with pytest.raises(NotFound):
        await store.delete(other.sid, sinks[0].sid)
    assert (await store.get(owner.sid, sinks[0].sid)).sid == sinks[0].sid


async def test_a_refused_sink_changes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    owner = await AccountStore(sessions).create("owner")
    store = SinkStore(sessions, max_per_account=10, tests=NoTestsExpected())
    with pytest.raises(InvalidArgument):
        await store.create(owner.sid, "bad", "webhook", '{"destination": "ftp://x", "method": "POST"}')
    assert (await store.find(owner.sid, None, "", 50, "")).items == []


@pytest.mark.parametrize(
    ("destination", "allow_private"),
    [
        ("http://127.0.0.1:9000/hook", False),
        ("http://10.1.2.3/hook", False),
        ("http://[::1]/hook", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://localhost:9000/hook", False),
        # Legacy numeric forms: refused whatever the policy (write the address plainly).
        ("http://2130706433/", True),
        ("http://127.1/", True),
        ("http://0177.0.0.1/", True),
        ("http://0/", True),
        ("http://u:p@127.1/", True),
        ("http://0x7f.1/", False),
        # Judged as the client connects to them: IDNA maps fullwidth digits to ASCII.
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook", False),
        ("http://\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff16\uff19.\uff12\uff15\uff14/", False),
        ("http://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/", True),
        ("http://127.0.0.1./", True),
        ("http://[2002:7f00:1::]/", False),
    ],
)
async def test_a_destination_the_deployment_will_not_reach_is_refused_at_creation(
    sessions: async_sessionmaker[AsyncSession], destination: str, allow_private: bool
) -> None:
    owner = await AccountStore(sessions).create("owner")
    store = SinkStore(sessions, 10, NoTestsExpected(), allow_private_destinations=allow_private)
    config = json.dumps({"destination": destination, "method": "POST"})
    with pytest.raises(InvalidArgument) as refused:
        await store.create(owner.sid, "private", "webhook", config)
    assert refused.value.twilio_code == 91000
    assert "destination" in refused.value.message
    assert (await store.find(owner.sid, None, "", 50, "")).items == []


async def test_private_destinations_are_accepted_where_the_operator_allows_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = await AccountStore(sessions).create("owner")
    store = SinkStore(sessions, 10, NoTestsExpected(), allow_private_destinations=True)
    config = json.dumps({"destination": "http://127.0.0.1:9000/hook", "method": "POST"})
    assert (await store.create(owner.sid, "dev", "webhook", config)).sink_type == "webhook"


async def test_authentication(sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = AccountStore(sessions)
    owner = await accounts.create("owner")
    account, key_sid = await accounts.authenticate(owner.sid, owner.auth_token)
    assert (account.sid, key_sid) == (owner.sid, "")
    key, secret = await accounts.create_key(owner.sid, "ci")
    account, key_sid = await accounts.authenticate(key.sid, secret)
    assert (account.sid, key_sid) == (owner.sid, key.sid)
    for username, password in [(owner.sid, "wrong"), (key.sid, owner.auth_token), ("AC" + "0" * 32, "x")]:
        with pytest.raises(Exception) as failure:
            await accounts.authenticate(username, password)
        assert getattr(failure.value, "twilio_code", None) == 20003


async def test_replicas_migrating_together_on_postgresql(postgres, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three replicas' first start at once: one migrates, the others wait and find it done."""
    url = postgres.create_database("race")
    engines = [db.create_engine(url) for _ in range(3)]
    try:
        # Without the lock they deadlock on each other's DDL: bounded, so that fails, not hangs.
        await asyncio.wait_for(
            asyncio.gather(*(db.migrate(e, MIGRATIONS, "control_alembic_version") for e in engines)), 30
        )
        owner = await AccountStore(db.sessionmaker(engines[0])).create("after the race")
        assert owner.sid.startswith("AC")
    finally:
        for engine in engines:
            await engine.dispose()


async def test_routing_snapshots_carry_tokens_only_for_those_that_sign(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = await AccountStore(sessions).create("owner")
    feed = RoutingFeed(sessions, ChangeSignal(), poll_seconds=0.1)
    signing = await feed.snapshot(with_auth_tokens=True)
    routing = await feed.snapshot(with_auth_tokens=False)
    assert {a.account.sid: a.account.auth_token for a in signing.accounts}[owner.sid] == owner.auth_token
    assert all(a.account.auth_token == "" for a in routing.accounts)
    assert [a.account.sid for a in routing.accounts] == [a.account.sid for a in signing.accounts]


async def test_the_routing_feed_sends_the_accounts_changed_since_a_revision(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    accounts = AccountStore(sessions)
    for i in range(5):
        await accounts.create(f"quiet {i}")
    feed = RoutingFeed(sessions, ChangeSignal(), poll_seconds=0.1, page_accounts=2)
    cold = [m async for m in feed.changes(0, with_auth_tokens=False)]
    # A cold start in pages: the first resets, only the last brings the revision.
    assert cold[0].reset and not any(m.reset for m in cold[1:]) and len(cold) >= 3
    assert [m.revision for m in cold[:-1]] == [0] * (len(cold) - 1) and cold[-1].revision > 0
    held = cold[-1].revision
    assert [m async for m in feed.changes(held, with_auth_tokens=False)] == []  # nothing changed
    busy = await accounts.create("busy")
    for _ in range(3):
        async with sessions.begin() as session:
            await revision.bump(session, busy.sid)
    await accounts.create_key(busy.sid, "no routing change")
    suspended = await accounts.create("to suspend")
    [change] = [m async for m in feed.changes(held, with_auth_tokens=False)]
    assert not change.reset and change.revision > held
    # The changed accounts alone, each once however often it changed.
    assert sorted(a.account.sid for a in change.accounts) == sorted([busy.sid, suspended.sid])
    async with sessions.begin() as session:
        await session.execute(
            text("UPDATE control_accounts SET status = 'closed' WHERE sid = :sid"), {"sid": suspended.sid}
        )
        await revision.bump(session, suspended.sid)
    [gone] = [m async for m in feed.changes(change.revision, with_auth_tokens=False)]
    assert [(a.account.sid, a.gone) for a in gone.accounts] == [(suspended.sid, True)]
    async with sessions.begin() as session:
        await revision.bump(session)  # names no account: what changed is unknown
    unknown = [m async for m in feed.changes(gone.revision, with_auth_tokens=False)]
    assert unknown[0].reset and unknown[-1].revision == gone.revision + 1


async def test_subaccounts_are_limited(sessions: async_sessionmaker[AsyncSession]) -> None:
    accounts = AccountStore(sessions, max_subaccounts=2)
    parent = await accounts.create("parent")
    for i in range(2):
        await accounts.create(f"sub {i}", owner_sid=parent.sid)
    with pytest.raises(LimitExceeded):
        await accounts.create("one too many", owner_sid=parent.sid)
    assert (await accounts.create("another parent's", owner_sid=(await accounts.create("p2")).sid)).sid


async def test_auth_tokens_are_sealed_at_rest_and_work_everywhere(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    plain = AccountStore(sessions)  # before a key was configured: stored in the clear
    legacy = await plain.create("from before")
    cipher = TokenCipher(new_key())
    accounts = AccountStore(sessions, cipher=cipher)
    assert await accounts.seal_stored_tokens() >= 1  # at start: the clear ones get sealed
    account = await accounts.create("acme")

    async with sessions() as session:
        stored = dict((await session.execute(text("SELECT sid, auth_token FROM control_accounts"))).all())
    assert all(value.startswith("enc:v1:") for value in stored.values())
    assert account.auth_token not in stored[account.sid] and legacy.auth_token not in stored[legacy.sid]

    # Sign-in, the API and the workers' routing all see the real token.
    for row in (account, legacy):
        assert (await accounts.authenticate(row.sid, row.auth_token))[0].sid == row.sid
        fetched = await accounts.get(row.sid)
        assert fetched is not None and fetched.auth_token == row.auth_token
    with pytest.raises(Unauthenticated):
        await accounts.authenticate(account.sid, stored[account.sid])  # the sealed value is no password
    snapshot = await RoutingFeed(sessions, ChangeSignal(), 0.1, cipher).snapshot(with_auth_tokens=True)
    tokens = {a.account.sid: a.account.auth_token for a in snapshot.accounts}
    assert tokens[account.sid] == account.auth_token and tokens[legacy.sid] == legacy.auth_token


async def test_an_account_changed_again_while_the_feed_reads_is_a_change_not_a_cold_start(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    accounts = AccountStore(sessions)
    busy = await accounts.create("busy")

    class Interleaved(RoutingFeed):
        async def _latest(self) -> int:
            latest = await super()._latest()
            async with sessions.begin() as session:  # the tenant changes again meanwhile
                await revision.bump(session, busy.sid)
            return latest

    feed = Interleaved(sessions, ChangeSignal(), poll_seconds=0.1)
    async with sessions() as session:
        held = await revision.current(session)
    async with sessions.begin() as session:
        await revision.bump(session, busy.sid)
    sent = [m async for m in feed.changes(held, with_auth_tokens=False)]
    assert not any(m.reset for m in sent)  # a cold start would resend every account
    assert [a.account.sid for m in sent for a in m.accounts] == [busy.sid]
    assert sent[-1].revision >= held + 1


class CountingCipher(TokenCipher):
    """Counts the stored tokens it is asked to judge: a decrypt each."""

    judged = 0

    def needs_sealing(self, stored: str) -> bool:
        CountingCipher.judged += 1
        return super().needs_sealing(stored)


async def test_a_start_with_every_token_sealed_under_one_key_reads_no_account(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """At a million accounts, reading (and decrypting) every account at each start took
    control tens of seconds and gigabytes: only tokens in the clear, or a rotation, need it."""
    key = new_key()
    sealing = AccountStore(sessions, cipher=TokenCipher(key))
    for i in range(3):
        await sealing.create(f"sealed {i}")
    CountingCipher.judged = 0
    assert await AccountStore(sessions, cipher=CountingCipher(key)).seal_stored_tokens() == 0
    assert CountingCipher.judged == 0
    assert await AccountStore(sessions).seal_stored_tokens() == 0  # no key: nothing to do
    # A rotation (a new key first, the old one after it) reseals every token.
    rotated = AccountStore(sessions, cipher=TokenCipher(f"{new_key()},{key}"))
    assert await rotated.seal_stored_tokens() == 3
    assert await rotated.seal_stored_tokens() == 0


async def test_pausing_is_a_routing_change_once_and_keeps_the_description(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = await AccountStore(sessions).create("owner")
    store = SinkStore(sessions, 10, NoTestsExpected())
    sink = await store.create(owner.sid, "mine", "webhook", WEBHOOK)
    feed = RoutingFeed(sessions, ChangeSignal(), poll_seconds=0.1)
    held = (await feed.snapshot(with_auth_tokens=False)).revision

    row = await store.update(owner.sid, sink.sid, None, paused=True)
    assert (row.paused, row.description) == (True, "mine")
    [change] = [m async for m in feed.changes(held, with_auth_tokens=False)]
    [routed] = [a for a in change.accounts if a.account.sid == owner.sid]
    assert [(s.sid, s.paused) for s in routed.sinks] == [(sink.sid, True)]
    # Pausing again changes nothing a worker holds: no routing change.
    await store.update(owner.sid, sink.sid, None, paused=True)
    assert [m async for m in feed.changes(change.revision, with_auth_tokens=False)] == []
    assert [s.sid for s in (await store.find(owner.sid, None, "paused", 50, "")).items] == [sink.sid]
    assert (await store.find(owner.sid, None, "active", 50, "")).items == []
    resumed = await store.update(owner.sid, sink.sid, "renamed", paused=False)
    assert (resumed.paused, resumed.description, resumed.status) == (False, "renamed", "active")
