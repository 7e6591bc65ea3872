"""Replays and redrives: events put back on the stream for one sink.

A replay reads the sink's messages stored in a time window from the replay archive (an
ephemeral consumer on the sink's subject, from the window's start; for a key-ordered sink,
the ordered stream, which keeps its events) and publishes each again under a new message id,
so the ordinary delivery path delivers it once more. Copies made by a replay are marked and
never replayed themselves. A redrive publishes a dead letter's event the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime import jetstream, stream_codec
from runtime.jetstream import StreamSpec
from runtime.sids import AccountSid, EventId, SinkSid
from services.delivery.models import DeadLetterRow, ReplayRow
from services.delivery.reads.records import Records

log = logging.getLogger(__name__)

LIVE = ("running", "cancelling")


# Why a replay or redrive is refused, or a running replay stops: the undelivered backlog
# nears the work budget (ES_STREAM_MAX_BYTES); the rest is kept for live events.
WORK_FULL = (
    "the backlog of undelivered events is near its budget: replays and redrives wait until "
    "the sinks drain it; try again later"
)


class ReplayStopped(Exception):
    pass


async def work_too_full(js: JetStreamContext, spec: StreamSpec) -> bool:
    """Whether copies (a replay, a redrive) are refused now: `spec` is the stream they go to."""
    return spec.too_full_to_replay((await js.stream_info(spec.name)).state.bytes)


class ArchiveReach:
    """How far back replays reach now: the oldest event a sink's replay archive holds (the
    archive forgets its oldest when full, so this moves forward, and replays say so)."""

    def __init__(self, nc: Client, spec: StreamSpec, ordered: Callable[[str], bool]) -> None:
        self._nc = nc
        self._spec = spec
        self._ordered = ordered

    def archive_of(self, sink_sid: str) -> StreamSpec:
        """The sink's partition's archive (its ordered stream, for an ordered sink)."""
        part = self._spec.for_sink(sink_sid)
        return part.ordered() if self._ordered(sink_sid) else part.archive()

    async def starts_at(self, sink_sid: str = "") -> datetime | None:
        """The oldest archived event's time (for no sink, the oldest of every partition's
        events archive); None when the archive holds nothing, or cannot be read now."""
        archives = [self.archive_of(sink_sid)] if sink_sid else [p.archive() for p in self._spec.split()]
        oldest: list[datetime] = []
        for archive in archives:
            try:
                stored = await jetstream.oldest_stored(self._nc, archive.name)
            except Exception as exc:  # the broker away: the answer leaves it out
                log.debug("archive %s not read: %s", archive.name, exc)
                return None
            if stored is not None:
                oldest.append(stored)
        return min(oldest, default=None)


# Where a resend looks for its event in the archive: from a little before it was stored
# (clocks differ: the router's, the server's) to a while after (the archive copies it from
# the events stream, late under load); and at most this many of the sink's messages read.
FIND_BEFORE = timedelta(seconds=30)
FIND_AFTER = timedelta(minutes=2)
FIND_UNKNOWN_AGE = timedelta(days=1)  # an attempt recorded without the event's age
FIND_MAX_SCAN = 200_000


async def find_archived(
    js: JetStreamContext,
    archive: StreamSpec,
    account_sid: AccountSid,
    sink_sid: SinkSid,
    event_id: str,
    stored_at: datetime | None,
    attempted_at: datetime,
) -> Msg | None:
    """The sink's archived message of `event_id` (from `account_sid`), read from the archive
    by time as a replay reads it: around when the event was stored (`stored_at`, which the
    attempt's age tells), or when that is not known, the day before its attempt; None when
    the archive no longer holds it (past its age or byte cap) or never did."""
    if stored_at is not None:
        start, until = stored_at - FIND_BEFORE, stored_at + FIND_AFTER
    else:
        start, until = attempted_at - FIND_UNKNOWN_AGE, attempted_at + FIND_AFTER
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start.astimezone(UTC),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=30.0,
        mem_storage=True,
        num_replicas=1,
    )
    subscription = await js.pull_subscribe(
        archive.subject(account_sid, sink_sid), stream=archive.name, config=config
    )
    scanned = 0
    try:
        while scanned < FIND_MAX_SCAN:
            try:
                messages = await subscription.fetch(256, timeout=1.0)
            except (NatsTimeoutError, TimeoutError):
                return None
            for message in messages:
                stored = message.metadata.timestamp
                if stored is not None and stored > until:
                    return None
                if (message.headers or {}).get(stream_codec.EVENT_ID) == event_id:
                    return message
            scanned += len(messages)
            if messages and messages[-1].metadata.num_pending == 0:
                return None
        return None
    finally:
        await subscription.unsubscribe()


async def resend(js: JetStreamContext, message: Msg, resend_sid: str) -> None:
    """A copy of an archived message for its one sink (its subject names it), marked a resend."""
    await js.publish(
        message.subject, message.data, headers=stream_codec.resend_copy(message.headers, resend_sid)
    )


async def redrive(js: JetStreamContext, letters: list[DeadLetterRow]) -> None:
    for letter in letters:
        await js.publish(
            letter.subject,
            letter.payload.encode(),
            headers=stream_codec.redrive_headers(
                AccountSid(letter.account_sid),
                EventId(letter.event_id),
                letter.type,
                SinkSid(letter.sink_sid),
                letter.sid,
            ),
        )


class ReplayRunner:
    def __init__(
        self,
        js: JetStreamContext,
        spec: StreamSpec,
        records: Records,
        poll_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        ordered: Callable[[str], bool] = lambda sink_sid: False,
    ) -> None:
        self._js = js
        self._spec = spec
        self._ordered = ordered
        self._records = records
        self._poll = poll_seconds
        self._lease = lease_seconds

    async def run(self) -> None:
        """Replays one at a time; every error is logged and survived (the lease hands a
        replay whose state could not be written to whichever worker claims it next)."""
        while True:
            try:
                row = await self._records.claim_next(self._lease)
            except Exception:
                log.warning("replays: cannot read the queue", exc_info=True)
                row = None
            if row is None:
                await asyncio.sleep(self._poll)
                continue
            try:
                outcome, replayed, position = await self._replay(row)
                await self._records.transition(row.sid, LIVE, outcome, replayed, position=position)
            except Exception as exc:
                log.warning("replay %s failed", row.sid, exc_info=True)
                with contextlib.suppress(Exception):
                    await self._records.transition(row.sid, LIVE, "failed", error=str(exc))

    async def _replay(self, row: ReplayRow) -> tuple[str, int, int]:
        start = row.start_time.replace(tzinfo=row.start_time.tzinfo or UTC)
        end = row.end_time.replace(tzinfo=row.end_time.tzinfo or UTC)
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME,
            opt_start_time=start,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            mem_storage=True,
            num_replicas=1,
        )
        if row.position:  # taken over: go on after what was replayed already
            config.deliver_policy, config.opt_start_time = DeliverPolicy.BY_START_SEQUENCE, None
            config.opt_start_seq = row.position + 1
        # Read from the replay archive, copies put on the work stream; an ordered sink's
        # stream is both (its copies go behind its live events of the same key, keys kept).
        # Both in the sink's partition: every one of its events went there.
        part = self._spec.for_sink(row.sink_sid)
        work = part.ordered() if self._ordered(row.sink_sid) else part
        archive = work if self._ordered(row.sink_sid) else part.archive()
        subscription = await self._js.pull_subscribe(
            archive.sink_filter(row.sink_sid), stream=archive.name, config=config
        )
        replayed, position = row.events_replayed, row.position
        try:
            while True:
                try:
                    messages = await subscription.fetch(256, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    return "completed", replayed, position
                for message in messages:
                    stored = message.metadata.timestamp
                    if stored is not None and stored > end:
                        return "completed", replayed, position
                    headers = stream_codec.replay_copy(message.headers, row.sid)
                    if headers is not None:
                        await self._js.publish(message.subject, message.data, headers=headers)
                        replayed += 1
                    position = message.metadata.sequence.stream
                if await self._records.status(row.sid) == "cancelling":
                    return "cancelled", replayed, position
                if work.too_full_to_replay((await self._js.stream_info(work.name)).state.bytes):
                    raise ReplayStopped(WORK_FULL)
                # Progress, and the lease renewed: no other worker takes this replay over.
                remaining = messages[-1].metadata.num_pending if messages else None
                await self._records.transition(
                    row.sid, ("running",), "running", replayed, position=position, remaining=remaining
                )
                if messages and messages[-1].metadata.num_pending == 0:
                    return "completed", replayed, position
        finally:
            await subscription.unsubscribe()
