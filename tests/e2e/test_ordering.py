"""Per-key ordering through real processes: a subscription ordered by `messageSid`; its sink
gets each key's events in publish order — while the receiver fails some first attempts (each
retried in place, its key waiting), and across a SIGKILL of the worker delivering them (the
other takes over) — while different keys go on in parallel and a failing key holds only
itself back. Also: bad ordering keys are refused, and nothing changes."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from nats.js.errors import NotFoundError

from devkit.receiver import Received, Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2, router_pb2_grpc
from runtime import jetstream
from runtime.jetstream import StreamSpec
from services.delivery.ordered.lanes import consumer_name
from tests.helpers import create_webhook_sink, publish_when_routed, sample, wait_health
from tests.traffic import worker_agent, worker_tag

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"
KEYS = 12
PER_KEY = 20
WORKERS = 2


@pytest.fixture(scope="module")
def ordered_suite(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    directory = tmp_path_factory.mktemp("ordering")
    suite = Suite(
        data_dir=directory,
        catalog_db=f"sqlite+aiosqlite:///{directory / 'catalog.db'}",
        control_db=f"sqlite+aiosqlite:///{directory / 'control.db'}",
        delivery_db=f"sqlite+aiosqlite:///{directory / 'delivery.db'}",
        workers=WORKERS,
        worker_env=worker_agent,  # each names itself in its User-Agent
        log_dir=directory / "logs",
        extra_env={
            "ES_ALLOW_PRIVATE_DESTINATIONS": "true",
            "ES_ACK_WAIT_SECONDS": "3",
            "ES_ORDERED_PIN_SECONDS": "2",
            "ES_RETRY_BASE_SECONDS": "0.1",
            "ES_RETRY_MAX_DELAY_SECONDS": "0.5",
        },
    )
    try:
        suite.start()
        yield suite
    finally:
        if request.session.testsfailed:
            print(suite.logs())
        suite.stop()


@pytest.fixture
async def account(ordered_suite: Suite) -> control_pb2.Account:
    async with ordered_suite.channel("control") as channel:
        return await control_pb2_grpc.ControlStub(channel).CreateAccount(
            control_pb2.CreateAccountRequest(friendly_name="ordering")
        )


@pytest.fixture
async def rest(ordered_suite: Suite, account: control_pb2.Account) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=ordered_suite.gateway_url, auth=(account.sid, account.auth_token), timeout=30
    ) as client:
        yield client


def ordered_event(account_sid: str, key: str, index: int) -> router_pb2.Event:
    event = sample(account_sid, TYPE)
    data = json.loads(event.data_json)
    data["messageSid"] = key
    data["body"] = str(index)
    event.data_json = json.dumps(data)
    return event


class FlakyReceiver:
    """Fails the first attempt of every event whose index is a multiple of 7 (a 500), and
    every attempt for key `stuck` until told otherwise; remembers what it accepted."""

    def __init__(self) -> None:
        self.receiver = Receiver(responder=self._answer)
        self.accepted: list[tuple[str, int, str]] = []  # key, index, worker
        self.failed: set[str] = set()
        self.stuck = ""

    def _answer(self, record: Received) -> web.Response:
        event = record.events()[0]
        key, index = event["data"]["messageSid"], int(event["data"]["body"])
        if key == self.stuck or (index % 7 == 0 and event["id"] not in self.failed):
            self.failed.add(event["id"])
            return web.Response(status=500)
        self.accepted.append((key, index, record.headers.get("User-Agent", "")))
        return web.Response(status=200)

    def by_key(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for key, index, _ in self.accepted:
            out[key].append(index)
        return out


async def subscribe_ordered(rest: httpx.AsyncClient, sink_sid: str) -> dict[str, Any]:
    """A subscription of `sink_sid` to TYPE, ordered by messageSid."""
    created = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "ordered by message",
            "SinkSid": sink_sid,
            "Types": json.dumps({"type": TYPE}),
            "OrderingKey": "messageSid",
        },
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def assert_in_order(sequence: list[int], key: str) -> None:
    """Never an earlier event after a later one (a repeat of the last, after a crash between
    delivering and acknowledging, is at-least-once, not disorder)."""
    latest = -1
    for index in sequence:
        assert index >= latest, f"key {key}: {index} after {latest} in {sequence}"
        latest = index


async def publish(router: router_pb2_grpc.RouterAsyncStub, events: list[router_pb2.Event]) -> None:
    response = await router.Publish(router_pb2.PublishRequest(events=events), timeout=15)
    assert all(r.code == 0 and r.deliveries == 1 for r in response.results), response


async def test_each_keys_events_arrive_in_publish_order_across_retries_and_a_worker_crash(
    ordered_suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    flaky = FlakyReceiver()
    await flaky.receiver.start()
    try:
        sink = await create_webhook_sink(rest, f"http://127.0.0.1:{flaky.receiver.port}/ordered")
        created = await subscribe_ordered(rest, sink["sid"])
        assert created["ordering_key"] == "messageSid"
        keys = [f"SM{k:032x}" for k in range(KEYS)]
        flaky.stuck = keys[-1]  # fails until released: its events wait, nobody else's do
        async with ordered_suite.channel("router") as channel:
            router = router_pb2_grpc.RouterStub(channel)
            first = ordered_event(account.sid, keys[0], 0)
            await publish_when_routed(router, [first], timeout=10)  # the new subscription arrived
            # Interleaved: event i of every key, then event i + 1 of every key, …
            half = PER_KEY // 2
            batch = [ordered_event(account.sid, key, i) for i in range(half) for key in keys]
            await publish(router, batch[1:])
            await flaky.receiver.wait_for(lambda _: len(flaky.accepted) >= 30, timeout=30)
            # Kill the worker delivering (the one pinned to this sink).
            busy = {agent for _, _, agent in flaky.accepted}
            victim = next(i for i in range(WORKERS) if any(worker_tag(i) in a for a in busy))
            ordered_suite.kill_worker(victim)
            rest_of_it = [ordered_event(account.sid, key, i) for i in range(half, PER_KEY) for key in keys]
            for start in range(0, len(rest_of_it), 40):
                await publish(router, rest_of_it[start : start + 40])
            healthy = KEYS - 1
            await flaky.receiver.wait_for(
                lambda _: (
                    sum(1 for k, v in flaky.by_key().items() if k != keys[-1] and len(set(v)) == PER_KEY)
                    == healthy
                ),
                timeout=60,
            )
            # The stuck key has held back only itself: none of its events got through.
            assert keys[-1] not in flaky.by_key()
            # The worker holding the sink reports it failing (its one key is).
            await wait_health(rest, sink["sid"], lambda body: body["state"] == "failing")
            flaky.stuck = ""
            await flaky.receiver.wait_for(lambda _: len(set(flaky.by_key().get(keys[-1], []))) == PER_KEY, 30)
        ordered_suite.start_worker(victim)
        by_key = flaky.by_key()
        for key in keys:
            assert sorted(set(by_key[key])) == list(range(PER_KEY)), key
            assert_in_order(by_key[key], key)
        workers = {
            worker_tag(i) for i in range(WORKERS) if any(worker_tag(i) in a for _, _, a in flaky.accepted)
        }
        assert len(workers) == 2, "the other worker took the sink over"
        print(f"ordering: {len(flaky.accepted)} accepted, {len(flaky.failed)} first attempts failed")
        assert len(flaky.failed) >= PER_KEY * KEYS // 7 // 2, "first attempts failed and were retried"
    finally:
        await flaky.receiver.stop()


@pytest.mark.parametrize(
    ("key", "fragment"),
    [
        ("noSuchField", "is not a string, number or boolean field of " + TYPE),
        ("messageSid..x", "is not a field name"),
        ("tags", "is not a string, number or boolean field"),
    ],
)
async def test_an_ordering_key_not_in_the_schema_is_refused_and_nothing_changes(
    rest: httpx.AsyncClient, key: str, fragment: str
) -> None:
    sink = await create_webhook_sink(rest, "http://127.0.0.1:9/never")
    response = await rest.post(
        "/v1/Subscriptions",
        data={
            "Description": "d",
            "SinkSid": sink["sid"],
            "Types": json.dumps({"type": TYPE}),
            "OrderingKey": key,
        },
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 20001 and fragment in body["message"], body
    listed = await rest.get("/v1/Subscriptions", params={"SinkSid": sink["sid"]})
    assert listed.json()["subscriptions"] == []
    created = await rest.post(
        "/v1/Subscriptions",
        data={"Description": "d", "SinkSid": sink["sid"], "Types": json.dumps({"type": TYPE})},
    )
    sid = created.json()["sid"]
    updated = await rest.post(f"/v1/Subscriptions/{sid}", data={"OrderingKey": key})
    assert updated.status_code == 400, updated.text
    fetched = await rest.get(f"/v1/Subscriptions/{sid}")
    assert fetched.json()["ordering_key"] is None
    ordered = await rest.post(f"/v1/Subscriptions/{sid}", data={"OrderingKey": "messageSid"})
    assert ordered.status_code == 200 and ordered.json()["ordering_key"] == "messageSid"


async def test_a_deleted_ordered_sinks_consumer_goes_once_it_is_drained(
    ordered_suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account, receiver: Receiver
) -> None:
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/retire")
    created = await subscribe_ordered(rest, sink["sid"])
    async with ordered_suite.channel("router") as channel:
        router = router_pb2_grpc.RouterStub(channel)
        await publish_when_routed(router, [ordered_event(account.sid, "SMx", 0)], timeout=10)
    await receiver.wait_for(lambda r: len(r.received) >= 1, timeout=20)
    nc = await jetstream.connect(ordered_suite.nats_url, "ordering-test")
    try:
        js = nc.jetstream(timeout=5)
        stream = StreamSpec().ordered().name
        assert await js.consumer_info(stream, consumer_name(sink["sid"]))
        assert (await rest.delete(f"/v1/Subscriptions/{created['sid']}")).status_code == 204
        assert (await rest.delete(f"/v1/Sinks/{sink['sid']}")).status_code == 204
        deadline = time.monotonic() + 20
        while True:
            try:
                await js.consumer_info(stream, consumer_name(sink["sid"]))
            except NotFoundError:
                break
            assert time.monotonic() < deadline, "the deleted sink's ordered consumer is still there"
            await asyncio.sleep(0.3)
    finally:
        await nc.close()


async def test_a_replay_of_an_ordered_sink_replays_its_ordered_events_in_key_order(
    ordered_suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account, receiver: Receiver
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/replayed")
    await subscribe_ordered(rest, sink["sid"])
    events = [ordered_event(account.sid, key, i) for i in range(5) for key in ("SMk", "SMl")]
    async with ordered_suite.channel("router") as channel:
        router = router_pb2_grpc.RouterStub(channel)
        await publish_when_routed(router, events[:1], timeout=10)  # until routed; then the rest
        await publish(router, events[1:])
    await receiver.wait_for(lambda r: len(r.received) >= len(events), timeout=20)
    before = len(receiver.received)
    base = f"/v1/Sinks/{sink['sid']}"
    window = {"StartTime": started.isoformat().replace("+00:00", "Z")}
    replay = await rest.post(f"{base}/Replays", data=window)
    assert replay.status_code == 201, replay.text
    url = f"{base}/Replays/{replay.json()['sid']}"
    deadline = time.monotonic() + 20
    while (state := (await rest.get(url)).json())["status"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.2)
    assert state["status"] == "completed" and state["events_replayed"] == len(events), state
    await receiver.wait_for(lambda r: len(r.received) >= before + len(events), timeout=20)
    copies: dict[str, list[int]] = defaultdict(list)
    for record in receiver.received[before:]:
        data = record.events()[0]["data"]
        copies[data["messageSid"]].append(int(data["body"]))
    assert copies == {"SMk": list(range(5)), "SMl": list(range(5))}


async def test_a_resend_to_an_ordered_sink_reads_its_event_from_the_ordered_stream(
    ordered_suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account, receiver: Receiver
) -> None:
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/resent")
    await subscribe_ordered(rest, sink["sid"])
    async with ordered_suite.channel("router") as channel:
        await publish_when_routed(router_pb2_grpc.RouterStub(channel), [ordered_event(account.sid, "SMr", 0)])
    await receiver.wait_for(lambda r: len(r.received) >= 1, timeout=20)
    base = f"/v1/Sinks/{sink['sid']}/Deliveries"

    async def attempts(want: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 20
        while len(found := (await rest.get(base)).json()["deliveries"]) < want:
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.2)
        return list(found)

    [first] = await attempts(1)
    resent = await rest.post(f"{base}/{first['id']}/Resend")
    assert resent.status_code == 201, resent.text
    await receiver.wait_for(lambda r: len(r.received) >= 2, timeout=20)
    assert receiver.received[1].body == receiver.received[0].body
    newest = (await attempts(2))[0]
    assert (newest["event_id"], newest["triggered_by"], newest["outcome"]) == (
        first["event_id"],
        "resend",
        "delivered",
    )
