"""The error log's groups (services/delivery/errorlog): one row per account, sink and error
code, counted into by every worker, with when its last error-log event was published and at
what count; and the SDK's transactional outbox (eventstreams_producer.outbox_table), which
holds those events until the router has taken them. Both small: a row per failing sink and
code, an outbox row per published entry (sent ones kept a day)."""

import sqlalchemy as sa
from alembic import op

from eventstreams_producer import outbox_table

revision = "delivery_0010"
down_revision = "delivery_0009"

UNTOLD = sa.text("errors > published_errors")


def upgrade() -> None:
    op.create_table(
        "error_log_groups",
        sa.Column("account_sid", sa.String(34), primary_key=True),
        sa.Column("sink_sid", sa.String(34), primary_key=True),
        sa.Column("error_code", sa.Integer(), primary_key=True),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("published_errors", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message", sa.String(500), nullable=False),
    )
    # The sweep's: groups with errors not told yet, by their last entry's time.
    op.create_index(
        "ix_error_log_groups_untold",
        "error_log_groups",
        ["published_at"],
        postgresql_where=UNTOLD,
        sqlite_where=UNTOLD,
    )
    # The SDK's own definition (columns, the unsent rows' partial index), not a copy of it.
    outbox_table.metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    outbox_table.metadata.drop_all(op.get_bind())
    op.drop_index("ix_error_log_groups_untold", "error_log_groups")
    op.drop_table("error_log_groups")
