"""A synthetic tenant base in control's PostgreSQL database, built straight in SQL: N accounts
(a tenth of them subaccounts), ~3 subscriptions per account, most accounts with 0–2 sinks and
one in 100,000 at the per-account limits (100 sinks, 100 subscriptions).

Rows are what the API writes: every sink configuration, filter and type list is one of a few
templates that go through the API's own validation first (runtime/sink_configs.parse,
services/control/validation.event_filter), SIDs have the API's shape, and every account gets
its routing change row, as a revision bump through the API would leave it. Auth tokens are
stored as the API stores them without ES_TOKEN_ENCRYPTION_KEY (control seals them at start
when a key is set — set none for a base this size). PostgreSQL only: INSERT … SELECT over
generate_series, a million accounts in a few minutes.

    python -m devkit.seed_control --database-url postgresql+asyncpg://… --accounts 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time

from sqlalchemy import text

from runtime import db, sink_configs
from services.control.app import MIGRATIONS
from services.control.validation import event_filter

# Per account i, by i % 10: sinks, and subscriptions per sink (≈ 3 subscriptions per account).
SINKS = [0, 1, 1, 1, 1, 2, 2, 2, 3, 3]
SUBSCRIPTIONS_PER_SINK = [0, 3, 3, 2, 4, 2, 1, 2, 1, 1]
AT_LIMITS_EVERY = 100_000
LIMIT = 100
TYPES = [
    "com.twilio.messaging.message.sent",
    "com.twilio.messaging.message.delivered",
    "com.twilio.voice.call.completed",
]
FILTER = "data.to == '+15005550006'"
CONFIG = json.dumps(
    {"destination": "https://hooks.example.com/events", "method": "POST", "batch_events": False}
)


def templates() -> tuple[str, str]:
    """The configuration and filter every seeded row carries, validated as the API does."""
    sink_configs.parse("webhook", CONFIG)
    checked = event_filter(FILTER)
    assert checked is not None
    return CONFIG, checked


def account_sid(i: int) -> str:
    """The SID the seeding gives account `i`."""
    return "AC" + hashlib.md5(f"a{i}".encode()).hexdigest()


def sid(prefix: str, seed: str) -> str:
    """SQL for a SID with the API's shape: prefix + 32 hex digits, fixed by `seed`."""
    return f"'{prefix}' || md5({seed})"


async def seed(url: str, accounts: int) -> dict[str, float]:
    config, filter_text = templates()
    engine = db.create_engine(url)
    await db.migrate(engine, MIGRATIONS, "control_alembic_version")
    started = time.monotonic()
    sinks_of = f"(CASE WHEN a.i % {AT_LIMITS_EVERY} = 0 THEN {LIMIT} ELSE (ARRAY{SINKS})[a.i % 10 + 1] END)"
    per_sink = SUBSCRIPTIONS_PER_SINK
    subs_of = f"(CASE WHEN a.i % {AT_LIMITS_EVERY} = 0 THEN 1 ELSE (ARRAY{per_sink})[a.i % 10 + 1] END)"
    statements = [
        # Every tenth account is a subaccount of the one before it.
        f"""INSERT INTO control_accounts (sid, friendly_name, auth_token, owner_account_sid, status,
                date_created, date_updated)
            SELECT {sid("AC", "'a' || i")}, 'seeded ' || i, md5('t' || i),
                   CASE WHEN i % 10 = 9 THEN {sid("AC", "'a' || (i - 1)")} END, 'active', now(), now()
            FROM generate_series(0, :n - 1) AS i""",
        f"""INSERT INTO control_sinks (sid, account_sid, description, sink_type, configuration, status,
                date_created, date_updated)
            SELECT {sid("DG", "'s' || a.i || '.' || k")}, {sid("AC", "'a' || a.i")},
                   'seeded ' || k, 'webhook', :config, 'active', now(), now()
            FROM generate_series(0, :n - 1) AS a(i), generate_series(0, {sinks_of} - 1) AS k""",
        f"""INSERT INTO control_subscriptions (sid, account_sid, description, sink_sid, filter,
                receive_events_from_subaccounts, date_created, date_updated)
            SELECT {sid("DF", "'f' || a.i || '.' || k || '.' || j")}, {sid("AC", "'a' || a.i")},
                   'seeded', {sid("DG", "'s' || a.i || '.' || k")}, CASE WHEN j = 1 THEN :filter END,
                   j = 2, now(), now()
            FROM generate_series(0, :n - 1) AS a(i), generate_series(0, {sinks_of} - 1) AS k,
                 generate_series(0, {subs_of} - 1) AS j""",
        # One to three types per subscription.
        f"""INSERT INTO control_subscribed_events (subscription_sid, type, schema_version)
            SELECT s.sid, (ARRAY{TYPES})[t + 1], 1
            FROM control_subscriptions AS s,
                 generate_series(0, get_byte(decode(substr(s.sid, 3, 2), 'hex'), 0) % 3) AS t
            WHERE s.description = 'seeded'""",
        """INSERT INTO control_routing_changes (account_sid, revision)
            SELECT sid, (SELECT revision FROM control_revision WHERE id = 1) + 1 FROM control_accounts
            ON CONFLICT (account_sid) DO NOTHING""",
        "UPDATE control_revision SET revision = revision + 1 WHERE id = 1",
        "ANALYZE",
    ]
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(
                text(statement), {"n": accounts, "config": config, "filter": filter_text}
            )
    async with engine.connect() as connection:
        counts = {
            table: float(await connection.scalar(text(f"SELECT count(*) FROM control_{table}")) or 0)
            for table in ("accounts", "sinks", "subscriptions", "subscribed_events")
        }
    await engine.dispose()
    return {**counts, "seconds": round(time.monotonic() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="control's database (PostgreSQL)")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(seed(args.database_url, args.accounts))))


if __name__ == "__main__":
    main()
