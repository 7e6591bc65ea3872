"""devkit/seed_control.py against PostgreSQL: the base it builds is what the routing feed
sends, with the spread it promises."""

from __future__ import annotations

import pytest

from devkit import seed_control
from devkit.postgres import PostgresCluster
from runtime import db
from runtime.change_signal import ChangeSignal
from services.control.routing_feed import RoutingFeed

pytestmark = pytest.mark.integration


async def test_a_seeded_base_is_routed_as_the_api_would_route_it(postgres: PostgresCluster) -> None:
    url = postgres.create_database("seed")
    counts = await seed_control.seed(url, 200)
    assert counts["accounts"] == 200
    assert 2.5 <= counts["subscriptions"] / counts["accounts"] <= 3.5
    engine = db.create_engine(url)
    try:
        feed = RoutingFeed(db.sessionmaker(engine), ChangeSignal(), 0.1, page_accounts=64)
        whole = await feed.snapshot(with_auth_tokens=True)
        assert whole.revision > 0 and len(whole.accounts) == 200
        routed = {a.account.sid: a for a in whole.accounts}
        first = routed[seed_control.account_sid(0)]  # at the limits
        assert len(first.sinks) == seed_control.LIMIT and len(first.subscriptions) == seed_control.LIMIT
        sub = routed[seed_control.account_sid(9)]
        assert sub.account.owner_account_sid == seed_control.account_sid(8) and sub.account.auth_token
        assert all(s.types for a in whole.accounts for s in a.subscriptions)
        # Every account has its change row: a watcher one revision behind is sent all of them.
        changes = [m async for m in feed.changes(whole.revision - 1, with_auth_tokens=False)]
        assert sum(len(m.accounts) for m in changes) == 200 and not changes[0].reset
    finally:
        await engine.dispose()
