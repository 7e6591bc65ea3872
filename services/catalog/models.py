from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Where a type or schema comes from: Twilio's catalogue (seeded at every start, read-only to
# the registry) or the registry (registered at run time, never touched by the seed).
CATALOGUE, REGISTRY = "catalogue", "registry"
# Who registered a type or schema (services/catalog/ownership.py): a caller's name, or the platform.
PLATFORM = "(platform)"


class Base(DeclarativeBase):
    pass


class EventTypeRow(Base):
    __tablename__ = "catalog_event_types"

    type: Mapped[str] = mapped_column(String(200), primary_key=True)
    schema_id: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(500))
    documentation_url: Mapped[str] = mapped_column(String(500))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    origin: Mapped[str] = mapped_column(String(20), default=CATALOGUE)  # or REGISTRY
    owner: Mapped[str] = mapped_column(String(100), default=PLATFORM, index=True)


class SchemaRow(Base):
    __tablename__ = "catalog_schemas"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    origin: Mapped[str] = mapped_column(String(20))
    # The schema's own compatibility mode; None: the catalog's default (ES_SCHEMA_COMPATIBILITY).
    compatibility: Mapped[str | None] = mapped_column(String(20), nullable=True)
    owner: Mapped[str] = mapped_column(String(100), default=PLATFORM)
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevisionRow(Base):
    """One row: bumped in the transaction of every change a router must see (WatchCatalog)."""

    __tablename__ = "catalog_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class SchemaVersionRow(Base):
    __tablename__ = "catalog_schema_versions"

    schema_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
