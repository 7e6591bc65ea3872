"""PublishStream through the real router: each request answered in the order sent, with what
unary Publish answers the same request (a rejected event's own result, a request Publish
would fail answered with its status while the stream goes on), and a producer's credential
may open it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2, router_pb2_grpc
from tests.helpers import sample
from tests.producers import TYPE, all_arrived, subscribed

pytestmark = pytest.mark.e2e


def requests(account_sid: str, tag: str) -> list[router_pb2.PublishRequest]:
    """Good events, an unknown type, an event its schema refuses, and an empty request."""

    def good() -> router_pb2.Event:
        return sample(account_sid, TYPE)

    unknown = sample(account_sid, TYPE)
    unknown.type = "com.example.no.such.type"
    failing = sample(account_sid, TYPE)
    failing.data_json = json.dumps(json.loads(failing.data_json) | {"messageSid": 12345})
    batches = [[good()], [unknown], [good(), failing, good()], [], [good()]]
    for batch in batches:
        for event in batch:
            event.id = f"{event.id}{tag}"[-34:]
    return [router_pb2.PublishRequest(events=batch) for batch in batches]


def shape(response: router_pb2.PublishResponse) -> tuple[object, ...]:
    """What an answer says, its events' ids aside (the two runs publish different events)."""
    results = tuple((r.code, r.deliveries, r.dead_letters, bool(r.message)) for r in response.results)
    return results, response.code, bool(response.message)


async def streamed(
    router: router_pb2_grpc.RouterAsyncStub, sent: list[router_pb2.PublishRequest]
) -> list[router_pb2.PublishResponse]:
    async def feed() -> AsyncIterator[router_pb2.PublishRequest]:
        for request in sent:
            yield request

    return [response async for response in router.PublishStream(feed(), timeout=30)]


async def unary(
    router: router_pb2_grpc.RouterAsyncStub, sent: list[router_pb2.PublishRequest]
) -> list[router_pb2.PublishResponse]:
    answers = []
    for request in sent:
        try:
            answers.append(await router.Publish(request, timeout=30))
        except grpc.aio.AioRpcError as exc:  # a request Publish fails as a whole
            answers.append(router_pb2.PublishResponse(code=exc.code().value[0], message=exc.details() or ""))
    return answers


async def test_each_request_is_answered_in_order_as_unary_publish_answers_it(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    warm = await subscribed(rest, router, receiver, account.sid)
    on_stream = requests(account.sid, "s")
    async with suite.channel("router", as_caller="producer") as channel:
        answers = await streamed(router_pb2_grpc.RouterStub(channel), on_stream)
    expected = await unary(router, requests(account.sid, "u"))
    assert [shape(a) for a in answers] == [shape(e) for e in expected]
    assert [[r.id for r in a.results] for a in answers] == [[e.id for e in r.events] for r in on_stream]
    codes = [[r.code for r in a.results] or [a.code] for a in answers]
    assert codes == [[0], [5], [0, 3, 0], [3], [0]]  # NOT_FOUND, INVALID_ARGUMENT, the empty request
    assert answers[3].message == "a Publish request carries at least one event"
    stored = [r.id for a in answers for r in a.results if r.code == 0]
    counts = await all_arrived(receiver, stored)
    assert {i: counts[i] for i in stored} == dict.fromkeys(stored, 1)
    assert warm in counts


async def test_many_requests_in_flight_come_back_in_order(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    await subscribed(rest, router, receiver, account.sid)
    sent = [router_pb2.PublishRequest(events=[sample(account.sid, TYPE)]) for _ in range(300)]
    answers = await streamed(router, sent)
    assert [a.results[0].id for a in answers] == [r.events[0].id for r in sent]
    assert all(a.results[0].code == 0 and a.results[0].deliveries == 1 for a in answers)
