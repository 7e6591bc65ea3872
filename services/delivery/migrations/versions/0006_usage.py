"""Usage: delivered events per account, sink type and day, kept beyond the delivery log; and
a replay's remaining events (its progress)."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0006"
down_revision = "delivery_0005"


def upgrade() -> None:
    op.create_table(
        "delivery_usage",
        sa.Column("account_sid", sa.String(34), primary_key=True),
        sa.Column("sink_type", sa.String(20), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
    )
    with op.batch_alter_table("delivery_replays") as batch:
        batch.add_column(sa.Column("events_remaining", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_replays") as batch:
        batch.drop_column("events_remaining")
    op.drop_table("delivery_usage")
