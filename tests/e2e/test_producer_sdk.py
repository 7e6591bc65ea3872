"""The producer SDK through the real router to a real webhook receiver: batches and single
sends (async and sync) arrive; a batch with a bad event comes back with that event's own
error while the others are stored; a retry after an unacknowledged call and a whole batch
published twice reuse the ids, and the receiver gets each event once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2_grpc
from eventstreams_producer import (
    AsyncProducer,
    Event,
    EventNotFound,
    GrpcTransport,
    InvalidEvent,
    Producer,
    RequestFailed,
    RetryPolicy,
)
from eventstreams_producer.results import EventResult
from tests.producers import TYPE, all_arrived, data, subscribed
from tests.support.cutting_proxy import CuttingProxy

pytestmark = pytest.mark.e2e


@pytest.fixture
async def producer(suite: Suite, account: control_pb2.Account) -> AsyncIterator[AsyncProducer]:
    async with AsyncProducer.connect(
        suite.target("router"), suite.credential("producer"), account_sid=account.sid, batch_size=10
    ) as instance:
        yield instance


async def test_batches_and_single_sends_reach_the_webhook(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    producer: AsyncProducer,
) -> None:
    warm = await subscribed(rest, router, receiver, account.sid)
    payload, version = data(account.sid)
    batch = [producer.event(TYPE, payload, schema_version=version) for _ in range(25)]
    result = await producer.publish(batch)
    assert result.ok and all(r.deliveries == 1 for r in result.results), result
    futures = [await producer.send(TYPE, payload, schema_version=version) for _ in range(15)]
    singles: list[EventResult] = list(await asyncio.gather(*futures))
    assert all(r.code == 0 and r.deliveries == 1 for r in singles)

    def sync_sends() -> list[EventResult]:
        with Producer.connect(
            suite.target("router"), suite.credential("producer"), account_sid=account.sid
        ) as sync:
            return [sync.send_and_wait(TYPE, payload, schema_version=version) for _ in range(3)]

    blocking = await asyncio.to_thread(sync_sends)
    ids = [e.id for e in batch] + [r.id for r in singles] + [r.id for r in blocking]
    counts = await all_arrived(receiver, ids)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)
    assert set(counts) == {*ids, warm}


async def test_a_bad_event_is_refused_on_its_own_and_its_batch_mates_are_stored(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    producer: AsyncProducer,
) -> None:
    warm = await subscribed(rest, router, receiver, account.sid)
    payload, version = data(account.sid)
    good = [producer.event(TYPE, payload, schema_version=version) for _ in range(2)]
    unknown = producer.event("com.example.no.such.type", payload, schema_version=1)
    failing = producer.event(TYPE, payload | {"messageSid": 12345}, schema_version=version)
    result = await producer.publish([good[0], unknown, failing, good[1]])
    assert [r.id for r in result.accepted] == [good[0].id, good[1].id]
    assert [(type(e), e.event_id) for e in result.rejected] == [
        (EventNotFound, unknown.id),
        (InvalidEvent, failing.id),
    ]
    assert (
        "messageSid" in result.rejected[1].message or "Messaging.MessageStatus" in result.rejected[1].message
    )
    counts = await all_arrived(receiver, [e.id for e in good])
    assert set(counts) == {good[0].id, good[1].id, warm}


class LostAnswer:
    """The real router, but the first call's answer is lost after the router stored the events
    (as a connection cut mid-call): the producer sees UNAVAILABLE and publishes again."""

    def __init__(self, real: GrpcTransport) -> None:
        self.real = real
        self.calls: list[list[str]] = []

    async def publish(self, events: Sequence[Event]) -> list[EventResult]:
        self.calls.append([e.id for e in events])
        answers = await self.real.publish(events)
        if len(self.calls) == 1:
            assert all(a.code == 0 and a.deliveries == 1 for a in answers)  # stored, really
            raise RequestFailed(14, "connection reset after the router answered")
        return answers


async def test_retries_and_republishing_reuse_the_ids_and_deliver_each_event_once(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    warm = await subscribed(rest, router, receiver, account.sid)
    payload, version = data(account.sid)
    real = GrpcTransport(suite.target("router"), suite.credential("producer"))
    lossy = LostAnswer(real)
    retry = RetryPolicy(max_attempts=3, base_seconds=0.05, cap_seconds=0.1)
    async with AsyncProducer(lossy, account_sid=account.sid, retry=retry) as producer:
        batch = [producer.event(TYPE, payload, schema_version=version) for _ in range(10)]
        first = await producer.publish(batch)
        assert first.ok and first.attempts == 2
        assert lossy.calls == [[e.id for e in batch]] * 2  # the retry carried the same ids
        again = await producer.publish(batch)  # the whole batch once more, as after a crash
        assert again.ok
    await real.close()
    ids = [e.id for e in batch]
    counts = await all_arrived(receiver, ids, settle=1.5)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)  # 3 publishes, 1 delivery each
    assert set(counts) == {*ids, warm}


async def test_a_broken_stream_is_reopened_and_its_unanswered_requests_sent_again_once_each(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    """The SDK's default path, PublishStream, through a connection that loses the router's
    answers after the router stored the events: once the connection breaks, the SDK opens a
    fresh stream and sends the unanswered requests again; each event arrives once."""
    warm = await subscribed(rest, router, receiver, account.sid)
    payload, version = data(account.sid)
    proxy = CuttingProxy(suite.address("router"))
    await proxy.start()
    transport = GrpcTransport(proxy.address, suite.credential("producer"))
    retry = RetryPolicy(max_attempts=1)  # no retry policy behind the stream's own resend
    try:
        async with AsyncProducer(
            transport, account_sid=account.sid, batch_size=1, max_in_flight=8, retry=retry
        ) as producer:
            first = await producer.send_and_wait(TYPE, payload, schema_version=version)
            proxy.hold()
            held = [producer.event(TYPE, payload, schema_version=version) for _ in range(6)]
            futures = [await producer.send_event(event) for event in held]
            ids = [first.id] + [e.id for e in held]
            await all_arrived(receiver, ids, settle=0.0)  # stored, though no answer came back
            assert not any(f.done() for f in futures)
            await proxy.cut()
            results: list[EventResult] = list(await asyncio.gather(*futures))
            assert [r.id for r in results] == ids[1:] and all(r.code == 0 for r in results), results
            assert producer.counts.calls == 7  # one call each: the resend was the stream's own
        assert transport.streaming and proxy.connections == 2
    finally:
        await proxy.stop()
    counts = await all_arrived(receiver, ids, settle=1.5)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)
    assert set(counts) == {*ids, warm}


async def test_a_draining_router_ends_its_streams_and_the_sdk_carries_on_elsewhere(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    """A router told to stop (SIGTERM) ends its open streams rather than waiting out its grace
    period for them (a rolling restart would wait that long per pod): it stops in a few
    seconds, and the SDK's events sent around the restart each arrive once."""
    warm = await subscribed(rest, router, receiver, account.sid)
    payload, version = data(account.sid)
    transport = GrpcTransport(suite.target("router"), suite.credential("producer"))
    retry = RetryPolicy(max_attempts=60, base_seconds=0.1, cap_seconds=0.5)  # across the restart
    child = suite.children["router"]
    try:
        async with AsyncProducer(
            transport, account_sid=account.sid, batch_size=1, max_in_flight=8, retry=retry
        ) as producer:
            before = [await producer.send_and_wait(TYPE, payload, schema_version=version) for _ in range(3)]
            began = time.monotonic()
            child.process.send_signal(signal.SIGTERM)
            futures = [await producer.send(TYPE, payload, schema_version=version) for _ in range(5)]
            await asyncio.to_thread(child.process.wait, 30)
            stopped_in = time.monotonic() - began
            suite.revive("router")
            after: list[EventResult] = list(await asyncio.gather(*futures))
    finally:
        if not child.alive() and "router" in suite.dead():
            suite.revive("router")
    assert stopped_in < 5, f"the router took {stopped_in:.1f} s to stop"
    assert all(r.code == 0 for r in after)
    ids = [r.id for r in before + after]
    counts = await all_arrived(receiver, ids, settle=1.5)
    assert {i: counts[i] for i in ids} == dict.fromkeys(ids, 1)
    assert set(counts) == {*ids, warm}
