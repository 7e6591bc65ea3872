"""The schema registry: a row per schema (its origin and compatibility override), each
type's origin, and the catalog revision routers watch."""

import sqlalchemy as sa
from alembic import op

revision = "catalog_0002"
down_revision = "catalog_0001"


def upgrade() -> None:
    op.create_table(
        "catalog_schemas",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("compatibility", sa.String(20), nullable=True),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
    )
    # Every schema so far came from the catalogue seed.
    op.execute(
        "INSERT INTO catalog_schemas (id, origin, compatibility, date_created) "
        "SELECT schema_id, 'catalogue', NULL, MIN(date_created) FROM catalog_schema_versions "
        "GROUP BY schema_id"
    )
    with op.batch_alter_table("catalog_event_types") as batch:
        batch.add_column(sa.Column("origin", sa.String(20), nullable=False, server_default="catalogue"))
    op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("catalog_revision", sa.column("id", sa.Integer), sa.column("revision", sa.BigInteger)),
        [{"id": 1, "revision": 1}],
    )


def downgrade() -> None:
    op.drop_table("catalog_revision")
    with op.batch_alter_table("catalog_event_types") as batch:
        batch.drop_column("origin")
    op.drop_table("catalog_schemas")
