"""The outbox table, in a MetaData of its own (add it to your Alembic `target_metadata`, or
call `create_outbox` at start). One row per event the application committed:

| column | what |
|---|---|
| position | BIGINT primary key, increasing: the order the relay publishes in |
| event_id | the event id (unique): fixed when written, so every republish carries it |
| account_sid, type, schema_version, source, event_time, data_json | the event, as Publish takes it |
| created_at | when it was written |
| attempts | Publish rounds the relay spent on it that did not settle it |
| settled_at | NULL while unsent; set when the router answered for good (accepted or rejected) |
| result_code | the router's code when settled: 0 (or 9 with a dead letter) accepted; 3/5/9 rejected |
| result_message | the router's message for it (why it was rejected) |
| last_error | the last transient failure (UNAVAILABLE…) while still unsent |

A partial index over the unsent rows keeps the relay's poll cheap however many sent rows are
kept (prune them with `prune_settled` or your own job)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

outbox = Table(
    "eventstreams_outbox",
    metadata,
    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY (the rowid).
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("type", String(255), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("source", String(1024), nullable=False),
    Column("event_time", DateTime(timezone=True), nullable=False),
    Column("data_json", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    Column("result_code", Integer, nullable=True),
    Column("result_message", Text, nullable=True),
    Column("last_error", Text, nullable=True),
)

Index(
    "ix_eventstreams_outbox_unsent",
    outbox.c.position,
    postgresql_where=outbox.c.settled_at.is_(None),
    sqlite_where=outbox.c.settled_at.is_(None),
)


async def create_outbox(engine: AsyncEngine) -> None:
    """Create the outbox table and its index when missing (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all, checkfirst=True)
