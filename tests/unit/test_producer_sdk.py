"""The producer SDK against a fake transport: retries carry the same ids, per-event errors come
back per event, sends are batched by size and by linger, a full buffer holds senders back —
async and sync."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from eventstreams_producer import (
    AsyncProducer,
    Event,
    EventNotFound,
    EventRejected,
    InvalidEvent,
    Producer,
    PublishUnavailable,
    RequestFailed,
    RetryPolicy,
    make_event,
)
from eventstreams_producer.grpc_transport import to_proto
from eventstreams_producer.results import EventResult

pytestmark = pytest.mark.unit

ACCOUNT = "AC" + "0" * 32
TYPE = "com.twilio.messaging.message.delivered"
FAST = RetryPolicy(max_attempts=4, base_seconds=0.001, cap_seconds=0.002)

Answer = Callable[[Sequence[Event]], list[EventResult]] | RequestFailed


def ok(events: Sequence[Event]) -> list[EventResult]:
    return [EventResult(e.id, 0, deliveries=1) for e in events]


class Fake:
    """Answers each call with the next scripted answer (then OK), recording the ids sent."""

    def __init__(self, *script: Answer, gate: asyncio.Event | None = None) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []
        self.gate = gate

    async def publish(self, events: Sequence[Event]) -> list[EventResult]:
        self.calls.append([e.id for e in events])
        if self.gate is not None:
            await self.gate.wait()
        answer = self.script.pop(0) if self.script else ok
        if isinstance(answer, RequestFailed):
            raise answer
        return answer(events)


def codes(*per_event: int) -> Answer:
    def answer(events: Sequence[Event]) -> list[EventResult]:
        return [EventResult(e.id, c, f"code {c}") for e, c in zip(events, per_event, strict=True)]

    return answer


def events(count: int) -> list[Event]:
    return [make_event(TYPE, {"n": i}, schema_version=7, account_sid=ACCOUNT) for i in range(count)]


async def test_retries_send_only_the_unstored_events_again_with_the_same_ids() -> None:
    batch = events(3)
    ids = [e.id for e in batch]
    fake = Fake(RequestFailed(14, "router down"), codes(0, 14, 0), RequestFailed(4, "slow"))  # then OK
    async with AsyncProducer(fake, retry=FAST) as producer:
        result = await producer.publish(batch)
    assert fake.calls == [ids, ids, [ids[1]], [ids[1]]]
    assert result.ok and result.attempts == 4 and [r.id for r in result.results] == ids


async def test_when_retries_run_out_the_event_is_unavailable_and_its_batch_mates_accepted() -> None:
    batch = events(2)
    fake = Fake(*([codes(0, 14)] + [codes(14)] * 3))
    async with AsyncProducer(fake, retry=FAST) as producer:
        result = await producer.publish(batch)
    assert len(fake.calls) == FAST.max_attempts
    assert [r.id for r in result.accepted] == [batch[0].id]
    [unavailable] = result.unavailable
    assert unavailable.event_id == batch[1].id and unavailable.code == 14
    with pytest.raises(PublishUnavailable):
        result.raise_for_errors()


async def test_rejected_events_come_back_per_event_and_are_never_retried() -> None:
    batch = events(4)
    fake = Fake(codes(0, 3, 5, 0))
    async with AsyncProducer(fake, retry=FAST) as producer:
        result = await producer.publish(batch)
    assert len(fake.calls) == 1
    assert [r.id for r in result.accepted] == [batch[0].id, batch[3].id]
    assert [(type(e), e.event_id) for e in result.rejected] == [
        (InvalidEvent, batch[1].id),
        (EventNotFound, batch[2].id),
    ]
    assert not result.ok


async def test_a_call_no_retry_can_fix_is_raised_at_once() -> None:
    fake = Fake(RequestFailed(16, "missing or wrong service token"))
    async with AsyncProducer(fake, retry=FAST) as producer:
        with pytest.raises(RequestFailed) as caught:
            await producer.publish(events(2))
    assert caught.value.code == 16 and len(fake.calls) == 1


async def test_publish_splits_a_large_batch_at_the_batch_size() -> None:
    fake = Fake()
    async with AsyncProducer(fake, batch_size=100) as producer:
        result = await producer.publish(events(250))
    assert [len(c) for c in fake.calls] == [100, 100, 50] and len(result.accepted) == 250


async def test_sends_go_out_in_full_batches_and_the_rest_after_the_linger() -> None:
    fake = Fake()
    async with AsyncProducer(fake, account_sid=ACCOUNT, batch_size=10, linger_seconds=0.05) as producer:
        futures = [await producer.send(TYPE, {"n": i}, schema_version=7) for i in range(23)]
        await asyncio.sleep(0)  # the two full batches are already on their way
        assert [len(c) for c in fake.calls] == [10, 10]
        await asyncio.sleep(0.15)  # the three left over go when the first of them has lingered
        assert [len(c) for c in fake.calls] == [10, 10, 3]
        results = await asyncio.gather(*futures)
    assert [r.id for r in results] == [i for call in fake.calls for i in call]
    assert producer.counts.accepted == 23 and producer.counts.calls == 3


async def test_a_send_future_raises_its_own_error_and_its_batch_mates_succeed() -> None:
    fake = Fake(codes(0, 3, 0))
    async with AsyncProducer(fake, account_sid=ACCOUNT, batch_size=3, retry=FAST) as producer:
        futures = [await producer.send(TYPE, {"n": i}, schema_version=7) for i in range(3)]
        done = await asyncio.gather(*futures, return_exceptions=True)
    assert isinstance(done[0], EventResult) and isinstance(done[2], EventResult)
    assert isinstance(done[1], InvalidEvent) and isinstance(done[1], EventRejected)
    assert producer.counts.rejected == 1


async def test_a_malformed_event_is_refused_before_any_call() -> None:
    fake = Fake()
    async with AsyncProducer(fake, account_sid=ACCOUNT) as producer:
        with pytest.raises(InvalidEvent):
            await producer.send(TYPE, ["not", "an", "object"], schema_version=7)  # type: ignore[arg-type]
        with pytest.raises(InvalidEvent):
            await producer.send(TYPE, {"x": float("nan")}, schema_version=7)
        with pytest.raises(InvalidEvent):
            await producer.send("", {}, schema_version=7)
        with pytest.raises(InvalidEvent):
            await producer.send(TYPE, {}, schema_version=0)
        with pytest.raises(InvalidEvent):
            await producer.send(TYPE, {}, schema_version=1, account_sid="", id="x" * 129)
    assert fake.calls == []


def test_an_event_gets_its_id_once_and_defaults_that_hold() -> None:
    first, second = events(2)
    assert first.id != second.id and first.id.startswith("EZ") and len(first.id) == 34
    assert first.source == f"/2010-04-01/Accounts/{ACCOUNT}/Events/{first.id}"
    naive = make_event(
        TYPE, {"a": 1}, schema_version=1, account_sid=ACCOUNT, time=datetime(2026, 1, 2), id="E1"
    )
    assert naive.time == datetime(2026, 1, 2, tzinfo=UTC) and naive.id == "E1"
    assert naive.data == {"a": 1}


async def test_a_full_buffer_holds_the_sender_back_until_events_settle() -> None:
    gate = asyncio.Event()
    fake = Fake(gate=gate)
    producer = AsyncProducer(fake, account_sid=ACCOUNT, batch_size=5, linger_seconds=10, max_buffered=5)
    futures = [await producer.send(TYPE, {"n": i}, schema_version=7) for i in range(5)]
    sixth = asyncio.create_task(producer.send(TYPE, {"n": 5}, schema_version=7))
    await asyncio.sleep(0.05)
    assert not sixth.done() and len(fake.calls) == 1  # waiting for room
    gate.set()
    await asyncio.gather(*futures)
    await asyncio.wait_for(sixth, 1)
    await producer.close()
    assert [len(c) for c in fake.calls] == [5, 1]


async def test_a_closed_producer_takes_nothing() -> None:
    from eventstreams_producer import ProducerClosed

    producer = AsyncProducer(Fake(), account_sid=ACCOUNT)
    await producer.close()
    with pytest.raises(ProducerClosed):
        await producer.send(TYPE, {}, schema_version=7)


class BlockingFake:
    """A thread-safe gate for the sync producer's loop thread."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls: list[list[str]] = []

    async def publish(self, events: Sequence[Event]) -> list[EventResult]:
        self.calls.append([e.id for e in events])
        while not self.open.is_set():
            await asyncio.sleep(0.005)
        return ok(events)


def test_the_sync_producer_batches_blocks_when_full_and_settles_every_future() -> None:
    fake = BlockingFake()
    producer = Producer(fake, account_sid=ACCOUNT, batch_size=4, linger_seconds=0.02, max_buffered=4)
    try:
        futures = [producer.send(TYPE, {"n": i}, schema_version=7) for i in range(4)]
        blocked = threading.Thread(target=lambda: futures.append(producer.send(TYPE, {}, schema_version=7)))
        blocked.start()
        time.sleep(0.1)
        assert blocked.is_alive()  # the fifth send waits for room
        fake.open.set()
        blocked.join(2)
        assert not blocked.is_alive()
        producer.flush(timeout=5)
        assert all(f.result(1).code == 0 for f in futures) and len(futures) == 5
        assert producer.publish(events(3)).ok
    finally:
        producer.close()
    assert [len(c) for c in fake.calls] == [4, 1, 3]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 29, 4, 0, 56, 753123, tzinfo=UTC),
        datetime(1960, 5, 1, 3, 4, 5, 123456, tzinfo=UTC),  # before the epoch
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),  # an offset
    ],
)
def test_the_wire_time_is_the_events_time_exactly(moment: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(moment)
    event = make_event(TYPE, {}, schema_version=1, account_sid=ACCOUNT, time=moment)
    assert to_proto(event).time == expected
