"""Subscription filters."""

import sqlalchemy as sa
from alembic import op

revision = "control_0002"
down_revision = "control_0001"


def upgrade() -> None:
    with op.batch_alter_table("control_subscriptions") as table:
        table.add_column(sa.Column("filter", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_subscriptions") as table:
        table.drop_column("filter")
