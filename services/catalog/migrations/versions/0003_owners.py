"""Each registered type and schema records its owner: the caller that registered it. What is
already there (Twilio's catalogue, and anything registered before owners were recorded) is the
platform's, which only an operator may change."""

import sqlalchemy as sa
from alembic import op

revision = "catalog_0003"
down_revision = "catalog_0002"

PLATFORM = "(platform)"  # services/catalog/models.py; a migration keeps its own copy


def upgrade() -> None:
    with op.batch_alter_table("catalog_event_types") as batch:
        batch.add_column(sa.Column("owner", sa.String(100), nullable=False, server_default=PLATFORM))
        batch.create_index("ix_catalog_event_types_owner", ["owner"])
    with op.batch_alter_table("catalog_schemas") as batch:
        batch.add_column(sa.Column("owner", sa.String(100), nullable=False, server_default=PLATFORM))


def downgrade() -> None:
    with op.batch_alter_table("catalog_schemas") as batch:
        batch.drop_column("owner")
    with op.batch_alter_table("catalog_event_types") as batch:
        batch.drop_index("ix_catalog_event_types_owner")
        batch.drop_column("owner")
