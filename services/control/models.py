from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class AccountRow(Base):
    __tablename__ = "control_accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    friendly_name: Mapped[str] = mapped_column(String(64))
    auth_token: Mapped[str] = mapped_column(String(255))  # sealed (runtime/token_cipher.py)
    # A second token that authenticates too while an auth token is rotated; sealed as well.
    secondary_auth_token: Mapped[str | None] = mapped_column(String(255))
    secondary_auth_token_created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_account_sid: Mapped[str | None] = mapped_column(String(34), index=True)
    status: Mapped[str] = mapped_column(String(20))  # active | suspended | closed
    # Tenant portal links issued at or before this instant are refused (None: none expired).
    portal_links_not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    __tablename__ = "control_api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_sid: Mapped[str] = mapped_column(String(34), index=True)
    friendly_name: Mapped[str] = mapped_column(String(64))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SinkRow(Base):
    __tablename__ = "control_sinks"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_sid: Mapped[str] = mapped_column(String(34), index=True)
    description: Mapped[str] = mapped_column(String(255))
    sink_type: Mapped[str] = mapped_column(String(20))
    configuration: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    test_id: Mapped[str | None] = mapped_column(String(64))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A webhook signed as Standard Webhooks: its `whsec_` secret, sealed (runtime/token_cipher).
    signing_secret: Mapped[str | None] = mapped_column(String(255))
    signing_secret_created: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # After a rotation: the secret it replaced (sealed), which signs beside it until then.
    previous_signing_secret: Mapped[str | None] = mapped_column(String(255))
    previous_signing_secret_expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SubscriptionRow(Base):
    __tablename__ = "control_subscriptions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_sid: Mapped[str] = mapped_column(String(34), index=True)
    description: Mapped[str] = mapped_column(String(255))
    sink_sid: Mapped[str] = mapped_column(String(34), ForeignKey("control_sinks.sid"), index=True)
    filter: Mapped[str | None] = mapped_column(Text)
    receive_events_from_subaccounts: Mapped[bool] = mapped_column(Boolean, default=False)
    ordering_key: Mapped[str | None] = mapped_column(String(200))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SubscribedEventRow(Base):
    __tablename__ = "control_subscribed_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    subscription_sid: Mapped[str] = mapped_column(
        String(34), ForeignKey("control_subscriptions.sid", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(200))
    schema_version: Mapped[int] = mapped_column(Integer)


class RevisionRow(Base):
    """One row whose counter grows with every change the routing feed must publish."""

    __tablename__ = "control_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class RoutingChangeRow(Base):
    """The revision at which each account's routing state last changed: what the routing feed
    sends a watcher that holds an older revision. One row per account, so it never grows with
    the number of changes."""

    __tablename__ = "control_routing_changes"

    account_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)
