"""The schema registry's storage on SQLite and on a real PostgreSQL: the migration from a
catalogue-only database, the seed leaving registered types alone, the revision bumped by
every change and only then, concurrent registrations of one schema."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.change_signal import ChangeSignal
from runtime.errors import FailedPrecondition
from runtime.service_auth import ANONYMOUS, Caller
from services.catalog import catalogue
from services.catalog.app import MIGRATIONS
from services.catalog.catalogue import EventTypeSeed
from services.catalog.models import PLATFORM
from services.catalog.registry import Registry
from services.catalog.store import CatalogStore
from tests.conftest import BACKENDS, database_url

pytestmark = pytest.mark.integration

VERSION_TABLE = "catalog_alembic_version"
ACME = Caller("acme", "producer")
DOC: dict[str, Any] = {
    "type": "object",
    "properties": {"orderSid": {"type": "string"}},
    "required": ["orderSid"],
    "additionalProperties": False,
}


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    created = db.create_engine(database_url(request.param, request, tmp_path, "catalog"))
    yield created
    await created.dispose()


async def upgrade_to(engine: AsyncEngine, target: str) -> None:
    def upgrade(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        config.attributes["version_table"] = VERSION_TABLE
        command.upgrade(config, target)

    async with engine.begin() as connection:
        await connection.run_sync(upgrade)


async def test_a_catalogue_only_database_migrates_with_every_schema_the_catalogues(
    engine: AsyncEngine,
) -> None:
    await upgrade_to(engine, "catalog_0001")
    async with engine.begin() as connection:
        now = "CURRENT_TIMESTAMP"
        await connection.execute(
            text(
                "INSERT INTO catalog_event_types VALUES "
                f"('com.twilio.x.y', 'X.Y', 'available', 'd', 'u', {now}, {now})"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO catalog_schema_versions VALUES "
                f"('X.Y', 1, '{{}}', {now}), ('X.Y', 2, '{{}}', {now})"
            )
        )
    await db.migrate(engine, MIGRATIONS, VERSION_TABLE)
    async with engine.connect() as connection:
        schemas = (
            await connection.execute(text("SELECT id, origin, compatibility, owner FROM catalog_schemas"))
        ).all()
        types = (await connection.execute(text("SELECT type, origin, owner FROM catalog_event_types"))).all()
        revision = await connection.scalar(text("SELECT revision FROM catalog_revision WHERE id = 1"))
    assert [tuple(r) for r in schemas] == [("X.Y", "catalogue", None, PLATFORM)]
    assert [tuple(r) for r in types] == [("com.twilio.x.y", "catalogue", PLATFORM)]
    assert revision == 1


async def test_the_seed_leaves_the_registry_alone_and_bumps_the_revision_only_on_change(
    engine: AsyncEngine,
) -> None:
    await db.migrate(engine, MIGRATIONS, VERSION_TABLE)
    await db.migrate(engine, MIGRATIONS, VERSION_TABLE)  # a second start changes nothing
    sessions = db.sessionmaker(engine)
    store, registry = CatalogStore(sessions), Registry(sessions, ChangeSignal(), "FULL")
    assert await store.seed(catalogue.event_types(), catalogue.schema_versions()) > 0
    seeded = await registry.revision()
    assert await store.seed(catalogue.event_types(), catalogue.schema_versions()) == 0
    assert await registry.revision() == seeded

    await registry.register_type(ACME, "com.acme.order.placed", "Acme.Order", "Acme", "", json.dumps(DOC), "")
    await registry.set_status(ACME, "com.acme.order.placed", "discontinued")
    assert await registry.revision() == seeded + 2
    await registry.set_status(ACME, "com.acme.order.placed", "discontinued")  # no change, no bump
    assert await registry.revision() == seeded + 2

    # A later catalogue naming a registered type or schema does not take it over.
    clash = EventTypeSeed("com.acme.order.placed", "Acme.Order", "available", "Twilio's", "")
    later = [*catalogue.schema_versions(), catalogue.SchemaVersionSeed("Acme.Order", 2, {"type": "object"})]
    assert await store.seed([*catalogue.event_types(), clash], later) == 0
    kept = await store.get_type("com.acme.order.placed")
    assert (kept.status, kept.description, kept.origin) == ("discontinued", "Acme", "registry")
    assert [v.version for v in (await store.list_versions("Acme.Order", 50, "")).items] == [1]
    # And Twilio's own types keep Twilio's status: the registry may not change them.
    with pytest.raises(FailedPrecondition):
        await registry.set_status(ANONYMOUS, "com.twilio.messaging.message.delivered", "discontinued")


async def test_concurrent_versions_of_one_schema_never_share_a_number(engine: AsyncEngine) -> None:
    await db.migrate(engine, MIGRATIONS, VERSION_TABLE)
    sessions = db.sessionmaker(engine)
    registry = Registry(sessions, ChangeSignal(), "FULL")
    await registry.register_type(ACME, "com.acme.order.placed", "Acme.Order", "", "", json.dumps(DOC), "")
    documents = [
        json.dumps({**DOC, "properties": {**DOC["properties"], f"extra{i}": {"type": "string"}}})
        for i in range(4)
    ]
    outcomes = await asyncio.gather(
        *(registry.register_version(ACME, "Acme.Order", d, dry_run=False) for d in documents),
        return_exceptions=True,
    )
    made = sorted(o[0].version for o in outcomes if isinstance(o, tuple))
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, FailedPrecondition) and "same time" in o.message for o in refused), refused
    assert made == list(range(2, 2 + len(made))) and made
    store = CatalogStore(sessions)
    assert [v.version for v in (await store.list_versions("Acme.Order", 50, "")).items] == [1, *made]
