"""JetStream wiring shared by the router (publisher) and the delivery workers (consumer):
one place names the stream, its subjects, its retention and the connection options."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import NotFoundError

from runtime import nats_versions, stream_codec
from runtime.config import setting
from runtime.natsio import api
from runtime.natsio.client import HeaderParsingClient
from runtime.sids import AccountSid, SinkSid

log = logging.getLogger(__name__)

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a: what NATS's subject mapping `partition(N, token)` hashes a token with."""
    value = FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return value


def partition_of(sink_sid: str, partitions: int) -> int:
    """The partition a sink's events go to: the same in every process and on every start
    (never Python's salted hash()), and the one the server's own `partition(N, token)`
    mapping of the sink SID would choose. All of a sink's events share one partition, so
    its per-key order, its filter subjects and its Nats-Msg-Id deduplication stay within
    one stream."""
    return fnv1a_32(sink_sid.encode()) % partitions if partitions > 1 else 0


@dataclass(frozen=True)
class StreamSpec:
    """A stream of events. The events stream itself is the *work*: an event stays only until
    the shared consumer has acknowledged it (interest retention) and its archive (below) has
    copied it, so its bytes are the undelivered backlog and nothing else."""

    name: str = "EVENTS"
    subject_prefix: str = "events"
    max_age_seconds: float = 7 * 24 * 3600
    duplicate_window_seconds: float = 120
    replicas: int = 1
    # A work queue keeps a message only until it is acknowledged (the parking stream).
    work_queue: bool = False
    # Interest retention: kept while a consumer has not acknowledged it (the events stream).
    interest: bool = True
    # At most this much stored (-1: no limit). When full, new messages are refused (discard
    # new): producers are told to retry, and no undelivered event is ever dropped to make
    # room — discarding the oldest would lose exactly the backlog of a sink that is down.
    max_bytes: int = -1
    # Replays and redrives (copies of stored events) are refused, and a running replay stops,
    # once the backlog reaches this fraction of max_bytes: room is kept for live traffic.
    replay_high_water: float = 0.7
    # The replay archive's byte cap (-1: none; its age cap is max_age_seconds).
    archive_max_bytes: int = -1
    # Streams whose messages this one copies (JetStream sources); such a stream takes no
    # subjects of its own. Full, it forgets its oldest (discard old) and never refuses.
    sources: tuple[str, ...] = ()
    # The events are spread over this many partitions, each a stream of its own (with its
    # own archive, ordered and parking streams, and its own Raft leader): `partition(i)`.
    # Budgets (max_bytes, archive_max_bytes) are each partition's.
    partitions: int = 1

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"stream partitions must be at least 1, not {self.partitions}")

    def partition(self, index: int) -> StreamSpec:
        """The streams of partition `index`. The first keeps the unpartitioned names
        (EVENTS, events.…), so one partition is today's layout and a split keeps the old
        stream, with its backlog and history, as partition 0; the others are EVENTS_P<i>
        on events_p<i>.… (subjects of their own: streams' subjects may not overlap)."""
        if not 0 <= index < self.partitions:
            raise ValueError(f"no partition {index} of {self.partitions}")
        if index == 0:
            return replace(self, partitions=1)
        return replace(
            self, name=f"{self.name}_P{index}", subject_prefix=f"{self.subject_prefix}_p{index}", partitions=1
        )

    def split(self) -> list[StreamSpec]:
        """Every partition's streams, in order."""
        return [self.partition(index) for index in range(self.partitions)]

    def for_sink(self, sink_sid: str) -> StreamSpec:
        """The partition a sink's events are published to, parked in, replayed from."""
        return self.partition(partition_of(sink_sid, self.partitions)) if self.partitions > 1 else self

    @property
    def subjects(self) -> list[str]:
        return [f"{self.subject_prefix}.>"]

    def subject(self, account_sid: AccountSid, sink_sid: SinkSid) -> str:
        return f"{self.subject_prefix}.{account_sid}.{sink_sid}"

    @staticmethod
    def addressee(subject: str) -> tuple[AccountSid, SinkSid]:
        """(account SID, sink SID) of a message's subject — where a worker reads them off the
        wire (`tokens` typed loosely, so they become ids without a call per message)."""
        tokens: list[Any] = subject.rsplit(".", 2)
        _, account_sid, sink_sid = tokens
        return account_sid, sink_sid

    def sink_filter(self, sink_sid: str) -> str:
        return f"{self.subject_prefix}.*.{sink_sid}"

    def archive(self) -> StreamSpec:
        """The replay archive: every event this stream takes, copied as it is stored (a
        JetStream source, same subjects), kept `max_age_seconds` under `archive_max_bytes`,
        its oldest forgotten when full — the replay window shrinks, no publish is refused.
        Replays read it; nothing delivers from it."""
        return StreamSpec(
            name=f"{self.name}_ARCHIVE",
            subject_prefix=self.subject_prefix,
            max_age_seconds=self.max_age_seconds,
            duplicate_window_seconds=self.duplicate_window_seconds,
            replicas=self.replicas,
            interest=False,
            max_bytes=self.archive_max_bytes,
            sources=(self.name,),
        )

    def parking(self) -> StreamSpec:
        """Where the delivery workers park the events of a sink that is down, until it
        answers again: a work queue beside this stream, its subjects this stream's under
        `parked.` (stream_codec.parked_subject)."""
        return StreamSpec(
            name=f"{self.name}_PARKED",
            subject_prefix=f"{stream_codec.PARKED_PREFIX}{self.subject_prefix}",
            max_age_seconds=self.max_age_seconds,
            duplicate_window_seconds=self.duplicate_window_seconds,
            replicas=self.replicas,
            work_queue=True,
            interest=False,
            max_bytes=self.max_bytes // 2 if self.max_bytes > 0 else -1,
        )

    def ordered(self) -> StreamSpec:
        """Where the router puts the events of subscriptions ordered by key: a stream beside
        this one, its subjects this stream's under `ordered.`, each ordered sink read by a
        consumer of its own (services/delivery/ordered/lanes.py) rather than the shared one.

        It keeps its events (limits retention), work and replay archive in one: an ordered
        sink's consumer is made on demand, after its first events may be stored, and
        interest retention would drop those at once. So when full of delivered events it
        refuses ordered publishes — its own budget, apart from the events stream's, and no
        other sink's publishes are refused for it (docs/capacity.md)."""
        return StreamSpec(
            name=f"{self.name}_ORDERED",
            subject_prefix=f"{stream_codec.ORDERED_PREFIX}{self.subject_prefix}",
            max_age_seconds=self.max_age_seconds,
            duplicate_window_seconds=self.duplicate_window_seconds,
            replicas=self.replicas,
            interest=False,
            max_bytes=self.max_bytes // 4 if self.max_bytes > 0 else -1,
        )

    def too_full_to_replay(self, stored_bytes: int) -> bool:
        return self.max_bytes > 0 and stored_bytes >= self.max_bytes * self.replay_high_water


def partitions_of(streams: StreamSpec | Sequence[StreamSpec]) -> list[StreamSpec]:
    """One stream, or one per partition in partition order, as a list."""
    return [streams] if isinstance(streams, StreamSpec) else list(streams)


def stream_of_sink(partitions: Sequence[StreamSpec], sink_sid: str) -> StreamSpec:
    """Of one stream per partition (`partitions`, in order), the sink's."""
    return partitions[partition_of(sink_sid, len(partitions))]


@dataclass(frozen=True)
class StreamSettings:
    """The settings of every service that talks to the events stream (a base of theirs)."""

    nats_url: str = setting("nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
    nats_user: str = setting("", "NATS user (deploy/k8s: router or delivery, each with its permissions)")
    nats_password: str = setting("", "NATS password of that user")
    stream_name: str = setting("EVENTS", "JetStream stream carrying events to delivery")
    subject_prefix: str = setting("events", "subject prefix of that stream")
    stream_max_age_seconds: float = setting(
        7 * 24 * 3600.0, "JetStream retention: the replay window, and how long an undelivered event waits"
    )
    stream_replicas: int = setting(1, "JetStream stream replicas (3 in production)")
    stream_max_bytes: int = setting(
        -1,
        "JetStream work budget: most bytes of undelivered events (the events stream keeps an event "
        "only until delivered); past it publishes, Test events, replays and redrives are refused as "
        "retryable (UNAVAILABLE) and nothing stored is dropped; replays stop at 70 % of it. The "
        "parking stream gets half as much, the key-ordered stream (work and archive in one) a "
        "quarter; the server reserves all from its store. -1: no limit",
    )
    archive_max_bytes: int = setting(
        -1,
        "JetStream replay archive budget (stream <stream_name>_ARCHIVE): most bytes of delivered "
        "events kept for replays; when full the oldest are dropped (the replay window shrinks), "
        "no publish is ever refused for it. -1: no limit (only the retention)",
    )
    stream_partitions: int = setting(
        1,
        "partitions of the events: streams of their own (EVENTS, EVENTS_P1, …; each with its "
        "archive, ordered and parking streams and its own Raft leader), a sink's events all in "
        "one, chosen by a hash of its SID. 1: one stream, as before. Every router and worker "
        "must agree; the byte budgets are each partition's",
    )
    consumer_name: str = setting(
        "DELIVERY",
        "durable consumer of the events stream shared by all workers (made by the first service to "
        "start); its name must sort before JS_SRC_ (docs/operations/broker.md)",
    )

    def stream_spec(self) -> StreamSpec:
        return StreamSpec(
            name=self.stream_name,
            subject_prefix=self.subject_prefix,
            max_age_seconds=self.stream_max_age_seconds,
            replicas=self.stream_replicas,
            max_bytes=self.stream_max_bytes,
            archive_max_bytes=self.archive_max_bytes,
            partitions=self.stream_partitions,
        )


async def connect(servers: str, name: str, user: str = "", password: str = "", consumer: str = "") -> Client:
    """Connect with reconnects forever: a broker restart must not kill a service. `consumer`:
    the workers' shared consumer, checked against each server connected to (`warn_if_unsafe`)."""

    async def on_error(exc: Exception) -> None:
        log.warning("nats: %s", exc)

    async def on_disconnect() -> None:
        log.warning("nats: disconnected")

    async def on_reconnect() -> None:
        log.info("nats: reconnected")
        warn_if_unsafe(nc, consumer)

    nc = HeaderParsingClient()
    await nc.connect(
        servers=[s.strip() for s in servers.split(",") if s.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,  # type: ignore[arg-type]  # typed int, read as seconds
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        user=user or None,
        password=password or None,
    )
    warn_if_unsafe(nc, consumer)
    return nc


def warn_if_unsafe(nc: Client, consumer: str) -> None:
    """An error in the log when the connected nats-server would lose the events held on the
    workers' shared consumer at its next restart (runtime/nats_versions.py)."""
    if not consumer:
        return
    server = nc.connected_server_version
    try:
        version = f"{server.major}.{server.minor}.{server.patch}"
    except (TypeError, ValueError):  # not a version it could read
        return
    if nats_versions.loses_held_events(version, consumer):
        log.error(nats_versions.WARNING, version, consumer)


def retention(spec: StreamSpec) -> RetentionPolicy:
    if spec.work_queue:
        return RetentionPolicy.WORK_QUEUE
    return RetentionPolicy.INTEREST if spec.interest else RetentionPolicy.LIMITS


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> None:
    archive = bool(spec.sources)
    config = StreamConfig(
        name=spec.name,
        # An archive takes no subjects: it copies its sources' messages, subjects kept.
        subjects=None if archive else spec.subjects,
        sources=[StreamSource(name=source) for source in spec.sources] or None,
        retention=retention(spec),
        storage=StorageType.FILE,
        max_age=spec.max_age_seconds,
        duplicate_window=spec.duplicate_window_seconds,
        num_replicas=spec.replicas,
        max_bytes=spec.max_bytes,
        # Work is refused when full (never dropped); an archive forgets its oldest.
        discard=DiscardPolicy.NEW if spec.max_bytes > 0 and not archive else DiscardPolicy.OLD,
    )
    try:
        await js.stream_info(spec.name)
        await js.update_stream(config)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s on %s", spec.name, spec.sources or spec.subjects)


async def oldest_stored(nc: Client, stream: str, timeout: float = 5.0) -> datetime | None:
    """When the oldest message `stream` holds was stored; None when it holds none. (The
    server's `first_ts`, which nats-py's StreamState leaves out.)"""
    info = await api.stream_info(nc, stream, timeout)
    if "error" in info:
        raise NotFoundError(description=str(info["error"].get("description", "")))
    state = info.get("state") or {}
    if not state.get("messages") or not state.get("first_ts"):
        return None
    return parse_time(state["first_ts"])


def parse_time(text: str) -> datetime:
    """A JetStream time (RFC 3339, nanoseconds): to microseconds, which datetime holds."""
    head, _, fraction = text.rstrip("Z").partition(".")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return datetime.fromisoformat(head).replace(microsecond=micros, tzinfo=UTC)


async def _keeps_everything(js: JetStreamContext, name: str) -> bool:
    try:
        return (await js.stream_info(name)).config.retention == RetentionPolicy.LIMITS
    except NotFoundError:
        return False


async def _caught_up(js: JetStreamContext, spec: StreamSpec, seconds: float = 60.0) -> None:
    """Until the archive copies from the events stream and has copied all it held when this
    began — not until its lag is nil, which under live traffic it seldom is. Bounded: a start
    is not held up for long; what is not copied by then is missing from the replay window."""
    archive = spec.archive().name
    held = (await js.stream_info(spec.name)).state.last_seq
    for _ in range(int(seconds / 0.2)):
        info = await js.stream_info(archive)
        source = next((s for s in info.sources or [] if s.name == spec.name), None)
        # `active` is -1 until the source is set up (its lag 0 meanwhile).
        if source is not None and source.active is not None and source.active >= 0:
            stored = (await js.stream_info(spec.name)).state.last_seq
            if stored - (source.lag or 0) >= held:
                return
        await asyncio.sleep(0.2)
    log.warning("archive %s has not caught up with %s; going on", archive, spec.name)


def shared_consumer(name: str) -> ConsumerConfig:
    """The essentials of the workers' shared durable consumer on the events stream: every
    subject, from the first stored event, each acknowledged explicitly. The workers bring
    the rest of its configuration (services/delivery/app.py consumer_config)."""
    return ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL)


async def ensure_event_streams(js: JetStreamContext, spec: StreamSpec, consumer: str) -> None:
    """The streams the router and the workers both make at start, for every partition."""
    for part in spec.split():
        await _ensure_partition(js, part, consumer)


async def _ensure_partition(js: JetStreamContext, spec: StreamSpec, consumer: str) -> None:
    """One partition's streams: the events stream (the work) with the shared consumer, its
    replay archive, the ordered stream.

    The events stream keeps an event only while a consumer has not acknowledged it, and one
    with no consumer at all is dropped once the archive has its copy: so the shared consumer
    is made here with the stream — by whichever service starts first — and events taken
    before any worker ran wait for the workers. It is made only when missing: a running
    worker's configuration of it is never overwritten. (The archive copies from the events
    stream's first stored message, whenever it is made.)"""
    if spec.interest and await _keeps_everything(js, spec.name):
        # An events stream from before the archive (limits retention): the archive copies
        # what it holds — the replay history — before it lets go of everything delivered.
        await ensure_stream(js, spec.archive())
        await _caught_up(js, spec)
    await ensure_stream(js, spec)
    if spec.interest:
        try:
            await js.consumer_info(spec.name, consumer)
        except NotFoundError:
            await js.add_consumer(spec.name, shared_consumer(consumer))
    await ensure_stream(js, spec.archive())
    # A new source takes a moment to start copying, and what the workers acknowledge
    # meanwhile would never reach the archive: start serving once it copies.
    await _caught_up(js, spec)
    await ensure_stream(js, spec.ordered())
