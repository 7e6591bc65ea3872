"""A sink's health: each attempt's age (the event stored by the router → the attempt's end,
for publish → success percentiles), and each worker's view of the sinks it delivers to
(state, throttle cap), refreshed every few seconds."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0005"
down_revision = "delivery_0004"


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("age_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "delivery_sink_health",
        sa.Column("sink_sid", sa.String(34), primary_key=True),
        sa.Column("worker", sa.String(40), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("throttle_cap", sa.Float(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delivery_sink_health")
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("age_ms")
