"""A sink its owner paused: its events are parked by the workers until it is resumed."""

import sqlalchemy as sa
from alembic import op

revision = "control_0008"
down_revision = "control_0007"


def upgrade() -> None:
    with op.batch_alter_table("control_sinks") as batch:
        batch.add_column(sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("control_sinks") as batch:
        batch.drop_column("paused")
