"""Replays resume where they stopped: the stream position reached so far."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0003"
down_revision = "delivery_0002"


def upgrade() -> None:
    with op.batch_alter_table("delivery_replays") as table:
        table.add_column(sa.Column("position", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("delivery_replays") as table:
        table.drop_column("position")
