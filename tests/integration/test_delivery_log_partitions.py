"""The delivery log on a real PostgreSQL, a table per day: days are made ahead by the
retention loop (by several workers at once), retention drops a whole past day — its rows
gone, no other day's row touched, nothing deleted row by row — the API's list queries are
served by indexes, COPY's refused record is still found and set aside alone, a log from
before partitioning is kept (its rows a legacy partition) and read on in order; SQLite keeps
its plain tables."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.paging import decode
from services.delivery.app import MIGRATIONS
from services.delivery.models import AttemptRow, DeadLetterRow
from services.delivery.reads.records import Records
from services.delivery.settling import journal as journal_module
from services.delivery.settling.journal import Attempt, DeadLetter, Retention, SqlJournal
from tests.conftest import database_url

pytestmark = pytest.mark.integration

ACCOUNT, SINK, OTHER_SINK = "AC" + "a" * 32, "DG" + "b" * 32, "DG" + "c" * 32
VERSIONS = "delivery_alembic_version"


@pytest.fixture
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url("postgres", request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, VERSIONS)
    yield engine
    await engine.dispose()


def attempt(event_id: str, when: datetime, outcome: str = "delivered", sink: str = SINK) -> Attempt:
    return Attempt(ACCOUNT, sink, event_id, "com.example", 1, outcome, 200, 5, None, None, when.timestamp())


def letter(event_id: str) -> DeadLetter:
    return DeadLetter(ACCOUNT, SINK, event_id, "com.example", "ev.x", b"{}", 1, "gone", 91303, None)


class Statements:
    """Every statement the engine sends, to show what retention does (and does not)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.sent: list[str] = []
        self.parameters: list[Any] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.sent.append(statement)
        self.parameters.append(parameters)

    def deletes(self) -> list[str]:
        return [s for s in self.sent if s.lstrip().upper().startswith("DELETE")]


async def partitions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT relid::regclass::text FROM pg_partition_tree('delivery_attempts') "
                "UNION ALL SELECT relid::regclass::text FROM pg_partition_tree('delivery_dead_letters')"
            )
        )
        return {name for (name,) in rows}


def day_name(table: str, day: date, kind: str = "") -> str:
    name = f"{table}_p{day:%Y%m%d}"
    return f"{name}_{kind}" if kind else name


@pytest.fixture
def letters_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """Dead letters are stamped with the time they are written: the test sets that time."""
    times: list[datetime] = []
    monkeypatch.setattr(journal_module, "utcnow", lambda: times[-1] if times else datetime.now(UTC))
    yield times


async def test_retention_drops_a_past_day_whole_and_no_other_days_row(
    engine: AsyncEngine, letters_at: list[datetime]
) -> None:
    sessions = db.sessionmaker(engine)
    journal = SqlJournal(sessions, Retention())
    now = datetime.now(UTC)
    ages = {"month_old": 30, "week_old": 10, "recent": 2, "today": 0}
    for label, days in ages.items():
        when = now - timedelta(days=days)
        for outcome in ("delivered", "failed"):
            for i in range(50):
                journal.attempt(attempt(f"{label}-{outcome}-{i}", when, outcome))
        letters_at.append(when)
        await asyncio.gather(*(journal.dead_letter(letter(f"{label}-letter-{i}")) for i in range(5)))
    while await journal.flush():
        pass
    async with sessions() as session:
        before = {
            row.event_id: (row.id, row.date_created)
            for row in (await session.scalars(select(AttemptRow))).all()
        }
    statements = Statements(engine)

    removed = await journal.purge(now)

    async with sessions() as session:
        after = {
            row.event_id: (row.id, row.date_created)
            for row in (await session.scalars(select(AttemptRow))).all()
        }
        letters = set((await session.scalars(select(DeadLetterRow.event_id))).all())
    kept = {e.rsplit("-", 1)[0] for e in after} | {e.rsplit("-", 1)[0] for e in letters}
    assert kept == {
        "week_old-failed", "week_old-letter",
        "recent-delivered", "recent-failed", "recent-letter",
        "today-delivered", "today-failed", "today-letter",
    }  # fmt: skip
    # Every row of a kept day is there, unchanged.
    assert {e: before[e] for e in after} == after
    assert all(not e.startswith("month_old") and not e.startswith("week_old-delivered") for e in after)
    # The past day and the week-old day's delivered attempts went as tables, not row by row.
    assert removed == 0
    assert all(
        '"delivery_attempts_default"' in s or '"delivery_dead_letters_default"' in s
        for s in statements.deletes()
    )  # only the default partitions' (empty) are looked at
    names = await partitions(engine)
    month_old, week_old = (now - timedelta(days=30)).date(), (now - timedelta(days=10)).date()
    assert day_name("delivery_attempts", month_old) not in names
    assert day_name("delivery_dead_letters", month_old) not in names
    assert day_name("delivery_attempts", week_old, "delivered") not in names
    assert day_name("delivery_attempts", week_old, "errors") in names
    assert day_name("delivery_dead_letters", week_old) in names


async def test_a_day_whose_drop_waits_on_a_lock_is_left_for_the_next_round(engine: AsyncEngine) -> None:
    """Dropping a day needs its table to itself: while a long reader holds it, retention gives
    up on that day after its lock timeout, drops the others, and drops it next round."""
    sessions = db.sessionmaker(engine)
    journal = SqlJournal(sessions, Retention())
    now = datetime.now(UTC)
    held, free = (now - timedelta(days=40)).date(), (now - timedelta(days=41)).date()
    for day in (held, free):
        journal.attempt(attempt(f"{day}", datetime(day.year, day.month, day.day, 12, tzinfo=UTC)))
    await journal.flush()
    async with engine.connect() as reader:
        await reader.execute(
            text(f'LOCK TABLE "{day_name("delivery_attempts", held, "delivered")}" IN ACCESS SHARE MODE')
        )
        started = time.monotonic()
        await journal.purge(now)
        assert time.monotonic() - started < 20
        names = await partitions(engine)
        assert day_name("delivery_attempts", held) in names
        assert day_name("delivery_attempts", free) not in names
        await reader.rollback()
    await journal.purge(now)
    assert day_name("delivery_attempts", held) not in await partitions(engine)


async def test_days_ahead_are_made_by_every_worker_at_once(engine: AsyncEngine) -> None:
    """Three workers' retention loops run together: each day is made once, nobody fails."""
    now = datetime.now(UTC)
    journals = [SqlJournal(db.sessionmaker(engine), Retention()) for _ in range(3)]
    await asyncio.gather(*(j.maintain(now) for j in journals))
    names = await partitions(engine)
    for ahead in range(4):  # today and three days on
        day = (now + timedelta(days=ahead)).date()
        assert day_name("delivery_attempts", day) in names
        assert day_name("delivery_attempts", day, "delivered") in names
        assert day_name("delivery_attempts", day, "errors") in names
        assert day_name("delivery_dead_letters", day) in names


async def test_a_worker_makes_its_days_as_it_starts(engine: AsyncEngine) -> None:
    """The journal's loop (run by every worker) makes today and the days ahead before its
    first write, and writes."""
    journal = SqlJournal(db.sessionmaker(engine), Retention(), flush_seconds=0.05)
    journal.attempt(attempt("first", datetime.now(UTC)))
    running = asyncio.create_task(journal.run())
    try:
        ahead = (datetime.now(UTC) + timedelta(days=3)).date()
        for _ in range(200):
            if journal.pending == 0 and day_name("delivery_dead_letters", ahead) in await partitions(engine):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the days ahead were not made")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM delivery_attempts")) == 1


async def test_a_record_of_a_day_not_made_is_kept_not_refused(engine: AsyncEngine) -> None:
    """A day nobody made ahead (a clock far off) is made for its first record; a record no day
    holds goes to the default partition, and a day whose records are there already stays
    there: none is refused, none lost."""
    sessions = db.sessionmaker(engine)
    journal = SqlJournal(sessions, Retention())
    far, farther = datetime.now(UTC) + timedelta(days=40), datetime.now(UTC) + timedelta(days=50)
    journal.attempt(attempt("far", far))
    await journal.flush()
    async with sessions.begin() as session:
        for event_id, when in (("stray", datetime(2001, 1, 1, tzinfo=UTC)), ("farther-first", farther)):
            await session.execute(
                text(
                    "INSERT INTO delivery_attempts (account_sid, sink_sid, event_id, type, attempt, "
                    "outcome, latency_ms, date_created) VALUES (:a, :s, :e, 't', 1, 'failed', 1, :when)"
                ),
                {"a": ACCOUNT, "s": SINK, "e": event_id, "when": when},
            )
    journal.attempt(attempt("farther", farther))  # its day cannot be made: the default has its rows
    await journal.flush()
    async with sessions() as session:
        ids = set((await session.scalars(select(AttemptRow.event_id))).all())
        defaulted = set((await session.scalars(text("SELECT event_id FROM delivery_attempts_default"))).all())
    assert ids == {"far", "stray", "farther-first", "farther"}
    assert defaulted == {"stray", "farther-first", "farther"}
    names = await partitions(engine)
    assert day_name("delivery_attempts", far.date()) in names
    assert day_name("delivery_attempts", farther.date()) not in names
    assert journal.quarantined == 0 and journal.pending == 0


async def test_one_refused_record_of_a_copy_is_set_aside_alone(engine: AsyncEngine) -> None:
    """COPY writes a batch in one statement and fails it whole for one bad record: the halving
    still finds each bad one (a NUL, a value too long for its column, a lone surrogate), the
    others are written in order."""
    sessions = db.sessionmaker(engine)
    journal = SqlJournal(sessions, Retention())
    now = datetime.now(UTC)
    bad = {
        137: lambda a: replace(a, error="nul\x00here"),
        1020: lambda a: replace(a, type="t" * 300),
        1999: lambda a: replace(a, error="\ud800"),
    }
    for i in range(2000):
        record = attempt(f"EZ{i}", now)
        journal.attempt(bad[i](record) if i in bad else record)
    while await journal.flush():
        pass
    async with sessions() as session:
        ids = list((await session.scalars(select(AttemptRow.event_id).order_by(AttemptRow.id))).all())
    assert ids == [f"EZ{i}" for i in range(2000) if i not in bad]
    assert journal.quarantined == 3 and journal.pending == 0 and journal.dropped == 0


# The API's list queries, explained on a log of some size.

SEEDED_DAYS = 6
ROWS_PER_DAY = 40_000


async def seed(engine: AsyncEngine, now: datetime) -> None:
    """Attempts and dead letters for several days and sinks, written straight in PostgreSQL."""
    journal = SqlJournal(db.sessionmaker(engine), Retention())
    for days in range(SEEDED_DAYS):
        await journal.maintain(now - timedelta(days=days))  # each day's partitions made
    async with engine.begin() as connection:
        for days in range(SEEDED_DAYS):
            start = now - timedelta(days=days, hours=12)
            await connection.execute(
                text(
                    "INSERT INTO delivery_attempts (account_sid, sink_sid, event_id, type, attempt, "
                    "outcome, status_code, latency_ms, date_created) "
                    "SELECT :a, CASE WHEN g % 2 = 0 THEN :s ELSE :o END, 'EZ' || g, 'com.example', 1, "
                    "CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END, 200, 5, "
                    "CAST(:start AS timestamptz) + g * interval '1 millisecond' "
                    "FROM generate_series(1, :n) AS g"
                ),
                {"a": ACCOUNT, "s": SINK, "o": OTHER_SINK, "start": start, "n": ROWS_PER_DAY},
            )
        await connection.execute(
            text(
                "INSERT INTO delivery_dead_letters (sid, account_sid, sink_sid, event_id, type, subject, "
                "payload, attempts, reason, error_code, date_created) "
                "SELECT 'DL' || md5(g::text), :a, CASE WHEN g % 2 = 0 THEN :s ELSE :o END, 'EZ' || g, "
                "'com.example', 'ev', '{}', 1, 'gone', 91303, "
                "CAST(:start AS timestamptz) + g * interval '10 millisecond' "
                "FROM generate_series(1, :n) AS g"
            ),
            {"a": ACCOUNT, "s": SINK, "o": OTHER_SINK, "start": now - timedelta(hours=12), "n": ROWS_PER_DAY},
        )
        await connection.execute(text("ANALYZE delivery_attempts"))
        await connection.execute(text("ANALYZE delivery_dead_letters"))


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


async def test_the_apis_list_queries_are_served_by_indexes(engine: AsyncEngine) -> None:
    """Every query the delivery log's list RPCs send — a sink's attempts newest first, the
    next and previous pages (the page token's condition), by event id, by outcome, its dead
    letters — is explained on a log of 240k attempts in daily partitions: no table of any size
    is read whole."""
    now = datetime.now(UTC)
    await seed(engine, now)
    sessions = db.sessionmaker(engine)
    records = Records(sessions)
    statements = Statements(engine)

    first = await records.attempts(ACCOUNT, SINK, "", "", 50, "")
    second = await records.attempts(ACCOUNT, SINK, "", "", 50, first.next_token)
    await records.attempts(ACCOUNT, SINK, "", "", 50, second.previous_token)
    await records.attempts(ACCOUNT, SINK, "", "EZ1234", 50, "")
    await records.attempts(ACCOUNT, SINK, "delivered", "", 50, first.next_token)
    await records.attempts(ACCOUNT, SINK, "failed", "", 50, "")
    letters = await records.dead_letters(ACCOUNT, SINK, None, 50, "")
    await records.dead_letters(ACCOUNT, SINK, False, 50, letters.next_token)
    assert len(first.items) == 50 and decode(second.previous_token) is not None
    queries = [(s, p) for s, p in zip(statements.sent, statements.parameters, strict=True)]
    assert len(queries) == 8

    sizes: dict[str, float] = {}
    async with engine.connect() as connection:
        for name, tuples in await connection.execute(text("SELECT relname, reltuples FROM pg_class")):
            sizes[name] = tuples
        for statement, parameters in queries:
            explained = await connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = explained.scalar_one()[0]["Plan"]
            nodes = list(plan_nodes(plan))
            read_whole = [n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"]
            assert [name for name in read_whole if sizes.get(name, 0) > 1000] == [], statement
            assert any("Index" in n["Node Type"] for n in nodes), statement
            if "outcome = " in statement and "'delivered'" in str(parameters):
                # The delivered attempts' query never reads a day's errors.
                assert not any(n.get("Relation Name", "").endswith("_errors") for n in nodes)


# A log from before partitioning, migrated.


def upgrade_to(connection: Connection, revision: str, how: str = "upgrade") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = VERSIONS
    getattr(command, how)(config, revision)


async def test_a_log_from_before_partitioning_is_kept_and_read_on_in_order(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine = db.create_engine(database_url("postgres", request, tmp_path, "delivery"))
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to, "delivery_0006")
        now = datetime.now(UTC)
        old_sessions = db.sessionmaker(engine)
        async with old_sessions.begin() as session:
            for days, outcome in ((30, "failed"), (10, "delivered"), (10, "failed"), (0, "delivered")):
                # The columns of that schema only (a model's later columns are not there yet).
                await session.execute(
                    insert(journal_module.ATTEMPTS_TABLE),
                    [
                        dict(
                            account_sid=ACCOUNT, sink_sid=SINK, event_id=f"old-{days}-{outcome}-{i}",
                            type="t", attempt=1, outcome=outcome, status_code=200, latency_ms=1,
                            error_code=None, error=None, date_created=now - timedelta(days=days),
                        )
                        for i in range(3)
                    ],
                )  # fmt: skip
            for days in (30, 0):
                session.add_all(
                    DeadLetterRow(
                        sid=f"DL{days:02d}{i:030d}", account_sid=ACCOUNT, sink_sid=SINK,
                        event_id=f"old-{days}-letter-{i}", type="t", subject="s", payload="{}", attempts=1,
                        reason="gone", error_code=91303, status_code=None,
                        date_created=now - timedelta(days=days), date_redriven=None,
                    )
                    for i in range(2)
                )  # fmt: skip

        await db.migrate(engine, MIGRATIONS, VERSIONS)

        sessions = db.sessionmaker(engine)
        journal = SqlJournal(sessions, Retention())
        await journal.maintain(now)  # days ahead made; the old rows past retention purged
        for i in range(3):
            journal.attempt(attempt(f"new-{i}", now))
        await journal.flush()
        names = await partitions(engine)
        assert "delivery_attempts_legacy" in names and "delivery_attempts_default" in names
        assert "delivery_dead_letters_legacy" in names
        await journal.dead_letter(letter("new-letter"))
        letters = await Records(sessions).dead_letters(ACCOUNT, SINK, None, 50, "")
        assert [r.event_id for r in letters.items] == ["new-letter", "old-0-letter-1", "old-0-letter-0"]
        page = await Records(sessions).attempts(ACCOUNT, SINK, "", "", 50, "")
        assert [r.event_id for r in page.items] == (
            [f"new-{i}" for i in (2, 1, 0)]
            + [f"old-0-delivered-{i}" for i in (2, 1, 0)]
            + [f"old-10-failed-{i}" for i in (2, 1, 0)]
        )  # newest first across the legacy partition and the days; past retention gone
        async with sessions() as session:
            count = await session.scalar(select(func.count()).select_from(AttemptRow))
        assert count == 9
        async with engine.begin() as connection:  # and back, every row kept
            await connection.run_sync(upgrade_to, "delivery_0006", "downgrade")
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(AttemptRow)) == 9
            assert await session.scalar(select(func.count()).select_from(DeadLetterRow)) == 3
            kinds = await session.execute(
                text(
                    "SELECT relname, relkind::text FROM pg_class "
                    "WHERE relname IN ('delivery_attempts', 'delivery_dead_letters')"
                )
            )
            assert {name: kind for name, kind in kinds} == {
                "delivery_attempts": "r",
                "delivery_dead_letters": "r",
            }
    finally:
        await engine.dispose()


async def test_a_log_with_no_rows_is_simply_replaced(engine: AsyncEngine) -> None:
    names = await partitions(engine)
    assert "delivery_attempts_legacy" not in names and "delivery_dead_letters_legacy" not in names
    assert "delivery_attempts_default" in names and "delivery_dead_letters_default" in names


async def test_sqlite_keeps_its_plain_tables(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    try:
        await db.migrate(engine, MIGRATIONS, VERSIONS)
        async with engine.connect() as connection:
            tables = {
                name
                for (name,) in await connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'delivery_%'")
                )
            }
        assert tables == {
            "delivery_attempts", "delivery_dead_letters", "delivery_replays", "delivery_sink_health",
            "delivery_usage", VERSIONS,
        }  # fmt: skip
        sessions = db.sessionmaker(engine)
        journal = SqlJournal(sessions, Retention())
        now = datetime.now(UTC)
        journal.attempt(attempt("old", now - timedelta(days=8)))
        journal.attempt(attempt("new", now))
        await journal.flush()
        await journal.maintain(now)
        async with sessions() as session:
            assert list((await session.scalars(select(AttemptRow.event_id))).all()) == ["new"]
    finally:
        await engine.dispose()
