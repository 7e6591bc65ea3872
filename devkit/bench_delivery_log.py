"""What the delivery log costs on PostgreSQL, the plain tables (the log before partitioning:
one table per kind, executemany, retention by batched DELETE) against the partitioned one
(a table per day, COPY, retention by dropping a day) — on an embedded PostgreSQL:

  1. write: attempt rows/s one worker's journal writes (`SqlJournal.flush`, 5,000 a batch);
  2. retention: the time to forget one past day of a log of `--rows` attempts over ten days
     (seeded straight in PostgreSQL by INSERT … SELECT generate_series), and that no other
     day's rows changed (each day's count and sum of ids, before and after).

Trials alternate between the layouts; each figure is the median of the trials (min–max).

    python -m devkit.bench_delivery_log                      # 100k rows written, 10 M seeded, 3 trials
    python -m devkit.bench_delivery_log --rows 1000000 --write-rows 20000   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from devkit.bench_stats import show, spread
from devkit.postgres import PostgresCluster
from runtime import db
from runtime.sids import AccountSid, EventId, SinkSid
from services.delivery.app import MIGRATIONS
from services.delivery.partitions import start_of
from services.delivery.settling.journal import Attempt, PlainLog, Retention, SqlJournal

VERSIONS = "delivery_alembic_version"
LAYOUTS = ("plain", "partitioned")
BEFORE_PARTITIONS = "delivery_0006"
SEEDED_DAYS = 10
SINKS = 100
# One retention for both kinds: each trial forgets exactly one whole day in either layout.
RETENTION = Retention(delivered=timedelta(days=23), errors=timedelta(days=23))


def upgrade_to(revision: str) -> Callable[[Connection], None]:
    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = VERSIONS
        command.upgrade(config, revision)

    return upgrade


async def database(cluster: PostgresCluster, layout: str) -> AsyncEngine:
    engine = db.create_engine(cluster.create_database(f"bench_{layout}"))
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to(BEFORE_PARTITIONS if layout == "plain" else "head"))
    return engine


def journal(engine: AsyncEngine, layout: str) -> SqlJournal:
    sessions = db.sessionmaker(engine)
    store = PlainLog(sessions, RETENTION) if layout == "plain" else None
    return SqlJournal(sessions, RETENTION, max_pending=1_000_000, store=store)


def attempts(count: int, now: float) -> list[Attempt]:
    return [
        Attempt(
            AccountSid("AC" + "0" * 32), SinkSid(f"DG{i % SINKS:032d}"), EventId(f"EZ{i:030d}"),
            "com.twilio.messaging.message.delivered",
            1, "delivered" if i % 10 else "retrying", 200 if i % 10 else 503, 12, None if i % 10 else 91301,
            None if i % 10 else "receiver failed (HTTP 503)", now + i / 10_000, age_ms=40,
        )
        for i in range(count)
    ]  # fmt: skip


async def write_trial(cluster: PostgresCluster, layout: str, rows: int) -> dict[str, Any]:
    engine = await database(cluster, layout)
    try:
        log = journal(engine, layout)
        await log.maintain(datetime.now(UTC))  # today's partitions, as the worker makes them at start
        for record in attempts(rows, time.time()):
            log.attempt(record)
        started = time.perf_counter()
        while await log.flush():
            pass
        elapsed = time.perf_counter() - started
        async with engine.connect() as connection:
            written = await connection.scalar(text("SELECT count(*) FROM delivery_attempts"))
        assert written == rows and log.quarantined == 0, (written, log.quarantined)
        return {"rows_per_second": rows / elapsed, "seconds": elapsed}
    finally:
        await engine.dispose()


async def seed(engine: AsyncEngine, layout: str, rows: int, first_day: date) -> None:
    """`rows` attempts over SEEDED_DAYS days from `first_day`, nine in ten delivered."""
    if layout == "partitioned":
        log = journal(engine, layout)
        for day in range(SEEDED_DAYS):
            await log.maintain(start_of(first_day + timedelta(days=day)))
    per_day = rows // SEEDED_DAYS
    async with engine.begin() as connection:
        for day in range(SEEDED_DAYS):
            await connection.execute(
                text(
                    "INSERT INTO delivery_attempts (account_sid, sink_sid, event_id, type, attempt, "
                    "outcome, status_code, latency_ms, date_created) "
                    "SELECT :a, 'DG' || lpad((g % :sinks)::text, 32, '0'), 'EZ' || g, 'com.example', 1, "
                    "CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END, 200, 5, "
                    "CAST(:start AS timestamptz) "
                    "+ (g * (86399.0 / CAST(:n AS integer))) * interval '1 second' "
                    "FROM generate_series(1, CAST(:n AS integer)) AS g"
                ),
                {
                    "a": "AC" + "0" * 32,
                    "sinks": SINKS,
                    "start": start_of(first_day + timedelta(days=day)),
                    "n": per_day,
                },
            )
        await connection.execute(text("ANALYZE delivery_attempts"))


async def days(engine: AsyncEngine) -> dict[str, tuple[int, int]]:
    """Each day's rows: count and sum of ids (a row changed or gone changes them)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT to_char(date_created AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*), sum(id) "
                "FROM delivery_attempts GROUP BY 1"
            )
        )
        return {day: (int(count), int(total)) for day, count, total in found}


async def retention_trial(engine: AsyncEngine, layout: str, first_day: date, trial: int) -> dict[str, Any]:
    """Forget day `first_day + trial` (the days before it went in earlier trials)."""
    gone = first_day + timedelta(days=trial)
    now = start_of(gone + timedelta(days=1)) + RETENTION.errors  # that day past, the next not
    before = await days(engine)
    started = time.perf_counter()
    deleted = await journal(engine, layout).purge(now)
    elapsed = time.perf_counter() - started
    after = await days(engine)
    key = gone.isoformat()
    others_unchanged = {d: v for d, v in before.items() if d != key} == after
    return {
        "seconds": elapsed,
        "day_rows": before.get(key, (0, 0))[0],
        "rows_deleted_one_by_one": deleted,
        "other_days_unchanged": others_unchanged,
        "other_days_rows": sum(count for count, _ in after.values()),
    }


async def main(arguments: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-delivery-log-") as directory:
        cluster = PostgresCluster(Path(directory))
        cluster.start()
        try:
            results: dict[str, dict[str, list[dict[str, Any]]]] = {"write": {}, "retention": {}}
            for trial in range(arguments.trials):
                for layout in LAYOUTS if trial % 2 == 0 else reversed(LAYOUTS):
                    result = await write_trial(cluster, layout, arguments.write_rows)
                    results["write"].setdefault(layout, []).append(result)
                    print(
                        f"write {layout} trial {trial + 1}: {result['rows_per_second']:,.0f} rows/s",
                        flush=True,
                    )
            first_day = (datetime.now(UTC) - timedelta(days=60)).date()
            for layout in LAYOUTS:
                engine = await database(cluster, layout)
                try:
                    started = time.perf_counter()
                    await seed(engine, layout, arguments.rows, first_day)
                    print(
                        f"seeded {layout}: {arguments.rows:,} rows in {time.perf_counter() - started:.0f} s"
                    )
                    for trial in range(arguments.trials):
                        result = await retention_trial(engine, layout, first_day, trial)
                        results["retention"].setdefault(layout, []).append(result)
                        print(f"retention {layout} trial {trial + 1}: {result}", flush=True)
                finally:
                    await engine.dispose()
        finally:
            cluster.stop()
    report(results, arguments)


def report(results: dict[str, dict[str, list[dict[str, Any]]]], arguments: argparse.Namespace) -> None:
    print(f"\ndelivery log on PostgreSQL — median of {arguments.trials} trials (min–max)")
    print(f"  one journal writing {arguments.write_rows:,} attempts, rows/s:")
    for layout in LAYOUTS:
        figure = spread([r["rows_per_second"] for r in results["write"][layout]])
        print(f"    {layout:<12} {show(figure)}")
    ratios = [
        new["rows_per_second"] / old["rows_per_second"]
        for old, new in zip(results["write"]["plain"], results["write"]["partitioned"], strict=True)
    ]
    print(f"    partitioned / plain: {show(spread(ratios), 2)}")
    print(f"  forgetting one day of a {arguments.rows:,}-row log ({SEEDED_DAYS} days), seconds:")
    for layout in LAYOUTS:
        trials = results["retention"][layout]
        figure = spread([r["seconds"] for r in trials])
        deleted = spread([r["rows_deleted_one_by_one"] for r in trials])
        unchanged = all(r["other_days_unchanged"] for r in trials)
        print(
            f"    {layout:<12} {show(figure, 3)} s; rows deleted one by one {show(deleted, 0)}; "
            f"other days' rows unchanged: {unchanged}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument(
        "--write-rows", type=int, default=100_000, help="attempts one journal writes per trial"
    )
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="attempts in the log retention forgets from"
    )
    asyncio.run(main(parser.parse_args()))
