"""Event types and schema versions."""

import sqlalchemy as sa
from alembic import op

revision = "catalog_0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "catalog_event_types",
        sa.Column("type", sa.String(200), primary_key=True),
        sa.Column("schema_id", sa.String(200), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("documentation_url", sa.String(500), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "catalog_schema_versions",
        sa.Column("schema_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("catalog_schema_versions")
    op.drop_table("catalog_event_types")
