"""After a webhook sink's secret is rotated, the secret it replaced (sealed) and until when it
still signs beside the new one."""

import sqlalchemy as sa
from alembic import op

revision = "control_0010"
down_revision = "control_0009"


def upgrade() -> None:
    with op.batch_alter_table("control_sinks") as batch:
        batch.add_column(sa.Column("previous_signing_secret", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("previous_signing_secret_expires", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("control_sinks") as batch:
        batch.drop_column("previous_signing_secret_expires")
        batch.drop_column("previous_signing_secret")
