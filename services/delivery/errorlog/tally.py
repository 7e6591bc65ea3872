"""The worker's side of the error log: its sinks' failed attempts counted in memory as they
are settled (a SettleObserver: a dictionary entry per call, nothing on the hot path waits),
and counted into the shared groups every second by a task of their own (groups.py) — which
also sweeps the groups whose untold errors have waited their interval, and forgets old ones.

What is counted is what the alerts list: an attempt that failed with one of Twilio's Event
Streams codes (reads/alerts.py), the sink owner's. Should the database be unreachable, the
counts wait in memory and are added at the next flush; a worker holds at most MAX_GROUPS
groups' counts (more failing sinks than that at once, and the newest are not counted)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from services.delivery.errorlog.entry import Entry
from services.delivery.errorlog.groups import Errors, Key
from services.delivery.intake.envelope import Envelope
from services.delivery.reads.alerts import level_of
from services.delivery.settling.decision import Decision, Happened
from services.delivery.sinks.base import Outcome

log = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
MAX_GROUPS = 10_000
# Groups quiet this long with every error told are forgotten; sent entries kept a day.
PRUNE_EVERY = timedelta(hours=1)
SENT_KEPT = timedelta(days=1)


class Groups(Protocol):
    """Where the counts go (groups.ErrorLogGroups)."""

    async def count(self, key: Key, errors: Errors, now: datetime) -> Entry | None: ...

    async def sweep(self, now: datetime) -> list[Entry]: ...

    async def prune(self, quiet_since: datetime, sent_before: datetime) -> None: ...


class ErrorTally:
    def __init__(
        self,
        groups: Groups,
        owner_of: Callable[[str], str | None],
        forget_after: timedelta,
        every: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._groups = groups
        self._owner_of = owner_of
        self._forget_after = forget_after
        self._every = every
        self._clock = clock
        self._pending: dict[Key, Errors] = {}
        self._dropped = 0

    def settled(
        self,
        sink_sid: str,
        envelopes: Sequence[Envelope],
        happened: Sequence[Happened],
        decisions: Sequence[Decision],
    ) -> None:
        """Settlements (settle.py's SettleObserver): each failed attempt an error."""
        owner: str | None = None
        now = 0.0
        for envelope, what in zip(envelopes, happened, strict=True):
            if not isinstance(what, Outcome):
                continue
            error = what.error
            if error is None or level_of(error.code) is None:
                continue
            if owner is None:
                owner = self._owner_of(sink_sid) or envelope.event.account_sid
                now = self._clock()
            self._add(Key(owner, sink_sid, error.code), error.message, now)

    def _add(self, key: Key, message: str, now: float) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.count += 1
            pending.message, pending.at = message, now
        elif len(self._pending) < MAX_GROUPS:
            self._pending[key] = Errors(1, message, now)
        else:
            self._dropped += 1

    async def flush(self) -> int:
        """Count what this worker saw into the groups (what could not be, again next time);
        how many entries were published."""
        taken, self._pending = self._pending, {}
        if self._dropped:
            log.warning("error log: %d errors of too many failing sinks not counted", self._dropped)
            self._dropped = 0
        published = 0
        now = datetime.fromtimestamp(self._clock(), UTC)
        items = list(taken.items())
        for done, (key, errors) in enumerate(items):
            try:
                published += await self._groups.count(key, errors, now) is not None
            except BaseException:
                for left, untaken in items[done:]:  # this group's and those after it
                    self._put_back(left, untaken)
                raise
        published += len(await self._groups.sweep(now))
        return published

    def _put_back(self, key: Key, errors: Errors) -> None:
        pending = self._pending.get(key)
        if pending is None:
            self._pending[key] = errors
        else:  # counted again since: the newer message stays
            pending.count += errors.count

    async def run(self) -> None:
        pruned = 0.0
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.flush()
                now = self._clock()
                if now - pruned >= PRUNE_EVERY.total_seconds():
                    moment = datetime.fromtimestamp(now, UTC)
                    await self._groups.prune(moment - self._forget_after, moment - SENT_KEPT)
                    pruned = now
            except Exception:
                log.warning("error log: counting failed; will retry", exc_info=True)
