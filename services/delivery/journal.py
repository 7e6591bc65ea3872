"""The delivery log: every attempt, written in batches off the hot path; and dead letters,
written before their message is terminated so nothing leaves without a record."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from runtime import sids
from runtime.times import utcnow
from services.delivery.models import AttemptRow, DeadLetterRow

log = logging.getLogger(__name__)

DEAD_LETTER = "DL"
LETTERS_PER_WRITE = 500


@dataclass(frozen=True)
class Attempt:
    account_sid: str
    sink_sid: str
    event_id: str
    type: str
    attempt: int
    outcome: str  # delivered | retrying | failed
    status_code: int | None
    latency_ms: int
    error_code: int | None
    error: str | None
    date_created: datetime


@dataclass(frozen=True)
class DeadLetter:
    account_sid: str
    sink_sid: str
    event_id: str
    type: str
    subject: str
    payload: bytes
    attempts: int
    reason: str
    error_code: int
    status_code: int | None


class Journal(Protocol):
    """Where the workers report what happened (the port the lanes own)."""

    def attempt(self, attempt: Attempt) -> None:
        """Record an attempt; must not block."""
        ...

    async def dead_letter(self, letter: DeadLetter) -> None:
        """Record a dead letter durably; only then may its message be terminated."""
        ...


class SqlJournal:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        retention: timedelta,
        max_pending: int = 200_000,
        flush_seconds: float = 0.25,
    ) -> None:
        self._sessions = sessions
        self._retention = retention
        self._pending: deque[Attempt] = deque(maxlen=max_pending)
        self._flush_seconds = flush_seconds
        self.dropped = 0
        self._letters: deque[tuple[DeadLetter, asyncio.Future[None]]] = deque()
        self._writing_letters = False

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
            try:
                async with self._sessions.begin() as session:
                    await session.execute(insert(DeadLetterRow), [_letter_row(letter) for letter, _ in batch])
            except Exception as exc:
                for _, written in batch:
                    if not written.done():
                        written.set_exception(exc)
                continue
            except asyncio.CancelledError:  # the writer's task is going: nobody waits forever
                for _, written in [*batch, *self._letters]:
                    if not written.done():
                        written.set_exception(RuntimeError("the delivery log is shutting down"))
                self._letters.clear()
                raise
            for _, written in batch:
                if not written.done():
                    written.set_result(None)

    async def flush(self) -> int:
        batch: list[dict[str, Any]] = []
        while self._pending and len(batch) < 5000:
            # vars(), not asdict(): asdict deep-copies every field, a hot spot under load.
            batch.append(vars(self._pending.popleft()))
        if batch:
            async with self._sessions.begin() as session:
                await session.execute(insert(AttemptRow), batch)
        return len(batch)

    async def run(self) -> None:
        """Flush attempts until cancelled; purge what is past retention now and then."""
        purged_at = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    while await self.flush():
                        pass
                    if loop.time() - purged_at > 600:
                        await self.purge(utcnow() - self._retention)
                        purged_at = loop.time()
                except Exception:
                    log.warning("delivery log: write failed; will retry", exc_info=True)
                if self.dropped:
                    log.warning("delivery log: %d attempt records dropped (queue full)", self.dropped)
                    self.dropped = 0
                await asyncio.sleep(self._flush_seconds)
        finally:
            while self._pending:
                await self.flush()

    async def purge(self, before: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(AttemptRow).where(AttemptRow.date_created < before))
            await session.execute(delete(DeadLetterRow).where(DeadLetterRow.date_created < before))


def _letter_row(letter: DeadLetter) -> dict[str, Any]:
    return {
        "sid": sids.new(DEAD_LETTER),
        "account_sid": letter.account_sid,
        "sink_sid": letter.sink_sid,
        "event_id": letter.event_id,
        "type": letter.type,
        "subject": letter.subject,
        "payload": letter.payload.decode(errors="replace"),  # one bad payload must not fail its batch
        "attempts": letter.attempts,
        "reason": letter.reason[:500],
        "error_code": letter.error_code,
        "status_code": letter.status_code,
        "date_created": utcnow(),
        "date_redriven": None,
    }
