"""Accounts, API keys, sinks, subscriptions, subscribed events, the routing revision."""

import sqlalchemy as sa
from alembic import op

revision = "control_0001"
down_revision = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _dates() -> list[sa.Column]:
    return [
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "control_accounts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(34), nullable=False, unique=True),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("auth_token", sa.String(64), nullable=False),
        sa.Column("owner_account_sid", sa.String(34), nullable=True, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        *_dates(),
    )
    op.create_table(
        "control_api_keys",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(34), nullable=False, unique=True),
        sa.Column("account_sid", sa.String(34), nullable=False, index=True),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        *_dates(),
    )
    op.create_table(
        "control_sinks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(34), nullable=False, unique=True),
        sa.Column("account_sid", sa.String(34), nullable=False, index=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("sink_type", sa.String(20), nullable=False),
        sa.Column("configuration", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("test_id", sa.String(64), nullable=True),
        *_dates(),
    )
    op.create_table(
        "control_subscriptions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("sid", sa.String(34), nullable=False, unique=True),
        sa.Column("account_sid", sa.String(34), nullable=False, index=True),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("sink_sid", sa.String(34), sa.ForeignKey("control_sinks.sid"), nullable=False, index=True),
        *_dates(),
    )
    op.create_table(
        "control_subscribed_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "subscription_sid",
            sa.String(34),
            sa.ForeignKey("control_subscriptions.sid", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.UniqueConstraint("subscription_sid", "type", name="uq_subscribed_event_type"),
    )
    op.create_table(
        "control_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("control_revision", sa.column("id", sa.Integer), sa.column("revision", sa.BigInteger)),
        [{"id": 1, "revision": 1}],
    )


def downgrade() -> None:
    for table in (
        "control_revision",
        "control_subscribed_events",
        "control_subscriptions",
        "control_sinks",
        "control_api_keys",
        "control_accounts",
    ):
        op.drop_table(table)
