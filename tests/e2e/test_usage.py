"""Usage: delivered events per account, sink type and day, read as Twilio's Usage Records —
through REST and through twilio-python's own `usage.records` — counted as deliveries happen,
the sink owner's, and nobody else's."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devkit.receiver import Receiver
from devkit.suite import Suite
from eventstreams.v1 import control_pb2, router_pb2_grpc
from runtime.sinks import registry
from tests.e2e.test_twilio_python import client_for, off_loop
from tests.helpers import create_webhook_sink, publish_when_routed, sample, subscribe

pytestmark = pytest.mark.e2e


async def daily(rest: httpx.AsyncClient, account_sid: str, **params: str) -> dict[str, Any]:
    response = await rest.get(f"/2010-04-01/Accounts/{account_sid}/Usage/Records/Daily.json", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_delivered_events_are_counted_per_day_and_sink_type(
    suite: Suite,
    rest: httpx.AsyncClient,
    router: router_pb2_grpc.RouterAsyncStub,
    receiver: Receiver,
    account: control_pb2.Account,
) -> None:
    today = datetime.now(UTC).date().isoformat()
    sink = await create_webhook_sink(rest, f"http://127.0.0.1:{receiver.port}/usage")
    await subscribe(rest, sink["sid"], "com.twilio.messaging.message.delivered")
    await publish_when_routed(router, [sample(account.sid) for _ in range(5)])
    await receiver.wait_for(lambda r: len(r.received) >= 5)

    deadline = time.monotonic() + 30  # workers write their counts every 5 s
    while True:
        found = await daily(rest, account.sid, Category="event-streams-webhook", StartDate=today)
        [record] = found["usage_records"]
        if record["count"] == "5" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert record["count"] == "5" and record["usage"] == "5", record
    assert record["count_unit"] == "events" and record["start_date"] == record["end_date"] == today
    assert record["category"] == "event-streams-webhook" and record["account_sid"] == account.sid

    every = await daily(rest, account.sid, StartDate=today)
    by_category = {r["category"]: r["count"] for r in every["usage_records"]}
    # Every sink type's category is listed, the ones that delivered nothing at 0.
    assert by_category == {
        **{t.usage_category: "0" for t in registry.TYPES},
        "event-streams": "5",
        "event-streams-webhook": "5",
    }
    assert {"event-streams-kinesis", "event-streams-segment"} <= set(by_category)
    total = await rest.get(
        f"/2010-04-01/Accounts/{account.sid}/Usage/Records.json", params={"Category": "event-streams"}
    )
    assert total.json()["usage_records"][0]["count"] == "5"  # the last 30 days, summed

    # twilio-python reads the same records, unchanged.
    client = client_for(suite, account.sid, account.auth_token)
    records = await off_loop(client.api.v2010.account.usage.records.daily.list, start_date=today)
    counts = {r.category: r.count for r in records}
    assert counts["event-streams-webhook"] == "5"

    # Bad input is refused, saying why.
    refused = await rest.get(
        f"/2010-04-01/Accounts/{account.sid}/Usage/Records/Daily.json", params={"Category": "sms"}
    )
    assert refused.status_code == 400 and "Category" in refused.json()["message"]
    backwards = await rest.get(
        f"/2010-04-01/Accounts/{account.sid}/Usage/Records.json",
        params={"StartDate": "2026-12-02", "EndDate": "2026-12-01"},
    )
    assert backwards.status_code == 400
    # Another account's usage does not exist for this one.
    other = await rest.get(f"/2010-04-01/Accounts/AC{'0' * 32}/Usage/Records.json")
    assert other.status_code == 404
