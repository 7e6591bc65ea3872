"""Each attempt keeps what made it (`triggered_by`: a user's resend) and the call as sent and
answered (`call_detail`, JSON, capped: services/delivery/sinks/exchange.py). Both nullable
without a default: on PostgreSQL adding them to the partitioned log is a change of its
catalogue alone (every partition, the legacy one too, takes them at once, no row rewritten),
and they live and go with their attempt's day and outcome partition — the same retention."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0009"
down_revision = "delivery_0008"


def upgrade() -> None:
    op.add_column("delivery_attempts", sa.Column("triggered_by", sa.String(10), nullable=True))
    op.add_column("delivery_attempts", sa.Column("call_detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("call_detail")
        batch.drop_column("triggered_by")
