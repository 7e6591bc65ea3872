"""A sink's health through a real worker (nats-server, HTTP receiver, the delivery log):
a sink that answers every event with a 400 has healthy lanes — no outage, no throttling —
while each event becomes a dead letter; the health the API reports must say so."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from aiohttp import web

from devkit.receiver import Receiver
from eventstreams.v1 import delivery_pb2
from runtime import db
from services.delivery.reads.health import HealthReporter
from services.delivery.reads.servicer import DeliveryServicer
from tests.integration.test_worker import ACCOUNT, SINK, Rig, rig, settled  # noqa: F401 (rig: the fixture)


async def reported(of: Rig) -> delivery_pb2.SinkHealth:
    """The health the API is answered with (GetSinkHealth reads only the delivery log)."""
    servicer = DeliveryServicer(of.records, of.directory, cast(Any, None), cast(Any, None), of.spec)
    request = delivery_pb2.SinkHealthRequest(account_sid=ACCOUNT, sink_sid=SINK)
    return await servicer.GetSinkHealth(request, cast(Any, None))


async def test_a_sink_refusing_every_event_is_reported_rejecting_then_degraded(
    rig: Rig,  # noqa: F811
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    refusing = True
    receiver.responder = lambda _record: web.Response(status=400 if refusing else 200)
    rig.point_sink_at(f"http://127.0.0.1:{receiver.port}/hook")
    await rig.publish(17)
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")  # the rig's database
    try:
        async with rig.worker():
            assert rig.dispatcher is not None
            reporter = HealthReporter(db.sessionmaker(engine), rig.dispatcher.lane_reports)
            await receiver.wait_for(lambda r: len(r.received) >= 17)
            await settled(rig)
            await reporter.write()
            await rig.journal.flush()
            health = await reported(rig)
            assert (health.failed, health.delivered) == (17, 0)
            assert health.state == "rejecting"  # the lanes alone said healthy: no outage

            refusing = False  # the receiver is fixed: deliveries beside the last hour's failures
            await rig.publish(20)  # EZ0–EZ16 again are duplicates the stream drops: 3 new events
            await receiver.wait_for(lambda r: len(r.received) >= 20)
            await settled(rig)
            await reporter.write()
            await rig.journal.flush()
            health = await reported(rig)
            assert (health.failed, health.delivered) == (17, 3)
            assert health.state == "degraded"
    finally:
        await engine.dispose()
