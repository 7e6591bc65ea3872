"""Reading the delivery log and dead letters; replays' stored state. Everything is scoped
by account: another account's records do not exist."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import sids
from runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from runtime.paging import Cursor, Page, clamp_page_size, decode, encode, holds
from runtime.times import utcnow
from services.delivery.models import AttemptRow, DeadLetterRow, ReplayRow
from services.delivery.reads import alerts
from services.delivery.reads.health import Health, sink_health
from services.delivery.reads.log_filter import log_filter
from services.delivery.settling.usage import Usage, usage

REPLAY = "RY"
FINISHED = ("completed", "failed", "cancelled")
ACTIVE = ("submitted", "running", "cancelling")
REDRIVE_PAGE = 500


class Numbered(Protocol):
    id: Any


N = TypeVar("N", bound=Numbered)


async def newest_first(
    session: AsyncSession, statement: Select[N], row: type[N], page_size: int, token: str
) -> Page[N]:
    """One page of a log, the newest row first (as Twilio and Svix list theirs): the first
    page is what happened last. A next page goes back in time (ids below the page's last),
    a previous page forward (ids above its first). Rows are numbered in the order they were
    written, so the id orders them."""
    size = clamp_page_size(page_size)
    cursor = decode(token)
    key = row.id
    if cursor is not None and not holds(key, cursor.key):
        raise InvalidArgument("Invalid PageToken", twilio_code=21481)
    if cursor is None or cursor.direction == "after":
        if cursor is not None:
            statement = statement.where(key < cursor.key)
        rows = list((await session.scalars(statement.order_by(key.desc()).limit(size + 1))).all())
        older, newer = len(rows) > size, cursor is not None
        rows = rows[:size]
    else:
        statement = statement.where(key > cursor.key)
        rows = list((await session.scalars(statement.order_by(key).limit(size + 1))).all())
        older, newer = True, len(rows) > size
        rows = list(reversed(rows[:size]))
    next_token = encode(Cursor("after", rows[-1].id)) if rows and older else ""
    previous_token = encode(Cursor("before", rows[0].id)) if rows and newer else ""
    return Page(rows, next_token, previous_token)


# How far apart in time a call's attempts may be recorded (an ordered sink's are settled one
# by one): where the attempt holding a call's detail is looked for.
CALL_SPREAD = timedelta(minutes=10)


@dataclass(frozen=True)
class Detail:
    """An attempt's call as sent and answered (JSON objects, `None` where not captured) and,
    where its call answers event by event, this event's own result."""

    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    result: str | None = None


def stored_detail(text: str | None) -> dict[str, Any]:
    """An attempt's `call_detail` column read back: {} for none, or for one not understood."""
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def referred(detail: dict[str, Any]) -> tuple[str, int] | None:
    """The (event id, attempt) of the call's attempt that holds its detail in full, when this
    attempt's refers to it."""
    ref = detail.get("same_call_as")
    if isinstance(ref, dict) and isinstance(ref.get("event_id"), str) and isinstance(ref.get("attempt"), int):
        return ref["event_id"], ref["attempt"]
    return None


def detail_of(own: dict[str, Any], call: dict[str, Any]) -> Detail:
    """The attempt's detail: its call's (its own, or the referred attempt's), its own result."""
    result = own.get("result")
    return Detail(call.get("request"), call.get("response"), result if isinstance(result, str) else None)


class Records:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def attempts(
        self,
        account_sid: str,
        sink_sid: str,
        outcome: str,
        event_id: str,
        page_size: int,
        token: str,
        *,
        event_type: str = "",
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[AttemptRow]:
        """A sink's attempts newest first, filtered (`log_filter`): `since` inclusive, `until`
        exclusive. On PostgreSQL the window is on the partition key, so the planner reads only
        the days' partitions it touches; within each, the sink's index (sink_sid, id) — or
        (sink_sid, event_id, id) for an event — is walked newest first, the type and outcome
        checked on the rows it meets (a type is one of few per sink: an index of its own would
        cost every write for a filter that is not selective)."""
        log_filter(outcome, event_id, event_type)
        statement = select(AttemptRow).where(
            AttemptRow.account_sid == account_sid, AttemptRow.sink_sid == sink_sid
        )
        if outcome:
            statement = statement.where(AttemptRow.outcome == outcome)
        if event_id:
            statement = statement.where(AttemptRow.event_id == event_id)
        if event_type:
            statement = statement.where(AttemptRow.type == event_type)
        if since is not None:
            statement = statement.where(AttemptRow.date_created >= since)
        if until is not None:
            statement = statement.where(AttemptRow.date_created < until)
        async with self._sessions() as session:
            return await newest_first(session, statement, AttemptRow, page_size, token)

    async def attempt(self, account_sid: str, sink_sid: str, attempt_id: int) -> tuple[AttemptRow, Detail]:
        """One attempt of the account's sink, with its call's detail (another account's, or
        one past retention, is not found)."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(AttemptRow).where(
                    AttemptRow.account_sid == account_sid,
                    AttemptRow.sink_sid == sink_sid,
                    AttemptRow.id == attempt_id,
                )
            )
            if row is None:
                raise NotFound(
                    f"The requested resource /Sinks/{sink_sid}/Deliveries/{attempt_id} was not found",
                    twilio_code=20404,
                )
            own = stored_detail(row.call_detail)
            call = own
            ref = referred(own)
            if ref is not None:
                held = await session.scalar(
                    select(AttemptRow.call_detail)
                    .where(
                        AttemptRow.account_sid == account_sid,
                        AttemptRow.sink_sid == sink_sid,
                        AttemptRow.event_id == ref[0],
                        AttemptRow.attempt == ref[1],
                        AttemptRow.date_created >= row.date_created - CALL_SPREAD,
                        AttemptRow.date_created <= row.date_created + CALL_SPREAD,
                    )
                    .order_by(AttemptRow.id.desc())
                    .limit(1)
                )
                call = stored_detail(held)
        return row, detail_of(own, call)

    async def alerts(
        self,
        account_sid: str,
        since: datetime | None,
        until: datetime | None,
        level: str,
        page_size: int,
        token: str,
    ) -> Page[AttemptRow]:
        """The account's alerts (its sinks' failed attempts that Twilio logs), newest first:
        dated from `since` and before `until` (`alerts.window`), at `level` (empty: any)."""
        if level and level not in alerts.LOG_LEVELS:
            raise InvalidArgument(f"LogLevel must be one of {', '.join(alerts.LOG_LEVELS)}")
        codes = alerts.codes_at(level)
        if not codes:  # notice, debug: Event Streams logs none
            return Page([], "", "")
        statement = select(AttemptRow).where(*failures(account_sid, codes))
        if since is not None:
            statement = statement.where(AttemptRow.date_created >= since)
        if until is not None:
            statement = statement.where(AttemptRow.date_created < until)
        async with self._sessions() as session:
            return await newest_first(session, statement, AttemptRow, page_size, token)

    async def alert(self, account_sid: str, sid: str) -> AttemptRow:
        key = alerts.attempt_of(sid)
        row = None
        if key is not None:
            async with self._sessions() as session:
                row = await session.scalar(
                    select(AttemptRow).where(
                        *failures(account_sid, alerts.codes_at("")),
                        AttemptRow.id == key.id,
                        AttemptRow.date_created >= key.second,
                        AttemptRow.date_created < key.until,
                    )
                )
        if row is None:
            raise NotFound(f"The requested resource /Alerts/{sid} was not found", twilio_code=20404)
        return row

    async def usage(self, account_sid: str, start: date, end: date) -> list[Usage]:
        return await usage(self._sessions, account_sid, start, end)

    async def health(self, account_sid: str, sink_sid: str) -> Health:
        async with self._sessions() as session:
            return await sink_health(session, account_sid, sink_sid)

    async def dead_letters(
        self, account_sid: str, sink_sid: str, redriven: bool | None, page_size: int, token: str
    ) -> Page[DeadLetterRow]:
        statement = select(DeadLetterRow).where(
            DeadLetterRow.account_sid == account_sid, DeadLetterRow.sink_sid == sink_sid
        )
        if redriven is not None:
            column = DeadLetterRow.date_redriven
            statement = statement.where(column.is_not(None) if redriven else column.is_(None))
        async with self._sessions() as session:
            return await newest_first(session, statement, DeadLetterRow, page_size, token)

    async def not_redrivable(
        self, account_sid: str, sink_sid: str, dead_letter_sids: Sequence[str]
    ) -> set[str]:
        """Which of these dead letters this sink has not (or has redriven already)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(DeadLetterRow.sid).where(
                    DeadLetterRow.account_sid == account_sid,
                    DeadLetterRow.sink_sid == sink_sid,
                    DeadLetterRow.date_redriven.is_(None),
                    DeadLetterRow.sid.in_(list(dead_letter_sids)),
                )
            )
            return set(dead_letter_sids) - set(found.all())

    async def to_redrive(
        self, account_sid: str, sink_sid: str, dead_letter_sids: Sequence[str], after_id: int, limit: int
    ) -> list[DeadLetterRow]:
        """The next page (by id, after `after_id`) of this sink's dead letters not redriven yet,
        all of them or those named."""
        statement = select(DeadLetterRow).where(
            DeadLetterRow.account_sid == account_sid,
            DeadLetterRow.sink_sid == sink_sid,
            DeadLetterRow.date_redriven.is_(None),
            DeadLetterRow.id > after_id,
        )
        if dead_letter_sids:
            statement = statement.where(DeadLetterRow.sid.in_(list(dead_letter_sids)))
        async with self._sessions() as session:
            return list((await session.scalars(statement.order_by(DeadLetterRow.id).limit(limit))).all())

    async def mark_redriven(self, row_ids: Sequence[int]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(DeadLetterRow)
                .where(DeadLetterRow.id.in_(list(row_ids)))
                .values(date_redriven=utcnow())
            )

    # Replays

    async def create_replay(
        self, account_sid: str, sink_sid: str, start: datetime, end: datetime
    ) -> ReplayRow:
        """A new replay, unless the sink has one under way already (one at a time per sink:
        each copies events into the stream, which is bounded)."""
        now = utcnow()
        row = ReplayRow(
            sid=sids.new(REPLAY),
            account_sid=account_sid,
            sink_sid=sink_sid,
            start_time=start,
            end_time=end,
            status="submitted",
            events_replayed=0,
            error=None,
            date_created=now,
            date_updated=now,
        )
        async with self._sessions.begin() as session:
            active = await session.scalar(
                select(ReplayRow.sid)
                .where(ReplayRow.sink_sid == sink_sid, ReplayRow.status.in_(ACTIVE))
                .limit(1)
            )
            if active is not None:
                raise FailedPrecondition(f"Replay {active} of this sink is still in progress: one at a time")
            session.add(row)
        return row

    async def replay(self, account_sid: str, sink_sid: str, sid: str) -> ReplayRow:
        async with self._sessions() as session:
            row = await session.scalar(
                select(ReplayRow).where(
                    ReplayRow.sid == sid, ReplayRow.account_sid == account_sid, ReplayRow.sink_sid == sink_sid
                )
            )
        if row is None:
            raise NotFound(f"The requested resource Replay {sid} was not found")
        return row

    async def replays(self, account_sid: str, sink_sid: str, page_size: int, token: str) -> Page[ReplayRow]:
        statement = select(ReplayRow).where(
            ReplayRow.account_sid == account_sid, ReplayRow.sink_sid == sink_sid
        )
        async with self._sessions() as session:
            return await newest_first(session, statement, ReplayRow, page_size, token)

    async def cancel(self, account_sid: str, sink_sid: str, sid: str) -> ReplayRow:
        row = await self.replay(account_sid, sink_sid, sid)
        if row.status in FINISHED:
            raise InvalidArgument(f"Replay {sid} is already {row.status}")
        # A replay nobody has started yet is simply cancelled; a running one is asked to stop.
        await self.transition(row.sid, ("submitted",), "cancelled")
        await self.transition(row.sid, ("running",), "cancelling")
        return await self.replay(account_sid, sink_sid, sid)

    async def claim_next(self, lease_seconds: float = 60.0) -> ReplayRow | None:
        """Take one replay for this worker; other workers cannot take it too. A submitted one,
        or one whose runner stopped renewing its lease (a worker that died mid-replay): a
        running one goes on from its position, a cancelling one is cancelled."""
        stale = utcnow() - timedelta(seconds=lease_seconds)
        async with self._sessions() as session:
            candidates = (
                await session.execute(
                    select(ReplayRow.sid, ReplayRow.status, ReplayRow.date_updated)
                    .where(
                        (ReplayRow.status == "submitted")
                        | (ReplayRow.status.in_(["running", "cancelling"]) & (ReplayRow.date_updated < stale))
                    )
                    .order_by(ReplayRow.id)
                    .limit(5)
                )
            ).all()
        for sid, status, updated in candidates:
            if status == "cancelling":
                await self.transition(sid, ("cancelling",), "cancelled", updated_at=updated)
                continue
            if await self.transition(sid, (status,), "running", updated_at=updated):
                async with self._sessions() as session:
                    return await session.scalar(select(ReplayRow).where(ReplayRow.sid == sid))
        return None

    async def transition(
        self,
        sid: str,
        from_statuses: Sequence[str],
        status: str,
        replayed: int | None = None,
        error: str | None = None,
        position: int | None = None,
        updated_at: datetime | None = None,
        remaining: int | None = None,
    ) -> bool:
        """Move a replay on if it is in one of `from_statuses` (and, with `updated_at`, still
        as last seen: two workers taking over one stale replay cannot both win)."""
        values: dict[str, object] = {"status": status, "date_updated": utcnow()}
        if replayed is not None:
            values["events_replayed"] = replayed
        if error is not None:
            values["error"] = error[:500]
        if position is not None:
            values["position"] = position
        if remaining is not None:
            values["events_remaining"] = remaining
        statement = update(ReplayRow).where(ReplayRow.sid == sid, ReplayRow.status.in_(list(from_statuses)))
        if updated_at is not None:
            statement = statement.where(ReplayRow.date_updated == updated_at)
        async with self._sessions.begin() as session:
            result = await session.execute(statement.values(**values))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def status(self, sid: str) -> str:
        async with self._sessions() as session:
            return str(await session.scalar(select(ReplayRow.status).where(ReplayRow.sid == sid)))


def failures(account_sid: str, codes: Sequence[int]) -> tuple[ColumnElement[bool], ...]:
    """An account's failed attempts with one of `codes`. The outcome is compared with a
    constant written into the SQL, not a parameter: that is what lets the planner use the
    partial index on failures (delivery_0008) and, on PostgreSQL, skip the days' partitions
    of deliveries."""
    return (
        AttemptRow.account_sid == account_sid,
        AttemptRow.outcome != literal_column("'delivered'"),
        AttemptRow.error_code.in_(list(codes)),
    )
