"""Auth tokens sealed at rest (runtime/token_cipher.py) are longer than a token."""

import sqlalchemy as sa
from alembic import op

revision = "control_0004"
down_revision = "control_0003"


def upgrade() -> None:
    with op.batch_alter_table("control_accounts") as table:
        table.alter_column("auth_token", type_=sa.String(255), existing_type=sa.String(64))


def downgrade() -> None:
    with op.batch_alter_table("control_accounts") as table:
        table.alter_column("auth_token", type_=sa.String(64), existing_type=sa.String(255))
