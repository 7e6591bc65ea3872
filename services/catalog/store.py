"""The catalogue's storage: event types and immutable schema versions."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.errors import NotFound
from runtime.paging import Page, fetch_page
from runtime.times import utcnow
from services.catalog import revision
from services.catalog.catalogue import EventTypeSeed, SchemaVersionSeed
from services.catalog.models import CATALOGUE, EventTypeRow, SchemaRow, SchemaVersionRow

log = logging.getLogger(__name__)


class CatalogStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def seed(self, types: Iterable[EventTypeSeed], versions: Iterable[SchemaVersionSeed]) -> int:
        """Add what is missing and refresh what changed; safe to run at every start. Seeded
        types keep Twilio's status; what the registry registered is never touched."""
        now = utcnow()
        changed = 0
        async with self._sessions.begin() as session:
            known_types = {r.type: r for r in (await session.scalars(select(EventTypeRow))).all()}
            for seed in types:
                row = known_types.get(seed.type)
                fields = {
                    "schema_id": seed.schema_id,
                    "status": seed.status,
                    "description": seed.description,
                    "documentation_url": seed.documentation_url,
                }
                if row is None:
                    session.add(
                        EventTypeRow(
                            type=seed.type, date_created=now, date_updated=now, origin=CATALOGUE, **fields
                        )
                    )
                    changed += 1
                elif row.origin != CATALOGUE:
                    log.warning(
                        "catalogue type %s was registered through the registry: left as it is", seed.type
                    )
                elif any(getattr(row, k) != v for k, v in fields.items()):
                    for key, value in fields.items():
                        setattr(row, key, value)
                    row.date_updated = now
                    changed += 1
            versions = list(versions)
            known_schemas = {r.id: r for r in (await session.scalars(select(SchemaRow))).all()}
            for schema_id in dict.fromkeys(v.schema_id for v in versions):
                if schema_id not in known_schemas:
                    known_schemas[schema_id] = SchemaRow(id=schema_id, origin=CATALOGUE, date_created=now)
                    session.add(known_schemas[schema_id])
                elif known_schemas[schema_id].origin != CATALOGUE:
                    log.warning(
                        "catalogue schema %s was registered through the registry: left as it is", schema_id
                    )
            known_versions = set(
                (await session.execute(select(SchemaVersionRow.schema_id, SchemaVersionRow.version))).tuples()
            )
            for version in versions:
                if known_schemas[version.schema_id].origin != CATALOGUE:
                    continue
                if (version.schema_id, version.version) not in known_versions:
                    session.add(
                        SchemaVersionRow(
                            schema_id=version.schema_id,
                            version=version.version,
                            document=json.dumps(version.document, sort_keys=True),
                            date_created=now,
                        )
                    )
                    changed += 1
            if changed:
                await session.flush()
                await revision.bump(session)
        return changed

    async def list_types(self, page_size: int, token: str, schema_id: str) -> Page[EventTypeRow]:
        statement = select(EventTypeRow)
        if schema_id:
            statement = statement.where(EventTypeRow.schema_id == schema_id)
        async with self._sessions() as session:
            return await fetch_page(session, statement, EventTypeRow.type, lambda r: r.type, page_size, token)

    async def get_type(self, type_name: str) -> EventTypeRow:
        async with self._sessions() as session:
            row = await session.get(EventTypeRow, type_name)
        if row is None:
            raise NotFound(f"Event type {type_name} not found", twilio_code=20404)
        return row

    async def latest_version(self, schema_id: str) -> SchemaVersionRow:
        async with self._sessions() as session:
            row = await session.scalar(
                select(SchemaVersionRow)
                .where(SchemaVersionRow.schema_id == schema_id)
                .order_by(SchemaVersionRow.version.desc())
                .limit(1)
            )
        if row is None:
            raise NotFound(f"Schema {schema_id} not found", twilio_code=20404)
        return row

    async def list_versions(self, schema_id: str, page_size: int, token: str) -> Page[SchemaVersionRow]:
        await self.latest_version(schema_id)
        statement = select(SchemaVersionRow).where(SchemaVersionRow.schema_id == schema_id)
        async with self._sessions() as session:
            return await fetch_page(
                session, statement, SchemaVersionRow.version, lambda r: r.version, page_size, token
            )

    async def get_version(self, schema_id: str, version: int) -> SchemaVersionRow:
        if version <= 0:
            return await self.latest_version(schema_id)
        async with self._sessions() as session:
            row = await session.get(SchemaVersionRow, (schema_id, version))
        if row is None:
            raise NotFound(f"Schema {schema_id} version {version} not found", twilio_code=20404)
        return row

    async def count_types(self) -> int:
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(EventTypeRow)) or 0)
