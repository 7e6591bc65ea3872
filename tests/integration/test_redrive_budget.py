"""Redrives and replays through the Delivery service wait while the undelivered backlog is
near its budget: refused UNAVAILABLE (retryable), saying why, and taken once it drains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from eventstreams.v1 import delivery_pb2
from runtime import jetstream
from runtime.errors import Unavailable
from services.delivery.reads.servicer import DeliveryServicer
from services.delivery.settling.journal import DeadLetter
from services.router.bus import JetStreamBus, OutMessage
from tests.integration.test_worker import ACCOUNT, SINK, Rig, rig  # noqa: F401 (rig: the fixture)

pytestmark = pytest.mark.integration

BUDGET = 64 * 1024


class Ready:
    """The routing watcher of a worker that has its snapshot already."""

    async def wait_for(self, predicate: Callable[[], bool], deadline: float) -> None:
        return None


async def test_redrive_and_replay_wait_while_the_backlog_is_near_its_budget(rig: Rig) -> None:  # noqa: F811
    rig.point_sink_at("http://127.0.0.1:9/down")
    rig.directory.apply(rig.snapshot)
    spec = replace(rig.spec, max_bytes=BUDGET)
    js = rig.nc.jetstream()
    await jetstream.ensure_event_streams(js, spec, rig.consumer)  # the budget set
    letter = DeadLetter(
        ACCOUNT, SINK, "EZdead", "com.example", spec.subject(ACCOUNT, SINK), b"{}", 1, "gone", 91305, 410
    )
    await rig.journal.dead_letter(letter)
    servicer = DeliveryServicer(rig.records, rig.directory, cast(Any, Ready()), js, spec)
    # A sink that is down: its backlog passes 70 % of the budget, nothing acknowledged.
    bus = JetStreamBus(rig.nc, spec, timeout_seconds=2)
    payload = b'{"x":"' + b"p" * 400 + b'"}'
    for i in range(100):
        await bus.put([OutMessage(ACCOUNT, SINK, f"EZ{i}", "com.example", f"EZ{i}:{SINK}", payload)])
    assert spec.too_full_to_replay((await js.stream_info(spec.name)).state.bytes)

    redrive = delivery_pb2.RedriveRequest(account_sid=ACCOUNT, sink_sid=SINK)
    with pytest.raises(Unavailable, match="backlog of undelivered events"):
        await servicer.RedriveDeadLetters(redrive, cast(Any, None))
    start = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    replay = delivery_pb2.CreateReplayRequest(account_sid=ACCOUNT, sink_sid=SINK, start_time=start)
    with pytest.raises(Unavailable, match="backlog of undelivered events"):
        await servicer.CreateReplay(replay, cast(Any, None))
    # Nothing went out: the dead letter is still there to redrive.
    assert (
        await servicer.ListDeadLetters(
            delivery_pb2.ListDeadLettersRequest(account_sid=ACCOUNT, sink_sid=SINK), cast(Any, None)
        )
    ).dead_letters[0].date_redriven == ""
