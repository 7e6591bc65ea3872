"""Delivery attempts, dead letters, replays."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0001"
down_revision = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delivery_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("sink_sid", sa.String(34), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error_code", sa.Integer, nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_attempts_sink", "delivery_attempts", ["sink_sid", "id"])
    op.create_index("ix_attempts_created", "delivery_attempts", ["date_created"])
    op.create_table(
        "delivery_dead_letters",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(34), nullable=False, unique=True),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("sink_sid", sa.String(34), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("error_code", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_redriven", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_dead_letters_sink", "delivery_dead_letters", ["sink_sid", "id"])
    op.create_table(
        "delivery_replays",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(34), nullable=False, unique=True),
        sa.Column("account_sid", sa.String(34), nullable=False),
        sa.Column("sink_sid", sa.String(34), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("events_replayed", sa.Integer, nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_replays_sink", "delivery_replays", ["sink_sid", "id"])


def downgrade() -> None:
    op.drop_table("delivery_replays")
    op.drop_table("delivery_dead_letters")
    op.drop_table("delivery_attempts")
