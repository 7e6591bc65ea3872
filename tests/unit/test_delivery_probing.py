"""When a parked event is tried on its own: outage/probing.probe_due, a table."""

from __future__ import annotations

import pytest

from runtime.sids import SinkSid
from services.delivery.outage.probing import probe_due
from services.delivery.scheduling.lane import Lane

pytestmark = pytest.mark.unit

NOW = 1000.0


def lane(
    failing: bool = False, probe_at: float = 0.0, latency: float = 0.0, queued: int = 0, flying: int = 0
) -> Lane:
    made = Lane(SinkSid("DG" + "a" * 32), failing_since=NOW - 60 if failing else None, probe_at=probe_at)
    made.latency, made.in_flight = latency, flying
    made.queue.extend([None] * queued)  # type: ignore[list-item]  # only its length counts
    return made


@pytest.mark.parametrize(
    ("the_lane", "due"),
    [
        (None, True),  # nothing known here: one is tried
        (lane(latency=0.0), True),  # a lane that never heard from its sink (parked while paused)
        (lane(latency=0.05), False),  # answering: its events are drained, not probed
        (lane(latency=0.0, queued=1), False),  # its own traffic probes it
        (lane(failing=True, probe_at=NOW - 1), True),
        (lane(failing=True, probe_at=NOW + 1), False),  # its pause between probes is not over
        (lane(failing=True, probe_at=NOW - 1, flying=1), False),  # a probe is in flight
        (lane(failing=True, probe_at=NOW - 1, queued=2), False),
    ],
)
def test_probe_due(the_lane: Lane | None, due: bool) -> None:
    assert probe_due(the_lane, NOW) is due
