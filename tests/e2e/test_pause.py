"""Pausing a sink (our extension, as Svix and Outpost have it): while paused nothing is
delivered and nothing is lost — its events wait parked and the delivery log says so — and on
resume each arrives once; another account's sink is not slowed; pausing twice and resuming an
active sink are harmless; twilio-python still reads the sink."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2_grpc
from tests.e2e.test_twilio_python import client_for, off_loop
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"
EVENTS = 20


async def set_status(rest: httpx.AsyncClient, sid: str, status: str) -> dict:
    response = await rest.post(f"/v1/Sinks/{sid}", data={"Status": status})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def logged(
    rest: httpx.AsyncClient, sid: str, outcome: str, count: int, timeout: float = 20.0
) -> list[dict]:
    """The sink's delivery log rows with `outcome`, once there are `count` (the log is
    written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await rest.get(f"/v1/Sinks/{sid}/Deliveries", params={"Outcome": outcome})
        assert response.status_code == 200, response.text
        rows = list(response.json()["deliveries"])
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


@pytest.fixture
async def other_account(
    suite: Suite, control: control_pb2_grpc.ControlAsyncStub
) -> AsyncIterator[tuple[control_pb2.Account, httpx.AsyncClient]]:
    account = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
    async with httpx.AsyncClient(
        base_url=suite.gateway_url, auth=(account.sid, account.auth_token), timeout=30
    ) as client:
        yield account, client


async def test_a_paused_sink_keeps_its_events_and_resumed_gets_each_once_while_others_flow(
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
    other_account: tuple[control_pb2.Account, httpx.AsyncClient],
) -> None:
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/paused")
    sid = sink["sid"]
    # Paused before it is subscribed to: every worker has the pause before any event routes.
    assert (await set_status(rest, sid, "paused"))["status"] == "paused"
    await subscribe(rest, sid, TYPE)

    other, other_rest = other_account
    other_receiver = Receiver()
    await other_receiver.start()
    try:
        other_sink = await create_webhook_sink(other_rest, f"http://127.0.0.1:{other_receiver.port}/active")
        await subscribe(other_rest, other_sink["sid"], TYPE)

        held = [sample(account.sid) for _ in range(EVENTS)]
        await publish_when_routed(router, held)
        flowing = [sample(other.sid) for _ in range(EVENTS)]
        await publish_when_routed(router, flowing)

        # The other account's sink is not slowed by the paused one's backlog.
        await other_receiver.wait_for(lambda r: len(r.events()) >= EVENTS, timeout=15)
        assert sorted(e["id"] for e in other_receiver.events()) == sorted(e.id for e in flowing)

        parked = await logged(rest, sid, "parked", EVENTS)
        assert {row["event_id"] for row in parked} == {e.id for e in held}
        assert all("paused" in (row["error"] or "") for row in parked)
        assert receiver.received == []  # nothing delivered while paused
    finally:
        await other_receiver.stop()

    assert (await set_status(rest, sid, "active"))["status"] == "active"
    await receiver.wait_for(lambda r: len(r.events()) >= EVENTS, timeout=30)
    await asyncio.sleep(1.0)  # a second delivery of any of them would have come by now
    assert sorted(e["id"] for e in receiver.events()) == sorted(e.id for e in held)  # each once
    delivered = await logged(rest, sid, "delivered", EVENTS)
    assert {row["event_id"] for row in delivered} == {e.id for e in held}


async def test_pausing_twice_and_resuming_an_active_sink_are_harmless(
    suite: Suite, rest: httpx.AsyncClient, account: control_pb2.Account
) -> None:
    sink = await create_webhook_sink(rest, "http://127.0.0.1:9/nowhere")
    sid = sink["sid"]
    for _ in range(2):
        assert (await set_status(rest, sid, "active"))["status"] == "active"
    for _ in range(2):
        body = await set_status(rest, sid, "paused")
        assert body["status"] == "paused"
        assert body["description"] == sink["description"]  # only the status changed

    fetched = await off_loop(client_for(suite, account.sid, account.auth_token).events.v1.sinks(sid).fetch)
    assert (fetched.sid, fetched.status) == (sid, "paused")
    paused = (await rest.get("/v1/Sinks", params={"Status": "paused"})).json()["sinks"]
    active = (await rest.get("/v1/Sinks", params={"Status": "active"})).json()["sinks"]
    assert sid in {s["sid"] for s in paused} and sid not in {s["sid"] for s in active}
    # Its health says so too: what the workers see of a paused sink is its pause.
    assert (await rest.get(f"/v1/Sinks/{sid}/Health")).json()["state"] == "paused"

    refused = await rest.post(f"/v1/Sinks/{sid}", data={"Status": "stopped"})
    assert refused.status_code == 400
    assert set(refused.json()) == {"code", "message", "more_info", "status"}
    assert refused.json()["status"] == 400

    resumed = await set_status(rest, sid, "active")
    assert resumed["status"] == "active"
    assert (await rest.get(f"/v1/Sinks/{sid}/Health")).json()["state"] != "paused"
    described = await rest.post(f"/v1/Sinks/{sid}", data={"Description": "renamed"})
    assert described.json()["status"] == "active" and described.json()["description"] == "renamed"
