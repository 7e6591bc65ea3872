"""Dead letters by age: retention deletes them in batches by date."""

from alembic import op

revision = "delivery_0002"
down_revision = "delivery_0001"


def upgrade() -> None:
    op.create_index("ix_dead_letters_created", "delivery_dead_letters", ["date_created"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_created", "delivery_dead_letters")
