from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class SchemaVersionRow(Base):
    __tablename__ = "catalog_schema_versions"

    schema_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
