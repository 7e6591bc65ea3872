"""The delivery worker's Prometheus figures (runtime/metrics.py): what became of each event
by sink type, outcome and error code; publish → first attempt and publish → success
latencies; its lanes by state; the shared consumer's lag; the work stream's backlog and
the replay archive's reach; the delivery log's queue."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime

from nats.js import JetStreamContext

from runtime.metrics import Metrics
from services.delivery.intake.envelope import Envelope
from services.delivery.settling.decision import Ack, DeadLetter, Decision, Happened, Park, Retry
from services.delivery.settling.journal import SqlJournal
from services.delivery.sinks.base import Outcome

log = logging.getLogger(__name__)

LAG_POLL_SECONDS = 5.0


class DeliveryMetrics:
    """Observes settlements (services/delivery/settling/settle.py's SettleObserver)."""

    def __init__(
        self,
        metrics: Metrics,
        sink_type_of: Callable[[str], str | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink_type_of = sink_type_of
        self._clock = clock
        # Per event, from the event loop: the lock-free kind (runtime/metrics.py LoopCounter).
        self._events = metrics.loop_counter(
            "es_delivery_events_total",
            "events settled by the workers: delivered, retried (an attempt failed, tried again "
            "later), parked (the sink is down), dead_lettered; error_code: Twilio's, when failed",
            ["sink_type", "outcome", "error_code"],
        )
        self._first_attempt = metrics.loop_histogram(
            "es_delivery_first_attempt_seconds",
            "from the event stored by the router to its first delivery attempt's end",
            ["sink_type"],
        )
        self._success = metrics.loop_histogram(
            "es_delivery_success_seconds",
            "from the event stored by the router to its successful delivery (retries included)",
            ["sink_type"],
        )

    def settled(
        self,
        sink_sid: str,
        envelopes: Sequence[Envelope],
        happened: Sequence[Happened],
        decisions: Sequence[Decision],
    ) -> None:
        sink_type = self._sink_type_of(sink_sid) or "unknown"
        labels = (sink_type,)
        now = self._clock()
        counts: dict[tuple[str, str, str], int] = {}
        first_attempts: list[float] = []
        successes: list[float] = []
        for envelope, what, decision in zip(envelopes, happened, decisions, strict=True):
            attempted = isinstance(what, Outcome)
            error = what.error if isinstance(what, Outcome) else None
            if isinstance(decision, Ack):
                outcome, code = "delivered", ""
            elif isinstance(decision, Retry):
                if not decision.attempted:
                    continue  # handed back unattempted (its lane was full): nothing happened to it
                outcome, code = "retried", str(error.code) if error else ""
            elif isinstance(decision, Park):
                outcome, code = "parked", str(error.code) if error else ""
            elif isinstance(decision, DeadLetter):
                outcome, code = "dead_lettered", str(decision.code or "")
            else:
                continue
            key = (sink_type, outcome, code)
            counts[key] = counts.get(key, 0) + 1
            if attempted:
                age = max(0.0, now - envelope.stored_at)
                if envelope.delivered <= 1:
                    first_attempts.append(age)
                if outcome == "delivered":
                    successes.append(age)
        for key, count in counts.items():
            self._events.inc(key, count)
        self._first_attempt.observe_many(labels, first_attempts)
        self._success.observe_many(labels, successes)


def lane_states(metrics: Metrics, states: Callable[[], dict[str, int]]) -> None:
    metrics.readings.gauge(
        "es_delivery_sinks",
        "sinks this worker holds events for, by state: healthy, throttled (a cap on its calls), "
        "failing (an outage: probed, its events parked)",
        lambda: [({"state": state}, float(count)) for state, count in states().items()],
    )


def journal_queue(metrics: Metrics, journal: SqlJournal) -> None:
    metrics.readings.gauge(
        "es_delivery_log_queue",
        "attempt records waiting to be written to the delivery log",
        lambda: [({}, float(journal.pending))],
    )
    metrics.readings.counter(
        "es_delivery_log_dropped",
        "attempt records dropped because the delivery log's queue was full (database away)",
        lambda: float(journal.dropped),
    )
    metrics.readings.counter(
        "es_delivery_log_quarantined",
        "attempt records the database refused (a NUL in text, a value too long), set aside "
        "and logged so they do not hold back the others",
        lambda: float(journal.quarantined),
    )


class ConsumerLag:
    """The shared consumer's lag, as JetStream reports it, summed over the partitions' (every
    worker reports the same consumers: take the max across workers, not the sum)."""

    def __init__(
        self, metrics: Metrics, js: JetStreamContext, stream: str | Sequence[str], consumer: str
    ) -> None:
        self._js, self._consumer = js, consumer
        self._streams = [stream] if isinstance(stream, str) else list(stream)
        self._pending = 0.0
        self._ack_pending = 0.0
        metrics.readings.gauge(
            "es_delivery_consumer_pending",
            "events stored and not yet handed to any worker (the backlog)",
            lambda: [({}, self._pending)],
        )
        metrics.readings.gauge(
            "es_delivery_consumer_ack_pending",
            "events handed to workers and not yet settled (in flight, or waiting out a retry delay)",
            lambda: [({}, self._ack_pending)],
        )

    async def run(self) -> None:
        while True:
            try:
                infos = [await self._js.consumer_info(stream, self._consumer) for stream in self._streams]
                self._pending = float(sum(info.num_pending or 0 for info in infos))
                self._ack_pending = float(sum(info.num_ack_pending or 0 for info in infos))
            except Exception as exc:  # the broker away: keep the last figures, try again
                log.debug("consumer lag not read: %s", exc)
            await asyncio.sleep(LAG_POLL_SECONDS)


class StreamFill:
    """The work stream's backlog against its budget, and how far back the replay archive
    reaches: a shrinking archive age under heavy traffic says replays reach less far than
    the retention (every worker reports the same streams: take the max, not the sum)."""

    def __init__(
        self,
        metrics: Metrics,
        js: JetStreamContext,
        work: str | Sequence[str],
        oldest_archived: Callable[[], Awaitable[datetime | None]],
    ) -> None:
        self._js, self._oldest_archived = js, oldest_archived
        self._work = [work] if isinstance(work, str) else list(work)
        self._work_bytes = 0.0
        self._archive_age = 0.0
        metrics.readings.gauge(
            "es_events_work_bytes",
            "bytes of undelivered events on the events stream — the fullest partition's, each "
            "refusing past ES_STREAM_MAX_BYTES",
            lambda: [({}, self._work_bytes)],
        )
        metrics.readings.gauge(
            "es_replay_archive_oldest_seconds",
            "age of the oldest event the replay archive holds: how far back replays reach (0: empty)",
            lambda: [({}, self._archive_age)],
        )

    async def run(self) -> None:
        while True:
            try:
                self._work_bytes = float(
                    max([(await self._js.stream_info(work)).state.bytes for work in self._work])
                )
                oldest = await self._oldest_archived()
                self._archive_age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
            except Exception as exc:  # the broker away: keep the last figures, try again
                log.debug("stream fill not read: %s", exc)
            await asyncio.sleep(LAG_POLL_SECONDS)


def by_state(states: Iterable[str]) -> dict[str, int]:
    counts = {"healthy": 0, "throttled": 0, "failing": 0}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return counts
