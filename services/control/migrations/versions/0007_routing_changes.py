"""The revision at which each account's routing state last changed (the routing feed's deltas)."""

import sqlalchemy as sa
from alembic import op

revision = "control_0007"
down_revision = "control_0006"


def upgrade() -> None:
    op.create_table(
        "control_routing_changes",
        sa.Column("account_sid", sa.String(34), primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_control_routing_changes_revision", "control_routing_changes", ["revision"])


def downgrade() -> None:
    op.drop_index("ix_control_routing_changes_revision", "control_routing_changes")
    op.drop_table("control_routing_changes")
