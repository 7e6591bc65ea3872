"""The Amazon S3 sink, an archive: the tenant's role assumed with the sink's ExternalId
(renewed before its credentials expire), and the events of the calls made to it gathered
into one newline-delimited object per event type, written (PutObject) once 8 MiB are held or
the flush age (ES_S3_FLUSH_SECONDS) has passed since the first — so the bucket gets few,
large objects, not one per call.

A call returns when the object holding its events is written: an event is acknowledged only
once it is in the bucket. Objects of one flush are written side by side; each event's outcome
is its object's. A call given up on (a worker stopping) leaves its events in the flush: they
are written anyway, and delivered again later — an archive may hold an event twice, never
lose one. boto3 on the AWS sinks' shared pool of threads (aws/clients.py)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runtime.sinks.s3 import FLUSH_BYTES, S3Config
from services.delivery.errors import DeliveryError, InternalError
from services.delivery.sinks.aws.clients import AwsClients, AwsOptions
from services.delivery.sinks.aws.errors import mapped
from services.delivery.sinks.aws.role import AssumedClient
from services.delivery.sinks.base import Limits, Outcome, SinkEvent, SinkSpec
from services.delivery.sinks.s3 import objects

log = logging.getLogger(__name__)


@dataclass
class Flush:
    """The events gathered for the next objects, and their outcomes once written."""

    done: asyncio.Future[list[Outcome]]
    events: list[SinkEvent] = field(default_factory=list)
    bytes: int = 0
    timer: asyncio.TimerHandle | None = None


class S3Sink:
    limits: Limits = objects.LIMITS

    def __init__(self, aws: AwsClients, spec: SinkSpec, config: S3Config, flush_seconds: float) -> None:
        self._aws = aws
        self._sid = spec.sid
        self._config = config
        self._flush_seconds = flush_seconds
        self._client = AssumedClient(aws, "s3", config, spec.sid)
        self._open: Flush | None = None
        self._writing: set[asyncio.Task[None]] = set()

    def size(self, event: SinkEvent) -> int:
        return objects.size(event)

    async def prepare(self) -> None:
        await self._client.get()

    async def deliver(self, events: Sequence[SinkEvent]) -> Sequence[Outcome]:
        flush = self._open or self._start()
        first = len(flush.events)
        flush.events.extend(events)
        flush.bytes += sum(objects.size(e) for e in events)
        if flush.bytes >= FLUSH_BYTES:
            self._write(flush)
        # Shielded: a call given up on leaves the flush to finish for the others in it.
        outcomes = await asyncio.shield(flush.done)
        return outcomes[first : first + len(events)]

    def _start(self) -> Flush:
        loop = asyncio.get_running_loop()
        flush = Flush(done=loop.create_future())
        flush.timer = loop.call_later(self._flush_seconds, self._write, flush)
        self._open = flush
        return flush

    def _write(self, flush: Flush) -> None:
        """Close the flush to new events and write its objects."""
        if self._open is not flush:
            return
        self._open = None
        if flush.timer is not None:
            flush.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._written(flush))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _written(self, flush: Flush) -> None:
        try:
            outcomes = await self._put_objects(flush.events)
        except DeliveryError as exc:
            outcomes = [Outcome(error=exc)] * len(flush.events)
        except Exception as exc:  # a bug of ours: every waiting call must still be answered
            log.exception("S3 sink %s: writing objects", self._sid)
            outcomes = [Outcome(error=InternalError(f"writing the objects: {exc}"))] * len(flush.events)
        flush.done.set_result(outcomes)

    async def _put_objects(self, events: Sequence[SinkEvent]) -> list[Outcome]:
        client = await self._client.get()
        at = datetime.now(UTC)
        groups = list(objects.by_type(events).items())
        written = await asyncio.gather(
            *(
                self._put_one(client, type_name, [events[i] for i in positions], at)
                for type_name, positions in groups
            )
        )
        outcomes: list[Outcome] = [Outcome()] * len(events)
        for (_, positions), outcome in zip(groups, written, strict=True):
            for index in positions:
                outcomes[index] = outcome
        return outcomes

    async def _put_one(self, client: Any, type_name: str, events: list[SinkEvent], at: datetime) -> Outcome:
        key = objects.key(self._config.prefix, type_name, at, self._sid, uuid.uuid4().hex[:12])
        try:
            await self._aws.run(self._put, client, key, objects.body(events))
        except DeliveryError as exc:
            return Outcome(error=exc)
        return Outcome(status=200)

    def _put(self, client: Any, key: str, body: bytes) -> None:
        with mapped("PutObject"):
            client.put_object(
                Bucket=self._config.bucket, Key=key, Body=body, ContentType=objects.CONTENT_TYPE
            )

    async def close(self) -> None:
        if self._open is not None:
            self._write(self._open)
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)
        await self._client.close()


class S3Driver:
    sink_type = "s3"

    def __init__(self, options: AwsOptions, flush_seconds: float = 5.0) -> None:
        self.options = options
        self.flush_seconds = flush_seconds
        self.aws = AwsClients(options, "s3")

    def open(self, spec: SinkSpec) -> S3Sink:
        assert isinstance(spec.config, S3Config)
        return S3Sink(self.aws, spec, spec.config, self.flush_seconds)

    async def close(self) -> None:
        self.aws.close()
