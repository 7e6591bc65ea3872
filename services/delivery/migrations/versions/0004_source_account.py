"""Attempts and dead letters belong to the sink's owner; the account the event came from (a
subaccount rolled up to its parent's sink) is kept beside it."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0004"
down_revision = "delivery_0003"


def upgrade() -> None:
    for table in ("delivery_attempts", "delivery_dead_letters"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("source_account_sid", sa.String(34), nullable=True))


def downgrade() -> None:
    for table in ("delivery_attempts", "delivery_dead_letters"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("source_account_sid")
