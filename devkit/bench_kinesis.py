"""The bench's Kinesis phase: a Kinesis sink delivering into a real moto_server, end to end
(first publish → the last record readable in the stream), beside moto's own ceiling (a
direct boto3 PutRecords loop of the same record size, as many callers as the worker keeps
calls in flight to one batching sink) so that the reader can tell whether we are moto-bound.

Each trial uses fresh streams: moto keeps a shard's records in one dict and scans it on every
PutRecords and GetRecords, so a stream gets slower the more it holds — a reused stream would
make every trial slower than the one before. So each trial also gets a fresh sink (Twilio's
flow: create, Test, read the test event back from the stream, Validate, subscribe), deleted
afterwards with its stream.

moto is tests/support/moto_server.py's: moto_server with each Kinesis call serialised, because moto 5
loses records when PutRecords calls run concurrently (two records get one sequence number),
which would look like events our sink lost.

Records are counted by reading every shard incrementally (GetRecords from the iterator the
last call returned), deduplicated by partition key (the event id); the end of a run is the
latest ApproximateArrivalTimestamp among its records, so the reading cadence does not
matter to the figure.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devkit.bench_load import EventFactory, arrival_timeline, publish_fixed, publish_until_routed
from devkit.bench_setup import Rest
from eventstreams.v1 import router_pb2_grpc
from tests.support import moto_server

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import PutRecordsRequestEntryTypeDef

TYPE_KINESIS = "com.twilio.messaging.message.queued"
TEST_TYPE = "com.twilio.eventstreams.test-event"
SHARDS = 4
RECORDS_PER_CALL = 500  # PutRecords' limit, what the sink sends under load
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Arrived:
    key: str
    data: bytes
    at: float  # ApproximateArrivalTimestamp, epoch seconds


@dataclass
class StreamTail:
    """Every shard of a stream read forward from TRIM_HORIZON, one GetRecords after another
    (moto's iterators do not expire)."""

    url: str
    arn: str
    client: KinesisClient = field(init=False)
    iterators: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = moto_server.kinesis_client(self.url, moto_server.region_of(self.arn))

    def _start(self) -> None:
        shards = self.client.list_shards(StreamARN=self.arn).get("Shards", [])
        for shard in shards:
            self.iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                StreamARN=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]

    def read(self) -> list[Arrived]:
        """What arrived since the last read, shard by shard."""
        if not self.iterators:
            self._start()
        found: list[Arrived] = []
        for shard_id, iterator in list(self.iterators.items()):
            while True:
                batch = self.client.get_records(StreamARN=self.arn, ShardIterator=iterator, Limit=10_000)
                records = batch.get("Records", [])
                for record in records:
                    stamp = record.get("ApproximateArrivalTimestamp")
                    at = stamp.timestamp() if stamp is not None else time.time()
                    found.append(Arrived(record["PartitionKey"], record["Data"], at))
                iterator = batch.get("NextShardIterator") or iterator
                if not records:
                    break
            self.iterators[shard_id] = iterator
        return found


async def read(tail: StreamTail) -> list[Arrived]:
    return await asyncio.to_thread(tail.read)


async def wait_test_id(tail: StreamTail, timeout: float) -> str:
    """The test event's data.test_id, read back from the stream."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in await read(tail):
            event = json.loads(record.data)
            if event.get("type") == TEST_TYPE:
                return str(event["data"]["test_id"])
        await asyncio.sleep(0.2)
    raise TimeoutError(f"no test event in the stream after {timeout:.0f} s")


@dataclass
class KinesisWorld:
    """moto, and the role every trial's sink assumes."""

    url: str
    role_arn: str
    external_id: str

    @classmethod
    async def create(cls, url: str, external_id: str) -> KinesisWorld:
        """A role trusting `external_id` (the account's issued one, Rest.kinesis_external_id)."""
        role = await asyncio.to_thread(moto_server.create_role, url, external_id)
        return cls(url, role, external_id)


async def attempts_of(rest: Rest, sink_sid: str, event_id: str) -> list[dict[str, Any]]:
    """An event's attempts in the delivery log (compact), for results.json."""
    found = await rest.deliveries(sink_sid, event_id)
    keys = ("attempt", "outcome", "status_code", "error_code", "error", "latency_ms", "date_created")
    return [{k: a.get(k) for k in keys} for a in found]


def delete_stream(url: str, arn: str) -> None:
    moto_server.kinesis_client(url, moto_server.region_of(arn)).delete_stream(
        StreamARN=arn, EnforceConsumerDeletion=True
    )


async def measure_sink(
    world: KinesisWorld,
    rest: Rest,
    router: router_pb2_grpc.RouterAsyncStub,
    factory: EventFactory,
    count: int,
    batch: int,
    concurrency: int,
    stall_seconds: float,
    window: Callable[[str], Any],
) -> tuple[dict[str, Any], bytes]:
    """A fresh stream and sink (created, tested, validated, subscribed), `count` events
    through it; returns the figures and one delivered record's data (for the ceiling)."""
    name = f"bench-{secrets.token_hex(5)}"
    arn = await asyncio.to_thread(moto_server.create_stream, world.url, name, SHARDS)
    tail = StreamTail(world.url, arn)
    config = {"arn": arn, "role_arn": world.role_arn, "external_id": world.external_id}
    sid = await rest.create_sink("bench kinesis", "kinesis", config)
    subscription = ""
    try:
        started_setup = time.monotonic()
        await rest.test_sink(sid)
        test_id = await wait_test_id(tail, stall_seconds)
        await rest.validate_sink(sid, test_id)
        status = await rest.sink_status(sid)
        subscription = await rest.subscribe("bench kinesis", sid, [TYPE_KINESIS])
        await publish_until_routed(router, factory, TYPE_KINESIS, 1, timeout=15)
        await _drain(tail, stall_seconds)  # the probe (and the test event) arrived: warm
        setup_seconds = time.monotonic() - started_setup
        with window("kinesis") as measured:
            published = await publish_fixed(
                router, factory, TYPE_KINESIS, count, batch, concurrency, keep_ids=True
            )
            seen = await _collect(tail, published.events, stall_seconds)
            measured.events = len(seen.first)
        received = len(seen.first)
        complete = received >= published.events
        missing = [i for _, ids in published.sent or [] for i in ids if i not in seen.first]
        late = sorted(seen.first, key=lambda i: seen.first[i])[-3:] if seen.first else []
        diagnosis: dict[str, Any] = {
            "missing": missing[:50],
            "attempts": {i: await attempts_of(rest, sid, i) for i in [*missing[:3], *late]},
        }
        if missing:
            # Read the whole stream again: is it our reading, or are the records not there?
            everything = await asyncio.to_thread(moto_server.read_records, world.url, arn)
            keys = {key for key, _ in everything}
            diagnosis["reread_records"] = len(everything)
            diagnosis["reread_missing"] = sum(1 for i in missing if i not in keys)
        ended = max(seen.first.values()) if complete and seen.first else time.time()
        seconds = max(ended - published.started_at, 1e-9)
        return (
            {
                "target": count,
                "received": received,
                "duplicates": seen.repeats,
                "complete": complete,
                "seconds": round(seconds, 3),
                "events_per_second": round(received / seconds, 1),
                "publish": published.report(),
                "shards": SHARDS,
                "status_after_validate": status,
                "setup_seconds": round(setup_seconds, 2),
                "timeline": arrival_timeline(published.started_at, list(seen.first.values())),
                "slowest_events": diagnosis,
            },
            seen.sample,
        )
    finally:
        if subscription:
            await rest.unsubscribe(subscription)
        await rest.delete_sink(sid)
        await asyncio.to_thread(delete_stream, world.url, arn)


@dataclass
class Collected:
    """What the tail saw during one run: each event id's first arrival, repeats, a sample."""

    first: dict[str, float] = field(default_factory=dict)
    repeats: int = 0
    sample: bytes = b""


async def _drain(tail: StreamTail, timeout: float) -> None:
    """Read until something arrived and then nothing more for a moment."""
    deadline = time.monotonic() + timeout
    got_any = False
    while time.monotonic() < deadline:
        found = await read(tail)
        if found:
            got_any = True
        elif got_any:
            return
        await asyncio.sleep(0.3)
    if not got_any:
        raise TimeoutError(f"nothing reached the Kinesis stream in {timeout:.0f} s")


async def _collect(tail: StreamTail, target: int, stall_seconds: float) -> Collected:
    """Distinct partition keys → first arrival, until `target` or nothing new for
    `stall_seconds`."""
    seen = Collected()
    progressed = time.monotonic()
    while len(seen.first) < target and time.monotonic() - progressed < stall_seconds:
        await asyncio.sleep(POLL_SECONDS)
        found = await read(tail)
        for record in found:
            if record.key in seen.first:
                seen.repeats += 1
                continue
            seen.first[record.key] = record.at
            seen.sample = seen.sample or record.data
        if found:
            progressed = time.monotonic()
    return seen


def put_ceiling(url: str, count: int, data: bytes, callers: int) -> dict[str, Any]:
    """moto's own ceiling: `count` records of `data` (distinct partition keys like event ids)
    into a fresh stream of SHARDS shards, PutRecords of RECORDS_PER_CALL by `callers`
    threads sharing one boto3 client, timed from the first call to the last answer."""
    name = f"bench-ceiling-{secrets.token_hex(5)}"
    arn = moto_server.create_stream(url, name, SHARDS)
    client = moto_server.kinesis_client(url)
    run = secrets.token_hex(4)
    calls: list[list[PutRecordsRequestEntryTypeDef]] = []
    for start in range(0, count, RECORDS_PER_CALL):
        size = min(RECORDS_PER_CALL, count - start)
        calls.append([{"Data": data, "PartitionKey": f"EZceil{run}{start + i:010d}"} for i in range(size)])
    failed = 0

    def put(records: list[PutRecordsRequestEntryTypeDef]) -> int:
        return int(client.put_records(StreamARN=arn, Records=records).get("FailedRecordCount", 0))

    try:
        started = time.time()
        with ThreadPoolExecutor(max_workers=callers) as pool:
            failed = sum(pool.map(put, calls))
        seconds = max(time.time() - started, 1e-9)
    finally:
        delete_stream(url, arn)
    written = count - failed
    return {
        "records": written,
        "failed": failed,
        "record_bytes": len(data) + len(f"EZceil{run}{0:010d}"),
        "records_per_call": RECORDS_PER_CALL,
        "callers": callers,
        "shards": SHARDS,
        "seconds": round(seconds, 3),
        "events_per_second": round(written / seconds, 1),
    }
