"""The routing revision: bumped in the same transaction as every change the router or the
delivery workers must see, naming the accounts whose routing state it changes — the routing
feed sends a watcher those accounts' state, never the whole table.

The bump's row update also orders the writers: a transaction holding revision N commits
before the one that takes N + 1 can update the row, so revisions commit in order."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.control.models import RevisionRow, RoutingChangeRow


async def bump(session: AsyncSession, *account_sids: str) -> None:
    latest = await session.scalar(
        update(RevisionRow)
        .where(RevisionRow.id == 1)
        .values(revision=RevisionRow.revision + 1)
        .returning(RevisionRow.revision)
    )
    if latest is None or not account_sids:
        return
    rows = [{"account_sid": sid, "revision": latest} for sid in dict.fromkeys(account_sids)]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(RoutingChangeRow).values(rows)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["account_sid"], set_={"revision": insert.excluded.revision}
        )
    )


async def current(session: AsyncSession) -> int:
    return int(await session.scalar(select(RevisionRow.revision).where(RevisionRow.id == 1)) or 0)
