"""The error log as Twilio publishes it: a failing sink's errors come to another sink of the
account subscribed to `com.twilio.error-logs.error.logged` — grouped (the first at once, then
at the 10th, 100th … error and at most once per interval: the suite shortens it), through the
router like any event; never to the failing sink itself, never to another account; and the
workers' credential publishes that type and nothing else."""

from __future__ import annotations

import json
import time
from typing import Any

import grpc
import httpx
import pytest
from aiohttp import web

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, control_pb2_grpc, router_pb2, router_pb2_grpc
from launcher.processes import free_port
from runtime.error_logs import ERROR_LOGGED
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e

TYPE = "com.twilio.messaging.message.delivered"


def entries(receiver: Receiver) -> list[dict[str, Any]]:
    """The error-log events a receiver got, each once (at least once: a copy is possible)."""
    found = {e["id"]: e for e in receiver.events() if e.get("type") == ERROR_LOGGED}
    return sorted(found.values(), key=lambda e: json.loads(e["data"]["payload"])["total"])


def about(receiver: Receiver, sink_sid: str) -> list[dict[str, Any]]:
    return [e for e in entries(receiver) if e["source"] == f"/v1/Sinks/{sink_sid}"]


async def test_a_failing_sinks_errors_reach_the_accounts_other_sink_grouped(
    suite: Suite,
    account: control_pb2.Account,
    control: control_pb2_grpc.ControlAsyncStub,
    router: router_pb2_grpc.RouterAsyncStub,
    rest: httpx.AsyncClient,
    receiver: Receiver,
) -> None:
    failing_receiver = Receiver(responder=lambda _record: web.Response(status=500))
    await failing_receiver.start()
    theirs = Receiver()
    await theirs.start()
    failing_sinks: list[str] = []
    subscriptions: list[str] = []
    try:
        # Two failing sinks — a 500 and a refused connection — each subscribed to the error log
        # as well: each hears of the other's failures (and fails them), never of its own.
        failing = await create_webhook_sink(rest, f"http://127.0.0.1:{failing_receiver.port}/hook")
        refused = await create_webhook_sink(rest, f"http://127.0.0.1:{free_port()}/hook")
        failing_sinks += [failing["sid"], refused["sid"]]
        watching = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
        for sink in (failing, refused):
            subscriptions.append((await subscribe(rest, sink["sid"], TYPE, ERROR_LOGGED))["sid"])
        await subscribe(rest, watching["sid"], ERROR_LOGGED)
        # Another account listening to its own error log hears nothing of these.
        other = await control.CreateAccount(control_pb2.CreateAccountRequest(friendly_name="other"))
        async with httpx.AsyncClient(
            base_url=suite.gateway_url, auth=(other.sid, other.auth_token), timeout=30
        ) as other_rest:
            their_sink = await create_webhook_sink(other_rest, f"http://127.0.0.1:{theirs.port}/hook")
            await subscribe(other_rest, their_sink["sid"], ERROR_LOGGED)

        started = time.monotonic()
        await publish_when_routed(router, [sample(account.sid) for _ in range(30)])
        await receiver.wait_for(lambda r: bool(about(r, failing["sid"])), timeout=15)
        first_after = time.monotonic() - started
        # The sinks keep failing (retried): more entries come, one per interval at most.
        await failing_receiver.wait_for(lambda r: len(r.events()) >= 30, timeout=30)
        await receiver.wait_for(lambda r: len(about(r, failing["sid"])) >= 3, timeout=30)
        await receiver.wait_for(lambda r: bool(about(r, refused["sid"])), timeout=30)

        told = about(receiver, failing["sid"])
        errors_seen = len(failing_receiver.received)
        assert first_after < 10, f"the first entry came {first_after:.1f}s after the events"
        assert len(told) < errors_seen / 3, f"{len(told)} entries for {errors_seen} errors: not grouped"
        totals = [json.loads(e["data"]["payload"])["total"] for e in told]
        counts = [json.loads(e["data"]["payload"])["count"] for e in told]
        # No errors told twice, none left out: each entry's count is what came since the last.
        assert totals[0] == counts[0] and all(
            totals[i] == totals[i - 1] + counts[i] for i in range(1, len(told))
        ), (totals, counts)
        for entry in told:
            data = entry["data"]
            payload = json.loads(data["payload"])
            assert entry["dataschema"] == "https://events-schemas.twilio.com/ErrorLogs.Error/2"
            assert entry["id"] == data["sid"] and data["sid"].startswith("NO")
            assert (data["account_sid"], data["product_name"], data["level"]) == (
                account.sid,
                "Event Streams",
                "ERROR",
            )
            assert (data["error_code"], payload["error_code"]) == ("91306", 91306)
            assert payload["resource_sid"] == data["correlation_sid"] == failing["sid"]
            assert "500" in payload["message"]
        assert {e["data"]["error_code"] for e in about(receiver, refused["sid"])} == {"91307"}

        # The failing sink gets the refused sink's entries (and fails them), never its own.
        await failing_receiver.wait_for(lambda r: bool(entries(r)), timeout=30)
        to_failing = entries(failing_receiver)
        assert to_failing and all(e["source"] == f"/v1/Sinks/{refused['sid']}" for e in to_failing)
        assert theirs.received == []
    finally:
        # Or they are retried for the rest of the session.
        for sid in subscriptions:
            await rest.delete(f"/v1/Subscriptions/{sid}")
        for sid in failing_sinks:
            assert (await rest.delete(f"/v1/Sinks/{sid}")).status_code == 204
        await failing_receiver.stop()
        await theirs.stop()


async def test_entries_decided_while_the_router_is_down_are_published_when_it_is_back(
    suite: Suite,
    router: router_pb2_grpc.RouterAsyncStub,
    rest: httpx.AsyncClient,
    account: control_pb2.Account,
    receiver: Receiver,
) -> None:
    """The entries wait in the outbox: none is lost, none decided twice — the totals chain."""
    failing_receiver = Receiver(responder=lambda _record: web.Response(status=500))
    await failing_receiver.start()
    failing = await create_webhook_sink(rest, f"http://127.0.0.1:{failing_receiver.port}/hook")
    subscription = await subscribe(rest, failing["sid"], TYPE)
    watching = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/hook")
    await subscribe(rest, watching["sid"], ERROR_LOGGED)
    try:
        await publish_when_routed(router, [sample(account.sid) for _ in range(3)])
        await receiver.wait_for(lambda r: bool(about(r, failing["sid"])), timeout=15)
        suite.children["router"].stop()
        try:
            # The sink goes on failing (retries): errors counted, entries decided, unsent.
            down_at = len(failing_receiver.received)
            await failing_receiver.wait_for(lambda r: len(r.received) >= down_at + 10, timeout=30)
            told_before = len(about(receiver, failing["sid"]))
        finally:
            suite.start_replica("router", 0)
        await receiver.wait_for(lambda r: len(about(r, failing["sid"])) > told_before + 1, timeout=30)
        payloads = [json.loads(e["data"]["payload"]) for e in about(receiver, failing["sid"])]
        totals, counts = [p["total"] for p in payloads], [p["count"] for p in payloads]
        assert totals[0] == counts[0] and all(
            totals[i] == totals[i - 1] + counts[i] for i in range(1, len(totals))
        ), (totals, counts)
    finally:
        await rest.delete(f"/v1/Subscriptions/{subscription['sid']}")
        await rest.delete(f"/v1/Sinks/{failing['sid']}")
        await failing_receiver.stop()


async def test_the_workers_credential_publishes_error_log_events_alone(
    suite: Suite, account: control_pb2.Account
) -> None:
    error = router_pb2.Event(
        id="NO" + "e" * 32,
        account_sid=account.sid,
        type=ERROR_LOGGED,
        schema_version=2,
        source="/v1/Sinks/DG" + "0" * 32,
        data_json=json.dumps({"sid": "NO" + "e" * 32, "account_sid": account.sid, "error_code": "91306"}),
    )
    async with suite.channel("router", as_caller="delivery") as channel:
        router = router_pb2_grpc.RouterStub(channel)
        [result] = (await router.Publish(router_pb2.PublishRequest(events=[error]), timeout=10)).results
        assert result.code == 0, result.message
        for refused in (
            [sample(account.sid)],
            [error, sample(account.sid)],  # one event of another type refuses the call
            [router_pb2.Event(**{**_fields(error), "sink_sid": "DG" + "0" * 32})],  # a sink test
        ):
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await router.Publish(router_pb2.PublishRequest(events=refused), timeout=10)
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # On a PublishStream the request is answered with the same refusal, the stream goes on.
        call = router.PublishStream()
        await call.write(router_pb2.PublishRequest(events=[sample(account.sid)]))
        answer = await call.read()
        assert answer.code == grpc.StatusCode.PERMISSION_DENIED.value[0] and not answer.results
        await call.write(router_pb2.PublishRequest(events=[error]))
        again = await call.read()
        assert again.code == 0 and again.results[0].code == 0
        await call.done_writing()


def _fields(event: router_pb2.Event) -> dict[str, Any]:
    return {field.name: value for field, value in event.ListFields()}
