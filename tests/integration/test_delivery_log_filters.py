"""The delivery log listed by time window and event type on SQLite and on a real PostgreSQL:
the filters together with the outcome and the paging tokens, newest first, and on PostgreSQL
a window reads only its days' partitions (the log is partitioned by day, delivery_0007)."""

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
from runtime.sids import AccountSid, EventId, SinkSid
from services.delivery.app import MIGRATIONS
from services.delivery.reads.log_filter import log_filter
from services.delivery.reads.records import Records
from services.delivery.settling.journal import Attempt, Retention, SqlJournal
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

VERSIONS = "delivery_alembic_version"
ACCOUNT = AccountSid("AC" + "a" * 32)
SINK, OTHER_SINK = SinkSid("DG" + "b" * 32), SinkSid("DG" + "c" * 32)
SENT, FAILED = "com.twilio.messaging.message.sent", "com.twilio.messaging.message.failed"
# Midday, so that an hour either side stays in the day.
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, VERSIONS)
    yield engine
    await engine.dispose()


def attempt(
    event_id: str, type_name: str, when: datetime, outcome: str = "delivered", sink: str = SINK
) -> Attempt:
    ok = outcome == "delivered"
    return Attempt(
        ACCOUNT, SinkSid(sink), EventId(event_id), type_name, 1, outcome, 200 if ok else 503, 5,
        None if ok else 91306, None, when.timestamp(),
    )  # fmt: skip


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_attempts_by_window_and_type_paged(engine: AsyncEngine) -> None:
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    for days in range(3):
        await journal.maintain(NOON - timedelta(days=days))
    written = [
        attempt("two-days-ago", SENT, NOON - timedelta(days=2)),
        *(attempt(f"y{n}", SENT if n % 2 else FAILED, NOON - timedelta(days=1, minutes=n)) for n in range(6)),
        attempt("y-failed", SENT, NOON - timedelta(days=1, seconds=30), "failed"),
        attempt("y-other-sink", SENT, NOON - timedelta(days=1), sink=OTHER_SINK),
        attempt("today", SENT, NOON),
    ]
    for each in sorted(written, key=lambda a: a.date_created):  # the log's ids in time order, as written live
        journal.attempt(each)
    await journal.flush()
    records = Records(db.sessionmaker(engine))

    async def listed(
        page_size: int = 50, token: str = "", outcome: str = "", **given: str
    ) -> tuple[list[str], str]:
        wanted = log_filter(outcome=outcome, **given)
        page = await records.attempts(
            ACCOUNT, SINK, wanted.outcome, "", page_size, token,
            event_type=wanted.event_type, since=wanted.since, until=wanted.until,
        )  # fmt: skip
        return [r.event_id for r in page.items], page.next_token

    yesterday = (NOON - timedelta(days=1)).date().isoformat()
    # A day alone is the whole day; newest first (y0 at noon, y5 five minutes before).
    day, _ = await listed(start_date=yesterday, end_date=yesterday)
    assert day == ["y0", "y-failed", "y1", "y2", "y3", "y4", "y5"]
    assert (await listed(start_date=yesterday, end_date=yesterday, event_type=SENT))[0] == [
        "y-failed",
        "y1",
        "y3",
        "y5",
    ]
    assert (await listed(start_date=yesterday, event_type=FAILED))[0] == ["y0", "y2", "y4"]
    assert (await listed(start_date=yesterday, event_type=SENT, outcome="failed"))[0] == ["y-failed"]
    # Moments are inclusive to the second at both ends.
    since, until = NOON - timedelta(days=1, minutes=4), NOON - timedelta(days=1, minutes=1)
    assert (await listed(start_date=stamp(since), end_date=stamp(until)))[0] == ["y1", "y2", "y3", "y4"]
    assert (await listed(end_date=stamp(NOON - timedelta(days=2))))[0] == ["two-days-ago"]
    assert (await listed(event_type="com.example.none"))[0] == []

    # Paged with the filters held: two by two through yesterday's SENT attempts.
    seen: list[str] = []
    token = ""
    while True:
        page, token = await listed(2, token, start_date=yesterday, end_date=yesterday, event_type=SENT)
        seen += page
        if not token:
            break
    assert seen == ["y-failed", "y1", "y3", "y5"]


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


async def test_a_window_reads_only_its_days_partitions(engine: AsyncEngine) -> None:
    """Four days of attempts in their partitions: a window within yesterday (with a type, an
    outcome, a next page) reads yesterday's partitions alone, through the sink's index."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the plan of a partitioned log")
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    for days in range(4):
        await journal.maintain(NOON - timedelta(days=days))
    async with engine.begin() as connection:
        for days in range(4):
            await connection.execute(
                text(
                    "INSERT INTO delivery_attempts (account_sid, sink_sid, event_id, type, attempt, "
                    "outcome, status_code, latency_ms, date_created) "
                    "SELECT :a, :s, 'EZ' || g, CASE WHEN g % 3 = 0 THEN :failed ELSE :sent END, 1, "
                    "CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END, 200, 5, "
                    "CAST(:start AS timestamptz) + g * interval '10 millisecond' "
                    "FROM generate_series(1, 20000) AS g"
                ),
                {
                    "a": ACCOUNT,
                    "s": SINK,
                    "sent": SENT,
                    "failed": FAILED,
                    "start": NOON - timedelta(days=days, hours=1),
                },
            )
        await connection.execute(text("ANALYZE delivery_attempts"))
    records = Records(db.sessionmaker(engine))
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    yesterday = (NOON - timedelta(days=1)).date().isoformat()
    day = log_filter(start_date=yesterday, end_date=yesterday)
    moment = log_filter(
        start_date=stamp(NOON - timedelta(days=1, hours=1)), end_date=stamp(NOON - timedelta(days=1))
    )
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    first = await records.attempts(ACCOUNT, SINK, "", "", 50, "", since=day.since, until=day.until)
    await records.attempts(ACCOUNT, SINK, "", "", 50, first.next_token, since=day.since, until=day.until)
    await records.attempts(
        ACCOUNT, SINK, "", "", 50, "", event_type=FAILED, since=moment.since, until=moment.until
    )
    await records.attempts(
        ACCOUNT, SINK, "failed", "", 50, "", event_type=SENT, since=day.since, until=day.until
    )
    event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(first.items) == 50 and len(sent) == 4

    day_table = f"delivery_attempts_p{(NOON - timedelta(days=1)):%Y%m%d}"
    async with engine.connect() as connection:
        for statement, parameters in sent:
            explained = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            nodes = list(plan_nodes(explained.scalar_one()[0]["Plan"]))
            read = {n["Relation Name"] for n in nodes if "Relation Name" in n}
            assert read and all(name.startswith(day_table) for name in read), (statement, read)
            assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], statement
            assert any("Index" in n["Node Type"] for n in nodes), statement
