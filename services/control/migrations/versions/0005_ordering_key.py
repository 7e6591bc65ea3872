"""Per-key ordering: a subscription's ordering key (a field path in the event data)."""

import sqlalchemy as sa
from alembic import op

revision = "control_0005"
down_revision = "control_0004"


def upgrade() -> None:
    with op.batch_alter_table("control_subscriptions") as table:
        table.add_column(sa.Column("ordering_key", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_subscriptions") as table:
        table.drop_column("ordering_key")
