"""Auth-token rotation: an account's secondary auth token (sealed) and when it was made."""

import sqlalchemy as sa
from alembic import op

revision = "control_0006"
down_revision = "control_0005"


def upgrade() -> None:
    with op.batch_alter_table("control_accounts") as table:
        table.add_column(sa.Column("secondary_auth_token", sa.String(255), nullable=True))
        table.add_column(sa.Column("secondary_auth_token_created", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_accounts") as table:
        table.drop_column("secondary_auth_token_created")
        table.drop_column("secondary_auth_token")
