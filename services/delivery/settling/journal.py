"""The delivery log: every attempt, written in batches off the hot path; and dead letters,
written before their message is terminated so nothing leaves without a record. A record the
database refuses (`refused`) is found by halves and set aside, so it never holds back the
others (`Apart`). Where the records go is a `LogStore`, chosen by the database: SQLite keeps
one table per kind, purged row by row (`PlainLog`); PostgreSQL a table per day, written by
COPY and forgotten by dropping days (`partitions.PartitionedLog`)."""

from __future__ import annotations

import asyncio
import logging
import operator
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import sids
from runtime.sids import AccountSid, EventId, SinkSid
from runtime.times import sqlite_timestamp, utcnow
from services.delivery.models import AttemptRow, DeadLetterRow
from services.delivery.partitions import PartitionedLog, RecordRefused
from services.delivery.sinks.exchange import Exchange

log = logging.getLogger(__name__)
# The tables themselves: the journal writes with Core inserts (executemany), not the ORM.
ATTEMPTS_TABLE = cast(Table, AttemptRow.__table__)
LETTERS_TABLE = cast(Table, DeadLetterRow.__table__)

DEAD_LETTER = "DL"
LETTERS_PER_WRITE = 500
ATTEMPTS_PER_WRITE = 5000
PURGE_BATCH = 5000
PURGE_SECONDS = 600.0
MAINTENANCE_RETRY_SECONDS = 30.0


# SQLSTATE classes of a statement's data, not of the database: 22 data exception (a NUL in
# text, a value too long, …), 23 integrity constraint violation.
REFUSED_CLASSES = ("22", "23")


def refused(exc: BaseException) -> bool:
    """Whether the database refused what was written rather than being unable to write: the
    records' fault, so writing them again cannot help; anything else (a connection lost, the
    database away, a table missing) is an outage that passes, so the records wait for it."""
    if isinstance(exc, DataError | IntegrityError | RecordRefused):
        return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return isinstance(state, str) and state[:2] in REFUSED_CLASSES
    # A value the driver could not even send (a lone surrogate in a str, …).
    return isinstance(exc, StatementError | UnicodeError) and not isinstance(exc, DBAPIError)


T = TypeVar("T")


@dataclass
class Apart(Generic[T]):
    """Writes records all at once and, when the database refuses the write, by halves until
    each refused record is alone: it is set aside in `refused` with its error and the others
    are written, in order — a few more transactions per refused record (about twice the log
    of the batch's size), not one per record. An outage stops the writing: what was not
    written is `remaining()`, for the caller to keep."""

    chunks: deque[list[T]] = field(default_factory=deque)
    refused: list[tuple[T, Exception]] = field(default_factory=list)

    @classmethod
    def of(cls, records: Iterable[T]) -> Apart[T]:
        return cls(deque([list(records)]))

    def remaining(self) -> list[T]:
        return list(chain.from_iterable(self.chunks))

    async def write(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        while self.chunks:
            chunk = self.chunks[0]
            try:
                await write(chunk)
            except Exception as exc:
                if not refused(exc):
                    raise
                self.chunks.popleft()
                if len(chunk) == 1:
                    self.refused.append((chunk[0], exc))
                else:
                    half = len(chunk) // 2
                    self.chunks.extendleft((chunk[half:], chunk[:half]))
                continue
            self.chunks.popleft()


@dataclass(frozen=True)
class Retention:
    delivered: timedelta = timedelta(days=7)  # attempts that delivered (Twilio: events, 7 days)
    errors: timedelta = timedelta(days=23)  # failures and dead letters (Twilio: error logs, 23 days)


@dataclass  # one per attempt: not frozen (cheaper to build)
class Attempt:
    account_sid: AccountSid
    sink_sid: SinkSid
    event_id: EventId
    type: str
    attempt: int
    outcome: str  # delivered | retrying | failed
    status_code: int | None
    latency_ms: int
    error_code: int | None
    error: str | None
    date_created: float  # epoch seconds: a datetime per attempt cost more than its record's write
    source_account_sid: AccountSid | None = None  # the event's account, when not the sink owner's
    age_ms: int | None = None  # the event stored by the router → this attempt's end
    triggered_by: str | None = None  # "resend": a user's, from the log; None: the delivery
    # The call as sent and answered, made JSON only when written (`detail_of`), off the hot path.
    call_detail: Exchange | None = None


ATTEMPT_FIELDS = tuple(Attempt.__dataclass_fields__)
DETAIL = "call_detail"


def detail_of(attempt: Attempt) -> str | None:
    """The attempt's `call_detail` column: its call's detail, kept once per call."""
    exchange = attempt.call_detail
    return exchange.record(attempt.event_id, attempt.attempt) if exchange is not None else None


class AttemptRows:
    """The attempt insert for one dialect, compiled once, and each Attempt as the driver's
    own parameter tuple: the database's SQL and the column types' own bind processors (a
    datetime as SQLite stores it, …), without SQLAlchemy's per-row parameter processing,
    which was half of the attempt log's cost on the worker's loop. The record's time, epoch
    seconds, goes to SQLite in the form SQLAlchemy stores, formatted by `sqlite_timestamp`
    (checked here against SQLAlchemy's own processor), and to any other database as a
    datetime."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = insert(ATTEMPTS_TABLE).compile(dialect=dialect, column_keys=list(ATTEMPT_FIELDS))
        self.sql = str(compiled)
        order = compiled.positiontup
        if order is None:  # a dialect with named parameters: not the ones we run on
            raise TypeError(f"{dialect.name}: positional parameters expected")
        self._order = tuple(order)
        self._values = operator.attrgetter(*self._order)
        processors = {
            name: processor
            for name in self._order
            if (processor := ATTEMPTS_TABLE.c[name].type.dialect_impl(dialect).bind_processor(dialect))
            is not None
        }
        self._created = self._order.index(CREATED)
        self._detail = self._order.index(DETAIL)
        self._timestamp = _timestamp(dialect.name, processors.pop(CREATED, None))
        self._last_created: float | None = None
        self._last_timestamp: Any = None
        self._processors = [(self._order.index(name), processor) for name, processor in processors.items()]

        # SQLite: many rows to one INSERT — a sixth less per record than an executemany of
        # the one-row insert, measured in-process — within its limit on parameters.
        self._multirow = dialect.name == "sqlite"
        self._rows_per_insert = rows_per_insert(sqlite3.sqlite_version_info)
        self._head, _, self._one = self.sql.partition(" VALUES ")
        self._inserts: dict[int, str] = {}

    def row(self, attempt: Attempt) -> tuple[Any, ...]:
        return tuple(self._row(attempt))

    def _row(self, attempt: Attempt) -> list[Any]:
        row = list(self._values(attempt))
        created = row[self._created]
        if created != self._last_created:  # a call's records share their time: formatted once
            self._last_created, self._last_timestamp = created, self._timestamp(created)
        row[self._created] = self._last_timestamp
        if row[self._detail] is not None:
            row[self._detail] = detail_of(attempt)
        for index, processor in self._processors:
            if row[index] is not None:
                row[index] = processor(row[index])
        return row

    def writes(self, attempts: Sequence[Attempt]) -> list[tuple[str, Any]]:
        """The driver's (SQL, parameters) that insert `attempts` in order: for SQLite, a row
        list per INSERT of up to `rows_per_insert` rows, its parameters one flat tuple; for any
        other database, the one-row insert with every row (an executemany)."""
        if not self._multirow:
            return [(self.sql, [self.row(attempt) for attempt in attempts])]
        writes = []
        step = self._rows_per_insert
        for start in range(0, len(attempts), step):
            chunk = attempts[start : start + step]
            flat: list[Any] = []
            for attempt in chunk:
                flat += self._row(attempt)
            writes.append((self._insert(len(chunk)), tuple(flat)))
        return writes

    def _insert(self, rows: int) -> str:
        sql = self._inserts.get(rows)
        if sql is None:
            sql = self._inserts[rows] = f"{self._head} VALUES {', '.join([self._one] * rows)}"
        return sql


ROWS_PER_INSERT = 500


def rows_per_insert(sqlite_version: tuple[int, int, int]) -> int:
    """Attempt rows to one SQLite INSERT: ROWS_PER_INSERT, or fewer where the library's
    default limit on a statement's parameters is lower (999 before SQLite 3.32, 32,766 since)."""
    limit = 32_766 if sqlite_version >= (3, 32, 0) else 999
    return min(ROWS_PER_INSERT, limit // len(ATTEMPT_FIELDS))


CREATED = "date_created"
SAMPLE_TIMES = (0.0, 1_764_702_442.499812, 1_764_702_442.0000004, 1_764_719_999.9999996, 4_102_444_800.25)


def _timestamp(dialect: str, processor: Callable[[Any], Any] | None) -> Callable[[float], Any]:
    """How an attempt's epoch time becomes the driver's parameter."""

    def as_datetime(epoch: float) -> Any:
        moment = datetime.fromtimestamp(epoch, UTC)
        return processor(moment) if processor is not None else moment

    if dialect == "sqlite" and all(sqlite_timestamp(t) == as_datetime(t) for t in SAMPLE_TIMES):
        return sqlite_timestamp
    return as_datetime


@dataclass(frozen=True)
class DeadLetter:
    account_sid: AccountSid
    sink_sid: SinkSid
    event_id: EventId
    type: str
    subject: str
    payload: bytes
    attempts: int
    reason: str
    error_code: int
    status_code: int | None
    source_account_sid: AccountSid | None = None


class Journal(Protocol):
    """Where the workers report what happened (the port the lanes own)."""

    def attempt(self, attempt: Attempt) -> None:
        """Record an attempt; must not block."""
        ...

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Record a dead letter durably; only then may its message be terminated."""
        ...


class LogStore(Protocol):
    """Where the journal's records are kept: written, made ready ahead, forgotten."""

    async def write_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Write all of `attempts`, or none: a refused record fails the write (`refused`)."""
        ...

    async def write_letters(self, table: Table, rows: list[dict[str, Any]]) -> None: ...

    async def maintain(self, now: datetime) -> None:
        """Get ready for the records of the days ahead."""
        ...

    async def purge(self, now: datetime, batch: int = PURGE_BATCH) -> int:
        """Forget what is past retention; returns the rows deleted one by one."""
        ...


def store_for(sessions: async_sessionmaker[AsyncSession], retention: Retention) -> LogStore:
    """The log's store for the database `sessions` are bound to."""
    bind = sessions.kw.get("bind")
    if bind is not None and bind.dialect.name == "postgresql":
        return PartitionedLog(sessions, retention)
    return PlainLog(sessions, retention)


class PlainLog:
    """One table per kind, written by executemany (SQLite: many rows to an INSERT) and purged
    row by row in batches: what SQLite (`make run`) needs, and the log before partitioning."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], retention: Retention) -> None:
        self._sessions = sessions
        self._retention = retention
        self._rows: AttemptRows | None = None

    async def write_attempts(self, attempts: Sequence[Attempt]) -> None:
        async with self._sessions.begin() as session:
            # One executemany of the driver's own SQL (AttemptRows), without the ORM's bulk
            # machinery (15 % of a worker at full load) or Core's per-row parameter
            # processing (another 8 %).
            connection = await session.connection()
            rows = self._rows
            if rows is None:
                rows = self._rows = AttemptRows(connection.dialect)
            for sql, parameters in rows.writes(attempts):
                await connection.exec_driver_sql(sql, parameters)

    async def write_letters(self, table: Table, rows: list[dict[str, Any]]) -> None:
        async with self._sessions.begin() as session:
            await session.execute(insert(table), rows)

    async def maintain(self, now: datetime) -> None:
        return None

    async def purge(self, now: datetime, batch: int = PURGE_BATCH) -> int:
        """Delivered attempts after `retention.delivered`; failed and retrying ones, and dead
        letters, after `retention.errors`. In batches by primary key, each its own short
        transaction, so a large backlog of old rows never holds the database's writer for
        long. Returns the rows removed."""
        removed = 0
        delivered = AttemptRow.outcome == "delivered"
        for table, condition, before in (
            (AttemptRow, delivered, now - self._retention.delivered),
            (AttemptRow, ~delivered, now - self._retention.errors),
            (DeadLetterRow, None, now - self._retention.errors),
        ):
            while True:
                old = select(table.id).where(table.date_created < before)
                if condition is not None:
                    old = old.where(condition)
                async with self._sessions.begin() as session:
                    ids = list((await session.scalars(old.order_by(table.id).limit(batch))).all())
                    if ids:
                        await session.execute(delete(table).where(table.id.in_(ids)))
                removed += len(ids)
                if len(ids) < batch:
                    break
                await asyncio.sleep(0)  # let the hot path in between batches
        return removed


class SqlJournal:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        retention: Retention,
        max_pending: int = 200_000,
        flush_seconds: float = 0.25,
        store: LogStore | None = None,
    ) -> None:
        self._sessions = sessions
        self._store = store if store is not None else store_for(sessions, retention)
        self._pending: deque[Attempt] = deque(maxlen=max_pending)
        self._flush_seconds = flush_seconds
        self.dropped = 0
        self.quarantined = 0  # records the database refused, set aside (`_quarantine`)
        self._letters: deque[tuple[DeadLetter, asyncio.Future[None]]] = deque()
        self._writing_letters = False

    @property
    def pending(self) -> int:
        """Attempt records waiting to be written."""
        return len(self._pending)

    def attempt(self, attempt: Attempt) -> None:
        if len(self._pending) == self._pending.maxlen:
            # Bounded memory beats an unbounded queue under a database outage; say so.
            self.dropped += 1
        self._pending.append(attempt)

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Written by group commit: whoever finds no write under way writes every letter
        waiting, many to a transaction, until none is left; the others wait for theirs. A
        sink's whole backlog turning into dead letters at once (it was deleted) is a few
        transactions, not thousands racing for the database's one writer."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._letters.append((letter, written))
        if not self._writing_letters:
            self._writing_letters = True
            try:
                await self._write_letters()
            finally:
                self._writing_letters = False
        await written

    async def _write_letters(self) -> None:
        while self._letters:
            batch = [self._letters.popleft() for _ in range(min(len(self._letters), LETTERS_PER_WRITE))]
            apart = Apart.of(batch)
            try:
                await apart.write(self._insert_letters)
            except Exception as exc:
                for _, written in apart.remaining():
                    if not written.done():
                        written.set_exception(exc)
            except asyncio.CancelledError:  # the writer's task is going: nobody waits forever
                for _, written in [*apart.remaining(), *self._letters]:
                    if not written.done():
                        written.set_exception(RuntimeError("the delivery log is shutting down"))
                self._letters.clear()
                raise
            finally:
                for (letter, written), refusal in apart.refused:
                    log.error(
                        "delivery log: dead letter refused by the database (%s); its event stays: "
                        "account %s sink %s event %r",
                        refusal, letter.account_sid, letter.sink_sid, letter.event_id,
                    )  # fmt: skip
                    if not written.done():
                        written.set_exception(refusal)
            for _, written in batch:
                if not written.done():
                    written.set_result(None)

    async def _insert_letters(self, batch: list[tuple[DeadLetter, asyncio.Future[None]]]) -> None:
        await self._store.write_letters(LETTERS_TABLE, [letter_row(letter) for letter, _ in batch])

    async def flush(self) -> int:
        taken: list[Attempt] = []
        while self._pending and len(taken) < ATTEMPTS_PER_WRITE:
            taken.append(self._pending.popleft())
        if taken:
            apart = Apart.of(taken)
            try:
                await apart.write(self._store.write_attempts)
            except BaseException:
                self._put_back(apart.remaining())
                raise
            finally:
                for record, refusal in apart.refused:
                    self._quarantine(record, refusal)
        return len(taken)

    def _quarantine(self, attempt: Attempt, exc: Exception) -> None:
        """A record the database refuses is written to the log instead, and counted: kept in
        the queue it would be refused again at the head of every batch after it."""
        self.quarantined += 1
        log.error(
            "delivery log: attempt record refused by the database, set aside (%s): %r",
            str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
            attempt,
        )

    def _put_back(self, taken: list[Attempt]) -> None:
        """A failed write keeps its records, ahead of what came since; what no longer fits
        the bounded queue is counted as dropped (the oldest go first, as when it is full)."""
        room = (self._pending.maxlen or 0) - len(self._pending)
        keep = taken[-room:] if room > 0 else []
        self.dropped += len(taken) - len(keep)
        self._pending.extendleft(reversed(keep))

    async def run(self) -> None:
        """Flush attempts until cancelled; now and then, get the days ahead ready and purge
        what is past retention (first of all: today's records need today)."""
        loop = asyncio.get_running_loop()
        maintain_at = loop.time()
        reported = 0  # of self.dropped, which counts every record ever dropped
        try:
            while True:
                if loop.time() >= maintain_at:
                    # Apart from the writing: a maintenance that fails (a day's drop waiting
                    # on its lock, …) must not keep the records from being written.
                    try:
                        await self.maintain(utcnow())
                        maintain_at = loop.time() + PURGE_SECONDS
                    except Exception:
                        log.warning("delivery log: maintenance failed; will retry", exc_info=True)
                        maintain_at = loop.time() + MAINTENANCE_RETRY_SECONDS
                try:
                    while await self.flush():
                        pass
                except Exception:
                    log.warning("delivery log: write failed; will retry", exc_info=True)
                if self.dropped > reported:
                    lost = self.dropped - reported
                    log.warning("delivery log: %d attempt records dropped (queue full)", lost)
                    reported = self.dropped
                await asyncio.sleep(self._flush_seconds)
        finally:
            try:
                while await self.flush():
                    pass
            except Exception:
                log.warning("delivery log: %d attempt records not written at shutdown", len(self._pending))

    async def maintain(self, now: datetime) -> None:
        """The log's maintenance: the days ahead made ready, then what is past retention
        forgotten (a failed purge does not keep the days ahead from being made)."""
        await self._store.maintain(now)
        await self.purge(now)

    async def purge(self, now: datetime, batch: int = PURGE_BATCH) -> int:
        """Forget what is past its retention (Twilio's: application events 7 days, error logs
        23 days): delivered attempts after `retention.delivered`; failed and retrying ones,
        and dead letters, after `retention.errors` — on PostgreSQL by dropping whole days.
        Returns the rows deleted one by one."""
        return await self._store.purge(now, batch)


def letter_row(letter: DeadLetter) -> dict[str, Any]:
    return {
        "sid": sids.new(DEAD_LETTER),
        "account_sid": letter.account_sid,
        "sink_sid": letter.sink_sid,
        "event_id": storable(letter.event_id),
        "type": storable(letter.type),
        "subject": storable(letter.subject),
        # one bad payload must not fail its batch
        "payload": storable(letter.payload.decode(errors="replace")),
        "attempts": letter.attempts,
        "reason": storable(letter.reason[:500]),
        "error_code": letter.error_code,
        "status_code": letter.status_code,
        "date_created": utcnow(),
        "date_redriven": None,
        "source_account_sid": letter.source_account_sid,
    }


def storable(text: str) -> str:
    """`text` as every database stores it: PostgreSQL's text cannot hold a NUL. A dead letter
    is the event's last record, so it is written with a stand-in rather than refused."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
