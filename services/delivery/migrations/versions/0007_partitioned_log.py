"""The delivery log by day on PostgreSQL: attempts and dead letters become tables partitioned
by their record time (services/delivery/partitions.py), so retention drops whole days.

The rows already there are not moved (billions of them would hold the migration for hours):
each old table, if it has any, is renamed `<table>_legacy` and attached as one partition
holding every time up to the start of the UTC day after its newest row (or after now,
whichever is later); days after that get their own partitions. The legacy partition keeps its
indexes and is purged row by row as before until its last day is past retention, then is
dropped whole. An old table with no rows is simply dropped. A default partition takes
records of a day that has no partition (services/delivery/partitions.py). Ids go on from the same sequence,
so the log's newest-first order (by id) runs across the legacy partition and the days.

Attaching scans the old table once (PostgreSQL checks its rows are inside the bound) and
builds the indexes it lacks, under a lock on it: minutes for a very large log, done once.

SQLite keeps its tables as they are.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "delivery_0007"
down_revision = "delivery_0006"

# (table, indexes on the partitioned table, its primary key or None). The attempts have no
# primary key: nothing reads one by id alone, and on a partitioned table it would have to
# hold (id, date_created, outcome) — a third index on the hottest table for nothing.
TABLES = (
    (
        "delivery_attempts",
        (("ix_attempts_sink", "sink_sid, id"), ("ix_attempts_event", "sink_sid, event_id, id")),
        None,
    ),
    (
        "delivery_dead_letters",
        (("ix_dead_letters_sink", "sink_sid, id"), ("ix_dead_letters_sid", "sid")),
        "id, date_created",
    ),
)
OLD_INDEXES = {
    "delivery_attempts": ("ix_attempts_sink", "ix_attempts_created"),
    "delivery_dead_letters": ("ix_dead_letters_sink", "ix_dead_letters_created"),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, indexes, primary_key in TABLES:
        legacy = f"{table}_legacy"
        sequence = f"{table}_id_seq"
        # The sequence outlives the old table: the partitioned one numbers on from it.
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
        op.execute(f"ALTER TABLE {table} RENAME TO {legacy}")
        op.execute(f"ALTER TABLE {legacy} RENAME CONSTRAINT {table}_pkey TO {legacy}_pkey")
        for index in OLD_INDEXES[table]:
            op.execute(f"ALTER INDEX {index} RENAME TO {index}_legacy")
        op.execute(
            f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS) PARTITION BY RANGE (date_created)"
        )
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
        op.execute(f"ALTER TABLE {legacy} ALTER COLUMN id DROP DEFAULT")
        if primary_key is not None:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY ({primary_key})")
        for name, columns in indexes:
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")

        if bind.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {legacy})")).scalar():
            newest = bind.execute(sa.text(f"SELECT max(date_created) FROM {legacy}")).scalar()
            until = max(datetime.now(UTC), newest) + timedelta(days=1)
            bound = datetime(until.year, until.month, until.day, tzinfo=UTC)
            if primary_key is not None:  # a partition's key must match its parent's
                op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {legacy}_pkey")
            op.execute(
                f"ALTER TABLE {table} ATTACH PARTITION {legacy} "
                f"FOR VALUES FROM (MINVALUE) TO ('{bound.isoformat()}')"
            )
        else:
            op.execute(f"DROP TABLE {legacy}")
        # What no day holds (a record of a day not made, or dropped already) is not refused.
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")


def downgrade() -> None:
    """Back to one table per kind, the partitions' rows copied into it."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table, _, _ in TABLES:
        sequence = f"{table}_id_seq"
        plain = f"{table}_plain"
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
        op.execute(f"CREATE TABLE {plain} (LIKE {table} INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {plain} SELECT * FROM {table}")
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {plain} RENAME TO {table}")
        op.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
        for index, columns in (
            (OLD_INDEXES[table][0], "sink_sid, id"),
            (OLD_INDEXES[table][1], "date_created"),
        ):
            op.execute(f"CREATE INDEX {index} ON {table} ({columns})")
    op.execute("CREATE UNIQUE INDEX delivery_dead_letters_sid_key ON delivery_dead_letters (sid)")
