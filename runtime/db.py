"""Storage bootstrap: one async engine per service, migrations through Alembic.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is the production store.
Each service keeps its own migration history in its own version table, so two services may
share one database without reading each other's tables.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets readers and the single writer proceed together; foreign keys are off
            # by default in SQLite.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def migrate(engine: AsyncEngine, script_location: Path, version_table: str) -> None:
    """Bring the database to the newest revision of this service's migrations."""

    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(script_location))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = version_table
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together must not run the same migration twice: the first
            # takes the lock, the others wait and then find nothing to do. Released at commit.
            key = zlib.crc32(version_table.encode())
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        await connection.run_sync(upgrade)


def alembic_env() -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=config.attributes["version_table"],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
