"""Fixtures the integration tier's modules share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import db
from services.control.app import MIGRATIONS as CONTROL_MIGRATIONS
from tests.conftest import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
async def control_sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated control database: SQLite, then a real PostgreSQL."""
    engine = db.create_engine(database_url(request.param, request, tmp_path, "control"))
    await db.migrate(engine, CONTROL_MIGRATIONS, "control_alembic_version")
    yield db.sessionmaker(engine)
    await engine.dispose()
