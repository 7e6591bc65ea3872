"""The schema registry: event types and schema versions registered at run time, each version
checked against every previous one under its schema's compatibility mode (compatibility.py).

Twilio's seeded types and schemas are the catalogue's: read-only here, refreshed by the seed
at every start. Registered ones are the registry's: the seed never touches them. Every change
bumps the catalog revision in its own transaction and wakes this replica's watchers.

A registered type or schema is its registrant's (ownership.py): only that caller, or an
operator, adds versions, sets the mode or status, or shares the schema with a new type. Quotas
cap the types one caller registers and the versions of a schema, so one producer cannot fill
the catalogue every router reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.change_signal import ChangeSignal
from runtime.errors import AlreadyExists, FailedPrecondition, InvalidArgument, LimitExceeded, NotFound
from runtime.service_auth import Caller
from runtime.times import utcnow
from services.catalog import compatibility, documents, ownership, revision
from services.catalog.catalogue import STATUSES
from services.catalog.models import REGISTRY, EventTypeRow, SchemaRow, SchemaVersionRow

RESERVED_PREFIX = "com.twilio."
TYPE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)+")
SCHEMA_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*")
MAX_NAME = 200
MAX_TEXT = 500


@dataclass(frozen=True)
class Quotas:
    types_per_owner: int = 1000
    versions_per_schema: int = 100


@dataclass(frozen=True)
class Report:
    mode: str
    incompatibilities: list[compatibility.Incompatibility]
    message: str

    @property
    def compatible(self) -> bool:
        return not self.incompatibilities


class Incompatible(FailedPrecondition):
    """A version that breaks its schema's mode: the state (the versions before it, the mode)
    refuses it, not its form — so FAILED_PRECONDITION, as Confluent answers 409."""

    http_status = 409


class Registry:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        signal: ChangeSignal,
        default_mode: str,
        quotas: Quotas = Quotas(),
    ) -> None:
        self._sessions = sessions
        self._signal = signal
        self.default_mode = compatibility.normalize_mode(default_mode)
        self.quotas = quotas

    async def register_type(
        self,
        who: Caller,
        type_name: str,
        schema_id: str,
        description: str,
        documentation_url: str,
        document_json: str,
        mode: str,
    ) -> tuple[EventTypeRow, SchemaVersionRow]:
        _check_type_name(type_name)
        _check_schema_id(schema_id)
        if len(description) > MAX_TEXT or len(documentation_url) > MAX_TEXT:
            raise InvalidArgument(f"description and documentation_url are at most {MAX_TEXT} characters")
        override = _mode(mode) if mode else None
        now = utcnow()
        try:
            async with self._sessions.begin() as session:
                if await session.get(EventTypeRow, type_name) is not None:
                    raise AlreadyExists(f"event type {type_name} already exists")
                await self._check_type_quota(session, who)
                schema = await session.get(SchemaRow, schema_id)
                if schema is None:
                    if not document_json:
                        raise InvalidArgument(
                            f"schema {schema_id} does not exist: give document_json, its version 1"
                        )
                    document = _parse(document_json, schema_id, 1)
                    session.add(
                        SchemaRow(
                            id=schema_id,
                            origin=REGISTRY,
                            compatibility=override,
                            owner=who.name,
                            date_created=now,
                        )
                    )
                    version = SchemaVersionRow(
                        schema_id=schema_id, version=1, document=documents.encode(document), date_created=now
                    )
                    session.add(version)
                else:
                    if document_json or override:
                        raise InvalidArgument(
                            f"schema {schema_id} exists: leave document_json and compatibility empty to "
                            "share it (RegisterSchemaVersion adds a version, SetCompatibility sets its mode)"
                        )
                    # Sharing ties the new type to the schema's future versions: its owner's call.
                    ownership.check(who, schema.owner, f"schema {schema_id}")
                    version = await _latest(session, schema_id)
                row = EventTypeRow(
                    type=type_name,
                    schema_id=schema_id,
                    status="available",
                    description=description,
                    documentation_url=documentation_url,
                    date_created=now,
                    date_updated=now,
                    origin=REGISTRY,
                    owner=who.name,
                )
                session.add(row)
                await session.flush()
                await revision.bump(session)
        except IntegrityError as exc:  # a concurrent registration of the same type or schema
            raise AlreadyExists(f"event type {type_name} or schema {schema_id} was just registered") from exc
        self._signal.notify()
        return row, version

    async def register_version(
        self, who: Caller, schema_id: str, document_json: str, dry_run: bool
    ) -> tuple[SchemaVersionRow, Report]:
        """The new version (unsaved for a dry run) and its report; Incompatible when refused."""
        try:
            async with self._sessions.begin() as session:
                # Locked (PostgreSQL) so two registrations of one schema check one after the other.
                schema = await session.get(SchemaRow, schema_id, with_for_update=True)
                if schema is None:
                    raise NotFound(f"Schema {schema_id} not found", twilio_code=20404)
                _registered(schema.origin, f"schema {schema_id}")
                ownership.check(who, schema.owner, f"schema {schema_id}")
                rows = (
                    await session.scalars(
                        select(SchemaVersionRow)
                        .where(SchemaVersionRow.schema_id == schema_id)
                        .order_by(SchemaVersionRow.version)
                    )
                ).all()
                mode = schema.compatibility or self.default_mode
                if rows and _same(document_json, rows[-1]):
                    # A retried registration: the version it made, as Confluent answers.
                    return rows[-1], Report(mode, [], "")
                number = rows[-1].version + 1 if rows else 1
                if number > self.quotas.versions_per_schema:
                    raise LimitExceeded(
                        f"schema {schema_id} has {len(rows)} versions, the most a schema may have "
                        f"({self.quotas.versions_per_schema}, ES_REGISTRY_MAX_VERSIONS_PER_SCHEMA): "
                        "register a new schema for a new type"
                    )
                document = _parse(document_json, schema_id, number)
                found = compatibility.check(mode, document, {r.version: json.loads(r.document) for r in rows})
                report = Report(mode, found, compatibility.explain(mode, found) if found else "")
                version = SchemaVersionRow(
                    schema_id=schema_id,
                    version=number,
                    document=documents.encode(document),
                    date_created=utcnow(),
                )
                if dry_run:
                    return version, report
                if found:
                    raise Incompatible(report.message)
                session.add(version)
                await session.flush()
                await revision.bump(session)
        except IntegrityError as exc:
            raise FailedPrecondition(
                f"another version of {schema_id} was registered at the same time: try again"
            ) from exc
        self._signal.notify()
        return version, report

    async def compatibility_of(self, schema_id: str) -> tuple[str, bool]:
        """(the mode in force, whether it is the schema's own)."""
        if not schema_id:
            return self.default_mode, False
        async with self._sessions() as session:
            schema = await session.get(SchemaRow, schema_id)
        if schema is None:
            raise NotFound(f"Schema {schema_id} not found", twilio_code=20404)
        return schema.compatibility or self.default_mode, schema.compatibility is not None

    async def set_compatibility(self, who: Caller, schema_id: str, mode: str) -> tuple[str, bool]:
        if not schema_id:
            raise InvalidArgument(
                "schema_id is required (the default mode is the setting ES_SCHEMA_COMPATIBILITY)"
            )
        override = _mode(mode) if mode else None
        async with self._sessions.begin() as session:
            schema = await session.get(SchemaRow, schema_id, with_for_update=True)
            if schema is None:
                raise NotFound(f"Schema {schema_id} not found", twilio_code=20404)
            _registered(schema.origin, f"schema {schema_id}")
            ownership.check(who, schema.owner, f"schema {schema_id}")
            schema.compatibility = override
            await revision.bump(session)
        self._signal.notify()
        return override or self.default_mode, override is not None

    async def set_status(self, who: Caller, type_name: str, status: str) -> EventTypeRow:
        if status not in STATUSES:
            raise InvalidArgument(f"status {status!r} is not one of {', '.join(STATUSES)}")
        async with self._sessions.begin() as session:
            row = await session.get(EventTypeRow, type_name, with_for_update=True)
            if row is None:
                raise NotFound(f"Event type {type_name} not found", twilio_code=20404)
            _registered(row.origin, f"event type {type_name}")
            ownership.check(who, row.owner, f"event type {type_name}")
            if row.status != status:
                row.status = status
                row.date_updated = utcnow()
                await revision.bump(session)
        self._signal.notify()
        return row

    async def revision(self) -> int:
        async with self._sessions() as session:
            return await revision.current(session)

    async def _check_type_quota(self, session: AsyncSession, who: Caller) -> None:
        # Counted in the registering transaction: concurrent registrations by one caller may
        # pass it together, by at most their number — a cap against filling the catalogue,
        # not an exact count.
        owned = await session.scalar(
            select(func.count()).select_from(EventTypeRow).where(EventTypeRow.owner == who.name)
        )
        if (owned or 0) >= self.quotas.types_per_owner:
            raise LimitExceeded(
                f"{who.name} has registered {owned} event types, the most one caller may "
                f"({self.quotas.types_per_owner}, ES_REGISTRY_MAX_TYPES_PER_OWNER): discontinued "
                "types count too"
            )


def _mode(raw: str) -> str:
    try:
        return compatibility.normalize_mode(raw)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from exc


def _parse(document_json: str, schema_id: str, version: int) -> dict[str, Any]:
    try:
        return documents.parse(document_json, schema_id, version)
    except documents.DocumentError as exc:
        raise InvalidArgument(f"schema {schema_id} version {version}: {exc}") from exc


def _same(document_json: str, latest: SchemaVersionRow) -> bool:
    """Whether the document is the latest version again (`$id` and `$schema` aside)."""
    try:
        given = json.loads(document_json)
    except ValueError:
        return False
    if not isinstance(given, dict):
        return False
    stored = json.loads(latest.document)
    if given.get("$id", stored.get("$id")) != stored.get("$id"):
        return False
    given.setdefault("$schema", documents.DRAFT_07)
    return {k: v for k, v in given.items() if k != "$id"} == {k: v for k, v in stored.items() if k != "$id"}


def _registered(origin: str, what: str) -> None:
    if origin != REGISTRY:
        raise FailedPrecondition(
            f"{what} is Twilio's catalogue's, refreshed from it at every start: the registry "
            "changes only what was registered through it"
        )


def _check_type_name(type_name: str) -> None:
    if len(type_name) > MAX_NAME or not TYPE_NAME.fullmatch(type_name):
        raise InvalidArgument(
            f"type {type_name!r}: dot-separated words of letters, digits, '-' and '_' (e.g. "
            f"com.acme.order.created), at most {MAX_NAME} characters"
        )
    if type_name.startswith(RESERVED_PREFIX):
        raise InvalidArgument(
            f"type {type_name!r}: the {RESERVED_PREFIX} prefix is reserved for Twilio's catalogue"
        )


def _check_schema_id(schema_id: str) -> None:
    if len(schema_id) > MAX_NAME or not SCHEMA_ID.fullmatch(schema_id):
        raise InvalidArgument(
            f"schema_id {schema_id!r}: dot-separated words of letters, digits, '-' and '_' starting "
            f"with a letter (e.g. Acme.Order), at most {MAX_NAME} characters"
        )


async def _latest(session: AsyncSession, schema_id: str) -> SchemaVersionRow:
    row = await session.scalar(
        select(SchemaVersionRow)
        .where(SchemaVersionRow.schema_id == schema_id)
        .order_by(SchemaVersionRow.version.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound(f"Schema {schema_id} has no versions", twilio_code=20404)
    return row
