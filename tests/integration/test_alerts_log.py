"""The error log (Monitor v1 Alerts) read from the delivery log on a real PostgreSQL and on
SQLite: an account's failures newest first, by level and time window, paged; one fetched by
its sid; another account's never — and, on PostgreSQL, every query served by the partial
index on failures without reading a day's deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.errors import NotFound
from runtime.sids import AccountSid, EventId, SinkSid
from services.delivery.app import MIGRATIONS
from services.delivery.reads import alerts
from services.delivery.reads.records import Records
from services.delivery.settling.journal import Attempt, Retention, SqlJournal
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

VERSIONS = "delivery_alembic_version"
ACCOUNT, OTHER = AccountSid("AC" + "a" * 32), AccountSid("AC" + "f" * 32)
SINK = SinkSid("DG" + "b" * 32)


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, VERSIONS)
    yield engine
    await engine.dispose()


def failure(account: AccountSid, code: int | None, outcome: str, when: datetime, event_id: str) -> Attempt:
    return Attempt(
        account, SINK, EventId(event_id), "com.example", 1, outcome, 503 if code else 200, 5, code,
        "receiver failed (HTTP 503)" if code else None, when.timestamp(),
    )  # fmt: skip


async def test_an_accounts_alerts(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    await journal.maintain(now - timedelta(days=1))
    await journal.maintain(now)
    written = [
        failure(ACCOUNT, 91306, "retrying", now - timedelta(days=1), "yesterday"),
        failure(ACCOUNT, None, "delivered", now - timedelta(seconds=3), "delivered"),
        failure(ACCOUNT, 91304, "retrying", now - timedelta(seconds=2), "warning"),
        failure(ACCOUNT, 91305, "failed", now - timedelta(seconds=1), "refused"),
        failure(ACCOUNT, None, "retrying", now - timedelta(seconds=1), "not-logged"),  # no code
        failure(OTHER, 91306, "retrying", now, "theirs"),
    ]
    for attempt in written:
        journal.attempt(attempt)
    await journal.flush()
    records = Records(db.sessionmaker(engine))

    everything = await records.alerts(ACCOUNT, None, None, "", 50, "")
    assert [r.event_id for r in everything.items] == ["refused", "warning", "yesterday"]
    errors = await records.alerts(ACCOUNT, None, None, alerts.ERROR, 50, "")
    assert [r.event_id for r in errors.items] == ["refused", "yesterday"]
    warnings = await records.alerts(ACCOUNT, None, None, alerts.WARNING, 50, "")
    assert [r.event_id for r in warnings.items] == ["warning"]
    assert (await records.alerts(ACCOUNT, None, None, alerts.DEBUG, 50, "")).items == []
    since, until = alerts.window((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), "")
    assert [r.event_id for r in (await records.alerts(ACCOUNT, since, until, "", 50, "")).items] == [
        "refused",
        "warning",
    ]
    first = await records.alerts(ACCOUNT, None, None, "", 2, "")
    second = await records.alerts(ACCOUNT, None, None, "", 2, first.next_token)
    assert [r.event_id for r in [*first.items, *second.items]] == ["refused", "warning", "yesterday"]

    for row in everything.items:
        sid = alerts.alert_sid(row.id, row.date_created)
        assert (await records.alert(ACCOUNT, sid)).event_id == row.event_id
        with pytest.raises(NotFound):
            await records.alert(OTHER, sid)
    theirs = (await records.alerts(OTHER, None, None, "", 50, "")).items
    assert [r.event_id for r in theirs] == ["theirs"]
    delivered = next(a for a in written if a.outcome == "delivered")
    for sid in ("NO" + "0" * 32, alerts.alert_sid(10**9, now), "NOT"):
        with pytest.raises(NotFound):
            await records.alert(ACCOUNT, sid)
    assert delivered.event_id not in {r.event_id for r in everything.items}


DAYS, PER_DAY, ACCOUNTS = 4, 40_000, 20


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


async def test_alert_queries_use_the_failures_index(engine: AsyncEngine) -> None:
    """On a log of 160k attempts over four days and twenty accounts, one in ten a failure,
    the list (first and next page, by level, by window) and the fetch read the partial index
    and no day's deliveries."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the plan of a partitioned log")
    now = datetime.now(UTC)
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    for days in range(DAYS):
        await journal.maintain(now - timedelta(days=days))
    async with engine.begin() as connection:
        for days in range(DAYS):
            await connection.execute(
                text(
                    "INSERT INTO delivery_attempts (account_sid, sink_sid, event_id, type, attempt, "
                    "outcome, status_code, latency_ms, error_code, date_created) "
                    "SELECT 'AC' || lpad((g % :accounts)::text, 32, 'a'), :s, 'EZ' || g, 'com.example', 1, "
                    "CASE WHEN g % 10 = 0 THEN 'retrying' ELSE 'delivered' END, 200, 5, "
                    "CASE WHEN g % 10 = 0 THEN 91306 END, "
                    "CAST(:start AS timestamptz) + g * interval '1 millisecond' "
                    "FROM generate_series(1, :n) AS g"
                ),
                {"accounts": ACCOUNTS, "s": SINK, "start": now - timedelta(days=days, hours=1), "n": PER_DAY},
            )
        await connection.execute(text("ANALYZE delivery_attempts"))
    account = AccountSid("AC" + "0".rjust(32, "a"))
    records = Records(db.sessionmaker(engine))
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    first = await records.alerts(account, None, None, "", 50, "")
    await records.alerts(account, None, None, "", 50, first.next_token)
    await records.alerts(account, None, None, alerts.ERROR, 50, "")
    await records.alerts(account, now - timedelta(days=2), now - timedelta(days=1), "", 50, "")
    row = first.items[0]
    await records.alert(account, alerts.alert_sid(row.id, row.date_created))
    event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(first.items) == 50 and len(sent) == 5

    async with engine.connect() as connection:
        for statement, parameters in sent:
            explained = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            nodes = list(plan_nodes(explained.scalar_one()[0]["Plan"]))
            read = {n["Relation Name"] for n in nodes if "Relation Name" in n}
            assert read and not any(name.endswith("_delivered") for name in read), (statement, read)
            assert not [n for n in nodes if n["Node Type"] == "Seq Scan" and n["Relation Name"] in read]
            # The partitions' copies of the partial index are named by PostgreSQL.
            indexes = {n["Index Name"] for n in nodes if "Index Name" in n}
            assert indexes and all(name.endswith("_account_sid_id_idx") for name in indexes), indexes


async def test_sqlite_alert_queries_use_the_failures_index(engine: AsyncEngine) -> None:
    """SQLite (`make run`) lists from the partial index too (the outcome compared with the
    same constant as the index's condition) and fetches by the attempt's id, its rowid."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    now = datetime.now(UTC)
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    for n in range(200):
        code, outcome = (91306, "retrying") if n % 10 == 0 else (None, "delivered")
        journal.attempt(failure(ACCOUNT if (n // 10) % 2 else OTHER, code, outcome, now, f"EZ{n}"))
    await journal.flush()
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    records = Records(db.sessionmaker(engine))
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    page = await records.alerts(ACCOUNT, now - timedelta(hours=1), None, alerts.ERROR, 5, "")
    await records.alert(ACCOUNT, alerts.alert_sid(page.items[0].id, page.items[0].date_created))
    event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(sent) == 2
    plans = []
    async with engine.connect() as connection:
        for statement, parameters in sent:
            plan = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append(" ".join(str(row[-1]) for row in plan))
    listed, fetched = plans
    assert "USING INDEX ix_attempts_account_failures" in listed, listed
    assert "USING INTEGER PRIMARY KEY" in fetched, fetched
