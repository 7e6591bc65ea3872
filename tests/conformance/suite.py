"""Tier 2 of the sink conformance suite: every sink type through the real worker process
(REST → router → JetStream → worker → the sink's real API), held to one behaviour — delivery
of one and many events, batches at the sink's limits, an oversize event recorded as a
permanent failure, each failure class classified and recorded with its code, partial
failures, the test event and Validate, concurrency, recovery after an outage, redrive of a
dead letter and replay.

Each sink type's module subclasses `SinkConformance` as `Test<Type>` with a `harness`
fixture (its server, faults on demand and how to read records back: `harness.Harness`) and
must pass all of it. Tier 1, the driver alone: `driver_suite.py`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2, router_pb2_grpc
from runtime.sinks import registry
from tests.conformance.harness import FAULTS, STREAM_LIMIT, Case, Harness
from tests.helpers import kinesis_external_id, publish_when_routed, sample, subscribe

TYPE = "com.twilio.messaging.message.delivered"
TEST_TYPE = "com.twilio.eventstreams.test-event"
# A replay is asked for this long after the window's events arrived: a sink that deduplicates
# by event id for a short window (a NATS stream's shortest is 100 ms) would store a replay
# made at once as the duplicate it looks like.
REPLAY_AFTER_SECONDS = 0.5


async def arrived(harness: Harness) -> list[dict[str, Any]]:
    return await asyncio.to_thread(harness.events)


async def wait_until(
    harness: Harness, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = await arrived(harness)
        if done(events):
            return events
        if time.monotonic() > deadline:
            raise TimeoutError(f"{harness.name}: not arrived in {timeout}s ({len(events)} events)")
        await asyncio.sleep(0.1)


def ids(events: list[dict[str, Any]], type_name: str = TYPE) -> set[str]:
    return {str(e["id"]) for e in events if e.get("type") == type_name}


def ids_of(events: list[dict[str, Any]], type_name: str = TYPE) -> list[str]:
    """Every arrival's id, each as often as it arrived."""
    return [str(e["id"]) for e in events if e.get("type") == type_name]


async def active_sink(rest: httpx.AsyncClient, harness: Harness) -> str:
    """A sink created, tested and validated as Twilio's flow goes, with a subscription."""
    if harness.assumes_role:
        harness.external_id = await kinesis_external_id(rest)  # the role trusts the issued id
    config = await harness.config()
    response = await rest.post(
        "/v1/Sinks",
        data={
            "Description": f"conformance {harness.name}",
            "SinkType": harness.sink_type,
            "SinkConfiguration": json.dumps(config),
        },
    )
    assert response.status_code == 201, response.text
    sink = response.json()
    assert sink["status"] == registry.get(harness.sink_type).initial_status
    sid = str(sink["sid"])
    test = await rest.post(f"/v1/Sinks/{sid}/Test")
    assert (test.status_code, test.json()) == (201, {"result": "submitted"})
    events = await wait_until(harness, lambda got: any(e.get("type") == TEST_TYPE for e in got))
    test_id = next(e["data"]["test_id"] for e in events if e.get("type") == TEST_TYPE)
    validate = await rest.post(f"/v1/Sinks/{sid}/Validate", data={"TestId": test_id})
    assert (validate.status_code, validate.json()) == (201, {"result": "valid"})
    assert (await rest.get(f"/v1/Sinks/{sid}")).json()["status"] == "active"
    await subscribe(rest, sid, TYPE)
    return sid


def events_for(account: control_pb2.Account, count: int, body_bytes: int = 0) -> list[router_pb2.Event]:
    out = []
    for _ in range(count):
        event = sample(account.sid, TYPE)
        if body_bytes:
            data = json.loads(event.data_json)
            data["body"] = "x" * body_bytes
            event.data_json = json.dumps(data)
        out.append(event)
    return out


async def publish(router: router_pb2_grpc.RouterAsyncStub, events: list[router_pb2.Event]) -> None:
    for start in range(0, len(events), 100):
        await publish_when_routed(router, events[start : start + 100])


async def attempts(rest: httpx.AsyncClient, sid: str, event_id: str) -> list[dict[str, Any]]:
    response = await rest.get(f"/v1/Sinks/{sid}/Deliveries", params={"EventId": event_id, "PageSize": 50})
    assert response.status_code == 200, response.text
    return sorted(response.json()["deliveries"], key=lambda a: (a["attempt"], a["date_created"]))


async def dead_letters(rest: httpx.AsyncClient, sid: str) -> list[dict[str, Any]]:
    response = await rest.get(f"/v1/Sinks/{sid}/DeadLetters", params={"PageSize": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["dead_letters"])


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.2)


def delivered_last(history: list[dict[str, Any]]) -> bool:
    return bool(history) and history[-1]["outcome"] == "delivered"


async def _when(fetch: Any, condition: Callable[[Any], Any]) -> Any:
    value = await fetch
    return value if condition(value) else None


@pytest.mark.e2e
class SinkConformance:
    """Subclass as `Test<Type>` with a `harness` fixture."""

    async def test_one_event(self, case: Case) -> None:
        harness, rest, router, account = case
        sid = await active_sink(rest, harness)
        [event] = events_for(account, 1)
        await publish(router, [event])
        got = await wait_until(harness, lambda e: event.id in ids(e))
        [delivered] = [e for e in got if e["id"] == event.id]
        assert delivered["data"] == json.loads(event.data_json)
        [attempt] = await eventually(lambda: attempts(rest, sid, event.id))  # written off the hot path
        assert (attempt["outcome"], attempt["error_code"]) == ("delivered", None)

    async def test_many_events(self, case: Case) -> None:
        harness, rest, router, account = case
        await active_sink(rest, harness)
        events = events_for(account, 400)
        await publish(router, events)
        await wait_until(harness, lambda e: ids(e) >= {x.id for x in events})
        assert harness.calls_within_limits()

    async def test_batches_at_the_byte_limit(self, case: Case) -> None:
        harness, rest, router, account = case
        """Events worth two and a half calls' bytes: every call stays within the limits."""
        await active_sink(rest, harness)
        per_event = min(harness.max_event_bytes // 2, 200 * 1024)
        count = max(3, int(2.5 * harness.max_call_bytes / per_event))
        events = events_for(account, count, body_bytes=per_event)
        await publish(router, events)
        await wait_until(harness, lambda e: ids(e) >= {x.id for x in events}, timeout=60)
        assert harness.calls_within_limits()

    async def test_an_event_just_within_the_limit_is_delivered_and_one_over_it_is_a_dead_letter(
        self,
        case: Case,
    ) -> None:
        harness, rest, router, account = case
        if harness.max_event_bytes >= STREAM_LIMIT:
            pytest.skip("the sink takes anything the stream carries (1 MiB): nothing larger reaches a worker")
        sid = await active_sink(rest, harness)
        [within] = events_for(account, 1, body_bytes=harness.max_event_bytes - 2048)
        [over] = events_for(account, 1, body_bytes=harness.max_event_bytes + 1)
        await publish(router, [within, over])
        await wait_until(harness, lambda e: within.id in ids(e))
        letters = await eventually(lambda: dead_letters(rest, sid))
        assert [(d["event_id"], d["error_code"], d["attempts"]) for d in letters] == [(over.id, 91300, 1)]
        assert "larger than the sink takes" in letters[0]["reason"]
        assert over.id not in ids(await arrived(harness))
        [attempt] = await eventually(lambda: attempts(rest, sid, over.id))
        assert (attempt["outcome"], attempt["error_code"]) == ("failed", 91300)

    @pytest.mark.parametrize("fault", FAULTS)
    async def test_failures_are_classified_and_recorded(
        self,
        fault: str,
        case: Case,
    ) -> None:
        harness, rest, router, account = case
        sid = await active_sink(rest, harness)
        expect = harness.expect[fault]
        harness.inject(fault, count=1)
        [event] = events_for(account, 1)
        await publish(router, [event])
        if expect.retried:
            await wait_until(harness, lambda e: event.id in ids(e))
            history = await eventually(lambda: _when(attempts(rest, sid, event.id), delivered_last))
            assert (history[0]["outcome"], history[0]["error_code"]) == ("retrying", expect.code)
            assert await dead_letters(rest, sid) == []
        else:
            [letter] = await eventually(lambda: dead_letters(rest, sid))
            assert (letter["event_id"], letter["error_code"], letter["attempts"]) == (
                event.id,
                expect.code,
                1,
            )
            [attempt] = await eventually(lambda: attempts(rest, sid, event.id))
            assert (attempt["outcome"], attempt["error_code"]) == ("failed", expect.code)
            assert event.id not in ids(await arrived(harness))

    async def test_connection_refused_is_retried_and_recorded(self, case: Case) -> None:
        harness, rest, router, account = case
        sid = await active_sink(rest, harness)
        expect = harness.expect["refused"]
        await harness.down()
        [event] = events_for(account, 1)
        try:
            await publish(router, [event])
            await eventually(lambda: attempts(rest, sid, event.id))
        finally:
            await harness.up()
        await wait_until(harness, lambda e: event.id in ids(e))
        history = await eventually(lambda: _when(attempts(rest, sid, event.id), delivered_last))
        assert (history[0]["outcome"], history[0]["error_code"]) == ("retrying", expect.code)

    async def test_a_partial_failure_retries_only_what_failed(self, case: Case) -> None:
        harness, rest, router, account = case
        if not harness.partial_failures:
            pytest.skip(f"{harness.name} answers a call as a whole")
        sid = await active_sink(rest, harness)
        harness.inject("partial", count=1)
        events = events_for(account, 40)
        await publish(router, events)
        got = await wait_until(harness, lambda e: ids(e) >= {x.id for x in events})
        # Nothing written twice: the records that were written were acknowledged, not retried.
        delivered = [e["id"] for e in got if e["type"] == TYPE]
        assert len(delivered) == len(set(delivered)) == 40
        histories = []
        for x in events:
            histories.append(await eventually(lambda: _when(attempts(rest, sid, x.id), delivered_last)))  # noqa: B023
        retried = [h for h in histories if h[0]["outcome"] == "retrying"]
        assert retried and len(retried) < 40
        assert all(h[-1]["outcome"] == "delivered" for h in histories)

    async def test_concurrent_publishers_and_sinks(self, case: Case) -> None:
        harness, rest, router, account = case
        await active_sink(rest, harness)
        batches = [events_for(account, 50) for _ in range(4)]
        await asyncio.gather(*(publish(router, batch) for batch in batches))
        expected = {x.id for batch in batches for x in batch}
        await wait_until(harness, lambda e: ids(e) >= expected, timeout=60)

    async def test_recovery_after_an_outage(self, case: Case) -> None:
        harness, rest, router, account = case
        """Down for 3 s while events keep coming: all arrive within seconds of the sink's return."""
        await active_sink(rest, harness)
        await harness.down()
        sent: list[router_pb2.Event] = []
        try:
            for _ in range(15):
                batch = events_for(account, 10)
                await publish(router, batch)
                sent += batch
                await asyncio.sleep(0.2)
        finally:
            await harness.up()
        back = time.monotonic()
        await wait_until(harness, lambda e: ids(e) >= {x.id for x in sent}, timeout=30)
        assert time.monotonic() - back < 15

    async def test_a_dead_letter_redriven_is_delivered(self, case: Case) -> None:
        harness, rest, router, account = case
        sid = await active_sink(rest, harness)
        harness.inject("reject", count=1)
        [event] = events_for(account, 1)
        await publish(router, [event])
        [letter] = await eventually(lambda: dead_letters(rest, sid))
        assert (letter["event_id"], letter["error_code"]) == (event.id, harness.expect["reject"].code)
        redriven = await rest.post(f"/v1/Sinks/{sid}/DeadLetters/Redrive", data={"Sid": letter["sid"]})
        assert (redriven.status_code, redriven.json()) == (201, {"redriven": 1})
        await wait_until(harness, lambda e: event.id in ids(e))
        history = await eventually(lambda: _when(attempts(rest, sid, event.id), delivered_last))
        assert [a["outcome"] for a in history] == ["failed", "delivered"]

    async def test_a_replay_delivers_the_window_again(self, case: Case) -> None:
        harness, rest, router, account = case
        sid = await active_sink(rest, harness)
        started = datetime.now(UTC) - timedelta(seconds=1)
        events = events_for(account, 3)
        await publish(router, events)
        await wait_until(harness, lambda e: ids(e) >= {x.id for x in events})
        await asyncio.sleep(REPLAY_AFTER_SECONDS)
        replay = await rest.post(
            f"/v1/Sinks/{sid}/Replays", data={"StartTime": started.isoformat().replace("+00:00", "Z")}
        )
        assert replay.status_code == 201, replay.text
        url = f"/v1/Sinks/{sid}/Replays/{replay.json()['sid']}"
        state = await eventually(
            lambda: _when(rest.get(url), lambda r: r.json()["status"] in ("completed", "failed"))
        )
        assert state.json()["status"] == "completed", state.text
        got = await wait_until(harness, lambda e: all(ids_of(e).count(x.id) >= 2 for x in events), timeout=30)
        assert all(ids_of(got).count(x.id) == 2 for x in events)

    async def test_twilio_python_drives_the_lifecycle(self, case: Case, platform: Suite) -> None:
        """From outside, as a customer would: twilio-python (unchanged but for its base URL)
        creates the sink by its type's name, tests and validates it and subscribes; a
        published event is read back from the sink's own target."""
        harness, rest, router, account = case
        if harness.assumes_role:
            harness.external_id = await kinesis_external_id(rest)
        config = await harness.config()
        client = Client(account.sid, account.auth_token)
        client.events.base_url = platform.gateway_url
        events = client.events.v1
        sink = await asyncio.to_thread(
            events.sinks.create,
            description=f"twilio-python {harness.name}",
            sink_type=harness.sink_type,  # passed through as it is: any registered type's name
            sink_configuration=config,
        )
        assert (sink.sink_type, sink.status) == (
            harness.sink_type,
            registry.get(harness.sink_type).initial_status,
        )
        test = await asyncio.to_thread(events.sinks(sink.sid).sink_test.create)
        assert test.result == "submitted"
        got = await wait_until(harness, lambda e: any(x.get("type") == TEST_TYPE for x in e))
        test_id = next(x["data"]["test_id"] for x in got if x.get("type") == TEST_TYPE)
        valid = await asyncio.to_thread(events.sinks(sink.sid).sink_validate.create, test_id=test_id)
        assert valid.result == "valid"
        assert (await asyncio.to_thread(events.sinks(sink.sid).fetch)).status == "active"
        await asyncio.to_thread(
            events.subscriptions.create,
            description="twilio-python",
            sink_sid=sink.sid,
            types=[{"type": TYPE}],
        )
        [event] = events_for(account, 1)
        await publish(router, [event])
        arrived_events = await wait_until(harness, lambda e: event.id in ids(e))
        [delivered] = [e for e in arrived_events if e["id"] == event.id]
        assert delivered["data"] == json.loads(event.data_json)
