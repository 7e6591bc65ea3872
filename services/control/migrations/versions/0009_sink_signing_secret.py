"""A webhook sink's own Standard Webhooks secret (sealed as auth tokens are), and when it was
made."""

import sqlalchemy as sa
from alembic import op

revision = "control_0009"
down_revision = "control_0008"


def upgrade() -> None:
    with op.batch_alter_table("control_sinks") as batch:
        batch.add_column(sa.Column("signing_secret", sa.String(255), nullable=True))
        batch.add_column(sa.Column("signing_secret_created", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("control_sinks") as batch:
        batch.drop_column("signing_secret_created")
        batch.drop_column("signing_secret")
