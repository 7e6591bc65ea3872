from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class AttemptRow(Base):
    """One delivery attempt of one event to one sink. On PostgreSQL the table is partitioned by
    day and outcome (services/delivery/partitions.py): `id` is unique by its sequence, not by a
    constraint, and orders the log."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    account_sid: Mapped[str] = mapped_column(String(34))
    sink_sid: Mapped[str] = mapped_column(String(34))
    event_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer)
    # delivered | retrying | failed (a dead letter)
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # account_sid is the sink owner's; this, the account the event came from (a subaccount's
    # events rolled up to its parent's sink), when known.
    source_account_sid: Mapped[str | None] = mapped_column(String(34))
    # The event stored by the router → this attempt's end (publish → success, when delivered).
    age_ms: Mapped[int | None] = mapped_column(BigInteger)
    # What made the attempt: None for the event's own delivery, "resend" for one a user asked
    # for from the log (its copy's every attempt).
    triggered_by: Mapped[str | None] = mapped_column(String(10))
    # The call as sent and answered, JSON (services/delivery/sinks/exchange.py): in full, or a
    # reference to the call's attempt that holds it; None where the driver captured nothing.
    call_detail: Mapped[str | None] = mapped_column(Text)


class SinkHealthRow(Base):
    """One worker's view of one sink it delivers to, refreshed every few seconds."""

    __tablename__ = "delivery_sink_health"

    sink_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    worker: Mapped[str] = mapped_column(String(40), primary_key=True)
    # healthy | throttled | failing
    state: Mapped[str] = mapped_column(String(20))
    throttle_cap: Mapped[float | None] = mapped_column(Float)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queued: Mapped[int] = mapped_column(Integer)
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UsageRow(Base):
    """Delivered events of one account to one sink type on one day (UTC): what is billed."""

    __tablename__ = "delivery_usage"

    account_sid: Mapped[str] = mapped_column(String(34), primary_key=True)
    sink_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    delivered: Mapped[int] = mapped_column(BigInteger)


class DeadLetterRow(Base):
    """An event a sink will not get by retrying: why, and the event itself for a redrive. On
    PostgreSQL partitioned by day (its key (id, date_created)); `sid` is random, unique by
    its size rather than by a constraint, which a partitioned table could only hold with the day."""

    __tablename__ = "delivery_dead_letters"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_sid: Mapped[str] = mapped_column(String(34))
    sink_sid: Mapped[str] = mapped_column(String(34))
    event_id: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    error_code: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_redriven: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_account_sid: Mapped[str | None] = mapped_column(String(34))


class ReplayRow(Base):
    """A request to deliver a sink's events from a time window again."""

    __tablename__ = "delivery_replays"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    account_sid: Mapped[str] = mapped_column(String(34))
    sink_sid: Mapped[str] = mapped_column(String(34))
    start_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # submitted | running | cancelling | completed | failed | cancelled
    status: Mapped[str] = mapped_column(String(20))
    events_replayed: Mapped[int] = mapped_column(Integer)
    # The stream sequence replayed up to: a replay taken over from a worker that died goes on
    # from there. Its runner renews date_updated as it goes (the lease).
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    # The sink's stored events still ahead of `position` (an upper bound: progress).
    events_remaining: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(String(500))
    date_created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    date_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))
