"""An attempt's call as the webhook sink captures it from a real receiver, as the journal
writes it (a batch's detail once) and as the log reads it back — on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from runtime import db
from runtime.errors import NotFound
from runtime.sids import AccountSid, EventId, SinkSid
from runtime.sink_configs import SegmentConfig, WebhookConfig
from runtime.times import utcnow
from services.delivery.app import MIGRATIONS
from services.delivery.models import AttemptRow
from services.delivery.reads.records import Records
from services.delivery.settling.journal import Attempt, Retention, SqlJournal
from services.delivery.sinks.base import SinkEvent, SinkSpec
from services.delivery.sinks.segment.driver import SegmentDriver
from services.delivery.sinks.webhook.driver import WebhookDriver
from tests.conftest import BACKENDS, database_url
from tests.support.segment_receiver import DEV_WRITE_KEY, SegmentReceiver

pytestmark = pytest.mark.integration

ACCOUNT, SINK = AccountSid("AC" + "a" * 32), SinkSid("DG" + "b" * 32)
AUTH_TOKEN = "the-accounts-auth-token-0123456789"
PASSWORD = "pw-in-the-destination"
# Long enough never to turn up by chance in a signature or a hash of the call.
QUERY_SECRET = "secret-in-the-query"


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """A receiver that refuses with a body and headers of its own."""

    async def refuse(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=503, text="try later " + "x" * 8000, headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://hook:{PASSWORD}@127.0.0.1:{port}/in?secret={QUERY_SECRET}&a=1"
    await runner.cleanup()


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url(request.param, request, tmp_path, "delivery"))
    await db.migrate(engine, MIGRATIONS, "delivery_alembic_version")
    yield engine
    await engine.dispose()


async def test_a_batchs_call_is_captured_written_once_and_read_back_for_each_event(
    receiver: str, engine: AsyncEngine
) -> None:
    driver = WebhookDriver(5.0, True, "test-agent")
    config = WebhookConfig(destination=receiver, method="POST", batch_events=True)
    sink = driver.open(SinkSpec(SINK, ACCOUNT, config, AUTH_TOKEN))
    events = [SinkEvent(EventId(f"EZ{i}"), "t", ACCOUNT, b'{"id":"EZ%d"}' % i) for i in range(3)]
    try:
        outcomes = await sink.deliver(events)
    finally:
        await driver.close()
    assert {o.status for o in outcomes} == {503} and all(o.error is not None for o in outcomes)
    call = outcomes[0].exchange
    assert call is not None and all(o.exchange is call for o in outcomes)

    sessions = db.sessionmaker(engine)
    journal = SqlJournal(sessions, Retention())
    now = utcnow().timestamp()
    for i, event in enumerate(events):  # an ordered sink's are settled one by one: times differ
        journal.attempt(
            Attempt(ACCOUNT, SINK, event.event_id, "t", 1, "retrying", 503, 7, 91306, "failed", now + i,
                    call_detail=outcomes[i].exchange)
        )  # fmt: skip
    journal.attempt(Attempt(ACCOUNT, SINK, EventId("EZ9"), "t", 1, "delivered", 200, 1, None, None, now))
    await journal.flush()

    async with sessions() as session:
        stored = list((await session.scalars(select(AttemptRow).order_by(AttemptRow.id))).all())
    details = [row.call_detail for row in stored]
    assert sum(1 for d in details if d and '"request"' in d) == 1 and details[-1] is None
    basic = base64.b64encode(f"hook:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, basic, AUTH_TOKEN, QUERY_SECRET):
        assert not any(secret in (d or "") for d in details), secret

    records = Records(sessions)
    for row in stored[:3]:
        _, detail = await records.attempt(ACCOUNT, SINK, row.id)
        assert detail.request is not None and detail.response is not None
        assert detail.request["method"] == "POST"
        assert detail.request["url"].startswith("http://127.0.0.1:")
        assert "secret=[redacted]&a=1&bodySHA256=" in detail.request["url"]
        assert detail.request["headers"]["Authorization"] == "[redacted]"
        assert detail.request["headers"]["X-Twilio-Signature"]
        assert detail.request["body"] == {
            "form": "batch",
            "bytes": len(b"[" + b",".join(e.payload for e in events) + b"]"),
            "events": 3,
        }
        assert detail.response["status"] == 503 and detail.response["headers"]["Retry-After"] == "1"
        assert detail.response["body"].startswith("try later") and len(detail.response["body"]) == 1024
    row, detail = await records.attempt(ACCOUNT, SINK, stored[-1].id)
    assert row.event_id == "EZ9" and detail.request is None and detail.response is None
    with pytest.raises(NotFound):
        await records.attempt("AC" + "c" * 32, SINK, stored[0].id)
    with pytest.raises(NotFound):
        await records.attempt(ACCOUNT, SINK, stored[-1].id + 1000)


async def test_a_segment_call_is_captured_without_its_write_key(segment: SegmentReceiver) -> None:
    driver = SegmentDriver(segment.url, 5.0, "test-agent")
    good = driver.open(SinkSpec(SINK, ACCOUNT, SegmentConfig(write_key=DEV_WRITE_KEY), AUTH_TOKEN))
    bad = driver.open(SinkSpec(SINK, ACCOUNT, SegmentConfig(write_key="not-the-key"), AUTH_TOKEN))
    cloud_event = b'{"id":"EZ1","type":"com.twilio.x","time":"2026-12-07T10:00:00Z","source":"/x","data":{}}'
    events = [SinkEvent(EventId("EZ1"), "com.twilio.x", ACCOUNT, cloud_event)]
    try:
        [delivered] = await good.deliver(events)
        [refused] = await bad.deliver(events)
    finally:
        await driver.close()
    assert delivered.error is None and refused.error is not None
    for outcome, status in ((delivered, 200), (refused, 401)):
        assert outcome.exchange is not None
        detail = json.loads(outcome.exchange.record("EZ1", 1))
        assert detail["request"]["url"] == f"{segment.url}/v1/batch"
        assert detail["request"]["headers"]["Authorization"] == "[redacted]"
        assert detail["request"]["body"]["form"] == "messages"
        assert detail["response"]["status"] == status
        encoded = base64.b64encode(f"{DEV_WRITE_KEY}:".encode()).decode()
        for secret in (DEV_WRITE_KEY, "not-the-key", encoded, AUTH_TOKEN):
            assert secret not in json.dumps(detail)
