"""Tenant portal links expired at once: the instant before which an account's links and
sessions are refused."""

import sqlalchemy as sa
from alembic import op

revision = "control_0011"
down_revision = "control_0010"


def upgrade() -> None:
    with op.batch_alter_table("control_accounts") as table:
        table.add_column(sa.Column("portal_links_not_before", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_accounts") as table:
        table.drop_column("portal_links_not_before")
