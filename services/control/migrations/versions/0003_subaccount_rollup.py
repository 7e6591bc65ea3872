"""Subscriptions that also receive their account's subaccounts' events."""

import sqlalchemy as sa
from alembic import op

revision = "control_0003"
down_revision = "control_0002"


def upgrade() -> None:
    with op.batch_alter_table("control_subscriptions") as table:
        table.add_column(
            sa.Column(
                "receive_events_from_subaccounts", sa.Boolean, nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("control_subscriptions") as table:
        table.drop_column("receive_events_from_subaccounts")
