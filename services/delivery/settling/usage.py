"""Usage: delivered events per account, sink type and day — what Twilio bills Event Streams
by. Counted as events are acknowledged (every delivery counts, as Twilio's do: at least once
means a redelivery is a delivery), added up in memory and written every few seconds as
increments, so many workers count into the same rows. Kept beyond the delivery log's
retention (a year and a month), for billing and caps."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.times import utc_day
from services.delivery.intake.envelope import Envelope
from services.delivery.models import UsageRow
from services.delivery.settling.decision import Ack, Decision, Happened
from services.delivery.sinks.base import Outcome

log = logging.getLogger(__name__)

FLUSH_SECONDS = 5.0
KEEP = timedelta(days=400)

Key = tuple[str, str, str]  # account, sink type, day (YYYY-MM-DD, UTC)


class UsageMeter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        owner_of: Callable[[str], str | None],
        sink_type_of: Callable[[str], str | None],
        every: float = FLUSH_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._owner_of = owner_of
        self._sink_type_of = sink_type_of
        self._every = every
        self._counts: Counter[Key] = Counter()

    def delivered(self, sink_sid: str, count: int = 1, when: float | None = None) -> None:
        """`count` events delivered to `sink_sid`: its owner's (a subaccount's events rolled up
        to its parent's sink are the parent's deliveries)."""
        account = self._owner_of(sink_sid)
        if account is None:  # the sink is gone from the snapshot already: whose, unknown
            return
        day = utc_day(time.time() if when is None else when)
        self._counts[(account, self._sink_type_of(sink_sid) or "unknown", day)] += count

    def settled(
        self,
        sink_sid: str,
        envelopes: Sequence[Envelope],
        happened: Sequence[Happened],
        decisions: Sequence[Decision],
    ) -> None:
        """Settlements (settle.py's SettleObserver): an acknowledged attempt is a delivery."""
        delivered = 0
        for what, decision in zip(happened, decisions, strict=True):
            if isinstance(decision, Ack) and isinstance(what, Outcome):
                delivered += 1
        if delivered:
            self.delivered(sink_sid, delivered)

    async def flush(self) -> int:
        taken, self._counts = self._counts, Counter()
        if not taken:
            return 0
        try:
            async with self._sessions.begin() as session:
                await add(session, taken)
        except BaseException:
            self._counts.update(taken)  # counted again on the next flush
            raise
        return sum(taken.values())

    async def run(self) -> None:
        purged: date | None = None
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.flush()
                today = datetime.now(UTC).date()
                if purged != today:  # once a day is plenty for rows kept 400 days
                    await self.purge(today)
                    purged = today
            except Exception:
                log.warning("usage: write failed; will retry", exc_info=True)

    async def purge(self, today: date) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(UsageRow).where(UsageRow.day < (today - KEEP).isoformat()))


async def add(session: AsyncSession, counts: Counter[Key]) -> None:
    """Add to the rows (created at 0 when missing), in one statement per dialect's upsert."""
    rows = [{"account_sid": a, "sink_type": t, "day": d, "delivered": n} for (a, t, d), n in counts.items()]
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(UsageRow).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[UsageRow.account_sid, UsageRow.sink_type, UsageRow.day],
        set_={"delivered": UsageRow.delivered + statement.excluded.delivered},
    )
    await session.execute(statement)


@dataclass(frozen=True)
class Usage:
    day: str
    sink_type: str
    delivered: int


async def usage(
    sessions: async_sessionmaker[AsyncSession], account_sid: str, start: date, end: date
) -> list[Usage]:
    """The account's delivered events per day and sink type, `start` to `end` inclusive."""
    async with sessions() as session:
        rows = await session.scalars(
            select(UsageRow)
            .where(
                UsageRow.account_sid == account_sid,
                UsageRow.day >= start.isoformat(),
                UsageRow.day <= end.isoformat(),
            )
            .order_by(UsageRow.day, UsageRow.sink_type)
        )
        return [Usage(r.day, r.sink_type, r.delivered) for r in rows]
