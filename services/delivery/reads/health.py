"""A sink's health across the workers: each worker writes what it knows of the sinks it
holds lanes for every few seconds (one row per sink and worker); a health query merges the
fresh rows — the worst state wins, throttle caps add up — with the last hour of the
delivery log (attempts by outcome, the last error, publish → success percentiles), and
`judge` reads the two together: a sink that answers but refuses events is not healthy."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime.times import utcnow
from services.delivery.models import AttemptRow, SinkHealthRow
from services.delivery.scheduling.lane import LaneReport

log = logging.getLogger(__name__)

REPORT_SECONDS = 5.0
REFRESH = timedelta(seconds=15)  # an unchanged report is written again this often
FRESH = timedelta(seconds=30)  # a row older than this is a worker gone
FORGET = timedelta(hours=1)  # rows this old are deleted
WINDOW = timedelta(hours=1)
LATENCY_SAMPLES = 10_000
SEVERITY = {"failing": 3, "throttled": 2, "healthy": 1}


class HealthReporter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        reports: Callable[[], list[LaneReport]],
        every: float = REPORT_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._reports = reports
        self._every = every
        self.worker = f"worker-{secrets.token_hex(6)}"
        self._written: tuple[list[LaneReport], datetime] | None = None

    async def write(self) -> None:
        """This worker's rows, replaced — only when they changed, or to keep them fresh
        (every write is a transaction on a database other writers share)."""
        now = utcnow()
        reports = self._reports()
        if self._written is not None and self._written[0] == reports and now - self._written[1] < REFRESH:
            return
        rows = [
            {
                "sink_sid": r.sink_sid,
                "worker": self.worker,
                "state": r.state,
                "throttle_cap": r.throttle_cap,
                "failing_since": datetime.fromtimestamp(r.failing_since, UTC) if r.failing_since else None,
                "queued": r.queued,
                "date_updated": now,
            }
            for r in reports
        ]
        async with self._sessions.begin() as session:
            await session.execute(delete(SinkHealthRow).where(SinkHealthRow.worker == self.worker))
            await session.execute(delete(SinkHealthRow).where(SinkHealthRow.date_updated < now - FORGET))
            if rows:
                await session.execute(insert(SinkHealthRow), rows)
        self._written = (reports, now)

    async def run(self) -> None:
        while True:
            await self.write()
            await asyncio.sleep(self._every)

    async def withdraw(self) -> None:
        """At shutdown: this worker holds nothing any more."""
        async with self._sessions.begin() as session:
            await session.execute(delete(SinkHealthRow).where(SinkHealthRow.worker == self.worker))


@dataclass(frozen=True)
class Merged:
    state: str
    throttle_cap: float | None
    failing_since: datetime | None
    queued: int
    workers: int


def merge(rows: list[SinkHealthRow]) -> Merged:
    """The workers' views of one sink as one: the worst state, caps summed (each worker
    throttles its own calls), the earliest outage start."""
    if not rows:
        return Merged("idle", None, None, 0, 0)
    state = max((r.state for r in rows), key=lambda s: SEVERITY.get(s, 0))
    caps = [r.throttle_cap for r in rows if r.state == "throttled" and r.throttle_cap is not None]
    since = [r.failing_since for r in rows if r.failing_since is not None]
    return Merged(
        state,
        sum(caps) if state == "throttled" and caps else None,
        min(since) if state == "failing" and since else None,
        sum(r.queued for r in rows),
        len(rows),
    )


def judge(lanes: str, outcomes: Mapping[str, int]) -> str:
    """The state a sink's owner reads, from the workers' merged state (`merge`) and the last
    hour's attempts by outcome. The lanes see only outages and throttling: a sink answering
    every event with a 400 keeps its lanes healthy while each event becomes a dead letter.
    So a permanent failure (outcome `failed`) counts: `rejecting` — failures and no delivery
    in the last hour; `degraded` — failures beside deliveries. An outage (`failing`)
    outranks both; a rejecting sink outranks a throttled one, whose cap is the lesser news."""
    failed, delivered = outcomes.get("failed", 0), outcomes.get("delivered", 0)
    if lanes == "failing":
        return lanes
    if failed and not delivered:
        return "rejecting"
    if lanes == "throttled":
        return lanes
    if failed:
        return "degraded"
    return lanes


def percentile(ordered: list[int], pct: float) -> int:
    """Nearest rank; 0 for no values."""
    if not ordered:
        return 0
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Health:
    merged: Merged
    last_error: AttemptRow | None
    outcomes: dict[str, int]
    latencies: list[int]  # ascending, ms

    @property
    def state(self) -> str:
        return judge(self.merged.state, self.outcomes)


async def sink_health(session: AsyncSession, account_sid: str, sink_sid: str) -> Health:
    now = utcnow()
    rows = list(
        await session.scalars(
            select(SinkHealthRow).where(
                SinkHealthRow.sink_sid == sink_sid, SinkHealthRow.date_updated >= now - FRESH
            )
        )
    )
    mine = (AttemptRow.account_sid == account_sid, AttemptRow.sink_sid == sink_sid)
    last_error = await session.scalar(
        select(AttemptRow)
        .where(*mine, AttemptRow.error_code.is_not(None))
        .order_by(AttemptRow.id.desc())
        .limit(1)
    )
    recent = (*mine, AttemptRow.date_created >= now - WINDOW)
    counted = await session.execute(
        select(AttemptRow.outcome, func.count()).where(*recent).group_by(AttemptRow.outcome)
    )
    outcomes = {str(outcome): int(count) for outcome, count in counted.all()}
    ages = await session.scalars(
        select(AttemptRow.age_ms)
        .where(*recent, AttemptRow.outcome == "delivered", AttemptRow.age_ms.is_not(None))
        .order_by(AttemptRow.id.desc())
        .limit(LATENCY_SAMPLES)
    )
    return Health(merge(rows), last_error, outcomes, sorted(int(a) for a in ages if a is not None))
