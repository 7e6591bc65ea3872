"""Replays and redrives: events put back on the stream for one sink.

A replay reads the sink's messages stored in a time window (an ephemeral consumer on the
sink's subject, from the window's start) and publishes each again under a new message id,
so the ordinary delivery path delivers it once more. Copies made by a replay are marked and
never replayed themselves. A redrive publishes a dead letter's event the same way.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from runtime import stream_codec
from runtime.jetstream import StreamSpec
from services.delivery.models import DeadLetterRow, ReplayRow
from services.delivery.records import Records

log = logging.getLogger(__name__)

async def redrive(js: JetStreamContext, letters: list[DeadLetterRow]) -> None:
    for letter in letters:
        await js.publish(
            letter.subject,
            letter.payload.encode(),
            headers=stream_codec.redrive_headers(letter.event_id, letter.type, letter.sink_sid, letter.sid),
        )


class ReplayRunner:
    def __init__(
        self, js: JetStreamContext, spec: StreamSpec, records: Records, poll_seconds: float = 1.0
    ) -> None:
        self._js = js
        self._spec = spec
        self._records = records
        self._poll = poll_seconds

    async def run(self) -> None:
        while True:
            try:
                row = await self._records.claim_next()
            except Exception:
                log.warning("replays: cannot read the queue", exc_info=True)
                row = None
            if row is None:
                await asyncio.sleep(self._poll)
                continue
            try:
                outcome, replayed = await self._replay(row)
                await self._records.transition(row.sid, ("running", "cancelling"), outcome, replayed)
            except Exception as exc:
                log.warning("replay %s failed", row.sid, exc_info=True)
                await self._records.transition(row.sid, ("running", "cancelling"), "failed", error=str(exc))

    async def _replay(self, row: ReplayRow) -> tuple[str, int]:
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
        subscription = await self._js.pull_subscribe(
            self._spec.sink_filter(row.sink_sid), stream=self._spec.name, config=config
        )
        replayed = 0
        try:
            while True:
                try:
                    messages = await subscription.fetch(256, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):
                    return "completed", replayed
                for message in messages:
                    stored = message.metadata.timestamp
                    if stored is not None and stored > end:
                        return "completed", replayed
                    headers = stream_codec.replay_copy(message.headers, row.sid)
                    if headers is None:
                        continue
                    await self._js.publish(message.subject, message.data, headers=headers)
                    replayed += 1
                if await self._records.status(row.sid) == "cancelling":
                    return "cancelled", replayed
                await self._records.transition(row.sid, ("running",), "running", replayed)
                if messages and messages[-1].metadata.num_pending == 0:
                    return "completed", replayed
        finally:
            await subscription.unsubscribe()
