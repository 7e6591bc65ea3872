"""The error log (Monitor v1 Alerts) reads an account's failed attempts newest first, across
its sinks: a partial index on (account_sid, id) holding only the failures. A delivered attempt
adds nothing to it (its outcome is not in the index), so the hot path's writes cost what they
did; a failed one adds an entry. On PostgreSQL the index is made on every partition, the
days' deliveries' partitions staying empty, and on each day's partitions as they are made.
Building it reads each partition once under a lock that holds the log's writers back
(PostgreSQL cannot build a partitioned table's index CONCURRENTLY): seconds for days of
partitions, longer for a large legacy partition (delivery_0007); the journal's records wait
in its queue meanwhile."""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0008"
down_revision = "delivery_0007"

FAILURES = sa.text("outcome <> 'delivered'")


def upgrade() -> None:
    op.create_index(
        "ix_attempts_account_failures",
        "delivery_attempts",
        ["account_sid", "id"],
        postgresql_where=FAILURES,
        sqlite_where=FAILURES,
    )


def downgrade() -> None:
    op.drop_index("ix_attempts_account_failures", "delivery_attempts")
